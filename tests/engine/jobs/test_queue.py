"""The huey side: immediate dispatch from the Runtime, the tick, and which storage huey gets."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import uuid

import pytest
import redis
from huey import RedisHuey, SqliteHuey
from pytest_httpserver import HTTPServer

from engine.config import load_settings
from engine.jobs.queue import TICK_HANDLERS, JobQueue, make_huey
from engine.runtime import Runtime
from engine.store import Database
from tests.engine.jobs.conftest import SECRET, T0, outbox_row, outbox_rows
from tests.support import complaint_form

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def immediate_queue(db: Database, tmp_path) -> JobQueue:
    return JobQueue(make_huey(load_settings({"GONGDAN_HOME": str(tmp_path)}), immediate=True), db)


def test_a_submit_queues_one_webhook_row_that_an_immediate_queue_delivers_signed(
    db, httpserver: HTTPServer, webhook_app, immediate_queue
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = Runtime(db, dispatch=immediate_queue.dispatch)
    ticket = runtime.submit("complaint", "complaint", complaint_form(webhook_app), actor=None)

    (row,) = outbox_rows(db)
    assert (row.channel, row.record_id, row.status, row.attempts) == ("webhook", ticket.id, "sent", 1)
    assert row.idempotency_key == f"webhook:crm:{ticket.id}:1"
    ((request, _),) = httpserver.log
    raw = request.get_data()
    assert request.headers["Idempotency-Key"] == row.idempotency_key
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert request.headers["X-Gongdan-Signature"] == f"sha256={signature}"
    body = json.loads(raw)
    assert body["ticket"] == {"id": ticket.id, "number": ticket.number}
    assert body["event"]["type"] == "created"


def test_a_later_command_on_an_unsubscribed_event_queues_nothing(
    db, httpserver: HTTPServer, webhook_app, immediate_queue
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = Runtime(db, dispatch=immediate_queue.dispatch)
    ticket = runtime.submit("complaint", "complaint", complaint_form(webhook_app))
    runtime.comment(ticket.id, "客户来电催促")
    assert len(outbox_rows(db)) == 1
    assert len(httpserver.log) == 1


def test_the_tick_sweeps_due_rows_and_runs_every_tick_handler(
    db, httpserver: HTTPServer, immediate_queue, queued
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    seen: list[dt.datetime] = []

    def broken(_db, _now):
        raise RuntimeError("a handler bug must not stop the others")

    TICK_HANDLERS.extend([broken, lambda _db, now: seen.append(now)])
    try:
        immediate_queue.run_tick(T0)
    finally:
        del TICK_HANDLERS[-2:]
    assert seen == [T0]
    assert outbox_row(db, queued).status == "sent"


def test_make_huey_keeps_the_queue_in_sqlite_without_redis_url(tmp_path):
    huey = make_huey(load_settings({"GONGDAN_HOME": str(tmp_path / "home")}))
    queue = JobQueue(huey, Database(f"sqlite:///{tmp_path / 'unused.db'}"))
    assert isinstance(huey, SqliteHuey) and huey.name == "gongdan"
    queue.dispatch([1, 2])
    assert huey.pending_count() == 1
    assert (tmp_path / "home" / "queue.db").exists()


def test_make_huey_uses_redis_when_redis_url_is_set(tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        reason = f"Redis not reachable at {REDIS_URL}"
        if os.environ.get("GONGDAN_REQUIRE_REDIS") == "1":
            pytest.fail(reason + " (GONGDAN_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "REDIS_URL": REDIS_URL})
    huey = make_huey(settings, name=f"gongdan-test-{uuid.uuid4().hex}")
    assert isinstance(huey, RedisHuey)
    try:
        JobQueue(huey, Database(f"sqlite:///{tmp_path / 'unused.db'}")).dispatch([1])
        assert huey.pending_count() == 1
        (task,) = huey.pending()
        assert task.name == "deliver" and task.args == ([1],)
    finally:
        huey.flush()
    assert huey.pending_count() == 0
    assert not (tmp_path / "queue.db").exists()
