"""Inbound messages: a message becomes a ticket of the type its app's inbound entry names, once; a reply
becomes a comment; the sender is matched to a user. On SQLite and PostgreSQL (the shipped complaint app)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from engine.definitions.loader import load_definition
from engine.definitions.source import read_source
from engine.errors import DefinitionError, FormError
from engine.jobs.channels import message_id as mailed_message_id
from engine.people import create_user
from engine.rules.inbound import (
    MAX_BODY_BYTES,
    InboundError,
    TooLarge,
    mainland_mobile,
    parse_message,
    receive,
    reply_text,
)
from engine.store.models import InboundMessage, Outbox, Record
from engine.store.types import utcnow
from tests.conftest import APPS
from tests.support import race

COMPLAINTS = "complaints@example.com"


def mail(message_id: str = "<m1@example.cn>", **overrides: Any) -> dict[str, Any]:
    """A customer's mail to the complaints address, as the poller or a mail webhook hands it over."""
    message = {
        "channel": "email",
        "message_id": message_id,
        "sender": {"name": "王芳", "email": "wangfang@example.cn"},
        "to": [COMPLAINTS],
        "subject": "紧急：退款一周未到账",
        "text": "订单 SO-20261201-0001 的退款还没到,我的电话 139 0013 9000 不对,是 13900139000。",
    }
    message.update(overrides)
    return message


def count(db, model) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_mail_becomes_a_complaint_with_its_mapped_fields(runtime, db, complaint_app):
    received = receive(runtime, "complaint", mail())
    assert received.created and not received.commented
    ticket = runtime.ticket(received.record_id)
    assert ticket.number == received.number and ticket.stage == "triage"
    assert ticket.data["customer"] == "王芳" and ticket.data["email"] == "wangfang@example.cn"
    assert ticket.data["phone"] == "13900139000"  # the first mobile number written in the mail
    assert ticket.data["summary"] == "紧急：退款一周未到账"
    assert ticket.data["category"] == "billing" and ticket.data["priority"] == "P2"
    assert ticket.data["channel"] == "email"
    with db.read() as conn:
        created_by = conn.execute(select(Record.created_by).where(Record.id == ticket.id)).scalar_one()
        row = conn.execute(select(InboundMessage.__table__)).one()
    assert created_by is None  # nobody matched: the system files it, the sender's address is in the fields
    assert (row.channel, row.message_id, row.record_id) == ("email", "<m1@example.cn>", ticket.id)


def test_the_same_message_delivered_twice_makes_one_ticket(runtime, db, complaint_app):
    first = receive(runtime, "complaint", mail())
    again = receive(runtime, "complaint", mail())
    assert again.record_id == first.record_id and again.number == first.number
    assert not again.created and not again.commented
    assert count(db, Record) == 1 and count(db, InboundMessage) == 1


def test_two_deliveries_at_the_same_moment_make_one_ticket(runtime, db, complaint_app):
    outcomes = race(*(lambda: receive(runtime, "complaint", mail()) for _ in range(3)))
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert len({o.record_id for o in outcomes}) == 1
    assert [o.created for o in outcomes].count(True) == 1
    assert count(db, Record) == 1 and count(db, InboundMessage) == 1


def test_the_same_message_id_on_another_channel_is_another_message(runtime, db, complaint_app):
    by_mail = receive(runtime, "complaint", mail("<42@x>"))
    by_hook = receive(
        runtime, "complaint", mail("<42@x>", channel="webhook", sender={"phone": "13700137000"})
    )
    assert by_hook.created and by_hook.record_id != by_mail.record_id


def test_a_reply_naming_the_ticket_number_becomes_a_comment(runtime, db, complaint_app):
    ticket = receive(runtime, "complaint", mail())
    quoted = "钱还是没到。\n\n在 2026年12月1日 09:00,客服 写道:\n> 您好,已为您登记。"
    reply = receive(
        runtime,
        "complaint",
        mail("<m2@example.cn>", subject=f"回复：[{ticket.number}] 处理进度", text=quoted),
    )
    assert reply.commented and not reply.created and reply.record_id == ticket.record_id
    last = runtime.events(ticket.record_id)[-1]
    assert last["type"] == "comment_added" and last["actor_id"] is None
    assert last["payload"]["body"] == "钱还是没到。"  # the quoted mail is left out
    assert last["payload"]["sender"] == "王芳 <wangfang@example.cn>"  # nobody matched: who wrote it is kept
    assert last["payload"]["message_id"] == "<m2@example.cn>" and last["payload"]["channel"] == "email"
    assert count(db, Record) == 1


