"""Connections: one SQLAlchemy engine per database URL, SQLite tuned for many readers and one writer."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from engine.store.fast import as_sqlalchemy_errors

SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how a transaction starts (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.close()


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _no_default(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def json_text(value: Any) -> str:
    """A JSON column's text: orjson (every command writes a dozen documents; ~5x faster), and the
    standard library where orjson stops — integers beyond 64 bits — so what json accepts is
    stored as before, and what it refuses (datetimes, dataclasses, Decimals) is still refused."""
    try:
        return orjson.dumps(value, default=_no_default, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(value)


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front (BEGIN IMMEDIATE): two writers then queue
    # on busy_timeout instead of failing with "database is locked" when a reader upgrades.
    # Straight to the driver: through exec_driver_sql, SQLAlchemy's execution context cost more
    # than SQLite's BEGIN, three times a request. Errors are raised as SQLAlchemy's (a lock not
    # granted within the busy timeout is an OperationalError: 503, not 500).
    sql = "BEGIN DEFERRED" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE"
    with as_sqlalchemy_errors(conn, sql, ()):
        conn.connection.dbapi_connection.execute(sql)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; for SQLite the file's folder is created and WAL is switched on."""
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", json_text)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # PostgreSQL's JIT compiles a plan's expressions once the estimated cost is high: 30-40 ms spent
    # before the first row of an inbox page or a report that runs in tens of ms (measured at 100,000
    # tickets). Our statements are short and repeated, so it only adds latency; GONGDAN_PG_JIT=on
    # gives it back.
    if os.environ.get("GONGDAN_PG_JIT", "off").lower() not in ("on", "1", "true"):
        args = dict(kwargs.get("connect_args") or {})
        args["options"] = (args.get("options", "") + " -c jit=off").strip()
        kwargs["connect_args"] = args
    return create_engine(url, **kwargs)


class WriterQueue:
    """Writers to one SQLite file take turns through an OS file lock beside it.

    SQLite's own wait for the write lock polls with growing sleeps (1, 2, 5, 10 … ms), so under
    load a waiting process sleeps through much of the time the lock is free. ``flock`` wakes the
    next writer the moment the previous one commits. Threads of one process queue on a lock first
    (the file lock belongs to the process); re-entry in one thread passes through. Writers that do
    not use it (migrations, the job queue's own file) still get SQLite's busy timeout.
    """

    def __init__(self, path: Path):
        self.path = path.with_name(path.name + "-writers.lock")
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._thread_lock:
            self._depth += 1
            try:
                if self._depth == 1:
                    fcntl.flock(self._file(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if self._depth == 1:
                        fcntl.flock(self._file(), fcntl.LOCK_UN)
            finally:
                self._depth -= 1

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def _writer_queue(url: str) -> WriterQueue | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return WriterQueue(Path(parsed.database).resolve())


class Database:
    """The store's entry point: ``write()`` for one all-or-nothing transaction, ``read()`` for queries."""

    def __init__(self, url: str, **engine_kwargs: Any):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._writers = _writer_queue(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._writers is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._writers.turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.execution_options(readonly=True).begin():
            yield conn

    def ping(self) -> bool:
        with self.read() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()
