"""Named counters (ticket numbers, dispatch turns): one atomic upsert per step.

The upsert holds the counter row's lock until the command commits, so two commands that step the
same counter queue instead of both reading the same value; a rolled-back command gives its step back.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from engine.store import fast
from engine.store.models import Counter

COUNTER_UPSERT = {
    name: dialect_insert(Counter)
    .values(key=bindparam("key"), value=1)
    .on_conflict_do_update(index_elements=[Counter.key], set_={"value": Counter.value + 1})
    .returning(Counter.value)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def next_value(conn: Connection, key: str) -> int:
    """The counter ``key`` stepped by one inside the caller's transaction: 1 the first time."""
    return fast.scalar(conn, COUNTER_UPSERT[conn.dialect.name], {"key": key})
