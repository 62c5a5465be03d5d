"""Process metrics of a ticket, folded from its events: one pure fold for the live path and the rebuild.

The live path (a reactor, inside the command's transaction) folds only the command's own events
onto the state kept in the ticket's ``ticket_metrics`` row; ``rebuild`` folds every event of a
ticket from an empty state. Both call :func:`fold` with the same inputs, so they give identical rows.

Times in the state are integer microseconds since the epoch (exact, JSON-friendly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.calendars import CALENDARS, Calendar

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)
HOUR_US = 3_600_000_000
DEFAULT_CALENDAR = "24x7"

#: Node types whose visit is a stage a ticket waits in (its time counts per stage).
WAITING_TYPES = frozenset({"task", "approval", "timer", "subprocess"})
#: A person's move on the ticket that counts as its first response (comments: see ``_responds``).
RESPONSES = frozenset({"task_claimed", "task_completed", "task_transferred", "returned", "approval_decided"})
#: Events that hand work to someone else (转派 and escalation reassignments).
TRANSFERS = frozenset({"task_transferred", "task_reassigned"})
ENDINGS = {"closed": "closed", "ticket_closed": "closed", "ticket_cancelled": "cancelled"}


def to_us(moment: dt.datetime) -> int:
    return (moment - EPOCH) // US


def from_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


@dataclass(frozen=True)
class Fact:
    """One event as the fold needs it."""

    seq: int
    type: str
    actor: int | None
    at: dt.datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class TypeFacts:
    """What the fold needs to know of the ticket type (from its compiled spec)."""

    paused_nodes: frozenset[str]  # stages marked sla_paused (waiting on the customer)
    satisfaction_field: str | None  # the rating field whose value is the satisfaction score
    default_calendar: str  # the app's calendar (settings.calendar), until an SLA names one
    #: approval stages: their approvers and pools are reviewers, not the ticket's owner or team
    approval_nodes: frozenset[str] = frozenset()


def type_facts(spec: Any, ticket_type: str) -> TypeFacts:
    """The :class:`TypeFacts` of ``ticket_type`` in a compiled app spec."""
    tspec = spec.types[ticket_type]
    paused = frozenset(k for k, node in tspec.flow.nodes.items() if node.get("sla_paused"))
    approvals = frozenset(k for k, node in tspec.flow.nodes.items() if node.type == "approval")
    return TypeFacts(
        paused, satisfaction_field(tspec.definition), _calendar_key(spec.app.settings), approvals
    )


def satisfaction_field(tt: Any) -> str | None:
    """The field holding the customer's satisfaction: ``rating``/``satisfaction``, else the first rating."""
    fields = tt.form.fields
    for f in fields:
        if f.key in ("rating", "satisfaction") and f.type in ("rating", "number"):
            return f.key
    return next((f.key for f in fields if f.type == "rating"), None)


def _calendar_key(settings: Mapping[str, Any]) -> str:
    key = settings.get("calendar")
    return str(key) if key and str(key) in CALENDARS else DEFAULT_CALENDAR


def _cal(state: Mapping[str, Any]) -> Calendar:
    return CALENDARS.get(state["calendar"]) or CALENDARS[DEFAULT_CALENDAR]


def _business(state: Mapping[str, Any], start_us: int, end_us: int) -> float:
    if end_us <= start_us:
        return 0.0
    return _cal(state).hours_between(from_us(start_us), from_us(end_us))


def new_state(facts: TypeFacts) -> dict[str, Any]:
    return {
        "created": None,
        "creator": None,
        "status": "open",
        "closed": None,
        "response": None,
        "calendar": facts.default_calendar,
        "calendar_set": False,
        "open": {},  # node -> [entered_us, ...] (a token per entry)
        "paused_since": None,
        "waiting_us": 0,
        "stages": {},  # node -> [visits, us, business_hours]
        "tasks": {},  # task id -> [assignee, since_us | None]
        "reviews": [],  # ids of approval tasks (their holders do not become the owner)
        "people": {},  # user id -> [tasks, us, business_hours]
        "transfers": 0,
        "returns": 0,
        "reopens": 0,
        "sla": {},  # "node.target" -> {"status", "breached", "visits"}
        "satisfaction": None,
        "owner": None,
        "team": None,
        "seq": 0,
    }


