"""Notify actions end to end, on SQLite and PostgreSQL: recipients resolved to addresses when the command
runs, the message rendered in each recipient's language, one outbox row per message with a complete
payload, then delivered to a real SMTP server (aiosmtpd) and a real HTTP server posing as the robot."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import insert, select

from engine.jobs.outbox import deliver_one, sweep
from engine.people import create_user
from engine.runtime import Runtime
from engine.store.models import Outbox, Watcher
from tests.engine.jobs.peers import LocalSMTP, Mailbox
from tests.support import give_role

LAB = Path(__file__).resolve().parents[2] / "fixtures" / "flowlab.yaml"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
BASE = "https://gongdan.example.cn"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def peers(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server and robots on the local HTTP server, configured as an admin would."""
    mailbox = Mailbox()
    server = LocalSMTP(mailbox, auth_require_tls=False)
    server.start()
    monkeypatch.setenv("GONGDAN_BASE_URL", BASE)
    monkeypatch.setenv("GONGDAN_LANG", "zh")
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv(
        "GONGDAN_SMTP_URL", f"smtp://mailer:p%40ss%3Aw0rd@127.0.0.1:{server.port}?from=noreply@gongdan.test"
    )
    monkeypatch.setenv(
        "GONGDAN_ROBOT_DINGTALK", "dingtalk+" + httpserver.url_for("/ding?access_token=t") + "#secret=S"
    )
    monkeypatch.setenv("GONGDAN_ROBOT_OPS_ROOM", "wecom+" + httpserver.url_for("/wecom?key=k"))
    monkeypatch.setenv("GONGDAN_SMS_URL", httpserver.url_for("/sms"))
    httpserver.expect_request("/ding").respond_with_json({"errcode": 0, "errmsg": "ok"})
    httpserver.expect_request("/wecom").respond_with_json({"errcode": 0, "errmsg": "ok"})
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    yield mailbox
    server.stop()


def rows(db, record_id: int) -> list[Any]:
    with db.read() as conn:
        return conn.execute(
            select(Outbox.__table__).where(Outbox.record_id == record_id).order_by(Outbox.id)
        ).all()


def only_task(runtime: Runtime, ticket_id: int, node: str) -> int:
    (task,) = [t["id"] for t in runtime.tasks(ticket_id) if t["node_id"] == node]
    return task


# ----------------------------------------------------------------------------- flowlab: SLA and reminders
def test_sla_and_reminder_notifications_reach_people_in_their_language(db, peers, httpserver: HTTPServer):
    clock = Clock()
    runtime = Runtime(db, clock=clock)
    boss = create_user(db, "boss", "王总", email="boss@example.cn", lang="zh")
    alice = create_user(
        db, "alice", "Alice", email="alice@example.cn", phone="13800138000", lang="en", manager_id=boss
    )
    create_user(db, "carol", "Carol", email="carol@example.cn", phone="13900139000", lang="en")
    dave = create_user(db, "dave", "Dave")
    runtime.publish(LAB)
    ticket = runtime.submit("flowlab", "timed", {"priority": "P2"}, actor=dave)
    runtime.fire_due_timers(clock.advance(hours=2))  # the cool-down ends: alice works, response in 1 h

    runtime.fire_due_timers(clock.advance(minutes=31))  # 50 % of the response time
    (warning,) = rows(db, ticket.id)
    assert warning.channel == "dingtalk"
    assert warning.payload["robot"] == "dingtalk"  # no robot named: the channel's default robot
    assert warning.payload["at_mobiles"] == ["13800138000"]  # the assignee, @-mentioned by phone
    assert warning.payload["title"] == f"工单 {ticket.number} 即将超时"  # the server's language
    assert warning.payload["link"] == f"{BASE}/tickets/{ticket.id}"
    assert "响应时限已用去 50%" in warning.payload["text"]
    assert warning.idempotency_key.startswith(f"notify:{ticket.id}:dingtalk:")

    runtime.fire_due_timers(clock.advance(minutes=30))  # the response time is over
    breached = rows(db, ticket.id)[-1]
    assert (breached.channel, breached.payload["to"], breached.payload["lang"]) == (
        "email",
        ["boss@example.cn"],
        "zh",
    )
    assert breached.payload["subject"] == f"工单 {ticket.number} 已超时"
    assert breached.payload["html"].startswith("<!doctype html>") and BASE in breached.payload["html"]

    runtime.fire_due_timers(clock.advance(hours=2))  # 150 %: carol takes over; the 3 h reminder comes
    reminder = [r for r in rows(db, ticket.id) if r.channel == "email"][-1]
    assert reminder.payload["to"] == ["carol@example.cn"] and reminder.payload["lang"] == "en"
    assert reminder.payload["subject"] == f"Reminder: ticket {ticket.number} is waiting for you"
    assert len({r.idempotency_key for r in rows(db, ticket.id)}) == len(rows(db, ticket.id))

    assert sweep(db, now=clock.now) == len(rows(db, ticket.id))
    assert {r.status for r in rows(db, ticket.id)} == {"sent"}
    subjects = {tuple(to): msg["Subject"] for to, msg in peers.messages}
    assert subjects[("boss@example.cn",)] == f"工单 {ticket.number} 已超时"
    assert subjects[("carol@example.cn",)] == f"Reminder: ticket {ticket.number} is waiting for you"
    posted = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/ding"]
    assert posted[0]["msgtype"] == "markdown" and posted[0]["at"]["atMobiles"] == ["13800138000"]
    assert all("sign" in r.args for r, _ in httpserver.log if r.path == "/ding")
    assert alice  # alice had no reminder: she was no longer the assignee


