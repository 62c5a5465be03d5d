"""SLA clocks: response and resolution targets of a node, counted on a business calendar.

A clock starts when a node with ``sla`` is entered, stops as *met* when the target is reached
(response: the first claim, comment or action; resolution: the node is completed) and *pauses*
while the ticket waits in a stage marked ``sla_paused`` (e.g. on the customer), resuming with the
time that was left. Each escalation level (``flow.escalation``: at 80 %, 100 %, 150 % …) is a
timer row; the worker's tick fires it once, as an event the rule engine sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update

from engine.calendars import Calendar, calendar
from engine.definitions.model import NodeDef
from engine.store import fast
from engine.store.models import SlaClock, Timer

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

SC, TM = SlaClock.__table__, Timer.__table__
TARGETS = ("response", "resolution")
DEFAULT_CALENDAR = "24x7"

# Statements on the hot path, built once.
PAUSED_CLOCKS = select(SC.c.id).where(
    SC.c.record_id == bindparam("record_id"), SC.c.node_id == bindparam("node_id"), SC.c.status == "paused"
)
INSERT_CLOCK = insert(SC).returning(SC.c.id)
CLOCK = select(SC).where(SC.c.id == bindparam("clock_id"))
_CLOCKS = select(SC).where(SC.c.record_id == bindparam("record_id"), SC.c.status == bindparam("status"))
#: A ticket's clocks in a status: all, of a node, or of a node and target (in the order of _clocks).
CLOCKS = {
    (False, False): _CLOCKS,
    (True, False): _CLOCKS.where(SC.c.node_id == bindparam("node_id")),
    (True, True): _CLOCKS.where(SC.c.node_id == bindparam("node_id"), SC.c.target == bindparam("target")),
    (False, True): _CLOCKS.where(SC.c.target == bindparam("target")),
}


def calendar_of(work: FlowWork, node: NodeDef | None) -> Calendar:
    sla = (node.get("sla") if node is not None else None) or {}
    key = sla.get("calendar") or work.spec.app.settings.get("calendar") or DEFAULT_CALENDAR
    return calendar(str(key))


def hours_for(work: FlowWork, cal: Calendar, duration: Any, by: str | None) -> float | None:
    """Working hours of a duration, or of a per-option map picked by the ``by`` field's value."""
    if isinstance(duration, Mapping):
        choice = work.ticket.data.get(by or "priority")
        duration = duration.get(str(choice)) if choice is not None else None
        if duration is None:
            return None
    return cal.hours_of(str(duration))


def due_after(work: FlowWork, node: NodeDef | None, duration: Any, start: dt.datetime) -> dt.datetime:
    cal = calendar_of(work, node)
    hours = hours_for(work, cal, duration, ((node.get("sla") if node else None) or {}).get("by"))
    return cal.add(start, hours or 0.0)


def _levels(work: FlowWork) -> list[int]:
    levels = {int(str(step["at"]).rstrip("%")) for step in work.tspec.flow.definition.escalation}
    return sorted(levels | {100})


def enter(work: FlowWork, node: NodeDef) -> None:
    """Start the node's clocks, or resume the ones a paused stage stopped."""
    targets = node.get("sla") or {}
    if not targets:
        return
    resumed: list[int] = []
    if not work.fresh or work.sla_paused:  # a fresh ticket has only the clocks this command started
        resumed = list(
            work.conn.execute(
                PAUSED_CLOCKS, {"record_id": work.ticket.record_id, "node_id": node.id}
            ).scalars()
        )
    if resumed:
        for clock_id in resumed:
            _run(work, clock_id)
        return
    cal = calendar_of(work, node)
    for target in TARGETS:
        if target not in targets:
            continue
        hours = hours_for(work, cal, targets[target], targets.get("by"))
        if hours is None:
            continue
        clock = {
            "record_id": work.ticket.record_id,
            "node_id": node.id,
            "target": target,
            "calendar": cal.key,
            "budget_s": hours * 3600,
            "used_s": 0.0,
            "running_since": work.now,
            "due_at": cal.add(work.now, hours),
            "status": "running",
            "breached": False,
            "levels": [],
            "started_at": work.now,
        }
        clock_id = fast.scalar(work.conn, INSERT_CLOCK, clock)
        work.events.append(
            (
                "sla_started",
                {"node": node.id, "target": target, "hours": round(hours, 4), "calendar": cal.key},
            )
        )
        _schedule(work, SimpleNamespace(id=clock_id, **clock))  # as written: no need to read it back


