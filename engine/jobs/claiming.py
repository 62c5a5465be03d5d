"""Claiming due work (outbox rows, timers, cron schedules) safely when many workers run at once.

Every claim is a read of the next due rows *locked* for the claiming transaction. On PostgreSQL the
read is ``SELECT ... FOR UPDATE SKIP LOCKED``: two workers never take the same row and never wait
for each other — each takes the next row nobody holds. A worker that dies before it commits
releases its locks, so the row is still due and the next tick takes it (nothing is skipped).

SQLite has one writer at a time (``BEGIN IMMEDIATE`` in engine/store/db.py), so there the same
query without a lock clause is already safe; SQLAlchemy leaves ``FOR UPDATE`` out on SQLite.
The conditional UPDATEs behind each claim (``WHERE status = 'pending'`` and the like) stay as a
second guard, so even a plain read-then-update path cannot fire a row twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, FromClause, Select


def locked(query: Select[Any], of: FromClause | None = None) -> Select[Any]:
    """``query`` taking a row lock on what it returns, skipping rows other transactions hold.

    ``of`` names the table whose rows are locked when the query joins several (``FOR UPDATE OF``):
    e.g. the timer worker locks a ticket's record, not its timer, when it picks what to fire.
    """
    return query.with_for_update(skip_locked=True, of=of)


def pick(conn: Connection, query: Select[Any]) -> Sequence[Any]:
    """The rows of ``query`` this transaction now holds (until it commits or rolls back)."""
    return conn.execute(locked(query)).all()


__all__ = ["locked", "pick"]
