"""After a run: compare what the generator and the receiver saw with what the database holds.

Every check returns a list of human-readable problems (empty = fine), so a report can print all
of them at once and a test can assert ``== []`` and show them all on failure.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select

from engine.store import Database
from engine.store.models import Event, InboundMessage, Outbox, Record, Timer
from engine.store.types import utcnow
from tests.load.generator import Outcome
from tests.load.harness import Receiver, wait_until

HOOK_EVENTS = ("created", "task_completed")


def ticket_problems(db: Database, outcome: Outcome) -> list[str]:
    """Every ticket the site acknowledged is there once, with the events of what was done to it."""
    problems: list[str] = []
    with db.read() as conn:
        keyed = dict(
            conn.execute(
                select(InboundMessage.message_id, InboundMessage.record_id).where(
                    InboundMessage.message_id.in_(list(outcome.submitted) or [""])
                )
            ).all()
        )
        records = set(conn.execute(select(Record.id)).scalars())
        events: dict[int, Counter[str]] = defaultdict(Counter)
        for rid, kind in conn.execute(select(Event.record_id, Event.type)):
            events[rid][kind] += 1
    for key, ticket_id in outcome.submitted.items():
        if keyed.get(key) != ticket_id:
            problems.append(f"submit {key}: answered ticket {ticket_id}, the database keeps {keyed.get(key)}")
        if ticket_id not in records:
            problems.append(f"ticket {ticket_id} was acknowledged but is missing")
        elif events[ticket_id]["created"] != 1:
            problems.append(f"ticket {ticket_id} has {events[ticket_id]['created']} created events")
    for ticket_id in outcome.completed:
        if events[ticket_id]["task_completed"] != 1:
            problems.append(
                f"ticket {ticket_id}: completed once, {events[ticket_id]['task_completed']} events"
            )
    extra = records - set(outcome.submitted.values())
    if extra:
        problems.append(f"{len(extra)} tickets nobody acknowledged (e.g. {sorted(extra)[:5]})")
    return problems


def expected_hook_keys(db: Database) -> set[str]:
    """The idempotency keys the app's webhook must deliver: one per created/task_completed event."""
    with db.read() as conn:
        rows = conn.execute(select(Event.record_id, Event.seq).where(Event.type.in_(HOOK_EVENTS))).all()
    return {f"webhook:audit:{rid}:{seq}" for rid, seq in rows}


def outbox_pending(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(
            select(func.count()).select_from(Outbox).where(Outbox.status.in_(("pending", "sending")))
        ).scalar_one()


def timers_due(db: Database, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    with db.read() as conn:
        return conn.execute(
            select(func.count()).select_from(Timer).where(Timer.status == "pending", Timer.due_at <= now)
        ).scalar_one()


def wait_for_quiet(db: Database, receiver: Receiver, deadline_s: float, tick: Any = None) -> None:
    """Until every due SLA timer fired and every webhook arrived and the outbox is empty.
    ``tick`` (optional) is called on each poll to hand the workers an extra tick."""
    stop_at = utcnow()

    def quiet() -> bool:
        if tick is not None:
            tick()
        return (
            timers_due(db, stop_at) == 0
            and outbox_pending(db) == 0
            and expected_hook_keys(db) <= set(receiver.keys("/hook"))
        )

    wait_until(quiet, deadline_s, "the timers to fire and the outbox to drain", every=1.0)


def delivery_problems(db: Database, receiver: Receiver, at_least_once: bool = False) -> list[str]:
    """Every webhook delivered once (``at_least_once``: delivered, repeats only with the same key),
    nothing unexpected delivered, nothing left dead."""
    problems: list[str] = []
    expected = expected_hook_keys(db)
    got = receiver.keys("/hook")
    missing = expected - set(got)
    if missing:
        problems.append(f"{len(missing)} webhook deliveries lost, e.g. {sorted(missing)[:3]}")
    unexpected = set(got) - expected
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected webhook deliveries, e.g. {sorted(unexpected)[:3]}")
    twice = {k: n for k, n in got.items() if n > 1}
    if twice and not at_least_once:
        problems.append(f"{len(twice)} webhooks delivered more than once, e.g. {list(twice.items())[:3]}")
    with db.read() as conn:
        dead = conn.execute(
            select(func.count()).select_from(Outbox).where(Outbox.status == "dead")
        ).scalar_one()
    if dead:
        problems.append(f"{dead} outbox rows are dead")
    return problems


def sla_problems(db: Database, receiver: Receiver, at_least_once: bool = False) -> list[str]:
    """Every due SLA timer fired once: one sla_breached event and one /sla delivery per breached ticket."""
    problems: list[str] = []
    with db.read() as conn:
        breached = Counter(
            conn.execute(select(Event.record_id).where(Event.type == "sla_breached")).scalars()
        )
        fired = Counter(
            conn.execute(
                select(Timer.record_id).where(Timer.kind == "sla", Timer.status == "fired")
            ).scalars()
        )
    with receiver._lock:
        calls = Counter(d.body["ticket"]["id"] for d in receiver.deliveries if d.path == "/sla")
        call_keys = Counter(d.key for d in receiver.deliveries if d.path == "/sla")
    for rid, n in breached.items():
        if n != 1:
            problems.append(f"ticket {rid}: {n} sla_breached events")
        if calls[rid] < 1 or (calls[rid] > 1 and not at_least_once):
            problems.append(f"ticket {rid}: breached once, its escalation webhook arrived {calls[rid]} times")
    for rid in set(calls) - set(breached):
        problems.append(f"ticket {rid}: escalation webhook without a breach")
    for rid, n in fired.items():
        if n != 1:
            problems.append(f"ticket {rid}: {n} SLA timers fired")
    if at_least_once and len(call_keys) != len(breached):
        problems.append(f"{len(breached)} breaches, {len(call_keys)} distinct escalation keys")
    return problems


def breach_count(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(
            select(func.count()).select_from(Event).where(Event.type == "sla_breached")
        ).scalar_one()
