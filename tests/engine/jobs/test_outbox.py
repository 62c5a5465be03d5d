"""Outbox delivery on SQLite and PostgreSQL against a real HTTP server; time is passed as ``now``."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import insert

from engine.errors import FormError
from engine.jobs.outbox import backoff, claim, deliver_one, due_ids, error_text, retry_dead, sweep
from engine.store.models import Outbox
from tests.engine.jobs.conftest import T0, outbox_row, outbox_rows
from tests.support import complaint_form

S = dt.timedelta(seconds=1)


def test_backoff_doubles_from_ten_seconds_and_stops_at_an_hour():
    assert [backoff(n).total_seconds() for n in range(1, 11)] == [
        10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600,
    ]  # fmt: skip
    assert backoff(30) == dt.timedelta(hours=1)


def test_a_server_error_leaves_the_row_pending_until_the_backoff_has_passed(
    db, httpserver: HTTPServer, queued
):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("boom", status=500)
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")

    assert deliver_one(db, queued, now=T0) == "pending"
    row = outbox_row(db, queued)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, None)
    assert row.next_attempt_at == T0 + backoff(1)
    assert row.last_error.startswith("HTTP 500") and "boom" in row.last_error

    assert sweep(db, now=T0 + 9 * S) == 0
    assert sweep(db, now=T0 + 10 * S) == 1
    row = outbox_row(db, queued)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, T0 + 10 * S, None)
    assert len(httpserver.log) == 2


def test_a_row_is_dead_after_max_attempts_failures(db, httpserver: HTTPServer, queued):
    httpserver.expect_request("/hook", method="POST").respond_with_data("still down", status=503)
    max_attempts = outbox_row(db, queued).max_attempts
    now = T0
    for attempt in range(1, max_attempts + 1):
        status = deliver_one(db, queued, now=now)
        assert status == ("dead" if attempt == max_attempts else "pending")
        now = outbox_row(db, queued).next_attempt_at
    row = outbox_row(db, queued)
    assert (row.status, row.attempts) == ("dead", max_attempts)
    assert row.last_error == "HTTP 503: still down"
    assert len(httpserver.log) == max_attempts
    assert sweep(db, now=now + dt.timedelta(days=1)) == 0


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_a_permanent_client_error_goes_straight_to_dead(db, httpserver: HTTPServer, queued, status):
    httpserver.expect_request("/hook", method="POST").respond_with_data("bad payload", status=status)
    assert deliver_one(db, queued, now=T0) == "dead"
    row = outbox_row(db, queued)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == f"HTTP {status}: bad payload"


@pytest.mark.parametrize("status", [408, 409, 425, 429])
def test_a_try_later_client_error_is_retried(db, httpserver: HTTPServer, queued, status):
    httpserver.expect_request("/hook", method="POST").respond_with_data("slow down", status=status)
    assert deliver_one(db, queued, now=T0) == "pending"


def test_an_unreachable_server_is_retried(db, fixed_runtime, webhook_app):
    webhook_app["webhooks"][0]["url"] = "http://127.0.0.1:9/hook"  # discard port: nothing listens
    fixed_runtime.publish(webhook_app)
    fixed_runtime.submit("complaint", "complaint", complaint_form(webhook_app))
    (row,) = outbox_rows(db)
    assert deliver_one(db, row.id, now=T0) == "pending"
    assert outbox_row(db, row.id).last_error.startswith("ConnectError")


def test_only_one_of_two_claims_of_the_same_row_wins(db, queued):
    first = claim(db, queued, T0)
    assert first is not None and first.id == queued and first.status == "sending"
    assert first.lease_until == T0 + dt.timedelta(seconds=60)
    assert claim(db, queued, T0) is None
    assert claim(db, queued, T0 + 59 * S) is None
    assert deliver_one(db, queued, now=T0 + S) == "sending"


def test_concurrent_claims_of_one_row_have_exactly_one_winner(db, queued):
    start = threading.Barrier(8)

    def race(_: int) -> bool:
        start.wait()
        return claim(db, queued, T0) is not None

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(race, range(8))) == [False] * 7 + [True]


def test_a_row_stuck_in_sending_is_delivered_by_the_sweep_once_its_lease_expires(
    db, httpserver: HTTPServer, queued
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert claim(db, queued, T0, lease_s=60) is not None  # a worker took it, then died
    assert due_ids(db, T0 + 60 * S) == []
    assert sweep(db, now=T0 + 60 * S) == 0
    assert due_ids(db, T0 + 61 * S) == [queued]
    assert sweep(db, now=T0 + 61 * S) == 1
    row = outbox_row(db, queued)
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(httpserver.log) == 1


def test_a_row_never_dispatched_is_delivered_by_the_sweep(db, httpserver: HTTPServer, queued):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert outbox_row(db, queued).status == "pending"
    assert sweep(db, now=T0) == 1
    assert outbox_row(db, queued).status == "sent"
    assert sweep(db, now=T0 + dt.timedelta(days=1)) == 0
    assert len(httpserver.log) == 1


def test_the_sweep_delivers_more_rows_than_one_batch_oldest_first(db, httpserver: HTTPServer, queued):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    template = outbox_row(db, queued)
    with db.write() as conn:
        conn.execute(
            insert(Outbox),
            [
                {
                    "idempotency_key": f"extra:{i}",
                    "record_id": template.record_id,
                    "channel": "webhook",
                    "payload": dict(template.payload, body={"n": i}),
                    "next_attempt_at": T0,
                    "created_at": T0,
                }
                for i in range(4)
            ],
        )
    assert due_ids(db, T0, limit=3) == [queued, queued + 1, queued + 2]
    assert sweep(db, now=T0, batch=2) == 5
    assert {r.status for r in outbox_rows(db)} == {"sent"}
    keys = [req.headers["Idempotency-Key"] for req, _ in httpserver.log]
    assert keys[0] == template.idempotency_key and keys[1:] == [f"extra:{i}" for i in range(4)]


def test_a_row_for_an_unknown_channel_is_dead_with_a_clear_error(db, queued):
    with db.write() as conn:
        pigeon = conn.execute(
            insert(Outbox).returning(Outbox.id),
            {"idempotency_key": "pigeon:1", "channel": "carrier_pigeon", "payload": {},
             "next_attempt_at": T0, "created_at": T0},
        ).scalar_one()  # fmt: skip
    assert deliver_one(db, pigeon, now=T0) == "dead"
    error = error_text(outbox_row(db, pigeon).last_error, "en")
    assert error.startswith("There is no delivery channel called carrier_pigeon. The channels are: ")
    assert "webhook" in error


def test_retry_dead_brings_a_dead_row_back_and_it_then_delivers(db, httpserver: HTTPServer, queued):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("no", status=400)
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    assert deliver_one(db, queued, now=T0) == "dead"
    assert retry_dead(db, queued, now=T0 + 60 * S) is True
    row = outbox_row(db, queued)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, T0 + 60 * S)
    assert sweep(db, now=T0 + 60 * S) == 1
    assert outbox_row(db, queued).status == "sent"
    assert retry_dead(db, queued) is False


def test_retry_dead_leaves_a_row_that_is_not_dead_alone(db, queued):
    assert retry_dead(db, queued, now=T0) is False
    assert outbox_row(db, queued).status == "pending"


def test_a_rejected_submit_writes_no_outbox_row(db, fixed_runtime, webhook_app):
    with pytest.raises(FormError):
        fixed_runtime.submit("complaint", "complaint", complaint_form(webhook_app, phone="", summary=""))
    assert outbox_rows(db) == []
