"""Ticket metrics, folded from events in each command's transaction, and rebuilt from the events alike."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import main
from engine.errors import GongdanError
from engine.reports.keeping import rebuild
from engine.store.models import TicketMetrics, TicketStageTime
from tests.engine.reports.lab import Clock, Lab


@pytest.fixture
def lab(db):
    return Lab(db, Clock())


def metrics(db, ticket_id):
    with db.read() as conn:
        return conn.execute(select(TicketMetrics).where(TicketMetrics.record_id == ticket_id)).one()._mapping


def times(db, ticket_id):
    with db.read() as conn:
        rows = conn.execute(select(TicketStageTime).where(TicketStageTime.record_id == ticket_id)).all()
    return {(r.kind, r.key): (r.visits, round(r.hours, 6)) for r in rows}


def walk_one_ticket(lab: Lab):
    """Claimed after 30 min, waits 2 h on the customer, transferred, returned, closed, reopened, closed."""
    rt, p, clock = lab.runtime, lab.people, lab.clock
    ticket = lab.submit(priority="P2", amount=5)
    clock.advance(minutes=30)
    rt.claim(lab.task(ticket.id), p["ann"])
    clock.advance(minutes=30)
    rt.act(lab.task(ticket.id), "ask", actor=p["ann"])
    clock.advance(hours=2)
    rt.act(lab.task(ticket.id), "answer", actor=p["cus"])
    clock.advance(minutes=30)
    rt.claim(lab.task(ticket.id), p["ann"])
    clock.advance(minutes=30)
    rt.transfer(lab.task(ticket.id), p["ben"], actor=p["ann"])
    clock.advance(hours=1)
    rt.act(lab.task(ticket.id), "solve", actor=p["ben"])
    clock.advance(minutes=30)
    rt.return_to(lab.task(ticket.id), "work", actor=p["cus"])
    clock.advance(minutes=30)
    rt.claim(lab.task(ticket.id), p["ben"])
    clock.advance(minutes=30)
    rt.act(lab.task(ticket.id), "solve", actor=p["ben"])
    clock.advance(minutes=30)
    closed = rt.act(lab.task(ticket.id), "rate", {"rating": 4}, actor=p["cus"])
    assert closed.status == "closed"
    return ticket


def test_metrics_follow_response_waiting_transfer_return_and_close(lab, db):
    ticket = walk_one_ticket(lab)
    m = metrics(db, ticket.id)
    assert m["status"] == "closed"
    assert m["first_response_hours"] == 0.5
    assert m["first_response_business_hours"] == pytest.approx(0.5)
    assert m["resolution_hours"] == 7.0
    assert m["resolution_business_hours"] == pytest.approx(7.0)
    assert m["waiting_hours"] == 2.0
    assert (m["transfers"], m["returns"], m["reopens"]) == (1, 1, 0)
    assert m["satisfaction"] == 4.0
    assert m["owner_id"] == lab.people["ben"]  # the last one who held the work (not the customer)
    assert m["team"] == "agent"
    assert m["calendar"] == "24x7"
    assert (m["response_breached"], m["resolution_breached"], m["sla_breached"]) == (False, False, False)
    assert m["sla"]["work.resolution"]["visits"] == 2  # a new clock after the return
    p = lab.people
    assert times(db, ticket.id) == {
        ("stage", "work"): (3, 4.0),  # 0–1 h, 3–5 h, 5.5–6.5 h
        ("stage", "wait"): (1, 2.0),
        ("stage", "rate"): (2, 1.0),
        ("user", str(p["ann"])): (2, 1.0),  # 0.5–1 h and 3.5–4 h
        ("user", str(p["ben"])): (2, 1.5),  # 4–5 h and 6–6.5 h
        ("user", str(p["cus"])): (3, 3.0),  # waiting 2 h, rating 0.5 h twice
    }


def test_a_reopened_ticket_is_unresolved_until_closed_again_and_counts_the_reopen(lab, db):
    ticket = walk_one_ticket(lab)
    rt, p, clock = lab.runtime, lab.people, lab.clock
    clock.advance(hours=1)
    rt.reopen(ticket.id, actor=p["cus"])
    m = metrics(db, ticket.id)
    assert (m["status"], m["resolution_hours"], m["closed_at"], m["reopens"]) == ("open", None, None, 1)
    clock.advance(hours=1)
    rt.act(lab.task(ticket.id), "solve", actor=p["ann"])
    clock.advance(hours=1)
    rt.act(lab.task(ticket.id), "rate", {"rating": 5}, actor=p["cus"])
    m = metrics(db, ticket.id)
    assert (m["status"], m["resolution_hours"], m["satisfaction"], m["owner_id"]) == (
        "closed",
        10.0,
        5.0,
        p["ann"],
    )


def test_a_missed_response_target_is_breached_and_a_cancelled_ticket_has_no_resolution_time(lab, db):
    ticket = lab.submit()
    lab.clock.advance(hours=2)
    lab.runtime.fire_due_timers()
    m = metrics(db, ticket.id)
    assert (m["response_breached"], m["resolution_breached"], m["sla_breached"]) == (True, False, True)
    assert m["first_response_hours"] is None
    lab.runtime.cancel(ticket.id, actor=lab.people["cus"])
    m = metrics(db, ticket.id)
    assert (m["status"], m["resolution_hours"]) == ("cancelled", None)
    assert m["closed_at"] == lab.clock.now


def test_a_comment_by_an_agent_is_a_response_but_the_submitters_own_is_not(lab, db):
    ticket = lab.submit()
    lab.clock.advance(minutes=10)
    lab.runtime.comment(ticket.id, "any news?", actor=lab.people["cus"])
    assert metrics(db, ticket.id)["first_response_hours"] is None
    lab.clock.advance(minutes=20)
    lab.runtime.comment(ticket.id, "looking into it", actor=lab.people["lee"])
    assert metrics(db, ticket.id)["first_response_hours"] == 0.5


def _snapshot(db):
    with db.read() as conn:
        m = [dict(r._mapping) for r in conn.execute(select(TicketMetrics).order_by(TicketMetrics.record_id))]
        s = conn.execute(
            select(TicketStageTime).order_by(
                TicketStageTime.record_id, TicketStageTime.kind, TicketStageTime.key
            )
        ).all()
    return m, [tuple(r) for r in s]


def _random_step(lab: Lab, rng: random.Random, ids: list[int]) -> None:
    rt, p = lab.runtime, lab.people
    ticket_id = rng.choice(ids)
    tasks = rt.tasks(ticket_id)
    agents = [p["ann"], p["ben"]]
    move = rng.choice(
        ["act", "act", "act", "claim", "transfer", "return", "comment", "update", "close", "reopen"]
    )
    try:
        if move == "reopen":
            rt.reopen(ticket_id, actor=None)
        elif move == "close":
            rt.close(ticket_id, actor=None)
        elif move == "comment":
            rt.comment(ticket_id, "note", actor=rng.choice([p["cus"], p["lee"]]))
        elif move == "update":
            rt.update(ticket_id, {"amount": rng.randint(1, 9), "rating": rng.randint(1, 5)}, actor=None)
        elif tasks:
            task = rng.choice(tasks)
            if move == "claim":
                rt.claim(task["id"], rng.choice(agents))
            elif move == "transfer":
                rt.transfer(task["id"], rng.choice(agents), actor=None)
            elif move == "return":
                rt.return_to(task["id"], "work", actor=None)
            else:
                action = {"work": rng.choice(["ask", "solve"]), "wait": "answer", "rate": "rate"}[
                    task["node_id"]
                ]
                rt.act(
                    task["id"],
                    action,
                    {"rating": rng.randint(1, 5)} if action == "rate" else None,
                    actor=None,
                )
    except GongdanError:
        pass  # a move the state does not allow: refused, nothing written


def test_rebuild_from_events_gives_identical_rows_after_random_commands(lab, db):
    rng = random.Random(20261201)
    ids = [lab.submit(priority=rng.choice(["P1", "P2", "P3"])).id for _ in range(5)]
    for _ in range(70):
        lab.clock.advance(minutes=rng.choice([0, 5, 30, 90, 240]))
        if rng.random() < 0.1:
            lab.runtime.fire_due_timers()
        _random_step(lab, rng, ids)
    live = _snapshot(db)
    assert len(live[0]) == 5 and live[1]
    assert rebuild(db, "reportlab", batch=2) == 5
    assert _snapshot(db) == live


def test_gongdan_reports_rebuild_recomputes_every_ticket(lab, db, database_url, tmp_path):
    walk_one_ticket(lab)
    live = _snapshot(db)
    with db.write() as conn:
        conn.execute(TicketStageTime.__table__.delete())
        conn.execute(TicketMetrics.__table__.delete())
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LANG": "en"}
    result = CliRunner().invoke(main, ["reports", "rebuild", "reportlab"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Rebuilt the metrics of 1 ticket(s)" in result.output
    assert _snapshot(db) == live
    unknown = CliRunner().invoke(main, ["reports", "rebuild", "nosuchapp"], env=env, catch_exceptions=False)
    assert unknown.exit_code == 2