def test_a_reply_to_a_message_we_received_is_threaded_by_its_headers(runtime, complaint_app):
    ticket = receive(runtime, "complaint", mail())
    reply = receive(
        runtime,
        "complaint",
        mail("<m2@example.cn>", subject="Re: 退款", text="补充：订单号见附件", in_reply_to="<m1@example.cn>"),
    )
    second = receive(
        runtime,
        "complaint",
        mail(
            "<m3@example.cn>",
            subject="Re: Re: 退款",
            text="还有一件事",
            references=["<m1@example.cn>", "<m2@example.cn>"],
        ),
    )
    assert reply.commented and second.commented
    assert reply.record_id == second.record_id == ticket.record_id


def test_a_reply_to_a_mail_we_sent_is_threaded_by_its_message_id(runtime, db, complaint_app):
    ticket = receive(runtime, "complaint", mail())
    key = f"notify:{ticket.record_id}:email:digest1"
    with db.write() as conn:
        conn.execute(
            insert(Outbox).values(
                idempotency_key=key, record_id=ticket.record_id, channel="email", payload={}, status="sent",
                attempts=1, max_attempts=14, next_attempt_at=utcnow(), created_at=utcnow(),
            )
        )  # fmt: skip
    digest = mailed_message_id(key, "noreply@example.com")[1:33]
    ours = f"<{digest}.{ticket.record_id}.gongdan@example.com>"
    reply = receive(
        runtime, "complaint", mail("<m2@example.cn>", subject="Re: 您的投诉", text="好的", in_reply_to=ours)
    )
    assert reply.commented and reply.record_id == ticket.record_id


def test_a_made_up_message_id_of_ours_does_not_attach_a_message_to_a_ticket(runtime, db, complaint_app):
    ticket = receive(runtime, "complaint", mail())
    forged = f"<{'0' * 32}.{ticket.record_id}.gongdan@example.com>"
    other = receive(
        runtime,
        "complaint",
        mail("<m2@example.cn>", subject="投诉 2", text="x 13700137000", in_reply_to=forged),
    )
    assert other.created and other.record_id != ticket.record_id


def test_the_sender_is_matched_to_a_user_by_email_in_any_case(runtime, db, complaint_app):
    alice = create_user(db, "alice", "Alice Chen", email="Alice.Chen@Example.cn", phone="13800138000")
    received = receive(runtime, "complaint", mail(sender={"email": "alice.chen@example.cn"}, text="退款没到"))
    ticket = runtime.ticket(received.record_id)
    with db.read() as conn:
        created_by = conn.execute(select(Record.created_by).where(Record.id == ticket.id)).scalar_one()
    assert created_by == alice
    assert (
        ticket.data["customer"] == "Alice Chen" and ticket.data["phone"] == "13800138000"
    )  # from her record


def test_the_sender_is_matched_by_mobile_number_however_it_is_written(runtime, db, complaint_app):
    bob = create_user(db, "bob", "Bob", phone="+86 137-0013-7000")
    message = mail(channel="webhook", sender={"name": "Bob", "phone": "0086 13700137000"}, text="屏幕坏了")
    received = receive(runtime, "complaint", message)
    with db.read() as conn:
        assert conn.execute(select(Record.created_by).where(Record.id == received.record_id)).scalar() == bob


def test_a_reply_from_a_matched_user_is_their_comment(runtime, db, complaint_app):
    ticket = receive(runtime, "complaint", mail())
    agent = create_user(db, "carol", "Carol", email="carol@example.com")
    receive(
        runtime,
        "complaint",
        mail(
            "<m2@example.cn>",
            sender={"email": "CAROL@example.com"},
            subject=f"[{ticket.number}]",
            text="已退款",
        ),
    )
    events = runtime.events(ticket.record_id)
    (comment,) = [e for e in events if e["type"] == "comment_added"]
    assert comment["actor_id"] == agent and "sender" not in comment["payload"]
    assert "sla_met" in [e["type"] for e in events[events.index(comment) :]]  # an agent answered: a response


def test_two_users_sharing_an_address_match_nobody(runtime, db, complaint_app):
    create_user(db, "d1", email="desk@example.cn")
    create_user(db, "d2", email="DESK@example.cn")
    received = receive(runtime, "complaint", mail(sender={"name": "前台", "email": "desk@example.cn"}))
    with db.read() as conn:
        assert conn.execute(select(Record.created_by).where(Record.id == received.record_id)).scalar() is None


def test_the_entry_is_chosen_by_channel_and_address(runtime, complaint_app):
    with pytest.raises(InboundError) as refused:
        receive(runtime, "complaint", mail(to=["sales@example.com"]))
    assert refused.value.code == "inbound.no_mapping" and "sales@example.com" in refused.value.message("en")
    robot = {"channel": "dingtalk", "message_id": "msg01", "sender": {"name": "李雷", "im_id": "staff7"},
             "to": "complaints", "text": "客户 13600136000 反映物流太慢"}  # fmt: skip
    ticket = runtime.ticket(receive(runtime, "complaint", robot).record_id)
    assert ticket.data["channel"] == "dingtalk" and ticket.data["phone"] == "13600136000"
    assert ticket.data["summary"] == "客户 13600136000 反映物流太慢"  # no subject: the first line


