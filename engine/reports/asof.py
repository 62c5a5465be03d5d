"""A ticket as it was at any moment, replayed from its events (the events are the truth).

Fields come from the ``created`` data and every ``field_changed`` (and version renames); the stage
from the flow's tokens (``stage_entered``/``stage_left``, the way the Runtime picks its stage);
owners from the tasks open then; SLA clocks from the ``sla_*`` events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from engine.errors import NotFoundError
from engine.store.models import Event, Record

E, R = Event.__table__, Record.__table__
#: Node types a person works at: the Runtime's stage is the first token at one of these.
PEOPLE = frozenset({"task", "approval"})
#: Node types that hold a token while the ticket waits there.
HOLDING = frozenset({"task", "approval", "timer", "subprocess", "join"})
_STATUS = {"closed": "closed", "ticket_closed": "closed", "ticket_cancelled": "cancelled", "reopened": "open"}
_SLA = {"sla_started": "running", "sla_resumed": "running", "sla_paused": "paused", "sla_met": "met",
        "sla_closed_late": "met"}  # fmt: skip


@dataclass
class TicketAsOf:
    id: int
    number: str
    at: dt.datetime
    data: dict[str, Any]
    stage: str | None
    status: str
    owners: list[int]  # assignees of the tasks open at that moment
    sla: dict[str, dict[str, Any]]  # "node.target" -> {"status", "breached"}
    seq: int  # the last event applied
    tokens: list[str] = field(default_factory=list)


def ticket_as_of(source: Any, record_id: int, moment: dt.datetime) -> TicketAsOf:
    """The ticket ``record_id`` as it stood at ``moment`` (after every event at or before it).

    ``source`` is a Database or an open Connection. Raises NotFoundError when the ticket did not
    exist yet at ``moment``.
    """
    if isinstance(source, Connection):
        return _as_of(source, record_id, moment)
    with source.read() as conn:
        return _as_of(conn, record_id, moment)


def _as_of(conn: Connection, record_id: int, moment: dt.datetime) -> TicketAsOf:
    rec = conn.execute(select(R.c.number).where(R.c.id == record_id)).first()
    rows = conn.execute(
        select(E.c.seq, E.c.type, E.c.payload)
        .where(E.c.record_id == record_id, E.c.at <= moment)
        .order_by(E.c.seq)
    ).all()
    if rec is None or not rows or rows[0].type != "created":
        raise NotFoundError(what="ticket", ident=f"{record_id}@{moment.isoformat()}")
    state = TicketAsOf(record_id, rec.number, moment, {}, None, "open", [], {}, 0)
    tokens: list[tuple[str, str]] = []  # (node, type) in the order the flow holds them
    tasks: dict[Any, int | None] = {}
    for seq, kind, payload in rows:
        state.seq = seq
        _apply(state, tokens, tasks, kind, payload)
    state.tokens = [n for n, _ in tokens]
    people = next((n for n, kind in tokens if kind in PEOPLE), None)
    state.stage = (people or (tokens[0][0] if tokens else None)) if state.status == "open" else None
    state.owners = sorted({u for u in tasks.values() if u is not None})
    return state


def _apply(
    state: TicketAsOf,
    tokens: list[tuple[str, str]],
    tasks: dict[Any, int | None],
    kind: str,
    p: dict[str, Any],
) -> None:
    if kind == "created":
        state.data = dict(p.get("data") or {})
    elif kind == "field_changed":
        state.data[p["field"]] = p.get("new")
    elif kind == "version_changed":
        for old, new in (p.get("renamed") or {}).items():
            if old in state.data:
                state.data[new] = state.data.pop(old)
        for key in p.get("dropped") or ():
            state.data.pop(key, None)
    elif kind == "stage_entered":
        origin = p.get("from")
        if origin is not None and any(n == origin and t == "join" for n, t in tokens):
            tokens[:] = [(n, t) for n, t in tokens if n != origin]  # the join let its tokens go on
        if p.get("type") in HOLDING:
            tokens.append((p["node"], p["type"]))
    elif kind == "stage_left":
        for i, (node, _type) in enumerate(tokens):
            if node == p.get("node"):
                del tokens[i]
                break
    elif kind == "withdrawn" and not tokens:
        tokens.append((p["to"], "task"))  # a withdrawn submission waits at the start as a draft
    elif kind in _STATUS:
        state.status = _STATUS[kind]
    elif kind == "task_created" or kind in ("task_claimed",):
        tasks[p.get("task")] = p.get("assignee")
    elif kind in ("task_transferred", "task_delegated", "task_reassigned"):
        tasks[p.get("task")] = p.get("to")
    elif kind == "task_released":
        tasks[p.get("task")] = None
    elif kind in ("task_completed", "task_cancelled"):
        tasks.pop(p.get("task"), None)
    elif kind.startswith("sla_"):
        clock = state.sla.setdefault(
            f"{p.get('node')}.{p.get('target')}", {"status": "running", "breached": False}
        )
        if kind in _SLA:
            clock["status"] = _SLA[kind]
        if kind in ("sla_breached", "sla_escalated", "sla_closed_late"):
            clock["breached"] = True


__all__ = ["TicketAsOf", "ticket_as_of"]
