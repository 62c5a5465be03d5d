"""A ticket's timeline as one viewer reads it: which events they see and who each is credited to.

The history keeps every event as it happened; this module only decides how it is shown. One table,
:data:`KINDS`, says per event type who it is for and whether it is the system's doing:

- a requester (the customer: no role in the app, not an admin) reads their ticket's story — it was
  submitted, moved on, was decided, commented on, closed or reopened — and none of the machinery
  (SLA clocks, timers, rule runs, calls and notifications, task bookkeeping);
- agents and admins read everything; each command's machinery comes folded into one line they may
  open, after the lines of that command;
- an event marked ``internal`` (an agent's internal note: a ``comment_added`` with ``internal: true``)
  is staff-only whatever its type says.

An event is credited to the person whose command wrote it only when that person did it: what a rule
did names the rule, what the flow or the clock did is the system's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from engine.access import Principal

EVERYONE = "everyone"  # the requester's story
PEOPLE = "people"  # the requester's story when a person did it, machinery when automation did
STAFF = "staff"  # agents and admins only

PERSON, RULE, SYSTEM, FLOW = "person", "rule", "system", "flow"


@dataclass(frozen=True)
class EventKind:
    """How one type of event is shown: to whom, whose doing it is, and whether it is machinery
    (bookkeeping staff may unfold; never an alert, which stays in sight)."""

    audience: str = STAFF
    by: str = PERSON  # PERSON: the command's actor; FLOW: the flow moving on; SYSTEM: clocks, automation
    machinery: bool = False


_MOVE = EventKind(EVERYONE, FLOW)
_ACT = EventKind(STAFF, PERSON)
_STEP = EventKind(STAFF, FLOW, machinery=True)
_AUTO = EventKind(STAFF, SYSTEM, machinery=True)
_ALERT = EventKind(STAFF, SYSTEM)

#: Every event type the engines write; a type not listed is shown to staff, credited to its actor.
KINDS: Mapping[str, EventKind] = {
    "created": EventKind(EVERYONE),
    "message_received": EventKind(EVERYONE),
    "comment_added": EventKind(EVERYONE),
    "withdrawn": EventKind(EVERYONE),
    "ticket_closed": EventKind(EVERYONE),
    "ticket_cancelled": EventKind(EVERYONE),
    "reopened": EventKind(EVERYONE),
    "field_changed": EventKind(PEOPLE),
    "stage_entered": _MOVE,
    "approval_decided": _MOVE,
    "closed": _MOVE,
    "updated": EventKind(STAFF, PERSON, machinery=True),  # the field changes say it, with values
    "task_claimed": _ACT,
    "task_released": _ACT,
    "task_completed": _ACT,
    "task_transferred": _ACT,
    "task_delegated": _ACT,
    "task_reassigned": _ACT,
    "todo_created": _ACT,
    "signer_added": _ACT,
    "returned": _ACT,
    "watchers_added": _ACT,
    "watchers_removed": _ACT,
    "record_created": _ACT,
    "version_changed": _ACT,
    "task_created": EventKind(STAFF, FLOW),
    "subprocess_started": EventKind(STAFF, FLOW),
    "subprocess_ended": EventKind(STAFF, FLOW),
    "stage_left": _STEP,
    "task_opened": _STEP,
    "task_cancelled": _STEP,
    "approval_started": _STEP,
    "flow_ended": _STEP,
    "sla_started": _AUTO,
    "sla_met": _AUTO,
    "sla_paused": _AUTO,
    "sla_resumed": _AUTO,
    "timer_set": _AUTO,
    "reminder_due": _AUTO,
    "call_queued": _AUTO,
    "notification_queued": _AUTO,
    "rule_fired": _AUTO,
    "sla_warning": _ALERT,
    "sla_breached": _ALERT,
    "sla_escalated": _ALERT,
    "sla_closed_late": _ALERT,
    "escalated": _ALERT,
    "task_overdue": _ALERT,
    "rule_failed": _ALERT,
    "rule_loop_stopped": _ALERT,
    "assignment_problem": _ALERT,
    "flow_error": _ALERT,
    "flow_warning": _ALERT,
}
#: Nodes that are no stage of the story: entering them is the submission or the closing itself.
_NOT_STAGES = ("start", "end")


@dataclass(frozen=True)
class Author:
    """Whom an event is credited to: a person (``user_id``), a rule (``rule``), the system, or the
    flow moving on (shown without a name)."""

    kind: str
    user_id: int | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Entry:
    """One event of the timeline, credited; ``machinery`` when it is the system's bookkeeping."""

    event: Mapping[str, Any]
    author: Author
    machinery: bool


