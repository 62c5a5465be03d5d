"""A definition names its credentials (``${secrets.name}``) in a ``call``'s URL, query and body and in a
``webhook`` action's URL; the worker fills them in from the store when it sends: a local server
receives the real secrets while the definition, the outbox row and its events hold only the
placeholders, and an error or log line of the delivery never shows what was filled in."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import insert, select
from werkzeug import Response

from engine.definitions.source import read_source
from engine.jobs.channels import CHANNELS, channel
from engine.jobs.outbox import deliver_one
from engine.runtime import Runtime
from engine.store import Database
from engine.store.models import Event, Outbox
from tests.engine.jobs.conftest import APPS, T0, outbox_row, outbox_rows
from tests.support import complaint_form

TOKEN = "crm-Tok3n/+ü 9"  # needs percent-encoding in a URL
KEY = "crmKey-Q81LmN0p"
PASSWORD = "crmPassw0rd-Zz7"
HOOK_TOKEN = "hookTok3n-Xy44"


@pytest.fixture(autouse=True)
def stored_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets as an admin stores them (GONGDAN_HOOK_<NAME>, read by the worker at send time)."""
    monkeypatch.setenv("GONGDAN_HOOK_CRM_TOKEN", TOKEN)
    monkeypatch.setenv("GONGDAN_HOOK_CRM_KEY", KEY)
    monkeypatch.setenv("GONGDAN_HOOK_CRM_PASSWORD", PASSWORD)
    monkeypatch.setenv("GONGDAN_HOOK_HOOK_TOKEN", HOOK_TOKEN)


def complaint_with_actions(*actions: dict[str, Any]) -> dict[str, Any]:
    """The shipped complaint app whose only rule runs ``actions`` when a complaint is created."""
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    for ticket_type in data["ticket_types"].values():
        ticket_type.pop("rules", None)
    data["ticket_types"]["complaint"]["rules"] = [
        {"name": "to the CRM", "on": "created", "do": list(actions)}
    ]
    return data


def submit(db: Database, definition: dict[str, Any]) -> dict[str, Any]:
    runtime = Runtime(db, clock=lambda: T0)
    runtime.publish(definition)
    return runtime.submit("complaint", "complaint", complaint_form(definition), actor=None)


def test_a_call_gets_the_stored_secrets_in_its_url_query_and_body_while_its_row_keeps_placeholders(
    db: Database, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    received: dict[str, Any] = {}

    def answer(request: Any) -> Any:
        received[request.path] = request
        return Response(json.dumps({"vip": True}), content_type="application/json")

    for path in ("/crm-url", "/crm-query"):
        httpserver.expect_request(path).respond_with_handler(answer)
    in_url = {"url": httpserver.url_for("/crm-url") + "?access_token=${secrets.crm_token}&lang=zh"}
    in_query_and_body = {
        "url": httpserver.url_for("/crm-query"),
        "method": "POST",
        "query": {"key": "'${secrets.crm_key}'", "phone": "phone"},
        "body": {"auth": {"user": "gongdan", "password": "${secrets.crm_password}"}, "note": "plain"},
    }
    submit(db, complaint_with_actions({"call": in_url}, {"call": in_query_and_body}))
    rows = [r for r in outbox_rows(db) if r.channel == "call"]

    assert [deliver_one(db, row.id, now=T0) for row in rows] == ["sent", "sent"]
    assert received["/crm-url"].args.to_dict() == {"access_token": TOKEN, "lang": "zh"}
    assert received["/crm-query"].args.to_dict() == {"key": KEY, "phone": "13800138000"}
    assert received["/crm-query"].get_json() == {
        "auth": {"user": "gongdan", "password": PASSWORD},
        "note": "plain",
    }

    stored = [outbox_row(db, row.id).payload for row in rows]
    assert stored[0]["url"].endswith("?access_token=${secrets.crm_token}&lang=zh")
    assert stored[1]["query"]["key"] == "${secrets.crm_key}"
    assert stored[1]["body"]["auth"]["password"] == "${secrets.crm_password}"
    with db.read() as conn:
        events = json.dumps([dict(e._mapping) for e in conn.execute(select(Event.__table__))], default=str)
    kept = {
        "outbox rows": json.dumps(stored),
        "events": events,
        "logs": "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug"),  # not the peer's
    }
    for secret in (TOKEN, KEY, PASSWORD):
        assert [where for where, text in kept.items() if secret in text] == [], secret
    assert "${secrets.crm_token}" in events  # the call_queued event names the URL as written
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx logged it, masked