# ----------------------------------------------------------------------------- recipients of every kind
APP = {
    "app": "notes",
    "name": {"zh": "通知实验", "en": "Notify lab"},
    "roles": {"ops": {"zh": "运维", "en": "Operations"}},
    "templates": {
        "note": {
            "subject": {
                "zh": "工单 {{ ticket.number }}:{{ fields.summary }}",
                "en": "Ticket {{ ticket.number }}: {{ fields.summary }}",
            },
            "text": {
                "zh": "{{ labels.summary }}:{{ fields.summary }}\n阶段:{{ ticket.stage_name }}\n"
                "{{ ticket.url }}",
                "en": "{{ labels.summary }}: {{ fields.summary }}\nStage: {{ ticket.stage_name }}\n"
                "{{ ticket.url }}",
            },
            "html": "<p>{{ fields.summary }}</p><p><a href='{{ ticket.url }}'>{{ ticket.number }}</a></p>",
        }
    },
    "ticket_types": {
        "note": {
            "name": {"zh": "记录", "en": "Note"},
            "number": "NT-{seq:4}",
            "form": {
                "sections": [
                    {"fields": [{"key": "summary", "type": "text", "label": {"zh": "标题", "en": "Summary"}}]}
                ]
            },
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start"},
                    {
                        "id": "triage",
                        "type": "task",
                        "name": {"zh": "分诊", "en": "Triage"},
                        "assignee": {"user": "alice"},
                    },
                    {
                        "id": "tell",
                        "type": "auto",
                        "actions": [
                            {
                                "notify": {
                                    "channel": "email",
                                    "to": "watchers, ops, ceo@example.cn",
                                    "template": "note",
                                }
                            },
                            {"notify": {"channel": "sms", "to": "submitter", "template": "note"}},
                            {"notify": {"channel": "email", "to": "submitter", "template": "note"}},
                            {"notify": {"channel": "wecom", "robot": "ops_room", "template": "note"}},
                            {"notify": {"channel": "email", "to": "manager_of_assignee", "template": "note"}},
                            {"notify": {"channel": "feishu", "to": "manager_of_assignee"}},
                            {"notify": {"channel": "sms", "to": "nobody_we_know"}},
                        ],
                    },
                    {
                        "id": "done",
                        "type": "task",
                        "name": {"zh": "完成", "en": "Done"},
                        "assignee": {"user": "alice"},
                    },
                    {"id": "end", "type": "end"},
                ],
                "edges": [["start", "triage"], ["triage", "tell"], ["tell", "done"], ["done", "end"]],
            },
        }
    },
}


@pytest.fixture
def notes(db) -> tuple[Runtime, dict[str, int]]:
    runtime = Runtime(db, clock=lambda: T0)
    people = {
        "alice": create_user(db, "alice", "Alice", email="alice@example.cn", lang="en"),
        "carol": create_user(db, "carol", "卡罗", email="carol@example.cn", lang="zh"),
        "erin": create_user(db, "erin", "Erin", email="erin@example.cn", lang="en"),
        "sam": create_user(db, "sam", "Sam", phone="+86 138-0013-8000", lang="zh"),  # no email
    }
    runtime.publish(APP)
    give_role(db, people["erin"], "notes", "ops")
    return runtime, people


