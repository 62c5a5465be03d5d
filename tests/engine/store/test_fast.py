"""Statements run straight on the driver (engine.store.fast) store exactly what SQLAlchemy would,
on both databases, stay inside the command's transaction, and are still seen by statement listeners."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, insert, select, update

from engine.store import fast
from engine.store.counters import COUNTER_UPSERT
from engine.store.models import Counter, Event, Record

E, R = Event.__table__, Record.__table__
INSERT_RECORD = insert(R).returning(R.c.id)


def _record(now: dt.datetime, data: dict) -> dict:
    return {
        "app_id": None, "app_version": 1, "ticket_type": "t", "number": f"N-{now.timestamp()}", "stage": "s",
        "status": "open", "data": data, "created_by": None, "created_at": now, "updated_by": None,
        "updated_at": now, "closed_at": None, "row_version": 0, "event_seq": 0,
    }  # fmt: skip


@pytest.fixture
def app_id(runtime, complaint_app) -> int:
    from engine.store.models import App

    with runtime.db.read() as conn:
        return conn.execute(select(App.id).where(App.key == complaint_app)).scalar_one()


def test_a_row_written_on_the_driver_reads_back_as_the_same_values(db, app_id) -> None:
    now = dt.datetime(2026, 11, 3, 8, 30, 15, 123456, tzinfo=dt.UTC)
    data = {"title": "打印机坏了 <b>", "amount": 12.5, "tags": ["a", "b"], "none": None, "nested": {"x": 1}}
    with db.write() as conn:
        ours = fast.scalar(conn, INSERT_RECORD, {**_record(now, data), "app_id": app_id, "number": "FAST-1"})
        row = {**_record(now, data), "app_id": app_id, "number": "SQLA-1"}
        theirs = conn.execute(INSERT_RECORD, row).scalar()
        fast.execute_many(
            conn,
            insert(E),
            [{"record_id": ours, "seq": i, "type": "created", "actor_id": None, "at": now, "payload": data}
             for i in (1, 2)],
        )  # fmt: skip
    with db.read() as conn:
        a = conn.execute(select(R).where(R.c.id == ours)).one()._mapping
        b = conn.execute(select(R).where(R.c.id == theirs)).one()._mapping
        events = conn.execute(select(E.c.seq, E.c.at, E.c.payload).where(E.c.record_id == ours)).all()
    assert {k: v for k, v in a.items() if k not in ("id", "number")} == {
        k: v for k, v in b.items() if k not in ("id", "number")
    }
    assert a["data"] == data and a["created_at"] == now
    assert [(e.seq, e.at, e.payload) for e in events] == [(1, now, data), (2, now, data)]


def test_a_failed_command_takes_back_what_the_driver_wrote(db) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        assert fast.scalar(conn, COUNTER_UPSERT[conn.dialect.name], {"key": "fast-test"}) == 1
        raise RuntimeError("the command fails after its first statement")
    with db.write() as conn:
        assert fast.scalar(conn, COUNTER_UPSERT[conn.dialect.name], {"key": "fast-test"}) == 1
        assert fast.scalar(conn, COUNTER_UPSERT[conn.dialect.name], {"key": "fast-test"}) == 2
    with db.read() as conn:
        assert conn.execute(select(Counter.value).where(Counter.key == "fast-test")).scalar_one() == 2


def test_an_update_reports_the_rows_it_touched_and_listeners_see_each_statement(db, app_id) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement.split()[0].upper())

    save = update(R).where(R.c.id == bindparam("b_id"), R.c.row_version == bindparam("b_row_version"))
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.write() as conn:
            rid = fast.scalar(conn, INSERT_RECORD, {**_record(now, {}), "app_id": app_id, "number": "FAST-2"})
            assert fast.rowcount(conn, save, {"b_id": rid, "b_row_version": 0, "status": "closed"}) == 1
            assert fast.rowcount(conn, save, {"b_id": rid, "b_row_version": 7, "status": "open"}) == 0
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert seen.count("INSERT") == 1 and seen.count("UPDATE") == 2
    with db.read() as conn:
        assert conn.execute(select(R.c.status).where(R.c.id == rid)).scalar_one() == "closed"


def test_a_write_that_cannot_get_sqlite_s_lock_fails_as_an_unavailable_database(
    tmp_path, monkeypatch
) -> None:
    # BEGIN IMMEDIATE goes straight to the driver; a lock held past the busy timeout must still
    # raise SQLAlchemy's OperationalError (which the API answers with 503), not the driver's error.
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from engine.store import Database
    from engine.store import db as store_db

    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_S", 0)
    path = tmp_path / "busy.db"
    database = Database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("CREATE TABLE t (x)")
        other.execute("BEGIN IMMEDIATE")  # another process in the middle of its write
        with pytest.raises(OperationalError, match="locked"), database.write():
            pass
        other.execute("ROLLBACK")
        with database.write() as conn:  # free again: the next write goes through
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        other.close()
        database.dispose()
