"""Background work: outbox delivery with retries and the minute tick, on huey (SQLite or Redis)."""

from engine.jobs import mailin
from engine.jobs.channels import CHANNELS, DeliveryError, channel
from engine.jobs.outbox import claim, deliver_one, due_ids, retry_dead, sweep
from engine.jobs.queue import TICK_HANDLERS, JobQueue, make_huey, run_worker, tick_handler

__all__ = [
    "CHANNELS",
    "TICK_HANDLERS",
    "DeliveryError",
    "JobQueue",
    "channel",
    "claim",
    "deliver_one",
    "due_ids",
    "mailin",
    "make_huey",
    "retry_dead",
    "run_worker",
    "sweep",
    "tick_handler",
]