@dataclass(frozen=True)
class Folded:
    """The machinery of one command, shown to staff as one line they may open."""

    entries: tuple[Entry, ...]


def kind_of(event_type: str) -> EventKind:
    return KINDS.get(event_type, _ACT)


def is_requester(principal: Principal, app_key: str) -> bool:
    """A requester has no role in the ticket's app and is no admin: the app's customer."""
    return not principal.is_admin and not principal.roles_in(app_key)


def author(event: Mapping[str, Any]) -> Author:
    """Who did it, as far as the event tells: a rule's name in the payload wins, then automation's
    marks (``by: flow``/``by: rule``, a system comment), then the event type's kind, then the actor."""
    payload = event.get("payload") or {}
    rule = payload.get("rule")
    if isinstance(rule, str) and rule:
        return Author(RULE, rule=rule)
    if payload.get("by") in ("flow", "rule") or payload.get("system") is True:
        return Author(SYSTEM)
    by = kind_of(event["type"]).by
    if by != PERSON:
        return Author(by)
    actor = event.get("actor_id")
    return Author(PERSON, user_id=actor) if actor is not None else Author(SYSTEM)


def timeline(events: Iterable[Mapping[str, Any]], requester: bool) -> list[Entry | Folded]:
    """The viewer's timeline, oldest first: a requester's story, or every event for staff with each
    command's machinery folded."""
    entries = []
    for e in events:
        credited = author(e)
        machinery = _is_machinery(e, credited)
        if requester and not _for_requester(e, machinery):
            continue
        entries.append(Entry(e, credited, machinery))
    return entries if requester else _folded(entries)


def shown_to_requester(event: Mapping[str, Any]) -> bool:
    """Whether a requester (the customer) reads ``event`` in their ticket's history — on the page
    and through the API alike."""
    return _for_requester(event, _is_machinery(event, author(event)))


def is_internal(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` is an internal note (or follows from one): for the app's staff only."""
    return (event.get("payload") or {}).get("internal") is True


def audience(event: Mapping[str, Any]) -> str:
    """Who ``event`` is for: its type's audience, unless it is internal (staff only)."""
    return STAFF if is_internal(event) else kind_of(event["type"]).audience


def _for_requester(event: Mapping[str, Any], machinery: bool) -> bool:
    return not machinery and audience(event) != STAFF


def _is_machinery(event: Mapping[str, Any], credited: Author) -> bool:
    """Bookkeeping by its kind, entering the start or end node (the submission and the closing say
    it), or a person's kind of event done by automation (a rule's field change or linked record)."""
    kind = kind_of(event["type"])
    if event["type"] == "stage_entered":
        return (event.get("payload") or {}).get("type") in _NOT_STAGES
    automated = kind.by == PERSON and kind.audience != EVERYONE and credited.kind != PERSON
    return kind.machinery or automated


def _folded(entries: Sequence[Entry]) -> list[Entry | Folded]:
    """Per command (consecutive events with one moment and one actor), its visible lines, then its
    machinery as one fold."""
    out: list[Entry | Folded] = []
    for _, command in groupby(entries, key=lambda x: (x.event.get("at"), x.event.get("actor_id"))):
        lines = list(command)
        out += [x for x in lines if not x.machinery]
        machinery = tuple(x for x in lines if x.machinery)
        if machinery:
            out.append(Folded(machinery))
    return out


__all__ = [
    "EVERYONE",
    "KINDS",
    "PEOPLE",
    "STAFF",
    "Author",
    "Entry",
    "EventKind",
    "Folded",
    "audience",
    "author",
    "is_internal",
    "is_requester",
    "shown_to_requester",
    "timeline",
]