def _schedule(work: FlowWork, clock: Any) -> None:
    """The escalation timers of a running ``clock`` (a row, or its values as just written)."""
    cal = calendar(clock.calendar)
    timers = []
    for level in _levels(work):
        if level in clock.levels:
            continue
        left_s = clock.budget_s * level / 100 - clock.used_s
        due = cal.add(clock.running_since, max(left_s, 0.0) / 3600)
        timers.append(
            ("sla", clock.node_id, due, {"level": level, "target": clock.target}, {"clock_id": clock.id})
        )
    work.add_timers(timers)


def _cancel_timers(work: FlowWork, clock_id: int) -> None:
    work.conn.execute(
        update(TM).where(TM.c.clock_id == clock_id, TM.c.status == "pending").values(status="cancelled")
    )


def _used(clock: Any, now: dt.datetime) -> float:
    if clock.running_since is None:
        return clock.used_s
    return clock.used_s + calendar(clock.calendar).hours_between(clock.running_since, now) * 3600


def _stop(work: FlowWork, clock: Any, status: str) -> None:
    used = _used(clock, work.now)
    values: dict[str, Any] = {"used_s": used, "running_since": None, "status": status}
    if status == "met":
        values["ended_at"] = work.now
    work.conn.execute(update(SC).where(SC.c.id == clock.id).values(**values))
    _cancel_timers(work, clock.id)
    if status == "met":
        work.events.append(
            ("sla_met" if not clock.breached else "sla_closed_late",
             {"node": clock.node_id, "target": clock.target, "used_hours": round(used / 3600, 4)})
        )  # fmt: skip
    else:
        work.sla_paused = True
        work.events.append(("sla_paused", {"node": clock.node_id, "target": clock.target}))


def _run(work: FlowWork, clock_id: int) -> None:
    clock = work.conn.execute(CLOCK, {"clock_id": clock_id}).one()
    cal = calendar(clock.calendar)
    due = cal.add(work.now, max(clock.budget_s - clock.used_s, 0.0) / 3600)
    work.conn.execute(
        update(SC).where(SC.c.id == clock_id).values(status="running", running_since=work.now, due_at=due)
    )
    work.events.append(("sla_resumed", {"node": clock.node_id, "target": clock.target}))
    _schedule(work, SimpleNamespace(**{**clock._mapping, "status": "running", "running_since": work.now}))


def _clocks(work: FlowWork, status: str, node_id: str | None = None, target: str | None = None) -> list[Any]:
    q = CLOCKS[(node_id is not None, target is not None)]
    params = {"record_id": work.ticket.record_id, "status": status, "node_id": node_id, "target": target}
    return list(work.conn.execute(q, params))


def leave(work: FlowWork, node_id: str, pause: bool) -> None:
    """A token left ``node_id``: its running clocks are met — or paused, when it went to wait."""
    if not work.tspec.flow.nodes[node_id].get("sla"):
        return
    for clock in _clocks(work, "running", node_id):
        _stop(work, clock, "paused" if pause else "met")


def settle(work: FlowWork, paused: bool) -> None:
    """While the ticket waits in a paused stage, every other running clock stands still."""
    if not paused:
        return
    flow = work.tspec.flow
    for clock in _clocks(work, "running"):
        if not flow.nodes.get(clock.node_id) or not flow.nodes[clock.node_id].get("sla_paused"):
            _stop(work, clock, "paused")


def responded(work: FlowWork, node_id: str) -> None:
    """Someone responded at ``node_id`` (claimed, commented or acted): its response target is met."""
    node = work.tspec.flow.nodes.get(node_id)
    if node is None or "response" not in (node.get("sla") or {}):
        return
    for clock in _clocks(work, "running", node_id, "response"):
        _stop(work, clock, "met")


def close_all(work: FlowWork) -> None:
    for status in ("running", "paused"):
        for clock in _clocks(work, status):
            _stop(work, clock, "met")


def fire(work: FlowWork, timer: Any) -> None:
    """An escalation level of a running clock is due: record it once and run its actions."""
    from engine.rules.actions import run_actions

    clock = work.conn.execute(select(SC).where(SC.c.id == timer.clock_id)).first()
    level = int(timer.payload["level"])
    if clock is None or clock.status != "running" or level in clock.levels:
        return
    values: dict[str, Any] = {"levels": [*clock.levels, level]}
    if level >= 100:
        values["breached"] = True
    work.conn.execute(update(SC).where(SC.c.id == clock.id).values(**values))
    kind = "sla_warning" if level < 100 else ("sla_breached" if level == 100 else "sla_escalated")
    origin = {"node": clock.node_id, "target": clock.target, "level": level}
    work.events.append((kind, {**origin, "due_at": clock.due_at.isoformat() if clock.due_at else None}))
    for step in work.tspec.flow.definition.escalation:
        if int(str(step["at"]).rstrip("%")) == level:
            run_actions(work, step["do"], origin)
