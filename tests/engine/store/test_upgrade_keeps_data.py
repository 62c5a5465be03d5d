"""`gongdan migrate` from the first release's schema (0001) to head loses nothing.

The database starts at 0001; before every further migration one row goes into every table that
exists at that point (values made from each column's type, foreign keys pointing at the rows of
the same step). At head every one of those rows is still there with every value it had — on
SQLite (where Alembic rebuilds tables to alter them) and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, insert, select

from engine.store import migrate
from engine.store.migrate import alembic_config

MOMENT = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


def revisions(url: str) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def value_for(column: sa.Column, step: int, dialect: str) -> Any:
    """A value of the column's type, unique per step (each table gets one row per step)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return step % 2 == 0
    if isinstance(kind, sa.Integer):
        return step
    if isinstance(kind, sa.DateTime):
        moment = MOMENT + dt.timedelta(days=step)
        return moment if dialect == "postgresql" else moment.replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return (MOMENT + dt.timedelta(days=step)).date()
    if isinstance(kind, sa.Float | sa.Numeric):
        return Decimal("1.5") + step if isinstance(kind, sa.Numeric) and kind.asdecimal else 1.5 + step
    if isinstance(kind, sa.JSON) or "JSON" in type(kind).__name__.upper():
        return {"step": step, "note": "值"}
    if isinstance(kind, sa.LargeBinary):
        return b"bytes-%d" % step
    if isinstance(kind, sa.String | sa.Text):
        length = getattr(kind, "length", None) or 40
        return f"s{step}-{column.name}"[:length]
    raise AssertionError(f"no sample value for {column.table.name}.{column.name}: {kind!r}")


def fill(url: str, step: int, kept: dict[str, list[dict[str, Any]]]) -> None:
    """One row in every table (in foreign-key order), read back as stored."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    try:
        tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
        with engine.begin() as conn:
            later: list[tuple[sa.Table, dict[str, Any], dict[str, Any]]] = []
            for table in tables:
                row = {c.name: value_for(c, step, engine.dialect.name) for c in table.columns}
                # nullable references are set once every table has its row (departments and
                # users point at each other)
                deferred = {c.name: row.pop(c.name) for c in table.columns if c.foreign_keys and c.nullable}
                conn.execute(insert(table).values(row))
                later.append((table, row, deferred))
            for table, row, deferred in later:
                where = [c == row[c.name] for c in table.primary_key.columns]
                if deferred:
                    conn.execute(sa.update(table).where(*where).values(deferred))
                stored = conn.execute(select(table).where(*where)).mappings().one()
                kept.setdefault(table.name, []).append(dict(stored))
    finally:
        engine.dispose()


def test_migrating_from_the_first_release_to_head_keeps_every_row(database_url):
    url = database_url
    steps = revisions(url)
    assert steps[0] == "0001" and len(steps) >= 10
    # start again from nothing: the fixture's database is already at head
    from alembic import command

    command.downgrade(alembic_config(url), "base")
    kept: dict[str, list[dict[str, Any]]] = {}
    for step, revision in enumerate(steps, start=1):
        migrate(url, revision)
        fill(url, step, kept)
    migrate(url)  # head (already there; harmless)

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    try:
        with engine.connect() as conn:
            for name, rows in kept.items():
                table = meta.tables[name]
                for before in rows:
                    where = [table.c[k] == before[k] for k in (c.name for c in table.primary_key.columns)]
                    after = conn.execute(select(table).where(*where)).mappings().one()
                    lost = {k: (v, after.get(k)) for k, v in before.items() if k in after and after[k] != v}
                    dropped = [k for k in before if k not in after]
                    assert not lost and not dropped, f"{name}: changed {lost}, columns gone {dropped}"
    finally:
        engine.dispose()
    assert sum(len(rows) for rows in kept.values()) > 100
