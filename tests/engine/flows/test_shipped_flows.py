"""The three shipped apps' flows, walked end to end the way their users would, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.people import create_department, create_user
from engine.runtime import Runtime
from engine.store.models import Outbox
from tests.support import complaint_form, give_role

APPS = Path(__file__).resolve().parents[3] / "app_definitions"
BJ = dt.timezone(dt.timedelta(hours=8))
TUESDAY = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BJ).astimezone(dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = TUESDAY

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def only_task(runtime, ticket_id, node):
    tasks = [t for t in runtime.tasks(ticket_id) if t["node_id"] == node]
    assert len(tasks) == 1, runtime.tasks(ticket_id)
    return tasks[0]


def outbox_channels(db, ticket_id):
    with db.read() as conn:
        return conn.execute(select(Outbox.channel).where(Outbox.record_id == ticket_id)).scalars().all()


def test_complaint_is_dispatched_by_keyword_asks_the_customer_and_is_countersigned(db, clock):
    runtime = Runtime(db, clock=clock)
    runtime.publish(APPS / "complaint.yaml")
    runtime.publish(APPS / "kb.yaml")
    people = {n: create_user(db, n) for n in ("customer", "bill1", "bill2", "post1", "qa1", "lead1")}
    for name, role in (("bill1", "billing_team"), ("bill2", "billing_team"), ("post1", "delivery_team")):
        give_role(db, people[name], "complaint", role)
    give_role(db, people["qa1"], "complaint", "quality")
    give_role(db, people["lead1"], "complaint", "cs_lead")
    form = complaint_form(runtime.definition("complaint")[1], summary="退款未到账", priority="P2")

    ticket = runtime.submit("complaint", "complaint", form, actor=people["customer"])
    triage = only_task(runtime, ticket.id, "triage")
    assert triage["assignee_id"] in (people["bill1"], people["bill2"])  # the billing team, by keyword
    agent = triage["assignee_id"]
    other = people["bill2"] if agent == people["bill1"] else people["bill1"]
    second = runtime.submit("complaint", "complaint", form, actor=people["customer"])
    assert only_task(runtime, second.id, "triage")["assignee_id"] == other  # least open tasks

    runtime.act(triage["id"], "dispatch", {"owner": agent}, actor=agent)
    fix = only_task(runtime, ticket.id, "fix")
    assert fix["assignee_id"] == agent
    runtime.act(fix["id"], "ask_customer", actor=agent)
    need = only_task(runtime, ticket.id, "need_info")
    assert need["assignee_id"] == people["customer"]
    runtime.act(need["id"], "provide_info", {"detail": "银行流水见附件,仍未到账。"}, actor=people["customer"])
    runtime.act(
        only_task(runtime, ticket.id, "fix")["id"], "resolve", {"solution": "已重新退款"}, actor=agent
    )

    review = {t["candidates"].get("role"): t["id"] for t in runtime.tasks(ticket.id)}
    assert set(review) == {"quality", "cs_lead"}  # countersign: one seat per role
    assert runtime.act(review["quality"], "approve", actor=people["qa1"]).stage == "review"
    rated = runtime.act(review["cs_lead"], "approve", actor=people["lead1"])
    assert rated.stage == "rate"
    closed = runtime.act(
        only_task(runtime, ticket.id, "rate")["id"], "rate", {"rating": 5}, actor=people["customer"]
    )
    assert closed.status == "closed" and closed.data["rating"] == 5
    kinds = [e["type"] for e in runtime.events(ticket.id)]
    assert kinds.count("sla_paused") >= 1 and "sla_resumed" in kinds  # waiting on the customer paused it
    created = next(e["payload"] for e in runtime.events(ticket.id) if e["type"] == "record_created")
    article = runtime.ticket(created["id"])  # the rule drafted a knowledge-base article from the solution
    assert (article.app, article.data["body"], article.data["source"]) == ("kb", "已重新退款", ticket.number)
    assert "call" in outbox_channels(db, ticket.id)  # the VIP lookup went to the outbox


def test_it_request_runs_two_teams_in_parallel_reminds_and_is_or_signed(db, clock):
    runtime = Runtime(db, clock=clock)
    runtime.publish(APPS / "it_ops.yaml")
    boss = create_user(db, "boss")
    dept = create_department(db, "Finance", head_id=boss)
    requester = create_user(db, "requester", department_id=dept, manager_id=boss)
    people = {n: create_user(db, n) for n in ("net1", "desk1", "itlead")}
    give_role(db, people["net1"], "it_ops", "network_team")
    give_role(db, people["desk1"], "it_ops", "service_desk")
    give_role(db, people["itlead"], "it_ops", "it_lead")
    data = {"summary": "VPN down", "category": "network", "description": "Cannot reach the VPN since 9:00."}

    ticket = runtime.submit("it_ops", "request", data, actor=requester)
    assign = only_task(runtime, ticket.id, "assign")
    assert assign["assignee_id"] == people["net1"]
    runtime.act(assign["id"], "assign", actor=people["net1"])
    assert {t["node_id"]: t["assignee_id"] for t in runtime.tasks(ticket.id)} == {
        "process": people["net1"],
        "record_asset": people["desk1"],
    }
    assert "email" in outbox_channels(db, ticket.id)  # the requester was told

    clock.now += dt.timedelta(hours=4, minutes=1)  # 4 working hours later (over lunch: same day)
    runtime.fire_due_timers()
    assert "wecom" not in outbox_channels(db, ticket.id)
    clock.now += dt.timedelta(hours=3)
    runtime.fire_due_timers()
    assert "wecom" in outbox_channels(db, ticket.id)  # the reminder to the engineer

    runtime.act(only_task(runtime, ticket.id, "process")["id"], "done", actor=people["net1"])
    assert runtime.ticket(ticket.id).stage == "record_asset"  # the join waits for the other team
    runtime.act(only_task(runtime, ticket.id, "record_asset")["id"], "recorded", actor=people["desk1"])
    seats = runtime.tasks(ticket.id)
    assert {(t["assignee_id"], t["candidates"].get("role")) for t in seats} == {
        (None, "it_lead"),
        (boss, None),
    }
    manager_seat = next(t for t in seats if t["assignee_id"] == boss)
    assert runtime.act(manager_seat["id"], "approve", actor=boss).stage == "confirm"  # or-sign: first decides
    assert [t["node_id"] for t in runtime.tasks(ticket.id)] == ["confirm"]
    done = runtime.act(
        only_task(runtime, ticket.id, "confirm")["id"], "confirm", {"satisfaction": 4}, actor=requester
    )
    assert done.status == "closed"
    assert runtime.tasks(ticket.id) == []  # rated while confirming: no rating todo
    second = runtime.submit("it_ops", "request", data, actor=requester)
    runtime.close(second.id, actor=None, comment="duplicate of the first")
    (todo,) = runtime.tasks(second.id)  # closed without a rating: the requester is asked for one
    assert (todo["kind"], todo["assignee_id"]) == ("todo", requester)


def test_bug_goes_back_to_the_developer_when_verification_fails_then_is_released(db, clock):
    runtime = Runtime(db, clock=clock)
    runtime.publish(APPS / "bugfix.yaml")
    people = {n: create_user(db, n) for n in ("lead", "dev", "tester")}
    # a bug comes from staff (someone in a department: the type's `submitters`), not a customer
    people["reporter"] = create_user(db, "reporter", department_id=create_department(db, "Sales"))
    give_role(db, people["lead"], "bugfix", "dev_lead")
    give_role(db, people["tester"], "bugfix", "qa")
    definition = runtime.definition("bugfix")[1]
    module = definition["option_sets"]["modules"][0]
    data = {
        "title": "Login fails with SSO",
        "severity": "minor",
        "module": [module["value"], module["children"][0]["value"]],
        "version": "2.3.1",
        "steps": "<p>Open the login page, choose SSO.</p>",
    }
    ticket = runtime.submit("bugfix", "bug", data, actor=people["reporter"])
    triage = only_task(runtime, ticket.id, "triage")
    runtime.act(triage["id"], "accept", {"developer": people["dev"]}, actor=people["lead"])
    runtime.act(only_task(runtime, ticket.id, "fix")["id"], "resolve", actor=people["dev"])
    verify = only_task(runtime, ticket.id, "verify")
    assert (
        runtime.act(verify["id"], "fail", {"verify_note": "Still fails"}, actor=people["tester"]).stage
        == "fix"
    )
    assert only_task(runtime, ticket.id, "fix")["assignee_id"] == people["dev"]
    runtime.act(only_task(runtime, ticket.id, "fix")["id"], "resolve", actor=people["dev"])
    runtime.act(only_task(runtime, ticket.id, "verify")["id"], "pass", actor=people["tester"])
    release = only_task(runtime, ticket.id, "release")
    done = runtime.act(release["id"], "release", {"fix_version": "2.3.2"}, actor=people["lead"])
    assert done.status == "closed" and done.data["fix_version"] == "2.3.2"
