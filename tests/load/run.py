"""One load run end to end: servers up, load, drain, checks, figures.

Used by ``make loadtest`` (``python -m tests.load``, 10 minutes by default) and by the short
in-suite test (tests/load/test_load.py). Besides the workers' own minute tick, an extra ``tick``
task is queued every ``tick_every`` seconds (as a second scheduler would), so that SLA timers of a
short run fire within it and two workers tick at the same time — the case where a timer could fire
twice.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.store import Database
from tests.load import checks
from tests.load.generator import Outcome, run_load
from tests.load.harness import PrivateRedis, running_site, throwaway_pg_database


@dataclass
class Report:
    outcome: Outcome
    problems: list[str] = field(default_factory=list)
    breaches: int = 0
    deliveries: int = 0
    logs: str = ""

    def text(self) -> str:
        done = self.outcome
        lines = [
            done.table(),
            f"webhook deliveries received: {self.deliveries}; SLA breaches fired: {self.breaches}",
            f"tickets acknowledged: {len(done.submitted)}, completed: {len(done.completed)}",
        ]
        if self.problems:
            lines.append(f"{len(self.problems)} PROBLEMS:")
            lines += [f"  - {p}" for p in self.problems[:50]]
        else:
            lines.append(
                "checks: every ticket present with its events, every webhook once, every SLA timer once"
            )
        return "\n".join(lines)


class Ticker:
    """Queues an extra ``tick`` at most every ``every`` seconds when called (or from its thread)."""

    def __init__(self, site: Any, every: float):
        self.site, self.every, self.last = site, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            with contextlib.suppress(Exception):  # Redis may be down in a fault test
                self.site.enqueue_tick()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self()

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def run(
    seconds: float,
    rate: float,
    concurrency: int = 32,
    tick_every: float = 5.0,
    drain_s: float = 180.0,
    mix: dict[str, int] | None = None,
) -> Report:
    workdir = Path(tempfile.mkdtemp(prefix="gongdan-load-"))
    redis = PrivateRedis(workdir)
    redis.start()
    try:
        with throwaway_pg_database() as url, running_site(url, redis.url, workdir=workdir) as site:
            with Ticker(site, tick_every) as ticker:
                outcome = run_load(site.base, site.tokens, seconds, rate, concurrency=concurrency, mix=mix)
                db = Database(url)
                try:
                    report = Report(outcome)
                    try:
                        checks.wait_for_quiet(db, site.receiver, drain_s, tick=ticker)
                    except AssertionError as exc:
                        report.problems.append(str(exc))
                    report.problems += checks.ticket_problems(db, outcome)
                    report.problems += checks.delivery_problems(db, site.receiver)
                    report.problems += checks.sla_problems(db, site.receiver)
                    report.breaches = checks.breach_count(db)
                    report.deliveries = len(site.receiver.deliveries)
                finally:
                    db.dispose()
            report.logs = site.logs()
            return report
    finally:
        redis.stop()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
