"""Many workers claiming due work at once: every timer, cron rule and outbox row is taken exactly once.

Each worker is a thread with its own Runtime and its own connection pool on the same database (as
separate processes would have); they start together behind a barrier and race for the same rows.
On PostgreSQL the claims use ``FOR UPDATE SKIP LOCKED``; on SQLite one writer at a time.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, insert, select

from engine.jobs.outbox import due_ids, sweep
from engine.runtime import Runtime
from engine.store import Database
from engine.store.models import Event, Outbox, Record, Timer
from tests.engine.jobs.conftest import T0

WORKERS = 6
TICKETS = 40
HOUR = dt.timedelta(hours=1)

LAB = {
    "app": "claimlab",
    "name": {"zh": "抢占实验", "en": "Claim lab"},
    "settings": {"calendar": "24x7"},
    "ticket_types": {
        "wait": {
            "name": "Waits",
            "number": "CW-{seq:5}",
            "form": {"sections": [{"fields": [{"key": "note", "type": "text"}]}]},
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start"},
                    {"id": "cool", "type": "timer", "wait": {"duration": "1h"}},
                    {"id": "end", "type": "end"},
                ],
                "edges": [["start", "cool"], ["cool", "end"]],
            },
            "rules": [
                {
                    "name": f"sweep {i}",
                    "on": {"schedule": "*/5 * * * *"},
                    "do": [{"set": {"note": f"'swept {i}'"}}],
                }
                for i in range(3)
            ],
        }
    },
}


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def race(database_url: str, work: Any) -> list[Any]:
    """Run ``work(db)`` in WORKERS threads, each with its own Database, all released at once."""
    start = threading.Barrier(WORKERS)

    def one(_: int) -> Any:
        db = Database(database_url)
        try:
            start.wait()
            return work(db)
        finally:
            db.dispose()

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, range(WORKERS)))


@pytest.fixture
def lab(db: Database) -> Runtime:
    runtime = Runtime(db, clock=Clock(T0))
    runtime.publish(LAB)
    for i in range(TICKETS):
        runtime.submit("claimlab", "wait", {"note": f"n{i}"})
    return runtime


def count_events(db: Database, kind: str) -> Counter[int]:
    with db.read() as conn:
        rows = conn.execute(select(Event.record_id).where(Event.type == kind)).scalars()
        return Counter(rows)


def test_due_timers_fire_exactly_once_when_many_workers_tick_together(database_url, db, lab):
    later = T0 + 2 * HOUR
    fired = race(database_url, lambda d: Runtime(d, clock=Clock(later)).fire_due_timers(later))
    assert sum(fired) == TICKETS  # every timer counted by exactly one worker
    with db.read() as conn:
        assert set(conn.execute(select(Timer.status)).scalars()) == {"fired"}
        statuses = Counter(conn.execute(select(Record.status)).scalars())
    assert statuses == {"closed": TICKETS}
    closed = count_events(db, "closed")
    assert len(closed) == TICKETS and set(closed.values()) == {1}
    assert Runtime(db, clock=Clock(later)).fire_due_timers(later) == 0


def test_timers_not_yet_due_are_left_for_later_and_then_fire_once(database_url, db, lab):
    early = T0 + dt.timedelta(minutes=30)
    assert sum(race(database_url, lambda d: Runtime(d, clock=Clock(early)).fire_due_timers(early))) == 0
    later = T0 + 2 * HOUR
    assert sum(race(database_url, lambda d: Runtime(d, clock=Clock(later)).fire_due_timers(later))) == TICKETS


def test_a_timer_that_crashes_does_not_hold_up_the_others(db, lab):
    # A damaged row (a reminder of a node the flow does not have) crashes with a KeyError, not a
    # flow error: it stays pending for the next tick, and the timers due after it still fire.
    with db.write() as conn:
        record = conn.execute(select(func.min(Record.id))).scalar()
        broken = conn.execute(
            insert(Timer).returning(Timer.id),
            {"record_id": record, "kind": "reminder", "node_id": "nowhere", "due_at": T0,
             "payload": {"reminder": 0}, "created_at": T0},
        ).scalar()  # fmt: skip
    later = T0 + 2 * HOUR
    runtime = Runtime(db, clock=Clock(later))
    assert runtime.fire_due_timers(later) == TICKETS
    assert runtime.fire_due_timers(later) == 0
    with db.read() as conn:
        assert conn.execute(select(Timer.status).where(Timer.id == broken)).scalar() == "pending"


def test_cron_rules_run_once_per_slot_when_many_workers_tick_together(database_url, db, lab):
    slot = T0 + dt.timedelta(minutes=5)
    touched = race(database_url, lambda d: Runtime(d, clock=Clock(slot)).fire_due_schedules(slot))
    assert sum(touched) == 3 * TICKETS
    fired = count_events(db, "rule_fired")
    assert len(fired) == TICKETS and set(fired.values()) == {3}
    # the same slot again fires nothing; the next slot fires each rule once more
    assert sum(race(database_url, lambda d: Runtime(d, clock=Clock(slot)).fire_due_schedules(slot))) == 0
    nxt = slot + dt.timedelta(minutes=5)
    again = race(database_url, lambda d: Runtime(d, clock=Clock(nxt)).fire_due_schedules(nxt))
    assert sum(again) == 3 * TICKETS


def test_outbox_rows_are_sent_exactly_once_by_many_sweeping_workers(
    database_url, db, lab, httpserver: HTTPServer, monkeypatch
):
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with db.read() as conn:
        record = conn.execute(select(Record.id).limit(1)).scalar()
    rows = 120
    with db.write() as conn:
        conn.execute(
            insert(Outbox),
            [
                {
                    "idempotency_key": f"claim:{i}",
                    "record_id": record,
                    "channel": "webhook",
                    "payload": {"url": httpserver.url_for("/hook"), "body": {"n": i}},
                    "next_attempt_at": T0,
                    "created_at": T0,
                }
                for i in range(rows)
            ],
        )
    tried = race(database_url, lambda d: sweep(d, now=T0))
    assert sum(tried) == rows
    keys = Counter(req.headers["Idempotency-Key"] for req, _ in httpserver.log)
    assert len(keys) == rows and set(keys.values()) == {1}  # none skipped, none twice
    with db.read() as conn:
        assert Counter(conn.execute(select(Outbox.status)).scalars()) == {"sent": rows}
    assert due_ids(db, T0 + HOUR) == []
