"""Faults, each on a real deployment (2 gunicorn workers + 2 job workers, PostgreSQL, Redis):
afterwards nothing committed is lost, nothing is delivered twice (or only again with the same
idempotency key, where the issue allows at-least-once), the queue drains, and during the outage the
site answered with clear errors (503 + JSON message) instead of hanging.

Waits are polls with deadlines. Where a product constant sets the pace (the outbox lease of 60 s
before a crashed delivery is retried, the minute tick of the worker) the test waits for the real
mechanism; an extra ``tick`` task is queued where only the sweep's work matters, as a second
scheduler would (tests/load/run.py: Ticker).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from engine.store import Database
from tests.load import checks
from tests.load.generator import LoadGenerator, Outcome, run_load
from tests.load.harness import PrivatePostgres, PrivateRedis, Site, wait_until
from tests.load.run import Ticker

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("needs_postgresql")]

SUBMITS = {"submit": 1}
READS_AND_SUBMITS = {"submit": 3, "inbox": 1, "ticket": 1}


class Background:
    """The load generator in a thread: ``start()``, do the fault, ``join()`` for the outcome."""

    def __init__(self, site: Site, seconds: float, rate: float, mix: dict[str, int], concurrency: int = 16):
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.generator = LoadGenerator(site.base, site.tokens, rate, concurrency, mix, submit_retry_s=90)

        def work() -> None:
            try:
                self.outcome = asyncio.run(self.generator.run(seconds))
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=work, daemon=True)

    def start(self) -> Background:
        self.thread.start()
        return self

    def acknowledged(self) -> int:
        """Submits answered so far (read while the load runs)."""
        return len(self.generator.outcome.submitted)

    def retries(self) -> int:
        """Submits sent again so far because an answer was cut off."""
        return self.generator.outcome.retries

    def join(self, deadline_s: float = 180) -> Outcome:
        self.thread.join(deadline_s)
        assert not self.thread.is_alive(), "the load generator did not finish"
        assert self.error is None, self.error
        assert self.outcome is not None
        return self.outcome


def submit(site: Site, who: str = "sub0", key: str | None = None, timeout: float = 15) -> httpx.Response:
    return httpx.post(
        site.submit_url(),
        json={"summary": "fault test"},
        headers=site.headers(who, **{"Idempotency-Key": key or uuid.uuid4().hex}),
        timeout=timeout,
    )


def assert_clear_503(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["code"] and len(body["message"]) > 10, body


def drained(site: Site, db: Database, deadline_s: float, tick: Callable[[], None] | None = None) -> None:
    checks.wait_for_quiet(db, site.receiver, deadline_s, tick=tick)


# ----------------------------------------------------------------------------- kill -9 a web process
def test_a_web_process_killed_mid_request_loses_no_ticket_and_makes_none_twice(make_site) -> None:
    site = make_site()
    load = Background(site, seconds=60, rate=40, mix=SUBMITS, concurrency=24).start()
    # kill while submits are flowing: at least three times, and on until a kill has cut a request off
    # (a worker between two requests dies without one: on a fast machine a fixed number may all miss)
    for killed in range(20):
        if killed >= 3 and load.retries() > 0:
            break
        after = load.acknowledged() + 40
        wait_until(lambda n=after: load.acknowledged() >= n, 30, f"{after} submits")
        wait_until(lambda: len(site.web_children()) == 2, 30, "gunicorn to replace the killed worker")
        os.kill(site.web_children()[killed % 2], 9)
    wait_until(lambda n=load.acknowledged() + 40: load.acknowledged() >= n, 30, "submits after the last kill")
    load.generator.stop()
    outcome = load.join()

    assert outcome.retries > 0, "no request was cut off by a kill: the fault did not happen"
    assert outcome.error_count() == 0, dict(outcome.errors)
    db = Database(site.database_url)
    try:
        # every acknowledged submit is one ticket, retries with the same key made no second one
        assert checks.ticket_problems(db, outcome) == []
        drained(site, db, 60, tick=Ticker(site, 5))
        assert checks.delivery_problems(db, site.receiver) == []
    finally:
        db.dispose()


def test_a_retried_submit_after_the_answer_was_lost_returns_the_first_ticket(make_site) -> None:
    site = make_site()
    key = uuid.uuid4().hex
    first = submit(site, key=key)
    assert first.status_code == 201
    for child in site.web_children():  # every web worker dies: the client never saw a second answer
        os.kill(child, 9)
    wait_until(lambda: submit(site, key=key).status_code == 201, 30, "the replaced workers to answer")
    again = submit(site, key=key)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"


# ----------------------------------------------------------------------------- kill -9 a job worker
def test_a_worker_killed_mid_delivery_delivers_later_with_the_same_key(make_site) -> None:
    site = make_site(extra_env={"GONGDAN_OUTBOX_LEASE_S": "20"})  # the shortest lease allowed
    site.receiver.hang("/hook")  # the receiver takes the request and never answers: mid-delivery
    ticket = submit(site).json()
    key = f"webhook:audit:{ticket['id']}:1"
    wait_until(lambda: site.receiver.keys("/hook", attempts=True)[key], 30, "the delivery to start")
    site.kill("worker0")
    site.kill("worker1")
    site.receiver.release()
    site.start_worker(0)
    site.start_worker(1)

    later = submit(site).json()  # a new ticket is not held up by the row the dead worker left
    wait_until(lambda: site.receiver.keys("/hook")[f"webhook:audit:{later['id']}:1"], 30, "a fresh delivery")
    db = Database(site.database_url)
    try:  # the row stays leased for 20 s (GONGDAN_OUTBOX_LEASE_S), then the sweep sends it again
        drained(site, db, 90, tick=Ticker(site, 5))
        assert checks.delivery_problems(db, site.receiver, at_least_once=True) == []
    finally:
        db.dispose()
    tries = site.receiver.keys("/hook", attempts=True)[key]
    assert tries >= 2 and site.receiver.keys("/hook")[key] == 1  # tried again, acknowledged once


# ----------------------------------------------------------------------------- restart PostgreSQL
def test_a_postgresql_restart_during_load_answers_503_and_loses_nothing(
    make_site, private_pg: PrivatePostgres
) -> None:
    site = make_site(private_pg.url)
    load = Background(site, seconds=15, rate=20, mix=READS_AND_SUBMITS).start()
    wait_until(lambda: submit(site).status_code == 201, 15, "a submit before the outage")
    private_pg.stop()
    try:
        outage_read = httpx.get(f"{site.base}/api/v1/inbox/queue", headers=site.headers("agent0"), timeout=15)
        outage_submit = submit(site)
        health = httpx.get(f"{site.base}/healthz", timeout=15)
    finally:
        private_pg.start()
    assert_clear_503(outage_read)
    assert_clear_503(outage_submit)
    assert health.status_code == 503
    outcome = load.join()

    # reads during the outage may have been refused, always with a clear 503, never a hang or a 500
    unclear = [e for errs in outcome.errors.values() for e in errs if "-> 503" not in e]
    assert unclear == []
    assert outcome.errors.get("submit") is None  # submits were retried with their keys until accepted
    db = Database(site.database_url)
    try:
        assert checks.ticket_problems(db, outcome) == [] or _only_probe_tickets(db, outcome)
        drained(site, db, 150, tick=Ticker(site, 5))
        assert checks.delivery_problems(db, site.receiver, at_least_once=True) == []
        assert checks.sla_problems(db, site.receiver, at_least_once=True) == []
    finally:
        db.dispose()


def _only_probe_tickets(db: Database, outcome: Outcome) -> bool:
    """The test's own probe submits are tickets the generator did not make: the only allowed extra."""
    problems = checks.ticket_problems(db, outcome)
    return all("nobody acknowledged" in p for p in problems)


