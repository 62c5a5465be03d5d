"""The short version of `make loadtest`, inside `make test`: 20 s of mixed load against 2 web and
2 job workers on PostgreSQL + Redis, then every effect checked. No timing assertions: the figures
are printed (see `pytest -s`), the test asserts zero errors and zero lost or duplicated effects."""

from __future__ import annotations

import os

import pytest

from tests.conftest import pg_unavailable_reason
from tests.load.run import run

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _needs_postgresql() -> None:
    reason = pg_unavailable_reason()
    if reason:
        if os.environ.get("GONGDAN_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def test_twenty_seconds_of_mixed_load_lose_and_repeat_nothing() -> None:
    report = run(seconds=float(os.environ.get("LOAD_SMOKE_S", "20")), rate=40, concurrency=16, drain_s=40)
    print("\n" + report.text())
    outcome = report.outcome
    assert outcome.error_count() == 0, dict(outcome.errors)
    assert report.problems == [], report.text() + "\n" + report.logs[-4000:]
    # the run did what a load test is for: tickets through every endpoint, webhooks and SLA breaches
    assert len(outcome.submitted) > 50 and outcome.completed
    assert {"submit", "inbox", "ticket", "complete", "report"} <= set(outcome.latencies)
    assert report.breaches > 0 and report.deliveries > len(outcome.submitted)
