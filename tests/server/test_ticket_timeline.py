"""The ticket's timeline as each viewer reads it: the customer their ticket's story in plain words,
agents and admins every event with the machinery folded, and what automation did credited to the
rule or the system — never to the person whose command set it off."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import server.pages.ticket_messages  # noqa: F401  (registers the page's texts)
from engine.i18n import t
from engine.timeline import KINDS
from tests.server.test_ticket_page import APPS, page, submit, task_at, walk_to_rating

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "ruleslab.yaml"
MACHINERY = {
    "sla_started", "sla_met", "timer_set", "rule_fired", "call_queued", "notification_queued",
    "task_created", "task_completed", "task_claimed", "stage_left", "approval_started", "flow_ended",
    "record_created", "assignment_problem", "updated",
}  # fmt: skip
WHAT = re.compile(r'<div class="tk-what">(.*?)</div>', re.S)
LINE = re.compile(r'<li data-event="([^"]+)" data-seq="(\d+)" data-by="([^"]*)">(.*?)</li>', re.S)


@pytest.fixture
def people(web):
    """A customer, a billing agent who gets refund complaints, a quality reviewer and a support lead."""
    web.user("cathy")
    web.user("alice", roles={"complaint": ["agent", "billing_team"]})
    web.user("quinn", roles={"complaint": ["quality"]})
    web.user("lena", roles={"complaint": ["cs_lead"]})
    return web


def timeline(shown: str) -> list[dict]:
    """The timeline's lines, in order: type, seq, whom credited, the text; ``folded`` when inside a
    folded run of machinery."""
    section = shown[shown.index('id="tk-timeline-title"') :]
    section = section[: section.index("</section>")]
    folded = {
        int(seq)
        for block in re.findall(r'<li class="tk-folded".*?</details>', section, re.S)
        for seq in re.findall(r'data-seq="(\d+)"', block)
    }
    return [
        {
            "type": m[1],
            "seq": int(m[2]),
            "by": m[3],
            "text": " ".join(html.unescape(re.sub(r"<[^>]+>", " ", WHAT.search(m[4])[1])).split()),
            "folded": int(m[2]) in folded,
        }
        for m in LINE.finditer(section)
    ]


def closed_complaint(web):
    """A complaint submitted by Cathy, commented on, resolved, countersigned and rated 5 by her."""
    web.runtime.publish(APPS / "kb.yaml")
    ticket = submit(web)
    for name, body in (("cathy", "请尽快"), ("alice", "正在核对")):
        answer = web.client(name).post(f"/tickets/{ticket.id}/comment", data={"body": body})
        assert answer.status_code == 303
    walk_to_rating(web, ticket)
    web.runtime.act(task_at(web, ticket.id, "rate")["id"], "rate", {"rating": 5}, actor=web.id("cathy"))
    assert web.runtime.ticket(ticket.id).status == "closed"
    return ticket


def test_the_customer_reads_her_tickets_story_without_the_machinery(people):
    ticket = closed_complaint(people)
    lines = timeline(page(people.client("cathy"), ticket.id))
    kinds = [line["type"] for line in lines]
    assert not MACHINERY & set(kinds) and not [k for k in kinds if k.startswith(("sla_", "rule_"))]
    texts = [line["text"] for line in lines]
    assert texts[0] == "Cathy submitted the ticket"
    assert "Cathy commented 请尽快" in texts and "Alice commented 正在核对" in texts  # the reply too
    stages = ("Triage", "Resolve", "Review (countersign)", "Customer rating")
    assert [x for x in texts if x.startswith("Moved to")] == [f"Moved to {x}" for x in stages]
    assert "Approval result: Review (countersign) approved" in texts  # the outcome, not each reviewer's vote
    assert any(x.startswith("Cathy changed Satisfaction") and "★★★★★" in x for x in texts)  # her rating
    assert texts[-1] == "The ticket is closed"
    assert len(lines) < len(people.runtime.events(ticket.id)) / 2


def test_agents_and_admins_see_every_event_with_each_commands_machinery_folded(people):
    ticket = closed_complaint(people)
    every = {e["seq"] for e in people.runtime.events(ticket.id)}
    for name in ("alice", "admin"):
        lines = timeline(page(people.client(name), ticket.id))
        assert {x["seq"] for x in lines} == every
        shown = [x["type"] for x in lines if not x["folded"]]
        assert shown[:3] == ["created", "stage_entered", "task_created"]  # submitted, in Triage, with Alice
        assert "task_completed" in shown and "approval_decided" in shown and "closed" in shown
        folded = {x["type"] for x in lines if x["folded"]}
        assert {"sla_started", "sla_met", "call_queued", "rule_fired", "stage_left", "flow_ended"} <= folded
    alices = page(people.client("alice"), ticket.id)
    first = re.search(r'<li class="tk-folded".*?</details>', alices, re.S)[0]  # the submission's
    assert '<summary class="muted">4 automatic steps</summary>' in first
    kinds = re.findall(r'data-event="(\w+)"', first)
    assert kinds == ["stage_entered", "sla_started", "call_queued", "rule_fired"]


def test_what_a_rule_did_is_credited_to_the_rule_not_to_the_customer(people):
    ticket = closed_complaint(people)
    lines = {line["type"]: line for line in timeline(page(people.client("alice"), ticket.id))}
    assert lines["created"]["text"] == "Cathy submitted the ticket"
    assert lines["call_queued"]["text"] == "System (rule VIP lookup) called an external service"
    assert lines["rule_fired"]["by"] == "rule" and "Cathy" not in lines["rule_fired"]["text"]
    assert lines["record_created"]["text"].startswith("System (rule knowledge base on close) created")
    assert lines["sla_started"]["text"].startswith("System started the clock")
    zh = {line["type"]: line for line in timeline(page(people.client("alice"), ticket.id, "zh"))}
    assert zh["call_queued"]["text"] == "系统(规则 VIP lookup) 调用外部接口"
    assert zh["sla_started"]["text"].startswith("系统 开始计时")


def test_a_field_set_by_a_rule_names_the_rule_and_stays_out_of_the_submitters_story(web):
    web.user("alice")  # the lab's work step goes to alice
    web.user("carl")
    web.runtime.publish(LAB)
    ticket = web.runtime.submit("ruleslab", "case", {"summary": "hi", "vip": True}, actor=web.id("carl"))
    assert ticket.data["priority"] == "P1"
    staff = [x for x in timeline(page(web.client("admin"), ticket.id)) if x["type"] == "field_changed"]
    assert [x["text"].split(" changed ")[0] for x in staff] == [
        "System (rule VIPs are P1)",
        "System (rule P1 gets the gold tier)",
    ]
    assert all(x["folded"] for x in staff)
    carl = timeline(page(web.client("carl"), ticket.id))
    assert "field_changed" not in {x["type"] for x in carl}
    assert carl[0]["text"] == "Carl submitted the ticket"


def test_stages_and_who_holds_the_ticket_read_naturally_in_both_languages(people):
    ticket = submit(people, summary="页面打不开")  # no keyword: it waits in the support pool
    cathy = people.client("cathy")
    en, zh = page(cathy, ticket.id, "en"), page(cathy, ticket.id, "zh")
    assert [x["text"] for x in timeline(en)] == ["Cathy submitted the ticket", "Moved to Triage"]
    assert [x["text"] for x in timeline(zh)] == ["Cathy 提交了工单", "转入 受理分派"]
    assert "Entered a stage" not in en and "进入阶段" not in zh
    assert "<dt>Handled by</dt>" in en and '<span class="tk-owner">Support pool (unclaimed)</span>' in en
    assert '<span class="tk-owner">客服公共池(待认领)</span>' in zh


def test_every_kind_of_event_has_words_in_chinese_and_english():
    for kind in KINDS:
        for lang in ("zh", "en"):
            assert t(f"event.{kind}", lang) != f"event.{kind}", (kind, lang)
