"""Hot statements straight to the database driver, compiled once.

SQLAlchemy spends most of a small statement's time around it, not in it: an execution context,
cache-key generation, event dispatch and result set-up cost ~50 µs a statement here, against a few
µs for SQLite to run an INSERT. A ticket submit writes a dozen statements, so that overhead was a
third of the request. :func:`execute` compiles a Core statement once per (statement, dialect,
parameter names), then runs it on the transaction's own DBAPI cursor with SQLAlchemy's own bind
processors (JSON, dates and our type decorators are stored exactly as ``conn.execute`` would).

It takes only what it can run the same way: statements whose columns have Python-side defaults
or escaped bind names, and any statement when no plain cursor is at hand, go through
``conn.execute`` as before. ``before_cursor_execute`` listeners still see every statement (the
tests that count statements per request keep counting).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    order: Any  # positional styles: the bind values in the driver's order, from the dict of them
    processors: tuple[tuple[str, Any], ...]  # (bind name, SQLAlchemy's bind processor) for the given ones
    fixed: Mapping[str, Any]  # binds with a value of their own (``value + 1``), not from the parameters


#: (id of the statement, dialect name, parameter names) -> the prepared form, or None: "not ours".
_PREPARED: dict[tuple[int, str, tuple[str, ...]], _Prepared | None] = {}
#: The statements themselves, so an id is never reused by another object while cached.
_KEEP: dict[int, ClauseElement] = {}


def _prepare(conn: Connection, stmt: ClauseElement, keys: tuple[str, ...]) -> _Prepared | None:
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
    if (
        getattr(compiled, "insert_prefetch", None)
        or getattr(compiled, "update_prefetch", None)
        or getattr(compiled, "postfetch", None)
        or getattr(compiled, "escaped_bind_names", None)
        or getattr(compiled, "_render_postcompile", False)
        or any(b.expanding for b in compiled.binds.values())
    ):
        return None
    fixed = {}
    for name, bind in compiled.binds.items():
        if name not in keys:
            if bind.required or bind.callable is not None:
                return None  # a value we would have to compute: leave it to SQLAlchemy
            fixed[name] = bind.value
    processors = compiled._bind_processors
    procs = tuple((k, v) for k, v in processors.items() if v is not None)
    # fixed values are processed once, here
    fixed = {k: (processors[k](v) if processors.get(k) else v) for k, v in fixed.items()}
    procs = tuple((k, v) for k, v in procs if k not in fixed)
    order = None
    if compiled.positional:
        names = tuple(compiled.positiontup or ())
        if not names:
            order = _no_values
        elif len(names) == 1:
            only = names[0]
            order = lambda values: (values[only],)  # noqa: E731
        else:
            order = itemgetter(*names)
    return _Prepared(compiled.string, order, procs, fixed)


def _no_values(values: Mapping[str, Any]) -> tuple[()]:
    return ()


#: The hot statements are module constants, a few dozen forms in all; past this many a caller is
#: building statements per call, which this module must not keep alive one by one.
MAX_PREPARED = 512


def _prepared(conn: Connection, stmt: ClauseElement, keys: tuple[str, ...]) -> _Prepared | None:
    key = (id(stmt), conn.dialect.name, keys)
    try:
        return _PREPARED[key]
    except KeyError:
        if len(_PREPARED) >= MAX_PREPARED:
            return None  # not kept: SQLAlchemy runs it (with its own statement cache)
        prepared = _prepare(conn, stmt, keys)
        _KEEP[id(stmt)] = stmt
        _PREPARED[key] = prepared
        return prepared


def _driver_params(p: _Prepared, params: Mapping[str, Any]) -> Any:
    values = {**params, **p.fixed} if p.fixed else dict(params)
    for name, proc in p.processors:
        values[name] = proc(values[name])
    return values if p.order is None else p.order(values)


@contextmanager
def as_sqlalchemy_errors(conn: Connection, sql: str, args: Any) -> Iterator[None]:
    """A driver error raised as SQLAlchemy raises it (OperationalError, IntegrityError, …), so the
    callers' handlers — a 503 for an unreachable database, a retry after a deadlock, a unique value
    taken — see the same exceptions whichever way a statement ran."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, args, exc, dbapi_error, dialect=conn.dialect) from exc


def execute(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> Any:
    """Run ``stmt`` with ``params`` in ``conn``'s transaction: a DBAPI cursor (``fetchone``,
    ``rowcount``), or SQLAlchemy's result where the statement is not one this module runs."""
    p = _prepared(conn, stmt, tuple(params))
    if p is None:
        return conn.execute(stmt, params)
    args = _driver_params(p, params)
    cursor = conn.connection.dbapi_connection.cursor()
    if conn._has_events or conn.engine._has_events:
        for fn in conn.dispatch.before_cursor_execute:
            fn(conn, cursor, p.sql, args, None, False)
    with as_sqlalchemy_errors(conn, p.sql, args):
        cursor.execute(p.sql, args)
    return cursor


def execute_many(conn: Connection, stmt: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``stmt`` once per row (rows with the same keys), as one driver executemany."""
    if not rows:
        return
    p = _prepared(conn, stmt, tuple(rows[0]))
    if p is None:
        conn.execute(stmt, list(rows))
        return
    args = [_driver_params(p, row) for row in rows]
    cursor = conn.connection.dbapi_connection.cursor()
    if conn._has_events or conn.engine._has_events:
        for fn in conn.dispatch.before_cursor_execute:
            fn(conn, cursor, p.sql, args, None, True)
    with as_sqlalchemy_errors(conn, p.sql, args):
        cursor.executemany(p.sql, args)
    cursor.close()


def scalar(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> Any:
    """The first column of the one row ``stmt`` returns (an INSERT … RETURNING id)."""
    result = execute(conn, stmt, params)
    if hasattr(result, "scalar_one"):
        return result.scalar_one()
    row = result.fetchone()
    result.close()
    return row[0]


def rowcount(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    result = execute(conn, stmt, params)
    count = result.rowcount
    result.close()
    return count
