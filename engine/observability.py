"""Metrics and structured logs for operators (docs/deploy.md): Prometheus text and JSON lines.

Two kinds of figures:

* counted in the process — HTTP requests (by route pattern and status, with a latency histogram),
  Runtime command latency, rule errors. With ``PROMETHEUS_MULTIPROC_DIR`` set (before the process
  starts; gunicorn workers and ``gongdan worker`` on one machine share the folder) every process
  writes its figures there and any of them answers for all;
* read from the database at scrape time — outbox depth and lag, due SLA timers — so they are the
  same whichever process answers and need no multi-process bookkeeping.

Logs: ``GONGDAN_LOG_FORMAT=json`` makes every log line one JSON object (time, level, logger,
message and the request fields the web layer adds). Messages pass through
:func:`engine.config.redact`, so URLs with credentials never reach a log as written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from engine.config import redact
from engine.reactions import CommandContext, reactor
from engine.store.models import Outbox, Timer
from engine.store.types import utcnow

OB, TM = Outbox.__table__, Timer.__table__
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "gongdan_http_requests", "HTTP requests answered, by route pattern and status.",
    ["method", "endpoint", "status"],
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "gongdan_http_request_duration_seconds", "Time to answer a request, by route pattern.",
    ["method", "endpoint"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
COMMAND_LATENCY = Histogram(
    "gongdan_command_duration_seconds", "Runtime commands (submit, act, timers ...), one transaction each.",
    ["command", "outcome"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
RULE_ERRORS = Counter(
    "gongdan_rule_errors", "Rules whose condition failed to evaluate (a rule_failed event), by app.", ["app"]
)


@contextmanager
def timed_command(name: str) -> Iterator[None]:
    """Count one Runtime command and how long it took (``outcome`` ok or error)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        COMMAND_LATENCY.labels(name, outcome).observe(time.perf_counter() - started)


@reactor
def count_rule_errors(cmd: CommandContext) -> None:
    """Every ``rule_failed`` event a command appends counts as one rule error of its app."""
    failed = sum(1 for e in cmd.events if e.type == "rule_failed")
    if failed:
        RULE_ERRORS.labels(cmd.spec.key).inc(failed)


def observe_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    HTTP_LATENCY.labels(method, endpoint).observe(seconds)


# ----------------------------------------------------------------------------- read at scrape time
class QueueCollector:
    """Figures of the shared queues, read from the database when scraped."""

    def __init__(self, db: Any, now: dt.datetime | None = None):
        self.db = db
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.now or utcnow()
        with self.db.read() as conn:
            by_status = dict(conn.execute(select(OB.c.status, func.count()).group_by(OB.c.status)).all())
            oldest = conn.execute(
                select(func.min(OB.c.next_attempt_at)).where(
                    OB.c.status == "pending", OB.c.next_attempt_at <= now
                )
            ).scalar()
            due = dict(
                conn.execute(
                    select(TM.c.kind, func.count())
                    .where(TM.c.status == "pending", TM.c.due_at <= now)
                    .group_by(TM.c.kind)
                ).all()
            )
        depth = GaugeMetricFamily("gongdan_outbox_rows", "Outbox rows by status.", labels=["status"])
        for status in ("pending", "sending", "sent", "dead"):
            depth.add_metric([status], by_status.get(status, 0))
        yield depth
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "gongdan_outbox_lag_seconds",
            "Age of the oldest outbox row due and not yet sent.",
            value=max(lag, 0.0),
        )
        timers = GaugeMetricFamily(
            "gongdan_timers_due",
            "Pending timers whose moment has passed (the worker is behind).",
            labels=["kind"],
        )
        for kind in sorted({"sla", "node", "reminder", "overdue", *due}):
            timers.add_metric([kind], due.get(kind, 0))
        yield timers
        yield GaugeMetricFamily(
            "gongdan_sla_timers_due", "SLA escalation timers due and not yet fired.", value=due.get("sla", 0)
        )


def render_metrics(db: Any) -> tuple[bytes, str]:
    """The Prometheus text of this process (or of all processes sharing the multi-process folder)
    followed by the queue figures read from ``db``; (body, content type)."""
    from prometheus_client import REGISTRY

    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    queues = CollectorRegistry()
    queues.register(QueueCollector(db))
    return generate_latest(counted) + generate_latest(queues), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges from the multi-process folder."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# ----------------------------------------------------------------------------- readiness
def _schema_head() -> str:
    from alembic.script import ScriptDirectory

    from engine.store.migrate import alembic_config

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def readiness(db: Any, huey: Any, lang: str | None = None) -> dict[str, Any]:
    """Whether this process can do its work: the database answers, its schema is at the head the code
    expects, the job queue answers. ``{"ready": bool, "checks": {name: {"ok": …, "message": …}}}``;
    a failing check says what is wrong and what to do, never a secret (only error type names)."""
    from alembic.runtime.migration import MigrationContext

    import engine.ops_messages  # noqa: F401  (the ops.* messages)
    from engine.i18n import t

    checks: dict[str, dict[str, Any]] = {}
    head = _schema_head()
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        checks["database"] = {"ok": True, "dialect": db.dialect}
        ok = current == head
        checks["migrations"] = {"ok": ok, "current": current, "head": head}
        if not ok:
            message = t("ops.ready.migrations", lang, current=current or "-", head=head)
            checks["migrations"]["message"] = message
    except Exception as exc:  # any failure means "not reachable"; the type says which
        error = type(exc).__name__
        message = t("ops.ready.database", lang, error=error)
        checks["database"] = {"ok": False, "error": error, "message": message}
        checks["migrations"] = {"ok": False, "head": head}
    try:
        pending = huey.storage.queue_size()
        checks["queue"] = {"ok": True, "kind": type(huey).__name__, "pending": pending}
    except Exception as exc:
        error = type(exc).__name__
        checks["queue"] = {"ok": False, "error": error, "message": t("ops.ready.queue", lang, error=error)}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}


# ----------------------------------------------------------------------------- logs
#: Attributes of every LogRecord; anything else on a record was passed as ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Log to stderr as ``json`` or ``text``; once per process (later calls change the format only)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_gongdan", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._gongdan = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)


__all__ = [
    "COMMAND_LATENCY",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "RULE_ERRORS",
    "JsonFormatter",
    "QueueCollector",
    "configure_logging",
    "mark_process_dead",
    "observe_request",
    "readiness",
    "render_metrics",
    "timed_command",
]
