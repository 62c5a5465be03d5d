"""The security suite's site: the in-process site of tests/server (SQLite and PostgreSQL) with an app
whose every label, help text, option, stage, report, dashboard and template carries script, and a
ticket whose every field value does too. ``TRIED`` counts the hostile inputs each test sent, for
the README's figures (printed at the end of the run with ``-s``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import tests.server.conftest as server_fixtures
from engine.people import create_user
from tests.security.tally import TRIED
from tests.support import give_role

web = server_fixtures.web  # the in-process site on SQLite and PostgreSQL


#: Script that would set window.__xss if it ever ran; each one a different way in.
XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg/onload=window.__xss=1>",
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    "</textarea><script>window.__xss=1</script>",
    "{{ 7*7 }}<b onmouseover=window.__xss=1>x</b>",
    "<iframe srcdoc='<script>parent.__xss=1</script>'>",
]
#: What may never appear in a page: the start of an element an attacker wrote.
RAW = ["<script>window.__xss", "<img src=x onerror", "<svg/onload", "<b onmouseover", "<iframe srcdoc"]
P = "".join(XSS)  # one string with every payload, for places that take one text


def label(n: int) -> dict[str, str]:
    """A label in both languages carrying payload ``n`` (and every payload in Chinese)."""
    return {"zh": "标签" + P, "en": f"Label {n} {XSS[n % len(XSS)]}"}


def xss_definition() -> dict[str, Any]:
    opts = [{"value": "a", "label": label(1)}, {"value": "b", "label": label(2)}]
    fields = [
        {"key": "t_text", "type": "text", "label": label(0), "help": label(3), "placeholder": label(4)},
        {"key": "t_textarea", "type": "textarea", "label": label(1)},
        {"key": "t_email", "type": "email", "label": label(2)},
        {"key": "t_url", "type": "url", "label": label(3)},
        {"key": "t_richtext", "type": "richtext", "label": label(4)},
        {"key": "t_phone", "type": "phone", "label": label(5)},
        {"key": "t_number", "type": "number", "label": label(6)},
        {"key": "t_money", "type": "money", "label": label(7), "currency": "CNY"},
        {"key": "t_rating", "type": "rating", "label": label(0), "max": 5},
        {"key": "t_date", "type": "date", "label": label(1)},
        {"key": "t_datetime", "type": "datetime", "label": label(2)},
        {"key": "t_checkbox", "type": "checkbox", "label": label(3)},
        {"key": "t_select", "type": "select", "label": label(4), "options": opts},
        {"key": "t_radio", "type": "radio", "label": label(5), "options": opts},
        {"key": "t_multi", "type": "multiselect", "label": label(6), "options": opts},
        {"key": "t_cascade", "type": "cascade", "label": label(7),
         "options": [{"value": "a", "label": label(1), "children": [{"value": "a1", "label": label(2)}]}]},
        {"key": "t_user", "type": "user", "label": label(0)},
        {"key": "t_department", "type": "department", "label": label(1)},
        {"key": "t_link", "type": "link", "label": label(5), "target": {"app": "xss", "ticket_type": "req"}},
        {"key": "t_attachment", "type": "attachment", "label": label(2)},
        {"key": "t_image", "type": "image", "label": label(3)},
        {"key": "t_sub", "type": "subtable", "label": label(4),
         "fields": [{"key": "s_text", "type": "text", "label": label(5)}]},
        {"key": "t_formula", "type": "formula", "label": label(6), "expr": "t_number * 2"},
        {"key": "t_auto", "type": "autonumber", "label": label(7), "format": "X-{seq:3}"},
    ]  # fmt: skip
    return {
        "app": "xss",
        "name": {"zh": "应用" + P, "en": "App " + P},
        "description": {"zh": P, "en": P},
        "roles": {"agent": {"zh": "坐席" + P, "en": "Agent " + P}},
        "templates": {
            "hello": {"subject": {"zh": P, "en": P}, "text": {"zh": "{{ fields.t_text }}", "en": P}}
        },
        "ticket_types": {
            "req": {
                "name": {"zh": "请求" + P, "en": "Request " + P},
                "number": "XS-{seq:4}",
                "form": {"sections": [{"id": "s1", "title": label(0), "fields": fields}]},
                "flow": {
                    "nodes": [
                        {"id": "start", "type": "start", "name": label(1)},
                        {"id": "work", "type": "task", "name": label(2), "assignee": {"role": "agent"}},
                        {"id": "end", "type": "end", "name": label(3)},
                    ],
                    "edges": [
                        ["start", "work"],
                        {"from": "work", "to": "end", "action": "done", "name": label(4)},
                    ],
                },
                "reports": [
                    {"id": "by_select", "name": label(5), "dimensions": ["t_select"], "measures": ["count"]},
                    {"id": "by_text", "name": label(6), "dimensions": ["t_text"], "measures": ["count"]},
                ],
                "dashboards": [{"id": "board", "name": label(7), "reports": ["by_select", "by_text"]}],
            }
        },
    }


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def definition_yaml(definition: dict[str, Any]) -> str:
    """YAML of a definition without anchors (definitions refuse aliases: no billion laughs)."""
    return yaml.dump(definition, Dumper=_NoAliases, allow_unicode=True, sort_keys=False)


@dataclass
class XssSite:
    web: Any
    ticket_id: int
    agent: str = "agent"
    submitter: str = "sub"


def payload_values(web: Any, client: Any) -> dict[str, Any]:
    """A value with script in it for every field that takes text; valid values elsewhere."""
    answer = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(PNG), P[:120] + ".png")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.json
    ref = {k: answer.json[k] for k in ("id", "name", "size", "mime")}
    values = {
        "t_text": P[:500],
        "t_textarea": P,
        "t_email": "x@example.com",
        "t_url": "https://example.com/?q=" + P[:60].replace(" ", "%20"),
        "t_richtext": "<p>ok</p>" + P,
        "t_phone": "13800138000",
        "t_number": 1,
        "t_money": "2.50",
        "t_rating": 3,
        "t_date": "2026-11-25",
        "t_datetime": "2026-11-25T10:00:00+08:00",
        "t_checkbox": True,
        "t_select": "a",
        "t_radio": "b",
        "t_multi": ["a", "b"],
        "t_cascade": ["a", "a1"],
        "t_user": web.id("agent"),
        "t_attachment": [ref],
        "t_sub": [{"s_text": P[:200]}],
    }
    payload_values.last = values  # type: ignore[attr-defined]
    return values


@pytest.fixture
def xss_site(web: Any, tmp_path: Path) -> Iterator[XssSite]:
    path = tmp_path / "xss.yaml"
    path.write_text(definition_yaml(xss_definition()), encoding="utf-8")
    web.runtime.publish(path)
    agent = create_user(web.db, "agent", "Agent " + XSS[1], password="pw-agent")
    give_role(web.db, agent, "xss", "agent")
    web.user("sub")
    sub = web.client("sub")
    answer = sub.post("/api/v1/apps/xss/ticket_types/req/tickets", json=payload_values(web, sub))
    assert answer.status_code == 201, answer.json
    ticket_id = answer.json["id"]
    comment = sub.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": P})
    assert comment.status_code in (200, 201), comment.json
    values = payload_values.last  # type: ignore[attr-defined]
    TRIED["stored xss payloads placed"] += (
        path.read_text().count("__xss") + str(values).count("__xss") + P.count("__xss")
    )
    yield XssSite(web, ticket_id)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TRIED:
        terminalreporter.write_line("security suite, hostile inputs tried: " + ", ".join(
            f"{k}: {v}" for k, v in sorted(TRIED.items())))  # fmt: skip