# ----------------------------------------------------------------------------- stop Redis
def test_redis_stopped_for_thirty_seconds_the_site_works_and_the_queue_drains_after(
    make_site, redis: PrivateRedis
) -> None:
    site = make_site()
    outage = float(os.environ.get("FAULT_REDIS_OUTAGE_S", "30"))
    before = submit(site).json()
    wait_until(lambda: site.receiver.keys("/hook")[f"webhook:audit:{before['id']}:1"], 30, "a delivery")
    redis.stop()
    started = time.monotonic()
    outcome = run_load(site.base, site.tokens, outage, rate=5, mix=READS_AND_SUBMITS, concurrency=4)
    assert time.monotonic() - started < outage + 30  # nothing waited on the missing queue
    redis.start()
    assert outcome.error_count() == 0, dict(outcome.errors)  # the site answered all along
    assert site.procs["worker0"].poll() is None and site.procs["worker1"].poll() is None

    after = submit(site).json()  # the workers consume new work again without a restart
    wait_until(lambda: site.receiver.keys("/hook")[f"webhook:audit:{after['id']}:1"], 30, "a new delivery")
    db = Database(site.database_url)
    try:  # what was committed during the outage is found by the workers' own minute tick (sweep)
        drained(site, db, 90)
        assert checks.delivery_problems(db, site.receiver) == []
        assert checks.sla_problems(db, site.receiver) == []
        assert _only_probe_tickets(db, outcome)
    finally:
        db.dispose()


# ----------------------------------------------------------------------------- a receiver that hangs
def test_a_hanging_receiver_times_out_without_blocking_other_deliveries(make_site) -> None:
    site = make_site()
    site.receiver.hang("/sla")  # SLA escalations go to a receiver that never answers
    stuck = [submit(site).json() for _ in range(3)]
    db = Database(site.database_url)
    try:
        with Ticker(site, 5):
            wait_until(lambda: len(site.receiver.keys("/sla", attempts=True)) >= 3, 60, "the hung calls")
            fresh = [submit(site).json() for _ in range(5)]
            for t in fresh:  # the webhook of new tickets still arrives while the other one hangs
                key = f"webhook:audit:{t['id']}:1"
                wait_until(lambda k=key: site.receiver.keys("/hook")[k], 30, "a delivery beside the hung one")
            assert all(httpx.get(f"{site.base}/healthz", timeout=5).is_success for _ in range(3))
            site.receiver.release()
            drained(site, db, 120, tick=Ticker(site, 5))
        assert checks.delivery_problems(db, site.receiver) == []
        assert checks.sla_problems(db, site.receiver) == []  # acknowledged exactly once each
        assert {d.body["ticket"]["id"] for d in site.receiver.deliveries if d.path == "/sla"} >= {
            t["id"] for t in stuck
        }
    finally:
        db.dispose()
