"""Replay: what a new or changed rule set would have done over past tickets — read only.

The tickets created in a time window are read in batches; each one's events are walked in order,
rebuilding its fields as they were, and every rule of the candidate set that the event would
have triggered has its condition evaluated on that state. The report says, per rule, how many
tickets and events it would have matched and which actions it would have run. Nothing is
written, nothing is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from engine.expressions import ExprError
from engine.rules.engine import RuleSet, RuleSpec, change_matches
from engine.specs import TypeSpec
from engine.store.db import Database
from engine.store.models import Event, Record

R, E = Record.__table__, Event.__table__
BATCH = 200


@dataclass
class RuleReplay:
    rule: str
    trigger: str
    events_met: int = 0
    events_matched: int = 0
    tickets: set[int] = field(default_factory=set)
    actions: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "trigger": self.trigger,
            "events_met": self.events_met,
            "events_matched": self.events_matched,
            "tickets_matched": len(self.tickets),
            "actions": dict(sorted(self.actions.items())),
            "errors": dict(self.errors),
            "examples": self.examples,
        }


def replay(
    db: Database,
    app_id: int,
    tspec: TypeSpec,
    rules: RuleSet,
    since: dt.datetime,
    until: dt.datetime,
) -> list[dict[str, Any]]:
    """Per rule of ``rules``: what it would have matched over tickets created in [since, until)."""
    report = {
        r.name: RuleReplay(r.name, r.trigger) for r in rules.rules if r.enabled and r.trigger != "schedule"
    }
    last = 0
    while True:
        with db.read() as conn:
            tickets = conn.execute(
                select(R.c.id, R.c.number, R.c.created_at, R.c.created_by)
                .where(
                    R.c.app_id == app_id,
                    R.c.ticket_type == tspec.key,
                    R.c.created_at >= since,
                    R.c.created_at < until,
                    R.c.id > last,
                )
                .order_by(R.c.id)
                .limit(BATCH)
            ).all()
            if not tickets:
                break
            ids = [t.id for t in tickets]
            events = conn.execute(
                select(E.c.record_id, E.c.type, E.c.payload, E.c.at)
                .where(E.c.record_id.in_(ids))
                .order_by(E.c.record_id, E.c.seq)
            ).all()
        by_ticket: dict[int, list[Any]] = {}
        for ev in events:
            by_ticket.setdefault(ev.record_id, []).append(ev)
        for ticket in tickets:
            _walk(tspec, rules, ticket, by_ticket.get(ticket.id, []), report)
        last = ids[-1]
    return [r.as_dict() for r in report.values()]


def _walk(
    tspec: TypeSpec, rules: RuleSet, ticket: Any, events: list[Any], report: dict[str, RuleReplay]
) -> None:
    data: dict[str, Any] = {}
    before: dict[str, Any] = {}
    stage: str | None = None
    for ev in events:
        payload = ev.payload or {}
        if ev.type == "created":
            data = dict(payload.get("data") or {})
        elif ev.type == "field_changed":
            before = {**data}
            data[payload.get("field")] = payload.get("new")
        elif ev.type == "stage_entered":
            stage = payload.get("node")
        candidates = rules.for_event(ev.type, payload)
        if not candidates:
            continue
        ctx = tspec.form.typed(data)
        ctx["old"] = tspec.form.typed(before or data)
        ctx["event"] = {"type": ev.type, **payload}
        ctx["ticket"] = {
            "id": ticket.id,
            "number": ticket.number,
            "stage": stage,
            "created_at": ticket.created_at,
        }
        ctx["user"] = {"id": ticket.created_by}
        ctx["now"] = ev.at
        ctx["today"] = ev.at.date()
        for rule in candidates:
            _meet(rule, ticket, ev.type, payload, ctx, report[rule.name])


def _meet(
    rule: RuleSpec, ticket: Any, kind: str, payload: Mapping[str, Any], ctx: dict[str, Any], out: RuleReplay
) -> None:
    if rule.change and not change_matches(rule, payload):
        return
    out.events_met += 1
    try:
        matched = rule.condition is None or bool(rule.condition(ctx))
    except ExprError as exc:
        out.errors[exc.code] = out.errors.get(exc.code, 0) + 1
        return
    if not matched:
        return
    out.events_matched += 1
    out.tickets.add(ticket.id)
    if len(out.examples) < 5 and ticket.number not in out.examples:
        out.examples.append(ticket.number)
    for action in rule.actions:
        kind_of = next((k for k in action if k not in ("if", "map")), "?")
        out.actions[kind_of] = out.actions.get(kind_of, 0) + 1


__all__ = ["replay"]
