"""The job queue on huey: SQLite storage beside the database by default, Redis when REDIS_URL is set.

Three tasks: ``deliver(outbox_ids)``, enqueued by the Runtime after commit; ``import_job(job_id,
token)``, enqueued by the import API for a sheet's check and for its run (engine/ticket_import.py);
and ``tick()``, every minute, which runs each of ``TICK_HANDLERS`` (the outbox sweep first; SLA timers
and cron rules register there too), then hands import jobs whose worker fell silent to a new
``import_job``. Losing a ``deliver`` message costs nothing but a minute: the sweep finds the row;
losing an ``import_job`` message (or its worker) costs ``STALE_RUN``: the tick finds the job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from huey import Huey, RedisHuey, SqliteHuey, crontab

from engine.config import Settings
from engine.jobs.outbox import deliver_one, sweep
from engine.store.db import Database
from engine.store.types import utcnow

log = logging.getLogger("gongdan.jobs")

TickHandler = Callable[[Database, dt.datetime], object]


def fire_timers(db: Database, now: dt.datetime) -> int:
    """Fire every flow timer due by ``now`` — timer nodes, SLA levels, reminders — oldest first."""
    from engine.runtime import Runtime

    return Runtime.for_database(db).fire_due_timers(now)


def fire_schedules(db: Database, now: dt.datetime) -> int:
    """Run the scheduled (cron) rules that are due, each once."""
    from engine.runtime import Runtime

    return Runtime.for_database(db).fire_due_schedules(now)


#: Called by the minute tick, in order, each with ``(db, now)``; one failing does not stop the rest.
#: Timers first, so the notifications they queue go out in the same tick's sweep.
TICK_HANDLERS: list[TickHandler] = [fire_timers, fire_schedules, sweep]


def tick_handler(fn: TickHandler) -> TickHandler:
    """Register ``fn(db, now)`` to run on every tick of the worker."""
    TICK_HANDLERS.append(fn)
    return fn


def make_huey(settings: Settings, immediate: bool = False, name: str = "gongdan") -> Huey:
    """Redis when ``settings.redis_url`` is set, else a SQLite file ``queue.db`` in the home folder."""
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, results=False, immediate=immediate)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.home / "queue.db"), results=False, immediate=immediate)


class JobQueue:
    """Huey plus the database its tasks work on; ``dispatch`` is what ``Runtime(dispatch=...)`` takes.

    In immediate mode (tests, single-process demos) huey runs each task in the caller's thread, so
    ``dispatch`` delivers before it returns.
    """

    def __init__(self, huey: Huey, db: Database):
        self.huey = huey
        self.db = db
        self.deliver = huey.task(name="deliver")(self._deliver)
        self.import_job = huey.task(name="import_job")(self._import_job)
        self.tick = huey.periodic_task(crontab(minute="*"), name="tick")(self.run_tick)

    @classmethod
    def from_settings(cls, settings: Settings, immediate: bool = False) -> JobQueue:
        return cls(make_huey(settings, immediate=immediate), Database(settings.database_url))

    def dispatch(self, outbox_ids: Iterable[int]) -> None:
        """Hand freshly committed outbox rows to a worker (or deliver them now, in immediate mode)."""
        self.deliver(list(outbox_ids))

    def _deliver(self, outbox_ids: list[int]) -> None:
        for outbox_id in outbox_ids:
            deliver_one(self.db, outbox_id)

    def _import_job(self, job_id: int, token: str) -> None:
        from engine.runtime import Runtime
        from engine.ticket_import import work

        work(Runtime.for_database(self.db), job_id, token)

    def resume_imports(self, db: Database, now: dt.datetime) -> int:
        """Queue again, each under a new claim, the import jobs whose worker fell silent (killed,
        recycled, or its message lost): a check starts over, a run goes on after ``done_rows``."""
        from engine.ticket_import import claim_stale

        claimed = claim_stale(db, now)
        for job_id, token in claimed:
            self.import_job(job_id, token)
        return len(claimed)

    def run_tick(self, now: dt.datetime | None = None) -> None:
        """Run every tick handler once at ``now``, then resume the import jobs left behind (last: in
        immediate mode the resumed work runs here)."""
        now = now or utcnow()
        for handler in (*TICK_HANDLERS, self.resume_imports):
            try:
                handler(self.db, now)
            except Exception:
                log.exception("tick handler %s failed", getattr(handler, "__name__", handler))


def run_worker(settings: Settings, workers: int = 2) -> None:
    """``gongdan worker``: consume queued tasks and fire the minute tick until interrupted."""
    from engine.observability import configure_logging

    if settings.log_format == "json" or not logging.getLogger().handlers:
        configure_logging(settings.log_format)  # GONGDAN_LOG_FORMAT=json: one JSON object a line
    queue = JobQueue.from_settings(settings)
    consumer = queue.huey.create_consumer(workers=workers, periodic=True, worker_type="thread")
    try:
        consumer.run()
    finally:
        queue.db.dispose()
