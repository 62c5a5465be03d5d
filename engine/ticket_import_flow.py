"""Imported open tickets carry on where the sheet left them.

An open row's flow enters the sheet's stage — or starts as a submission would, when the sheet names
none — through the flow engine's own :class:`FlowWork`, so the node's tasks (one per signer at a
countersign), approval groups, reminders and SLA clocks are exactly those of a ticket that arrived
there, started at import time. It runs inside an import batch's transaction (engine/ticket_import.py);
rules and automatic steps do not run: the import notifies nobody.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from engine.definitions.model import thaw
from engine.flows import stepping
from engine.flows.assignees import Assignment
from engine.flows.spec import FlowSpec
from engine.flows.work import FlowState, FlowWork, Ticketing
from engine.forms.spec import Env

#: Assignee kinds whose answer does not depend on the ticket (nor moves a turn): resolved once a batch.
SHARED_KINDS = frozenset({"user", "role", "department", "department_members"})


@dataclass
class ImportedWork(FlowWork):
    """The flow work of one imported ticket: the sheet's assignees (when it names them) hold the
    work; otherwise the node's own assignment, shared across the batch where it can be."""

    holders: tuple[int, ...] = ()
    shared: dict[str, Assignment] = field(default_factory=dict)

    def resolve(self, spec: Mapping[str, Any] | None) -> Assignment:
        if self.holders:
            return Assignment(self.holders, {})
        if not spec or len(spec) != 1 or next(iter(spec)) not in SHARED_KINDS:
            return super().resolve(spec)
        key = json.dumps(thaw(spec), sort_keys=True, default=str)
        if key not in self.shared:
            self.shared[key] = super().resolve(spec)
        return self.shared[key]


@dataclass(frozen=True)
class Ticket:
    """What entering the flow needs of one imported ticket, as written in the batch."""

    record_id: int
    instance_id: int
    number: str
    data: dict[str, Any]
    submitter: int | None
    created_at: dt.datetime
    stage: str | None
    holders: Sequence[int] = ()


class FlowEntry:
    """One import batch's entries into the flow, in its transaction (``now`` is the import time)."""

    def __init__(self, conn: Connection, spec: Any, tspec: Any, app_id: int, now: dt.datetime):
        self.conn, self.spec, self.tspec, self.app_id, self.now = conn, spec, tspec, app_id, now
        self.shared: dict[str, Assignment] = {}
        self.joins: dict[str, dict[str, int]] = {}

    def enter(self, ticket: Ticket) -> FlowWork:
        """Put the ticket's token at its stage (or start its flow) and open that node's work; the
        work's events, tokens and state are the caller's to write."""
        tspec = self.tspec
        env = Env(
            {"id": None},
            self.now,
            {
                "app": self.spec.key,
                "ticket_type": tspec.key,
                "id": ticket.record_id,
                "number": ticket.number,
                "status": "open",
                "created_at": ticket.created_at,
                "created_by": ticket.submitter,
            },
        )
        channel = ticket.data.get("channel")
        ticketing = Ticketing(
            ticket.record_id, ticket.number, self.app_id, self.spec.key, tspec.key, dict(ticket.data),
            ticket.submitter, "open", channel if isinstance(channel, str) else None,
        )  # fmt: skip
        work = ImportedWork(
            self.conn,
            self.spec,
            tspec,
            ticketing,
            FlowState(ticket.instance_id, [], {}),
            None,
            self.now,
            lambda: env,
            original=dict(ticket.data),
            fresh=True,
            holders=tuple(ticket.holders),
            shared=self.shared,
        )
        hooks = stepping.Hooks(context=work.context)  # no automatic steps: the import runs no actions
        flow = tspec.flow
        if ticket.stage:
            if ticket.stage not in self.joins:
                self.joins[ticket.stage] = lone_joins(flow, ticket.stage)
            state = {"joins": dict(self.joins[ticket.stage])} if self.joins[ticket.stage] else {}
            walk = stepping.enter(flow, ticket.stage, stepping.Walk(tokens=[], state=state), hooks)
        else:
            walk = stepping.start(flow, hooks)
        work.apply(walk)
        work.instance.state["imported"] = True
        return work


def _reach(flow: FlowSpec, node_id: str) -> set[str]:
    seen, todo = set(), [node_id]
    while todo:
        for edge in flow.outgoing[todo.pop()]:
            if edge.target not in seen:
                seen.add(edge.target)
                todo.append(edge.target)
    return seen


def lone_joins(flow: FlowSpec, node_id: str) -> dict[str, int]:
    """The joins after ``node_id`` that close a parallel (or inclusive) section it stands in: a sheet
    names one stage of such a section, so each of them waits for this one token, not for branches
    nobody is on. (A split reached again sets its join's count anew.)"""
    after = _reach(flow, node_id)
    return {
        join: 1 for split, join in flow.join_of.items() if join in after and node_id in _reach(flow, split)
    }


__all__ = ["FlowEntry", "ImportedWork", "Ticket", "lone_joins"]
