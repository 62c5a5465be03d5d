"""The flow engine through the Runtime: every node type, approval mode and task action, on SQLite
and PostgreSQL, with a clock the test moves (no sleeps)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import ActionError, ConflictError
from engine.people import create_user
from engine.runtime import Runtime
from engine.store.models import Outbox, SlaClock, Timer
from tests.support import give_role, race

LAB = Path(__file__).resolve().parents[2] / "fixtures" / "flowlab.yaml"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lab(db, clock):
    runtime = Runtime(db, clock=clock)
    people = {
        name: create_user(db, name, is_admin=(name == "root"))
        for name in ("alice", "bob", "carol", "dave", "erin", "root")
    }
    runtime.publish(LAB)
    give_role(db, people["carol"], "flowlab", "quality")
    give_role(db, people["erin"], "flowlab", "quality")
    return runtime, people


def open_tasks(runtime, ticket_id):
    return {(t["node_id"], t["assignee_id"]): t["id"] for t in runtime.tasks(ticket_id)}


def task_at(runtime, ticket_id, node, who=None):
    found = [t for t in runtime.tasks(ticket_id) if t["node_id"] == node]
    if who is not None:
        found = [t for t in found if t["assignee_id"] == who]
    assert len(found) == 1, found
    return found[0]["id"]


def kinds(runtime, ticket_id):
    return [e["type"] for e in runtime.events(ticket_id)]


# ----------------------------------------------------------------------------- gateways
@pytest.mark.parametrize(("amount", "route"), [(5000, "manager"), (10, "clerk")])
def test_exclusive_gateway_takes_the_first_true_branch_or_the_default(lab, amount, route):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": amount}, actor=p["dave"])
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    assert [node for node, _ in open_tasks(runtime, ticket.id)] == [route]


def test_parallel_split_waits_at_the_join_for_both_branches_then_runs_the_auto_step(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 5000}, actor=p["dave"])
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    runtime.act(task_at(runtime, ticket.id, "manager"), "complete", actor=p["bob"])
    assert set(open_tasks(runtime, ticket.id)) == {("fix", p["alice"]), ("inform", p["bob"])}
    after_one = runtime.act(task_at(runtime, ticket.id, "fix"), "complete", actor=p["alice"])
    assert after_one.status == "open" and after_one.stage == "inform"
    done = runtime.act(task_at(runtime, ticket.id, "inform"), "complete", actor=p["bob"])
    assert done.status == "closed"
    assert done.data["note"] == "checked big"  # the auto step set it with an expression
    assert "field_changed" in kinds(runtime, ticket.id)


def test_inclusive_gateway_opens_every_matching_branch_and_joins_only_those(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "areas", {"areas": ["net", "db"]}, actor=p["dave"])
    assert {node for node, _ in open_tasks(runtime, ticket.id)} == {"net", "db"}
    runtime.act(task_at(runtime, ticket.id, "net"), "complete", actor=p["alice"])
    assert runtime.ticket(ticket.id).status == "open"
    assert runtime.act(task_at(runtime, ticket.id, "db"), "complete", actor=p["bob"]).status == "closed"
    lone = runtime.submit("flowlab", "areas", {"areas": ["app"]}, actor=p["dave"])
    assert [node for node, _ in open_tasks(runtime, lone.id)] == ["other"]
    assert runtime.act(task_at(runtime, lone.id, "other"), "complete", actor=p["carol"]).status == "closed"


def test_a_branch_condition_that_fails_keeps_the_ticket_in_place_and_logs_it_for_the_admin(lab, db):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "fragile", {"amount": 0}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "enter")
    with pytest.raises(ActionError) as caught:
        runtime.act(task, "complete", actor=p["alice"])
    assert caught.value.code == "flow.condition_failed"
    assert "100 / amount > 1" in caught.value.message("en")
    assert runtime.ticket(ticket.id).stage == "enter"
    assert open_tasks(runtime, ticket.id) == {("enter", p["alice"]): task}
    assert kinds(runtime, ticket.id)[-1] == "flow_error"
    with db.read() as conn:
        assert conn.execute(select(Outbox.channel).where(Outbox.record_id == ticket.id)).scalars().all() == [
            "admin"
        ]
    fixed = runtime.act(task, "complete", {"amount": 50}, actor=p["alice"])  # the data fixed, it goes on
    assert fixed.stage == "high"


# ----------------------------------------------------------------------------- approvals
def _to_review(runtime, p, ticket_type):
    ticket = runtime.submit("flowlab", ticket_type, {}, actor=p["dave"])
    runtime.act(task_at(runtime, ticket.id, "fix"), "complete", actor=p["dave"])
    return ticket


def test_countersign_waits_for_all_approvers(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "countersign")
    assert set(open_tasks(runtime, ticket.id)) == {("review", p["alice"]), ("review", p["bob"])}
    assert (
        runtime.act(task_at(runtime, ticket.id, "review", p["alice"]), "approve", actor=p["alice"]).stage
        == "review"
    )
    assert (
        runtime.act(task_at(runtime, ticket.id, "review", p["bob"]), "approve", actor=p["bob"]).status
        == "closed"
    )


def test_countersign_one_rejection_rejects_and_cancels_the_other_approvals(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "countersign")
    alice_task = task_at(runtime, ticket.id, "review", p["alice"])
    after = runtime.act(
        task_at(runtime, ticket.id, "review", p["bob"]), "reject", actor=p["bob"], comment="no"
    )
    assert after.stage == "fix"  # on_reject
    assert alice_task not in open_tasks(runtime, ticket.id).values()
    assert "approval_decided" in kinds(runtime, ticket.id)


def test_or_sign_first_decision_decides_and_cancels_the_rest(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "orsign")
    assert len(open_tasks(runtime, ticket.id)) == 3
    assert (
        runtime.act(task_at(runtime, ticket.id, "review", p["carol"]), "approve", actor=p["carol"]).status
        == "closed"
    )
    assert runtime.tasks(ticket.id) == []


def test_sequential_approvals_open_one_after_another_in_the_listed_order(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "sequential")
    order = []
    for _ in range(3):
        (_node, who), task = next(iter(open_tasks(runtime, ticket.id).items()))
        order.append(who)
        runtime.act(task, "approve", actor=who)
    assert order == [p["alice"], p["bob"], p["carol"]]
    assert runtime.ticket(ticket.id).status == "closed"


def test_percentage_approves_at_the_threshold_and_rejects_when_it_can_no_longer_be_reached(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "percentage")
    runtime.act(task_at(runtime, ticket.id, "review", p["alice"]), "approve", actor=p["alice"])
    assert (
        runtime.act(task_at(runtime, ticket.id, "review", p["bob"]), "approve", actor=p["bob"]).status
        == "closed"
    )
    second = _to_review(runtime, p, "percentage")
    runtime.act(task_at(runtime, second.id, "review", p["alice"]), "reject", actor=p["alice"])
    assert runtime.ticket(second.id).stage == "review"  # 2 of the 3 may still approve
    back = runtime.act(task_at(runtime, second.id, "review", p["bob"]), "reject", actor=p["bob"])
    assert back.stage == "fix"


def test_approving_twice_is_refused(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "countersign")
    task = task_at(runtime, ticket.id, "review", p["alice"])
    runtime.act(task, "approve", actor=p["alice"])
    with pytest.raises(ActionError) as caught:
        runtime.act(task, "approve", actor=p["alice"])
    assert caught.value.code == "flow.task_done"


def test_role_task_is_claimed_by_a_member_and_refused_to_others(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "single", {}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "review")
    with pytest.raises(ActionError) as caught:
        runtime.claim(task, p["bob"])
    assert caught.value.code == "flow.not_claimable"
    runtime.claim(task, p["carol"])
    with pytest.raises(ActionError):
        runtime.act(task, "approve", actor=p["erin"])
    runtime.release(task, p["carol"])
    assert runtime.act(task, "approve", actor=p["erin"]).status == "closed"  # acting claims it


def test_two_people_racing_for_one_task_one_wins_one_gets_a_conflict(lab, db):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "single", {}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "review")
    outcomes = race(
        lambda: Runtime(db, clock=runtime.clock).act(task, "approve", actor=p["carol"]),
        lambda: Runtime(db, clock=runtime.clock).act(task, "approve", actor=p["erin"]),
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ActionError | ConflictError), outcomes
    assert [e for e in kinds(runtime, ticket.id) if e == "task_completed"] == ["task_completed"]


def test_add_signer_before_decides_first_then_the_original_approver(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "countersign")
    alice_task = task_at(runtime, ticket.id, "review", p["alice"])
    runtime.add_signer(alice_task, p["carol"], "before", actor=p["alice"])
    with pytest.raises(ActionError) as caught:
        runtime.act(alice_task, "approve", actor=p["alice"])
    assert caught.value.code == "flow.task_waiting"
    runtime.act(task_at(runtime, ticket.id, "review", p["carol"]), "approve", actor=p["carol"])
    runtime.act(alice_task, "approve", actor=p["alice"])
    assert (
        runtime.act(task_at(runtime, ticket.id, "review", p["bob"]), "approve", actor=p["bob"]).status
        == "closed"
    )


def test_add_signer_after_in_sequence_comes_next(lab):
    runtime, p = lab
    ticket = _to_review(runtime, p, "sequential")
    runtime.add_signer(
        task_at(runtime, ticket.id, "review", p["alice"]), p["erin"], "after", actor=p["alice"]
    )
    runtime.act(task_at(runtime, ticket.id, "review", p["alice"]), "approve", actor=p["alice"])
    assert list(open_tasks(runtime, ticket.id)) == [("review", p["erin"])]


# ----------------------------------------------------------------------------- task actions
def test_only_the_assignee_or_an_admin_acts_on_a_task(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "triage")
    with pytest.raises(ActionError) as caught:
        runtime.act(task, "complete", actor=p["bob"])
    assert caught.value.code == "flow.not_assignee"
    assert runtime.act(task, "complete", actor=p["root"]).stage == "clerk"


def test_transfer_hands_the_task_over_and_is_counted(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "triage")
    runtime.transfer(task, p["bob"], actor=p["alice"], comment="on leave")
    runtime.transfer(task, p["carol"], actor=p["bob"])
    assert open_tasks(runtime, ticket.id) == {("triage", p["carol"]): task}
    assert kinds(runtime, ticket.id).count("task_transferred") == 2
    with pytest.raises(ActionError):
        runtime.act(task, "complete", actor=p["alice"])


def test_delegate_lets_the_delegate_act_for_the_owner_who_may_still_act(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    task = task_at(runtime, ticket.id, "triage")
    runtime.delegate(task, p["bob"], actor=p["alice"])
    runtime.act(task, "complete", actor=p["bob"])
    done = next(e for e in runtime.events(ticket.id) if e["type"] == "task_completed")
    assert done["payload"]["on_behalf_of"] == p["alice"]


def test_return_goes_back_to_an_allowed_node_and_keeps_the_data(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 5000, "note": "x"}, actor=p["dave"])
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    manager = task_at(runtime, ticket.id, "manager")
    with pytest.raises(ActionError) as caught:
        runtime.return_to(manager, "clerk", actor=p["bob"])
    assert caught.value.code == "flow.return_not_allowed"
    back = runtime.return_to(manager, "triage", actor=p["bob"], comment="need more")
    assert back.stage == "triage" and back.data["note"] == "x"
    assert list(open_tasks(runtime, ticket.id)) == [("triage", p["alice"])]


def test_withdraw_takes_a_step_back_until_someone_acts_on_it(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    with pytest.raises(ActionError):
        runtime.withdraw(ticket.id, p["bob"])
    back = runtime.withdraw(ticket.id, p["alice"])
    assert back.stage == "triage" and list(open_tasks(runtime, ticket.id)) == [("triage", p["alice"])]
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    runtime.claim(task_at(runtime, ticket.id, "clerk"), p["alice"])  # the same person: no-op
    runtime.comment(ticket.id, "looking", actor=p["bob"])
    with pytest.raises(ActionError) as caught:
        runtime.withdraw(ticket.id, p["alice"])
    assert caught.value.code == "flow.withdraw_not_allowed"


def test_close_reopen_and_cancel(lab):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    with pytest.raises(ActionError):
        runtime.close(ticket.id, actor=p["bob"])  # not an assignee
    closed = runtime.close(ticket.id, actor=p["alice"], comment="duplicate")
    assert closed.status == "closed" and runtime.tasks(ticket.id) == []
    with pytest.raises(ActionError) as caught:
        runtime.act(task_at_all(runtime, ticket.id), "complete", actor=p["alice"])
    assert caught.value.code in ("flow.ticket_finished", "flow.task_done")
    reopened = runtime.reopen(ticket.id, actor=p["dave"], comment="not a duplicate")
    assert reopened.status == "open" and reopened.stage == "triage"
    cancelled = runtime.cancel(ticket.id, actor=p["dave"])
    assert cancelled.status == "cancelled"
    assert {"ticket_closed", "reopened", "ticket_cancelled"} <= set(kinds(runtime, ticket.id))


def task_at_all(runtime, ticket_id):
    return runtime.tasks(ticket_id, status=None)[0]["id"]


# ----------------------------------------------------------------------------- sub-process
def test_subprocess_creates_a_child_ticket_and_resumes_when_it_ends(lab):
    runtime, p = lab
    parent = runtime.submit("flowlab", "parent", {"note": "from parent"}, actor=p["dave"])
    started = next(e for e in runtime.events(parent.id) if e["type"] == "subprocess_started")
    child = started["payload"]["child"]
    assert runtime.ticket(child).data["note"] == "from parent"
    assert runtime.tasks(parent.id) == []
    runtime.act(task_at(runtime, child, "part"), "complete", actor=p["bob"])
    assert runtime.ticket(child).status == "closed"
    assert list(open_tasks(runtime, parent.id)) == [("wrap", p["alice"])]


# ----------------------------------------------------------------------------- timers and SLA
def test_timer_node_waits_then_the_tick_moves_on_exactly_once(lab, clock):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "timed", {}, actor=p["dave"])
    assert runtime.ticket(ticket.id).stage == "cool"
    clock.advance(hours=1)
    assert runtime.fire_due_timers() == 0
    clock.advance(hours=1, minutes=1)
    assert runtime.fire_due_timers() == 1
    assert runtime.fire_due_timers() == 0
    assert list(open_tasks(runtime, ticket.id)) == [("work", p["alice"])]


def test_timer_node_waits_until_the_date_in_a_field(lab, clock):
    runtime, p = lab
    follow_up = (T0 + dt.timedelta(days=2)).isoformat()
    ticket = runtime.submit("flowlab", "until", {"follow_up": follow_up}, actor=p["dave"])
    clock.advance(days=1)
    assert runtime.fire_due_timers() == 0 and runtime.ticket(ticket.id).stage == "wait"
    clock.advance(days=1, minutes=1)
    assert runtime.fire_due_timers() == 1
    assert list(open_tasks(runtime, ticket.id)) == [("call_back", p["alice"])]


def test_sla_escalates_each_level_once_and_catches_up_after_downtime(lab, clock, db):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "timed", {"priority": "P1"}, actor=p["dave"])
    clock.advance(hours=2)
    runtime.fire_due_timers()  # the cool-down timer: work opens, 2h resolution, 1h response
    clock.advance(hours=10)  # the worker was down all this time
    runtime.fire_due_timers()
    runtime.fire_due_timers()
    events = kinds(runtime, ticket.id)
    assert events.count("sla_warning") == 2  # response and resolution at 50 %
    assert events.count("sla_breached") == 2
    assert events.count("sla_escalated") == 2  # 150 %: reassigned to carol
    assert events.count("reminder_due") == 1
    assert list(open_tasks(runtime, ticket.id)) == [("work", p["carol"])]
    with db.read() as conn:
        channels = conn.execute(select(Outbox.channel).where(Outbox.record_id == ticket.id)).scalars().all()
    assert sorted(set(channels)) == ["dingtalk", "email"]


def test_sla_pauses_while_waiting_on_the_customer_and_resumes_with_what_was_left(lab, clock, db):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "timed", {"priority": "P2"}, actor=p["dave"])
    clock.advance(hours=2)
    runtime.fire_due_timers()
    clock.advance(hours=1)  # 1 of 4 hours used
    runtime.act(task_at(runtime, ticket.id, "work"), "ask_customer", actor=p["alice"])
    clock.advance(hours=48)  # the customer takes two days: no escalation meanwhile
    runtime.fire_due_timers()
    assert "sla_breached" not in kinds(runtime, ticket.id)
    runtime.act(task_at(runtime, ticket.id, "customer"), "answer", actor=p["dave"])
    with db.read() as conn:
        clock_row = conn.execute(
            select(SlaClock).where(SlaClock.record_id == ticket.id, SlaClock.target == "resolution")
        ).one()
        assert clock_row.status == "running"
        assert clock_row.due_at == clock.now + dt.timedelta(hours=3)
        assert conn.execute(select(Timer.status).where(Timer.clock_id == clock_row.id)).scalars().all()
    clock.advance(hours=2)
    runtime.act(task_at(runtime, ticket.id, "work"), "resolve", actor=p["alice"])
    assert "sla_met" in kinds(runtime, ticket.id)
    assert "sla_breached" not in kinds(runtime, ticket.id)


def test_a_new_version_leaves_running_tickets_on_their_flow(lab, db):
    runtime, p = lab
    ticket = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    from engine.definitions.source import read_source

    data = read_source(LAB).data
    data["ticket_types"]["branch"]["flow"]["nodes"][1]["assignee"] = {"user": "bob"}
    assert runtime.publish(data).version == 2
    runtime.act(task_at(runtime, ticket.id, "triage"), "complete", actor=p["alice"])
    assert runtime.ticket(ticket.id).app_version == 1
    fresh = runtime.submit("flowlab", "branch", {"amount": 1}, actor=p["dave"])
    assert list(open_tasks(runtime, fresh.id)) == [("triage", p["bob"])]


def test_the_worker_tick_fires_due_timers_and_sends_what_they_queue(lab, clock, db, tmp_path):
    from engine.config import load_settings
    from engine.jobs.queue import JobQueue, make_huey

    runtime, p = lab
    ticket = runtime.submit("flowlab", "timed", {}, actor=p["dave"])
    queue = JobQueue(make_huey(load_settings({"GONGDAN_HOME": str(tmp_path)}), immediate=True), db)
    queue.run_tick(clock.advance(minutes=30))
    assert runtime.ticket(ticket.id).stage == "cool"
    queue.run_tick(clock.advance(hours=2))
    assert runtime.ticket(ticket.id).stage == "work"
    with db.read() as conn:
        assert conn.execute(select(Timer.status).where(Timer.kind == "node")).scalars().all() == ["fired"]