def test_a_message_the_form_rejects_writes_nothing_and_may_come_again(runtime, db, complaint_app):
    with pytest.raises(FormError) as refused:
        receive(runtime, "complaint", mail(text="没有电话号码"))
    assert [p.path for p in refused.value.problems] == ["phone"]
    assert count(db, Record) == 0 and count(db, InboundMessage) == 0
    assert receive(runtime, "complaint", mail(text="电话 13900139000")).created


def test_a_mapping_written_before_a_field_was_renamed_fills_the_renamed_field(runtime, complaint_app):
    _, definition = runtime.definition("complaint")
    v2 = copy.deepcopy(definition)
    fields = v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"]
    next(f for f in fields if f["key"] == "customer").update(key="customer_name", renamed_from="customer")
    assert runtime.publish(v2).version == 2  # the inbound entries still say `customer`
    ticket = runtime.ticket(receive(runtime, "complaint", mail()).record_id)
    assert (
        ticket.app_version == 2 and ticket.data["customer_name"] == "王芳" and "customer" not in ticket.data
    )


def test_text_over_one_megabyte_is_refused_before_anything_is_written(runtime, db, complaint_app):
    with pytest.raises(TooLarge) as refused:
        receive(runtime, "complaint", mail(text="退" * (MAX_BODY_BYTES // 3 + 1)))
    assert refused.value.http_status == 413 and "1048576" in refused.value.message("en")
    assert count(db, Record) == 0


def test_html_is_sanitised_and_read_as_text_when_there_is_no_text(runtime, complaint_app):
    html = (
        "<div>手机 <b>13900139000</b> 屏幕碎了</div><script>alert('x')</script>"
        '<p onclick="steal()">请尽快处理 &amp; 回电</p>'
    )
    message = parse_message(mail(text=None, html=html))
    assert message.text == "手机 13900139000 屏幕碎了\n请尽快处理 & 回电"
    assert (
        "<script" not in message.html
        and "onclick" not in message.html
        and "<b>13900139000</b>" in message.html
    )
    ticket = runtime.ticket(receive(runtime, "complaint", message).record_id)
    assert "<script" not in ticket.data["detail"] and "屏幕碎了" in ticket.data["detail"]


def test_misshapen_messages_are_refused_with_what_is_wrong():
    cases = {
        "channel": ({"channel": "sms"}, "sms"),
        "message_id": ({"message_id": ""}, "message_id"),
        "empty": ({"subject": "", "text": " "}, "neither a subject nor a body"),
        "time": ({"received_at": "yesterday"}, "ISO 8601"),
        "list": ({"references": "<a@b>"}, "references must be a list"),
    }
    for overrides, said in cases.values():
        with pytest.raises(InboundError) as refused:
            parse_message(mail(**overrides))
        assert said in refused.value.message("en"), refused.value.message("en")
        assert refused.value.message("zh") != refused.value.message("en")


def test_a_reply_keeps_what_is_above_the_quoted_message():
    assert reply_text("好的\n\n-----原始邮件-----\n发件人: x") == "好的"
    assert reply_text("Thanks!\nOn Mon, 1 Dec 2026 at 09:00, Desk <d@x> wrote:\n> old") == "Thanks!"
    assert reply_text("> only a quote") == "> only a quote"  # nothing of its own: kept whole


def test_mainland_mobile_numbers_are_normalised():
    for spelling in (
        "13800138000",
        "+86 138-0013-8000",
        "008613800138000",
        "138 0013 8000",
        "+86(138)00138000",
    ):
        assert mainland_mobile(spelling) == "13800138000", spelling
    assert mainland_mobile("010-12345678") is None and mainland_mobile("+1 415 555 0100") is None


def test_inbound_entries_are_checked_when_the_definition_loads():
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    data["inbound"] = [
        {
            "channel": "email",
            "ticket_type": "complaint",
            "fields": {"summary": "message.subjct", "total": "1"},
        },
        {
            "channel": "email",
            "match": {"to": "a@b.cn"},
            "ticket_type": "complaint",
            "fields": {"nope": "1 +"},
        },
        {"channel": "feishu", "ticket_type": "incident", "fields": {"summary": "message.title"}},
    ]
    with pytest.raises(DefinitionError) as refused:
        load_definition(data)
    found = {(p.path, p.code) for p in refused.value.problems}
    assert found == {
        ("inbound[0].fields.summary", "expr.unknown_attribute"),
        ("inbound[0].fields.total", "check.inbound.computed_field"),
        ("inbound[1]", "check.inbound.unreachable"),
        ("inbound[1].fields.nope", "check.inbound.unknown_field"),
        ("inbound[1].fields.nope", "expr.syntax"),
        ("inbound[2].ticket_type", "check.inbound.unknown_type"),
    }
    for problem in refused.value.problems:
        assert problem.message("zh") and problem.message("en") != problem.code
