"""Keeping ``ticket_metrics`` and ``ticket_stage_times`` current: the reactor and the rebuild.

The reactor runs inside every command, after its events are appended, and folds them onto the
ticket's metrics row (same transaction: a report never disagrees with the events). ``rebuild``
recomputes every row of an app (or all apps) from the event log, in batches.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from engine.reactions import CommandContext, reactor
from engine.reports.metrics import Fact, TypeFacts, fold, new_state, row_of, times_of, type_facts
from engine.store import fast
from engine.store.models import App, AppVersion, Event, Record, TicketMetrics, TicketStageTime

TM, TS, E, R = (m.__table__ for m in (TicketMetrics, TicketStageTime, Event, Record))
REBUILD_BATCH = 500

_STATE = select(TM.c.state)
_RECORD = select(R.c.app_id, R.c.ticket_type)
_INSERT_METRICS = insert(TM)
_INSERT_TIMES = insert(TS)


def _facts_cache() -> Callable[[Any, str], TypeFacts]:
    """TypeFacts per (compiled spec, ticket type); a spec is compiled once per (app, version)."""
    cache: dict[tuple[int, str], tuple[weakref.ref[Any], TypeFacts]] = {}

    def get(spec: Any, ticket_type: str) -> TypeFacts:
        key = (id(spec), ticket_type)
        found = cache.get(key)
        if found is None or found[0]() is not spec:
            found = cache[key] = (weakref.ref(spec), type_facts(spec, ticket_type))
        return found[1]

    return get


_facts = _facts_cache()


@reactor
def keep_metrics(cmd: CommandContext) -> None:
    """Fold the command's events onto the ticket's metrics row (created on its first event)."""
    if not cmd.events:
        return
    facts = _facts(cmd.spec, cmd.ticket_type)
    conn = cmd.conn
    fresh = cmd.events[0].type == "created" and cmd.events[0].seq == 1  # a new ticket: no row yet
    row = None if fresh else conn.execute(_STATE.where(TM.c.record_id == cmd.record_id)).first()
    state = dict(row.state) if row is not None else new_state(facts)
    before = times_of(state) if row is not None else []
    events = (Fact(e.seq, e.type, cmd.actor_id, cmd.at, e.payload) for e in cmd.events)
    fold(state, facts, events)
    if state["created"] is None:  # a ticket from before the metrics existed: rebuild fills it in
        return
    values = row_of(state)
    if row is None:
        app_id, ticket_type = cmd.app_id, cmd.ticket_type
        if app_id is None:
            app_id, ticket_type = conn.execute(_RECORD.where(R.c.id == cmd.record_id)).one()
        fast.execute(
            conn,
            _INSERT_METRICS,
            {
                "record_id": cmd.record_id,
                "app_id": app_id,
                "ticket_type": ticket_type,
                "created_by": state["creator"],
                **values,
            },
        )
    else:
        conn.execute(update(TM).where(TM.c.record_id == cmd.record_id).values(**values))
    after = times_of(state)
    if after != before:
        _write_times(conn, cmd.record_id, after, replace=row is not None)


def _write_times(conn: Connection, record_id: int, rows: list[dict[str, Any]], replace: bool) -> None:
    if replace:
        conn.execute(delete(TS).where(TS.c.record_id == record_id))
    if rows:
        fast.execute_many(conn, _INSERT_TIMES, [{"record_id": record_id, **r} for r in rows])


def rebuild(db: Any, app_key: str | None = None, batch: int = REBUILD_BATCH) -> int:
    """Recompute the metrics of every ticket (of ``app_key``) from its events; returns how many.

    Works in batches of ``batch`` tickets, each batch one transaction, so a large history neither
    holds one long lock nor loads more than a batch of events at once.
    """
    from engine.definitions.loader import load_definition
    from engine.specs import compile_app

    specs: dict[tuple[int, int], Any] = {}

    def spec_of(conn: Connection, app_id: int, version: int) -> Any:
        if (app_id, version) not in specs:
            data = conn.execute(
                select(AppVersion.definition).where(
                    AppVersion.app_id == app_id, AppVersion.version == version
                )
            ).scalar_one()
            specs[(app_id, version)] = compile_app(load_definition(data, stored=True).app)
        return specs[(app_id, version)]

    done, last = 0, 0
    while True:
        with db.write() as conn:
            q = select(R.c.id, R.c.app_id, R.c.app_version, R.c.ticket_type).where(R.c.id > last)
            if app_key is not None:
                q = q.join(App, App.id == R.c.app_id).where(App.key == app_key)
            records = conn.execute(q.order_by(R.c.id).limit(batch)).all()
            if not records:
                return done
            ids = [r.id for r in records]
            conn.execute(delete(TS).where(TS.c.record_id.in_(ids)))
            conn.execute(delete(TM).where(TM.c.record_id.in_(ids)))
            by_record: dict[int, list[Fact]] = {i: [] for i in ids}
            rows = conn.execute(
                select(E.c.record_id, E.c.seq, E.c.type, E.c.actor_id, E.c.at, E.c.payload)
                .where(E.c.record_id.in_(ids))
                .order_by(E.c.record_id, E.c.seq)
            )
            for ev in rows:
                by_record[ev.record_id].append(Fact(ev.seq, ev.type, ev.actor_id, ev.at, ev.payload))
            metrics, times = [], []
            for rec in records:
                facts = _facts(spec_of(conn, rec.app_id, rec.app_version), rec.ticket_type)
                state = fold(new_state(facts), facts, by_record[rec.id])
                if state["created"] is None:
                    continue
                keys = {"record_id": rec.id, "app_id": rec.app_id, "ticket_type": rec.ticket_type}
                metrics.append({**keys, "created_by": state["creator"], **row_of(state)})
                times += [{"record_id": rec.id, **t} for t in times_of(state)]
            _insert_all(conn, metrics, times)
            done += len(metrics)
            last = ids[-1]


def _insert_all(conn: Connection, metrics: Iterable[dict[str, Any]], times: list[dict[str, Any]]) -> None:
    metrics = list(metrics)
    if metrics:
        conn.execute(_INSERT_METRICS, metrics)
    if times:
        conn.execute(_INSERT_TIMES, times)


__all__ = ["keep_metrics", "rebuild"]
