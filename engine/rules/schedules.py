"""Rules on a schedule (cron with a time zone): kept as rows in ``schedules``, fired by the tick.

Publishing an app writes one row per scheduled rule with its next run time; the worker's tick
claims a due row by moving its ``next_run_at`` on (a conditional update, so two workers never
both fire it) and then runs the rule over the open tickets of its type, one command per ticket
whose condition holds. A worker that was down fires a missed schedule once when it comes back —
never once per missed slot, never twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Connection, insert, select, update

from engine.jobs.claiming import pick
from engine.specs import AppSpec
from engine.store.models import Record, Schedule

S, R = Schedule.__table__, Record.__table__
DEFAULT_TIMEZONE = "Asia/Shanghai"
BATCH = 200


def next_run(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first moment after ``after`` that ``cron`` names, in ``timezone``; returned in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return croniter(cron, local).get_next(dt.datetime).astimezone(dt.UTC)


def schedule_key(app_key: str, ticket_type: str, rule: str) -> str:
    return f"rule:{app_key}:{ticket_type}:{rule}"[:160]


def sync(conn: Connection, spec: AppSpec, now: dt.datetime) -> None:
    """Make the app's schedule rows match its scheduled rules (new, changed, removed)."""
    timezone = str(spec.app.settings.get("timezone") or DEFAULT_TIMEZONE)
    wanted: dict[str, dict[str, Any]] = {}
    for tkey, tspec in spec.types.items():
        for rule in tspec.rules.scheduled:
            key = schedule_key(spec.key, tkey, rule.name)
            wanted[key] = {
                "kind": "rule",
                "cron": rule.schedule,
                "timezone": timezone,
                "payload": {"app": spec.key, "ticket_type": tkey, "rule": rule.name},
                "enabled": True,
            }
    prefix = f"rule:{spec.key}:"
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    existing = {row.key: row for row in conn.execute(select(S).where(S.c.key.like(pattern, escape="\\")))}
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            first = next_run(values["cron"], values["timezone"], now)
            conn.execute(insert(S).values(key=key, next_run_at=first, **values))
        elif (row.cron, row.timezone, row.enabled) != (values["cron"], values["timezone"], True):
            conn.execute(
                update(S)
                .where(S.c.id == row.id)
                .values(next_run_at=next_run(values["cron"], values["timezone"], now), **values)
            )
    for key, row in existing.items():
        if key not in wanted and row.enabled:
            conn.execute(update(S).where(S.c.id == row.id).values(enabled=False))


def claim_due(conn: Connection, now: dt.datetime, limit: int = 50) -> list[Any]:
    """Claim the schedules due by ``now``: each moves on to its next run in this transaction.

    The rows are read locked, skipping rows another worker's tick holds (engine.jobs.claiming), so
    ticks of many workers never wait on each other nor both take a row; the conditional update
    below is the second guard.
    """
    rows = pick(
        conn,
        select(S).where(S.c.enabled.is_(True), S.c.next_run_at <= now).order_by(S.c.next_run_at).limit(limit),
    )
    claimed = []
    for row in rows:
        done = conn.execute(
            update(S)
            .where(S.c.id == row.id, S.c.next_run_at == row.next_run_at)
            .values(next_run_at=next_run(row.cron, row.timezone, now), last_run_at=now)
        )
        if done.rowcount == 1:
            claimed.append(row)
    return claimed


def open_tickets(conn: Connection, app_id: int, ticket_type: str, after: int) -> list[int]:
    """The next batch of open tickets of a type, by id (keyset pagination)."""
    return list(
        conn.execute(
            select(R.c.id)
            .where(R.c.app_id == app_id, R.c.ticket_type == ticket_type, R.c.status == "open", R.c.id > after)
            .order_by(R.c.id)
            .limit(BATCH)
        ).scalars()
    )


def batches(read: Any, app_id: int, ticket_type: str) -> Iterator[list[int]]:
    last = 0
    while True:
        with read() as conn:
            ids = open_tickets(conn, app_id, ticket_type, last)
        if not ids:
            return
        yield ids
        last = ids[-1]
