"""How engines react inside a command: a registry of reactors called with the command's events.

The Runtime calls every reactor after the record, flow moves and events of a command are known
and before commit. A reactor may queue outbox rows (external effects) — never call out itself.
The rule engine registers here; so do outgoing webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy import Connection

    from engine.specs import AppSpec


@dataclass(frozen=True)
class EmittedEvent:
    seq: int
    type: str
    payload: dict[str, Any]


@dataclass
class OutboxItem:
    channel: str
    payload: dict[str, Any]
    idempotency_key: str


@dataclass
class CommandContext:
    """What one command did, as seen by reactors."""

    conn: Connection
    spec: AppSpec
    record_id: int
    number: str
    ticket_type: str
    data: dict[str, Any]
    actor_id: int | None
    at: dt.datetime
    events: list[EmittedEvent]
    outbox: list[OutboxItem] = field(default_factory=list)
    app_id: int | None = None

    def queue(self, channel: str, payload: dict[str, Any], idempotency_key: str) -> None:
        self.outbox.append(OutboxItem(channel, payload, idempotency_key))


#: Delivery tries before an outbox row is dead: with backoff 10 s doubling to 1 h, about six hours.
OUTBOX_MAX_ATTEMPTS = 14

Reactor = Callable[[CommandContext], None]
REACTORS: list[Reactor] = []


def reactor(fn: Reactor) -> Reactor:
    REACTORS.append(fn)
    return fn
