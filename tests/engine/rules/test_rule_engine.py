"""The rule engine inside commands: triggers, conditions with old values, order and stop, chains,
loops stopped, failures that fail the command, the rule log, and schedules — on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.source import read_source
from engine.errors import DefinitionError, FormError
from engine.people import create_user
from engine.runtime import Runtime
from engine.store.models import Outbox, Record, RuleRun, Schedule, Watcher
from tests.support import give_role

LAB = Path(__file__).resolve().parents[2] / "fixtures" / "ruleslab.yaml"
MONDAY_8 = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # 08:00 in Shanghai, a Monday


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY_8 - dt.timedelta(days=3)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lab(db, clock):
    runtime = Runtime(db, clock=clock)
    users = {n: create_user(db, n) for n in ("alice", "dave", "desk1")}
    runtime.publish(LAB)
    give_role(db, users["desk1"], "ruleslab", "desk")
    return runtime, users


def kinds(runtime, ticket_id):
    return [e["type"] for e in runtime.events(ticket_id)]


def test_a_rule_sets_fields_and_its_change_triggers_the_next_rule(lab, db):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi", "vip": True}, actor=u["dave"])
    assert ticket.data["priority"] == "P1" and ticket.data["tier"] == "gold"
    assert "never" not in str(ticket.data)  # a disabled rule does nothing
    with db.read() as conn:
        assert conn.execute(
            select(Watcher.user_id).where(Watcher.record_id == ticket.id)
        ).scalars().all() == [u["desk1"]]
    plain = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    assert plain.data["priority"] == "P3" and "tier" not in plain.data


def test_rules_run_in_their_order_and_stop_skips_the_rest(lab):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    runtime.update(ticket.id, {"summary": "please stop"}, actor=u["dave"])
    bodies = [e["payload"]["body"] for e in runtime.events(ticket.id) if e["type"] == "comment_added"]
    assert bodies == ["stopped here"]
    runtime.update(ticket.id, {"summary": "carry on"}, actor=u["dave"])
    bodies = [e["payload"]["body"] for e in runtime.events(ticket.id) if e["type"] == "comment_added"]
    assert bodies == ["stopped here", "second ran"]


def test_two_rules_that_undo_each_other_are_stopped_and_the_command_completes(lab):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    updated = runtime.update(ticket.id, {"flag_a": True}, actor=u["dave"])
    assert "rule_loop_stopped" in kinds(runtime, ticket.id)
    assert updated.row_version == ticket.row_version + 1  # one command, committed


def test_a_rule_setting_a_value_the_form_rejects_fails_the_whole_command(lab, db):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"summary": "overflow"}, actor=u["dave"])
    assert [p.path for p in caught.value.problems] == ["score"]
    assert runtime.ticket(ticket.id).data["summary"] == "hi"  # nothing was written


def test_a_rule_can_close_the_ticket_and_closing_asks_the_submitter_for_a_rating(lab):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    closed = runtime.update(ticket.id, {"summary": "duplicate"}, actor=u["dave"])
    assert closed.status == "closed"
    (todo,) = runtime.tasks(ticket.id)
    assert (todo["kind"], todo["assignee_id"], todo["candidates"]["title"]["en"]) == (
        "todo",
        u["dave"],
        "Please rate the service",
    )
    assert todo["due_at"] is not None
    runtime.act(todo["id"], "done", actor=u["dave"])
    assert runtime.tasks(ticket.id) == []


def test_a_todo_still_open_at_its_due_time_fires_task_overdue_once(lab, clock):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    runtime.update(ticket.id, {"summary": "duplicate"}, actor=u["dave"])  # closed: a rating todo, due in 3d
    clock.now += dt.timedelta(days=2)
    assert runtime.fire_due_timers() == 0
    clock.now += dt.timedelta(days=1, minutes=1)
    assert runtime.fire_due_timers() == 1 and runtime.fire_due_timers() == 0
    bodies = [e["payload"]["body"] for e in runtime.events(ticket.id) if e["type"] == "comment_added"]
    assert kinds(runtime, ticket.id).count("task_overdue") == 1 and bodies[-1] == "rating still missing"


def test_every_rule_that_meets_an_event_is_logged_with_its_outcome(lab, db):
    runtime, u = lab
    ticket = runtime.submit("ruleslab", "case", {"summary": "hi", "vip": False}, actor=u["dave"])
    runs = runtime.rule_runs(ticket.id)
    assert {(r["rule"], r["matched"]) for r in runs} == {("VIPs are P1", False)}
    assert [r["event_seq"] for r in runs] == [1]  # the `created` event it met
    assert all(r["duration_ms"] >= 0 for r in runs)
    runtime.update(ticket.id, {"vip": True, "priority": "P1"}, actor=u["dave"])
    fired = {r["rule"]: r["actions"] for r in runtime.rule_runs(ticket.id) if r["matched"]}
    assert fired["P1 gets the gold tier"] == ["set", "watch"]
    per_rule = runtime.rule_runs(rule=("ruleslab", "case", "P1 gets the gold tier"))
    assert [r["record_id"] for r in per_rule] == [ticket.id]


def test_a_cron_rule_runs_once_per_due_time_over_the_open_tickets_even_after_downtime(lab, clock, db):
    runtime, u = lab
    quiet = runtime.submit("ruleslab", "case", {"summary": "hi"}, actor=u["dave"])
    urgent = runtime.submit("ruleslab", "case", {"summary": "hi", "vip": True}, actor=u["dave"])
    with db.read() as conn:
        (due,) = conn.execute(select(Schedule.next_run_at).where(Schedule.enabled.is_(True))).scalars()
    assert due == MONDAY_8 + dt.timedelta(hours=1)  # Monday 9:00 Shanghai
    clock.now = MONDAY_8
    assert runtime.fire_due_schedules() == 0
    clock.now = MONDAY_8 + dt.timedelta(days=14)  # the worker was down for two Mondays
    assert runtime.fire_due_schedules() == 1  # once, for the one ticket whose condition holds
    assert runtime.fire_due_schedules() == 0  # never twice
    assert runtime.ticket(quiet.id).data["stale_note"] == "still open"
    assert "stale_note" not in runtime.ticket(urgent.id).data
    with db.read() as conn:
        assert conn.execute(select(Outbox.channel).where(Outbox.record_id == quiet.id)).scalars().all() == [
            "webhook"
        ]


def test_a_bad_cron_expression_is_refused_at_load_with_its_path(lab):
    runtime, _ = lab
    data = read_source(LAB).data
    data["ticket_types"]["case"]["rules"][10]["on"] = {"schedule": "61 * * * *"}
    with pytest.raises(DefinitionError) as caught:
        runtime.publish(data)
    (problem,) = caught.value.problems
    assert (problem.path, problem.code) == ("ticket_types.case.rules[10].on.schedule", "check.bad_cron")


def test_publishing_a_version_without_the_cron_rule_disables_its_schedule(lab, db):
    runtime, _ = lab
    data = read_source(LAB).data
    del data["ticket_types"]["case"]["rules"][10]
    runtime.publish(data)
    with db.read() as conn:
        assert conn.execute(select(func.count()).where(Schedule.enabled.is_(True))).scalar() == 0
        assert conn.execute(select(func.count()).select_from(Record)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(RuleRun)).scalar() == 0


def test_a_dry_run_shows_what_the_rules_would_do_and_writes_nothing(lab, db):
    runtime, u = lab
    shown = runtime.rules_dry_run("ruleslab", "case", {"summary": "hi", "vip": True}, actor=u["dave"])
    assert shown["ticket"]["data"]["tier"] == "gold"
    assert {r["rule"] for r in shown["rule_runs"] if r["matched"]} == {"VIPs are P1", "P1 gets the gold tier"}
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Record)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(RuleRun)).scalar() == 0


def test_a_candidate_rule_set_is_tried_on_an_existing_ticket_and_replayed_over_the_past(lab, clock):
    runtime, u = lab
    tickets = [runtime.submit("ruleslab", "case", {"summary": s}, actor=u["dave"]) for s in ("a", "b", "c")]
    runtime.update(tickets[0].id, {"priority": "P2"}, actor=u["dave"])
    candidate = read_source(LAB).data
    candidate["ticket_types"]["case"]["rules"].append(
        {"name": "P2 is escalated", "on": {"field_changed": "priority"}, "if": "priority == 'P2'",
         "do": [{"escalate": {}}, {"comment": "escalated"}]}
    )  # fmt: skip
    tried = runtime.rules_dry_run(
        "ruleslab", "case", {"priority": "P2"}, record_id=tickets[1].id, candidate=candidate
    )
    assert "escalated" in [e["type"] for e in tried["events"]]
    assert "escalated" not in kinds(runtime, tickets[1].id)  # nothing was kept
    clock.now += dt.timedelta(days=1)
    report = {r["rule"]: r for r in runtime.rules_replay("ruleslab", "case", candidate=candidate)}
    assert report["P2 is escalated"]["tickets_matched"] == 1
    assert report["P2 is escalated"]["actions"] == {"comment": 1, "escalate": 1}
    assert report["P2 is escalated"]["examples"] == [tickets[0].number]
    assert report["VIPs are P1"]["events_met"] == 3 and report["VIPs are P1"]["tickets_matched"] == 0


def test_rules_are_indexed_by_trigger_so_an_event_meets_only_those_that_can_fire():
    from engine.rules.engine import compile_rules

    ruleset = compile_rules(
        [
            {"name": "mail in", "on": {"message": "email"}, "do": [{"comment": "x"}]},
            {
                "name": "p1",
                "on": {"field_changed": {"field": "priority", "to": "P1"}},
                "do": [{"comment": "x"}],
            },
            {
                "name": "any change",
                "on": {"field_changed": "priority"},
                "do": [{"comment": "x"}],
                "order": -1,
            },
            {"name": "off", "on": "created", "enabled": False, "do": [{"comment": "x"}]},
        ]
    )
    assert [r.name for r in ruleset.for_event("message_received", {"channel": "email"})] == ["mail in"]
    assert ruleset.for_event("message_received", {"channel": "dingtalk"}) == ()
    assert [r.name for r in ruleset.for_event("field_changed", {"field": "priority"})] == ["any change", "p1"]
    assert ruleset.for_event("created", {}) == ()