def test_a_webhook_action_gets_the_stored_token_in_its_url(db: Database, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST", query_string={"token": HOOK_TOKEN}).respond_with_data(
        "ok"
    )
    definition = complaint_with_actions(
        {"webhook": {"url": httpserver.url_for("/hook") + "?token=${secrets.hook_token}"}}
    )
    submit(db, definition)
    (row,) = [r for r in outbox_rows(db) if r.channel == "webhook"]

    assert deliver_one(db, row.id, now=T0) == "sent"
    assert len(httpserver.log) == 1 and httpserver.log[0][1].status_code == 200
    assert outbox_row(db, row.id).payload["url"].endswith("?token=${secrets.hook_token}")


def test_a_call_naming_a_secret_nobody_stored_is_a_dead_letter_and_never_sent(
    db: Database, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GONGDAN_HOOK_CRM_PASSWORD")
    call = {
        "url": httpserver.url_for("/crm"),
        "method": "POST",
        "body": {"password": "${secrets.crm_password}"},
    }
    submit(db, complaint_with_actions({"call": call}))
    (row,) = [r for r in outbox_rows(db) if r.channel == "call"]

    assert deliver_one(db, row.id, now=T0) == "dead"
    assert httpserver.log == []
    assert "GONGDAN_HOOK_CRM_PASSWORD" in outbox_row(db, row.id).last_error


def test_an_error_of_a_delivery_never_shows_the_secret_filled_into_it(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Even where the URL's parameter is not named like a credential (so URL masking alone misses it)."""
    monkeypatch.setitem(CHANNELS, "call", CHANNELS["call"])  # restored after the test

    @channel("call")
    def crash(payload: dict[str, Any], key: str, timeout: float) -> None:
        raise RuntimeError(f"cannot reach {payload['url']} with {payload['body']}")

    payload = {
        "url": "https://crm.example.cn/x?id=${secrets.crm_key}",
        "body": {"pw": "${secrets.crm_password}"},
    }
    with db.write() as conn:
        row = conn.execute(
            insert(Outbox)
            .values(
                idempotency_key="secret-fill:call", channel="call", payload=payload,
                status="pending", attempts=0, max_attempts=8, next_attempt_at=T0, created_at=T0,
            )
            .returning(Outbox.id)
        ).scalar_one()  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="gongdan.jobs"):
        assert deliver_one(db, row, now=T0) == "pending"
    error = outbox_row(db, row).last_error
    assert error.startswith("RuntimeError: cannot reach https://crm.example.cn/x?id=")  # masked
    assert KEY not in error and PASSWORD not in error
    assert KEY not in caplog.text and PASSWORD not in caplog.text and "Traceback" in caplog.text


def test_a_call_with_parameters_in_its_url_and_a_query_sends_both(
    db: Database, httpserver: HTTPServer
) -> None:
    """httpx replaces a URL's query when it is given parameters: the call merges them instead, so a
    ``?access_token=${secrets…}`` in the URL is not lost because the action also has ``query:``."""
    received: list[Any] = []

    def answer(request: Any) -> Any:
        received.append(request)
        return Response(json.dumps({"vip": True}), content_type="application/json")

    httpserver.expect_request("/crm-both").respond_with_handler(answer)
    both = {
        "url": httpserver.url_for("/crm-both") + "?access_token=${secrets.crm_token}&lang=zh",
        "query": {"phone": "phone"},
    }
    definition = complaint_with_actions({"call": both})
    submit(db, definition)
    (row,) = [r for r in outbox_rows(db) if r.channel == "call"]
    deliver_one(db, row.id)
    (request,) = received
    assert request.args["access_token"] == TOKEN
    assert request.args["lang"] == "zh"
    assert request.args["phone"] == complaint_form(definition)["phone"]
