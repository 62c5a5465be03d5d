"""The worker firing a timer takes its locks in the order commands do: the ticket's record, then the timer.

A command (a person completing a task, say) locks the ticket's record and then updates that ticket's
pending timers. If the worker held a timer while waiting for the record, the two would wait for each
other and PostgreSQL would break the deadlock by rolling one of them back (40P01). These tests hold
the record from a second connection, as a command in the middle of its transaction does, and let a
worker tick meanwhile: the worker waits for the record without holding the timer, the "command"
updates the timers and commits, and afterwards each timer has fired exactly once (or not at all, when
the command cancelled it).

PostgreSQL only: SQLite has no row locks (one writer at a time), so there is no lock order to test.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, select, text

from engine.runtime import Runtime
from engine.store import Database
from engine.store.models import Event, Record, Timer

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(hours=2)
#: Upper bound on waiting for the worker to reach the record lock (a hang, not a timing check).
WAIT_LIMIT = 30.0

LAB = {
    "app": "lockorder",
    "name": {"zh": "锁顺序实验", "en": "Lock order lab"},
    "settings": {"calendar": "24x7"},
    "ticket_types": {
        "wait": {
            "name": "Waits",
            "number": "LO-{seq:5}",
            "form": {"sections": [{"fields": [{"key": "note", "type": "text"}]}]},
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start"},
                    {"id": "cool", "type": "timer", "wait": {"duration": "1h"}},
                    {"id": "end", "type": "end"},
                ],
                "edges": [["start", "cool"], ["cool", "end"]],
            },
        }
    },
}

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def lab(db: Database) -> Runtime:
    runtime = Runtime(db, clock=Clock(T0))
    runtime.publish(LAB)
    return runtime


class Worker(threading.Thread):
    """A worker in its own thread with its own connection pool, running ``tick(runtime)`` once."""

    def __init__(self, database_url: str, tick: Callable[[Runtime], Any]):
        super().__init__(daemon=True)
        self.database_url, self.tick = database_url, tick
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        db = Database(self.database_url)
        try:
            self.result = self.tick(Runtime(db, clock=Clock(LATER)))
        except BaseException as exc:  # handed to the test thread
            self.error = exc
        finally:
            db.dispose()

    def outcome(self) -> Any:
        self.join(WAIT_LIMIT)
        assert not self.is_alive(), "the worker never finished"
        if self.error is not None:
            raise self.error
        return self.result


class Scene:
    """A second connection standing in for a person's command (in an open transaction), and the
    workers started meanwhile."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.command = self.engine.connect()
        self.workers: list[Worker] = []

    def worker(self, tick: Callable[[Runtime], Any]) -> Worker:
        worker = Worker(self.database_url, tick)
        self.workers.append(worker)
        worker.start()
        return worker

    def close(self) -> None:
        self.command.rollback()  # a failed test releases the record, so its workers can end
        self.command.close()
        for worker in self.workers:
            worker.join(WAIT_LIMIT)
        self.engine.dispose()


@pytest.fixture
def scene(database_url: str) -> Iterator[Scene]:
    scene = Scene(database_url)
    yield scene
    scene.close()


def submit(runtime: Runtime, note: str) -> int:
    return runtime.submit("lockorder", "wait", {"note": note}).id


def lock_record(conn: Connection, record_id: int) -> None:
    """What a command does first: the ticket's record, FOR UPDATE, held until its commit."""
    conn.execute(select(Record.id).where(Record.id == record_id).with_for_update()).one()


def wait_until_blocked_by(conn: Connection, worker: Worker) -> None:
    """Return once some other backend waits for a lock ``conn`` holds (the worker, on the record).

    Polls pg_stat_activity (bounded by WAIT_LIMIT against a hang; nothing depends on how long it takes).
    """
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    engine = create_engine(worker.database_url)
    try:
        deadline = time.monotonic() + WAIT_LIMIT
        with engine.connect() as watcher:
            while time.monotonic() < deadline:
                assert worker.is_alive(), f"the worker finished without waiting: {worker.error!r}"
                blocked = watcher.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                    {"pid": pid},
                ).scalar()
                watcher.rollback()
                if blocked:
                    return
        pytest.fail("the worker never waited for the record")
    finally:
        engine.dispose()