def submit_and_tell(db, runtime: Runtime, people: dict[str, int], summary: str) -> Any:
    ticket = runtime.submit("notes", "note", {"summary": summary}, actor=people["sam"])
    with db.write() as conn:
        conn.execute(
            insert(Watcher),
            [{"record_id": ticket.id, "user_id": people[u], "added_at": T0} for u in ("alice", "carol")],
        )
    runtime.act(only_task(runtime, ticket.id, "triage"), "complete", actor=people["alice"])
    return ticket


def test_each_recipient_kind_resolves_and_messages_group_by_language(db, notes):
    runtime, people = notes
    ticket = submit_and_tell(db, runtime, people, "打印机 <卡纸>")
    by_channel: dict[str, list[Any]] = {}
    for row in rows(db, ticket.id):
        by_channel.setdefault(row.channel, []).append(row.payload)
    assert sorted(by_channel) == ["email", "sms", "wecom"]  # nobody named → nothing queued

    mails = {p["lang"]: p for p in by_channel["email"] if p["to"]}
    assert mails["en"]["to"] == ["alice@example.cn", "erin@example.cn"]  # a watcher and the ops role
    assert mails["zh"]["to"] == ["carol@example.cn", "ceo@example.cn"]  # a watcher and a literal address
    assert mails["en"]["subject"] == f"Ticket {ticket.number}: 打印机 <卡纸>"
    assert mails["zh"]["subject"] == f"工单 {ticket.number}:打印机 <卡纸>"
    summary, stage, link = mails["en"]["text"].split("\n")
    assert (summary, link) == ("Summary: 打印机 <卡纸>", f"http://127.0.0.1:8000/tickets/{ticket.id}")
    assert stage.startswith("Stage: ")
    assert "<p>打印机 &lt;卡纸&gt;</p>" in mails["zh"]["html"]
    assert mails["zh"]["link"] == f"http://127.0.0.1:8000/tickets/{ticket.id}"

    (unreachable,) = [p for p in by_channel["email"] if not p["to"]]
    assert unreachable["unreachable"] == ["Sam"]  # the submitter has no email address

    (sms,) = by_channel["sms"]
    assert sms["to"] == ["+8613800138000"] and sms["text"].startswith(f"工单 {ticket.number}:打印机")

    (card,) = by_channel["wecom"]
    assert card["robot"] == "ops_room" and card["at_mobiles"] == []
    assert card["title"] == f"工单 {ticket.number}:打印机 <卡纸>"


def test_idempotency_keys_are_unique_per_item_and_derived_not_random(db, notes):
    runtime, people = notes
    first = submit_and_tell(db, runtime, people, "one")
    second = submit_and_tell(db, runtime, people, "two")
    keys = [r.idempotency_key for r in rows(db, first.id)] + [r.idempotency_key for r in rows(db, second.id)]
    assert len(set(keys)) == len(keys)
    for row in rows(db, first.id):
        assert row.idempotency_key.startswith(f"notify:{first.id}:{row.channel}:")
    # the same notification for the same ticket and moment is the same key: shape, not chance
    shapes = [k.split(":")[2] for k in keys]
    assert shapes[: len(shapes) // 2] == shapes[len(shapes) // 2 :]


def test_the_queued_messages_are_delivered_and_the_unreachable_one_says_whom_to_fix(
    db, notes, peers, httpserver
):
    runtime, people = notes
    ticket = submit_and_tell(db, runtime, people, "VPN down")
    statuses = {}
    for row in rows(db, ticket.id):
        statuses[(row.channel, row.payload.get("lang"), bool(row.payload.get("to", True)))] = deliver_one(
            db, row.id, now=T0
        )
    assert statuses == {
        ("email", "en", True): "sent",
        ("email", "zh", True): "sent",
        ("email", "zh", False): "dead",
        ("sms", "zh", True): "sent",
        ("wecom", "zh", True): "sent",
    }
    (dead,) = [r for r in rows(db, ticket.id) if r.status == "dead"]
    assert "Sam" in dead.last_error and "邮箱" in dead.last_error
    received = sorted(tuple(to) for to, _ in peers.messages)
    assert received == [("alice@example.cn", "erin@example.cn"), ("carol@example.cn", "ceo@example.cn")]
    (sms,) = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/sms"]
    assert sms["to"] == ["+8613800138000"]
    (wecom,) = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/wecom"]
    assert f"{ticket.number}" in wecom["markdown"]["content"]
