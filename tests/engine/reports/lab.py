"""The report lab app driven through the Runtime with a clock the test moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import engine.reports  # noqa: F401  (the metrics reactor; the Runtime imports it once wired)
from engine.people import create_user
from engine.reports.run import Reports
from engine.runtime import Runtime
from tests.support import give_role

LAB = Path(__file__).resolve().parent / "reportlab.yaml"
APPS = Path(__file__).resolve().parents[3] / "app_definitions"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # a Tuesday


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class Lab:
    """The lab app published, its people made, and helpers to move tickets."""

    def __init__(self, db, clock: Clock):
        self.db, self.clock = db, clock
        self.runtime = Runtime(db, clock=clock)
        self.runtime.publish(LAB)
        self.people = {n: create_user(db, n) for n in ("cus", "ann", "ben", "lee")}
        give_role(db, self.people["ann"], "reportlab", "agent")
        give_role(db, self.people["ben"], "reportlab", "agent")
        give_role(db, self.people["lee"], "reportlab", "lead")
        self.reports = Reports(self.runtime)

    def submit(self, **data):
        data.setdefault("title", "printer")
        return self.runtime.submit("reportlab", "case", data, actor=self.people["cus"])

    def task(self, ticket_id: int, node: str | None = None) -> int:
        tasks = [t for t in self.runtime.tasks(ticket_id) if node is None or t["node_id"] == node]
        assert len(tasks) == 1, tasks
        return tasks[0]["id"]

    def run(self, report, **kw):
        return self.reports.run("reportlab", "case", report, **kw)
