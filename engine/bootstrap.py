"""Wiring: settings → database → job queue → Runtime. Used by the CLI and the web app factory."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import Settings, load_settings
from engine.jobs.queue import JobQueue, make_huey
from engine.runtime import Runtime
from engine.store import Database


@dataclass
class Platform:
    settings: Settings
    db: Database
    queue: JobQueue
    runtime: Runtime

    def close(self) -> None:
        self.db.dispose()


def open_platform(settings: Settings | None = None, immediate: bool = False) -> Platform:
    """Everything a process needs; ``immediate`` delivers outbox rows in-process (tests, demos)."""
    settings = settings or load_settings()
    db = Database(settings.database_url)
    queue = JobQueue(make_huey(settings, immediate=immediate), db)
    return Platform(settings, db, queue, Runtime(db, dispatch=queue.dispatch))