def timer_of(db: Database, record_id: int) -> Any:
    with db.read() as conn:
        return conn.execute(select(Timer).where(Timer.record_id == record_id)).one()


def events(db: Database, record_id: int, kind: str) -> int:
    with db.read() as conn:
        return len(
            conn.execute(select(Event.id).where(Event.record_id == record_id, Event.type == kind)).all()
        )


def test_a_worker_waits_for_a_ticket_held_by_a_command_without_deadlocking_it(db, lab, scene):
    record = submit(lab, "held")
    lock_record(scene.command, record)
    worker = scene.worker(lambda rt: rt.fire_due_timers(LATER))
    wait_until_blocked_by(scene.command, worker)
    # The command goes on to touch the ticket's pending timers (as leaving a node does) and commits:
    # the worker must not hold the timer, or this would deadlock.
    touched = scene.command.execute(
        text("UPDATE timers SET payload = payload WHERE record_id = :r AND status = 'pending'"), {"r": record}
    ).rowcount
    scene.command.commit()
    assert touched == 1
    assert worker.outcome() == 1
    assert timer_of(db, record).status == "fired"
    assert lab.ticket(record).status == "closed"
    assert events(db, record, "closed") == 1
    assert lab.fire_due_timers(LATER) == 0


def test_a_timer_the_command_cancelled_meanwhile_is_not_fired_nor_counted(db, lab, scene, caplog):
    record = submit(lab, "cancelled")
    lock_record(scene.command, record)
    worker = scene.worker(lambda rt: rt.fire_due_timers(LATER))
    wait_until_blocked_by(scene.command, worker)
    scene.command.execute(
        text("UPDATE timers SET status = 'cancelled' WHERE record_id = :r AND status = 'pending'"),
        {"r": record},
    )
    scene.command.commit()
    assert worker.outcome() == 0
    assert "crashed" not in caplog.text  # skipped as done, not rolled back as a deadlock victim
    assert timer_of(db, record).status == "cancelled"
    assert lab.ticket(record).status == "open" and lab.ticket(record).stage == "cool"
    assert lab.fire_due_timers(LATER) == 0


def test_a_held_ticket_does_not_hold_up_the_timers_of_other_tickets(db, lab, scene):
    held = submit(lab, "held first")  # its timer is the oldest due
    free = submit(lab, "free")
    lock_record(scene.command, held)
    worker = scene.worker(lambda rt: rt.fire_due_timers(LATER))
    wait_until_blocked_by(scene.command, worker)
    assert lab.ticket(free).status == "closed"  # fired and committed while the other ticket was held
    assert timer_of(db, held).status == "pending"
    scene.command.commit()
    assert worker.outcome() == 2
    assert [lab.ticket(r).status for r in (held, free)] == ["closed", "closed"]
    assert [events(db, r, "closed") for r in (held, free)] == [1, 1]


def test_firing_one_named_timer_waits_for_its_ticket_too(db, lab, scene):
    record = submit(lab, "named")
    timer = timer_of(db, record).id
    lock_record(scene.command, record)
    worker = scene.worker(lambda rt: rt.fire_timer(timer))
    wait_until_blocked_by(scene.command, worker)
    scene.command.execute(
        text("UPDATE timers SET payload = payload WHERE record_id = :r AND status = 'pending'"), {"r": record}
    )
    scene.command.commit()
    assert worker.outcome() is True
    assert timer_of(db, record).status == "fired"
    assert events(db, record, "closed") == 1
    assert lab.fire_timer(timer) is False  # once only


def test_reading_a_ticket_does_not_wait_for_a_command_holding_it(db, lab, scene):
    record = submit(lab, "read while held")
    lock_record(scene.command, record)
    reader = scene.worker(lambda rt: rt.ticket(record))
    ticket = reader.outcome()  # answered while the command still holds the record
    assert ticket.id == record and ticket.stage == "cool"
    scene.command.commit()
