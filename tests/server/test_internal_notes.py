"""Internal notes: the app's staff talk among themselves on a ticket. Another agent reads the note on
the page and in the history; the customer who submitted the ticket never reads it, never downloads
its files, is never notified of it and cannot write one; it is no SLA response to her."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import FormError
from engine.store.models import Outbox, TicketMetrics
from tests.server.test_permission_matrix import PNG
from tests.server.test_ticket_page import APPS, page, submit

MENTION_RULE = "do: [{notify: {channel: email, to: mentioned, template: mentioned}}]"
LOUD_RULE = 'do: [{notify: {channel: email, to: "submitter,watchers,mentioned", template: mentioned}}]'


@pytest.fixture
def people(web):
    """Cathy the customer, and two support agents of the complaint app, all with e-mail addresses."""
    web.user("cathy", email="cathy@example.test")
    web.user("alice", roles={"complaint": ["agent"]}, email="alice@example.test")
    web.user("bob", roles={"complaint": ["agent"]}, email="bob@example.test")
    return web


def api(web: Any, name: str) -> Any:
    client = web.anonymous()
    client.environ_base["HTTP_AUTHORIZATION"] = web.token(name)["Authorization"]
    return client


def history(web: Any, name: str, ticket_id: int) -> list[dict]:
    answer = api(web, name).get(f"/api/v1/tickets/{ticket_id}/events?limit=200")
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def comment_bodies(events: list[dict]) -> list[str]:
    return [e["payload"]["body"] for e in events if e["type"] == "comment_added"]


def emails(web: Any) -> list[dict]:
    with web.db.read() as conn:
        rows = conn.execute(select(Outbox.payload).where(Outbox.channel == "email").order_by(Outbox.id))
        return [row.payload for row in rows]


def changed_app(web: Any, tmp_path: Path, condition: str, actions: str) -> None:
    """The complaint app with its comment rule changed to ``if: condition`` and ``do: actions``."""
    text = (APPS / "complaint.yaml").read_text(encoding="utf-8")
    assert MENTION_RULE in text
    changed = tmp_path / "complaint.yaml"
    rule = text.replace('if: "event.mentions"', f"if: {condition!r}").replace(MENTION_RULE, actions)
    changed.write_text(rule, "utf-8")
    web.runtime.publish(changed)


# ----------------------------------------------------------------------------- who reads it
def test_an_agents_internal_note_is_read_by_a_colleague_and_not_by_the_customer_on_the_page(people):
    web = people
    ticket = submit(web)
    said = web.client("alice").post(
        f"/tickets/{ticket.id}/comment", data={"body": "客户情绪激动,先别提赔偿", "internal": "1"}
    )
    assert said.status_code == 303
    web.client("cathy").post(f"/tickets/{ticket.id}/comment", data={"body": "请尽快处理"})

    bobs = page(web.client("bob"), ticket.id)
    assert "客户情绪激动,先别提赔偿" in bobs and "请尽快处理" in bobs
    assert 'class="tk-comment tk-internal-note"' in bobs and "Internal note" in bobs
    assert bobs.count('class="tk-internal"') == 2  # marked among the comments and in the timeline
    assert 'name="internal"' in bobs  # staff may write one too

    cathys = page(web.client("cathy"), ticket.id)
    assert "先别提赔偿" not in cathys and "请尽快处理" in cathys
    assert "Internal note" not in cathys and 'name="internal"' not in cathys
    assert "内部备注" not in page(web.client("cathy"), ticket.id, "zh")


def test_the_history_api_echoes_the_mark_to_staff_and_leaves_the_note_out_for_the_customer(people):
    web = people
    ticket = submit(web)
    url = f"/api/v1/tickets/{ticket.id}/comments"
    said = api(web, "alice").post(url, json={"body": "内部:核对退款流水", "internal": True})
    assert said.status_code == 201, said.json
    assert said.json["comment"] == {"body": "内部:核对退款流水", "internal": True}
    assert api(web, "alice").post(url, json={"body": "您好,正在处理"}).status_code == 201

    staff = [e for e in history(web, "bob", ticket.id) if e["type"] == "comment_added"]
    assert [(e["payload"]["body"], e["payload"].get("internal")) for e in staff] == [
        ("内部:核对退款流水", True),
        ("您好,正在处理", None),
    ]
    assert comment_bodies(history(web, "cathy", ticket.id)) == ["您好,正在处理"]


def test_a_file_sent_with_an_internal_note_is_not_the_customers_to_download(people):
    web = people
    upload = api(web, "alice").post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(PNG), "流水.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.json
    ticket = submit(web)
    note = {"body": "退款流水截图", "internal": True, "attachments": [upload.json["id"]]}
    assert api(web, "alice").post(f"/api/v1/tickets/{ticket.id}/comments", json=note).status_code == 201
    download = f"/api/v1/attachments/{upload.json['id']}"
    assert api(web, "bob").get(download).status_code == 200
    assert api(web, "cathy").get(download).status_code == 404


# ----------------------------------------------------------------------------- who writes it
def test_the_customer_cannot_write_an_internal_note(people):
    web = people
    ticket = submit(web)
    answer = api(web, "cathy").post(
        f"/api/v1/tickets/{ticket.id}/comments?lang=zh", json={"body": "我也想写内部备注", "internal": True}
    )
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["internal"]
    assert "内部备注" in answer.json["problems"][0]["message"]
    en = api(web, "cathy").post(
        f"/api/v1/tickets/{ticket.id}/comments?lang=en", json={"body": "x", "internal": True}
    )
    assert "Only the app's staff and admins may write an internal note" in en.json["problems"][0]["message"]
    on_page = web.client("cathy").post(
        f"/tickets/{ticket.id}/comment?lang=en", data={"body": "我也想写", "internal": "1"}
    )
    assert on_page.status_code == 422 and "may write an internal note" in on_page.get_data(as_text=True)
    with pytest.raises(FormError) as refused:
        web.runtime.comment(ticket.id, "经引擎", actor=web.id("cathy"), internal=True)
    assert [p.path for p in refused.value.problems] == ["internal"]
    assert comment_bodies(web.runtime.events(ticket.id)) == []


def test_an_admin_writes_an_internal_note_without_a_role_in_the_app(people):
    web = people
    ticket = submit(web)
    note = {"body": "管理员备注", "internal": True}
    assert api(web, "admin").post(f"/api/v1/tickets/{ticket.id}/comments", json=note).status_code == 201
    assert comment_bodies(history(web, "alice", ticket.id)) == ["管理员备注"]
    assert comment_bodies(history(web, "cathy", ticket.id)) == []


# ----------------------------------------------------------------------------- who hears of it
def test_the_customer_is_not_notified_of_an_internal_note_but_staff_watchers_are(people, tmp_path):
    web = people
    changed_app(web, tmp_path, "true", LOUD_RULE)
    ticket = submit(web)
    url = f"/api/v1/tickets/{ticket.id}/comments"
    assert api(web, "alice").post(f"/api/v1/tickets/{ticket.id}/watchers", json={}).status_code == 200
    assert api(web, "alice").post(url, json={"body": "您好,已收到"}).status_code == 201
    assert [m["to"] for m in emails(web)] == [["cathy@example.test", "alice@example.test"]]

    assert api(web, "bob").post(url, json={"body": "内部:这单要升级", "internal": True}).status_code == 201
    internal = emails(web)[1:]
    assert [m["to"] for m in internal] == [["alice@example.test"]]  # the watching agent, not cathy
    assert not any("cathy@example.test" in m["to"] for m in internal)


def test_what_a_rule_says_of_an_internal_note_stays_with_staff(people, tmp_path):
    web = people
    changed_app(web, tmp_path, "event.internal and not event.system", 'do: [{comment: "规则:已转二线"}]')
    ticket = submit(web)
    note = {"body": "@bob 内部:转二线", "internal": True}
    assert api(web, "alice").post(f"/api/v1/tickets/{ticket.id}/comments", json=note).status_code == 201
    staff = [e["payload"] for e in history(web, "bob", ticket.id) if e["type"] == "comment_added"]
    assert [(p["body"], p.get("internal")) for p in staff] == [
        ("@bob 内部:转二线", True),
        ("规则:已转二线", True),
    ]
    assert comment_bodies(history(web, "cathy", ticket.id)) == []


def test_a_colleague_mentioned_in_an_internal_note_becomes_a_watcher_and_hears_of_it(people):
    web = people
    ticket = submit(web)
    note = {"body": "@bob 请帮忙看下这单(内部)", "internal": True}
    said = api(web, "alice").post(f"/api/v1/tickets/{ticket.id}/comments", json=note)
    assert said.status_code == 201 and said.json["comment"]["mentions"] == [web.id("bob")]
    watchers = api(web, "alice").get(f"/api/v1/tickets/{ticket.id}/watchers").json["items"]
    assert [w["username"] for w in watchers] == ["bob"]
    assert [m["to"] for m in emails(web)] == [["bob@example.test"]]


def test_a_customer_mentioned_in_an_internal_note_hears_nothing(people):
    web = people
    ticket = submit(web)
    note = {"body": "@cathy 的电话打不通(内部)", "internal": True}
    assert api(web, "alice").post(f"/api/v1/tickets/{ticket.id}/comments", json=note).status_code == 201
    assert emails(web) == []


# ----------------------------------------------------------------------------- SLA
def test_an_internal_note_is_no_response_to_the_customer_for_the_sla_or_the_reports(people):
    web = people
    ticket = submit(web)

    def responses() -> int:
        return sum(
            1
            for e in web.runtime.events(ticket.id)
            if e["type"] == "sla_met" and e["payload"].get("target") == "response"
        )

    def first_response() -> object:
        with web.db.read() as conn:
            query = select(TicketMetrics.first_response_hours).where(TicketMetrics.record_id == ticket.id)
            return conn.execute(query).scalar_one()

    web.runtime.comment(ticket.id, "内部:先查一下", actor=web.id("alice"), internal=True)
    assert responses() == 0 and first_response() is None  # neither the clock nor the report counts it
    web.runtime.comment(ticket.id, "您好,我们在处理", actor=web.id("alice"))
    assert responses() == 1 and first_response() is not None
