"""SQL injection through list filters, search, sorting, report filters and ad-hoc report specs: every
hostile value is data — answered with results or a 4xx that says what is wrong, never a 500, never
more tickets than the caller may see, and the database is whole afterwards."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select, text

from engine.store.models import Record, User
from tests.security.conftest import XssSite
from tests.security.tally import TRIED

SQLI = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "1; DROP TABLE records; --",
    "'); DROP TABLE users; --",
    '" OR ""="',
    "x' UNION SELECT id, password_hash, username, 1, 1, 1, 1 FROM users --",
    "1 OR 1=1",
    "%' OR '%'='",
    "\\'; SELECT pg_sleep(10); --",
    "data->>'t_text'",
    "records.id",
    "(SELECT 1)",
    "t_select; DELETE FROM events",
    "created_at) ; DROP TABLE records; --",
    "' || (SELECT username FROM users LIMIT 1) || '",
    "\u0000",
    "a" * 5000,
]


def whole(web: Any) -> tuple[int, int]:
    with web.db.read() as conn:
        conn.execute(text("SELECT 1 FROM records LIMIT 1"))
        return (
            conn.execute(select(func.count()).select_from(Record)).scalar_one(),
            conn.execute(select(func.count()).select_from(User)).scalar_one(),
        )


def test_hostile_list_filters_search_and_sorting_are_data(xss_site: XssSite) -> None:
    web = xss_site.web
    web.user("nobody")  # sees no ticket at all
    before = whole(web)
    agent, nobody = web.client("agent"), web.client("nobody")
    api_params = ["q", "sort", "order", "app", "ticket_type", "status", "stage", "created_from", "cursor"]
    api_params.append("mine")
    tried = [(path, name) for path in ("/api/v1/tickets", "/api/v1/inbox/queue") for name in api_params]
    tried += [(path, name) for path in ("/inbox/list", "/my") for name in ("q", "sort", "status")]
    for path, name in tried:
        for value in SQLI:
            answer = agent.get(f"{path}?{name}={quote(value)}")
            TRIED["sql injection (list filters, search, sort)"] += 1
            assert answer.status_code < 500, (path, name, value, answer.status_code)
    for value in SQLI:  # whatever the search says, someone who sees nothing still sees nothing
        for name in ("q", "app", "status", "mine"):
            answer = nobody.get(f"/api/v1/tickets?{name}={quote(value)}")
            TRIED["sql injection (list filters, search, sort)"] += 1
            assert answer.status_code < 500
            if answer.status_code == 200:
                assert answer.json["items"] == [], (name, value)
    assert whole(web) == before


def test_hostile_report_filters_and_specs_are_data(xss_site: XssSite) -> None:
    web = xss_site.web
    before = whole(web)
    agent = web.client("agent")
    report = "/api/v1/apps/xss/ticket_types/req/reports"
    for value in SQLI:
        for name in ("t_select", "t_text", "created_at_from", "created_at_last", quote(value)):
            answer = agent.get(f"{report}/by_select?{name}={quote(value)}")
            TRIED["sql injection (report filters and specs)"] += 1
            assert answer.status_code < 500, (name, value, answer.status_code)
        specs = [
            {"report": {"dimensions": [value], "measures": ["count"]}},
            {"report": {"dimensions": [{"x": value}], "measures": ["count"]}},
            {"report": {"dimensions": ["t_select"], "measures": [{"sum": value}]}},
            {"report": {"dimensions": ["t_select"], "measures": ["count"], "sort": value}},
            {"report": {"measures": ["count"]}, "filters": [{"field": value, "op": "eq", "value": 1}]},
            {"report": {"measures": ["count"]}, "filters": [contains(value)]},
            {
                "report": {"measures": ["count"]},
                "filters": [{"field": "t_select", "op": "in", "value": [value]}],
            },
        ]
        for spec in specs:
            answer = agent.post(f"{report}/run", json=spec)
            TRIED["sql injection (report filters and specs)"] += 1
            assert answer.status_code < 500, (spec, answer.status_code, answer.json)
        # a contains-filter with SQL in it is a text to look for: answered, not refused, not run
        spec = {"report": {"measures": ["count"]}, "filters": [contains(value)]}
        literal = agent.post(f"{report}/run", json=spec)
        assert literal.status_code == (422 if value == "\u0000" else 200), (value, literal.json)
    assert whole(web) == before


def contains(value: str) -> dict[str, Any]:
    return {"field": "t_text", "op": "contains", "value": value}