def fold(state: dict[str, Any], facts: TypeFacts, events: Iterable[Fact]) -> dict[str, Any]:
    """Apply ``events`` (in order) to ``state`` in place and return it."""
    for e in events:
        if e.seq <= state["seq"]:
            continue  # already folded (a rebuild never repeats, the live path never goes back)
        state["seq"] = e.seq
        at = to_us(e.at)
        handler = _HANDLERS.get(e.type)
        if handler is not None:
            handler(state, facts, e, at)
        if state["response"] is None and _responds(state, e):
            state["response"] = at
    return state


def _responds(state: Mapping[str, Any], e: Fact) -> bool:
    if e.type in RESPONSES:
        return e.type != "task_completed" or e.actor is None or e.actor != state["creator"]
    if e.type == "comment_added":
        payload = e.payload
        return (
            e.actor is not None
            and e.actor != state["creator"]
            and not payload.get("system")
            and not payload.get("internal")
        )
    return False


def _created(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    state["created"], state["creator"] = at, e.actor
    data = e.payload.get("data") or {}
    if facts.satisfaction_field:
        state["satisfaction"] = _number(data.get(facts.satisfaction_field))


def _imported(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    """A ticket brought in from a sheet (engine/ticket_import.py): its historical creation and, when
    it was closed or cancelled there, its end, in one event."""
    p = e.payload
    _created(state, facts, e, at)
    if p.get("created_at"):
        state["created"] = to_us(dt.datetime.fromisoformat(p["created_at"]))
    if p.get("status") in ("closed", "cancelled") and p.get("closed_at"):
        state["status"], state["closed"] = p["status"], to_us(dt.datetime.fromisoformat(p["closed_at"]))


def _field_changed(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    if facts.satisfaction_field and e.payload.get("field") == facts.satisfaction_field:
        state["satisfaction"] = _number(e.payload.get("new"))


def _stage_entered(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    node = e.payload.get("node")
    if e.payload.get("type") not in WAITING_TYPES:
        return
    state["open"].setdefault(node, []).append(at)
    visits = state["stages"].setdefault(node, [0, 0, 0.0])
    visits[0] += 1
    if node in facts.paused_nodes and state["paused_since"] is None:
        state["paused_since"] = at


def _stage_left(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    node = e.payload.get("node")
    entries = state["open"].get(node)
    if not entries:
        return
    since = entries.pop(0)
    if not entries:
        del state["open"][node]
    spent = state["stages"].setdefault(node, [1, 0, 0.0])
    spent[1] += at - since
    spent[2] += _business(state, since, at)
    still_paused = any(n in facts.paused_nodes for n in state["open"])
    if state["paused_since"] is not None and not still_paused:
        state["waiting_us"] += at - state["paused_since"]
        state["paused_since"] = None


def _hold(state: dict[str, Any], task: str, user: int | None, at: int) -> None:
    """The task is now held by ``user`` (or by nobody): close the previous holder's time."""
    _release(state, task, at)
    state["tasks"][task] = [user, at if user is not None else None]
    if user is not None:
        state["people"].setdefault(str(user), [0, 0, 0.0])[0] += 1
        if user != state["creator"] and task not in state.get("reviews", ()):
            state["owner"] = user


def _release(state: dict[str, Any], task: str, at: int) -> None:
    held = state["tasks"].get(task)
    if held and held[0] is not None and held[1] is not None:
        spent = state["people"].setdefault(str(held[0]), [1, 0, 0.0])
        spent[1] += at - held[1]
        spent[2] += _business(state, held[1], at)
        held[1] = None


def _task_created(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    p = e.payload
    task = str(p.get("task"))
    if p.get("node") in facts.approval_nodes:
        state.setdefault("reviews", []).append(task)
    team = p.get("team") or (p.get("pool") or {}).get("role")
    if team and task not in state.get("reviews", ()):
        state["team"] = str(team)
    waiting = p.get("status") == "waiting"
    state["tasks"][task] = [None, None]
    if p.get("assignee") is not None:
        _hold(state, task, p["assignee"], at)
        if waiting:
            state["tasks"][task][1] = None  # its time starts when it opens


def _task_opened(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    held = state["tasks"].get(str(e.payload.get("task")))
    if held and held[0] is not None and held[1] is None:
        held[1] = at


def _task_moved(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    p = e.payload
    user = p.get("assignee") if e.type == "task_claimed" else p.get("to")
    _hold(state, str(p.get("task")), user, at)
    if e.type in TRANSFERS:
        state["transfers"] += 1
        if p.get("team") and str(p.get("task")) not in state.get("reviews", ()):
            state["team"] = str(p["team"])


def _task_released(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    _hold(state, str(e.payload.get("task")), None, at)


def _task_done(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    task = str(e.payload.get("task"))
    _release(state, task, at)
    state["tasks"].pop(task, None)
    if task in state.get("reviews", ()):
        state["reviews"].remove(task)


def _returned(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    state["returns"] += 1


def _reopened(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    state["reopens"] += 1
    state["status"], state["closed"] = "open", None


def _ended(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    state["status"], state["closed"] = ENDINGS[e.type], at


def _sla_key(e: Fact) -> str:
    return f"{e.payload.get('node')}.{e.payload.get('target')}"


def _sla_started(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    if not state["calendar_set"] and e.payload.get("calendar") in CALENDARS:
        state["calendar"], state["calendar_set"] = e.payload["calendar"], True
    clock = state["sla"].setdefault(_sla_key(e), {"status": "running", "breached": False, "visits": 0})
    clock["status"] = "running"
    clock["visits"] += 1


_SLA_STATUS = {"sla_paused": "paused", "sla_resumed": "running", "sla_met": "met", "sla_closed_late": "met"}


def _sla_moved(state: dict[str, Any], facts: TypeFacts, e: Fact, at: int) -> None:
    clock = state["sla"].setdefault(_sla_key(e), {"status": "running", "breached": False, "visits": 1})
    if e.type in _SLA_STATUS:
        clock["status"] = _SLA_STATUS[e.type]
    if e.type in ("sla_breached", "sla_escalated", "sla_closed_late"):
        clock["breached"] = True


_HANDLERS = {
    "created": _created,
    "imported": _imported,
    "field_changed": _field_changed,
    "stage_entered": _stage_entered,
    "stage_left": _stage_left,
    "task_created": _task_created,
    "task_opened": _task_opened,
    "task_claimed": _task_moved,
    "task_transferred": _task_moved,
    "task_delegated": _task_moved,
    "task_reassigned": _task_moved,
    "task_released": _task_released,
    "task_completed": _task_done,
    "task_cancelled": _task_done,
    "returned": _returned,
    "reopened": _reopened,
    "closed": _ended,
    "ticket_closed": _ended,
    "ticket_cancelled": _ended,
    "sla_started": _sla_started,
    **dict.fromkeys(
        ("sla_paused", "sla_resumed", "sla_met", "sla_closed_late", "sla_breached", "sla_escalated"),
        _sla_moved,
    ),
}


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _breached(sla: Mapping[str, Mapping[str, Any]], target: str | None) -> bool | None:
    clocks = [c for k, c in sla.items() if target is None or k.endswith("." + target)]
    return any(c["breached"] for c in clocks) if clocks else None


def row_of(state: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ticket_metrics`` columns (besides keys) a state stands for."""
    created, closed, response = state["created"], state["closed"], state["response"]
    resolved = closed is not None and state["status"] == "closed"
    return {
        "status": state["status"],
        "created_at": from_us(created),
        "closed_at": from_us(closed) if closed is not None else None,
        "first_response_at": from_us(response) if response is not None else None,
        "first_response_hours": (response - created) / HOUR_US if response is not None else None,
        "first_response_business_hours": _business(state, created, response)
        if response is not None
        else None,
        "resolution_hours": (closed - created) / HOUR_US if resolved else None,
        "resolution_business_hours": _business(state, created, closed) if resolved else None,
        "waiting_hours": state["waiting_us"] / HOUR_US,
        "transfers": state["transfers"],
        "returns": state["returns"],
        "reopens": state["reopens"],
        "response_breached": _breached(state["sla"], "response"),
        "resolution_breached": _breached(state["sla"], "resolution"),
        "sla_breached": _breached(state["sla"], None),
        "satisfaction": state["satisfaction"],
        "owner_id": state["owner"],
        "team": state["team"],
        "calendar": state["calendar"],
        "sla": {k: dict(v) for k, v in sorted(state["sla"].items())},
        "event_seq": state["seq"],
        "state": state,
    }


def times_of(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``ticket_stage_times`` rows of a state: per stage entered and per person who held a task."""
    rows = [
        {"kind": "stage", "key": node, "visits": v[0], "hours": v[1] / HOUR_US, "business_hours": v[2]}
        for node, v in sorted(state["stages"].items())
    ]
    rows += [
        {"kind": "user", "key": user, "visits": v[0], "hours": v[1] / HOUR_US, "business_hours": v[2]}
        for user, v in sorted(state["people"].items(), key=lambda kv: int(kv[0]))
    ]
    return rows


__all__ = ["Fact", "TypeFacts", "fold", "new_state", "row_of", "times_of", "type_facts"]
