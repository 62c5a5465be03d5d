"""The rule engine: event → condition → actions, inside the command that produced the event.

A ticket type's rules compile once into a :class:`RuleSet` indexed by trigger, so an event only
meets the rules that can fire on it. ``run_rules`` walks the command's events in order; the
actions of a rule change the ticket through the command's FlowWork, so what they do is new
events in the same transaction, which may trigger further rules — up to ``MAX_DEPTH`` levels,
and a rule firing again and again in one command (rule A sets x, rule B resets it) is stopped
and logged, never a hang. Every rule that meets an event is logged in ``rule_runs``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from engine.expressions import ExprError, Expression, compile_expr
from engine.store import fast
from engine.store.models import RuleRun

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

MAX_DEPTH = 5  # an event made by a rule made by a rule … five levels deep at most
MAX_FIRINGS = 3  # one rule firing more often than this in one command is a loop
RR = RuleRun.__table__
INSERT_RULE_RUNS = insert(RR)  # built once: every command that meets a rule logs it

#: Event types whose trigger names carry an argument taken from the payload.
ARGUMENT_OF = {
    "field_changed": "field",
    "stage_entered": "node",
    "stage_left": "node",
    "message_received": "channel",
}


@dataclass(frozen=True)
class RuleSpec:
    name: str
    index: int
    trigger: str  # "created", "field_changed:priority", "stage_entered:end", "schedule"
    condition: Expression | None
    actions: tuple[Mapping[str, Any], ...]
    order: int
    stop: bool
    enabled: bool
    schedule: str | None = None
    change: Mapping[str, Any] = field(default_factory=dict)  # field_changed from/to

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "trigger": self.trigger, "order": self.order, "stop": self.stop}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[RuleSpec, ...]
    by_trigger: Mapping[str, tuple[RuleSpec, ...]]

    def for_event(self, kind: str, payload: Mapping[str, Any]) -> tuple[RuleSpec, ...]:
        arg = ARGUMENT_OF.get(kind)
        if arg is None:
            return self.by_trigger.get(kind, ())
        return self.by_trigger.get(f"{kind}:{payload.get(arg)}", ())

    @property
    def scheduled(self) -> tuple[RuleSpec, ...]:
        return self.by_trigger.get("schedule", ())


EMPTY = RuleSet((), MappingProxyType({}))


def trigger_key(on: Any) -> tuple[str, str | None, Mapping[str, Any]]:
    """A rule's ``on`` → (index key, cron expression, from/to of a field change)."""
    if isinstance(on, str):
        return on, None, {}
    kind, arg = next(iter(on.items()))
    if kind == "schedule":
        return "schedule", str(arg), {}
    if kind == "message":
        return f"message_received:{arg}", None, {}
    if kind == "field_changed" and isinstance(arg, Mapping):
        return f"field_changed:{arg['field']}", None, {k: arg[k] for k in ("from", "to") if k in arg}
    return f"{kind}:{arg}", None, {}


def compile_rules(rules: Iterable[Mapping[str, Any]]) -> RuleSet:
    specs = []
    for i, rule in enumerate(rules):
        key, cron, change = trigger_key(rule["on"])
        specs.append(
            RuleSpec(
                name=rule["name"],
                index=i,
                trigger=key,
                condition=compile_expr(rule["if"]) if rule.get("if") else None,
                actions=tuple(rule["do"]),
                order=int(rule.get("order", 0)),
                stop=bool(rule.get("stop")),
                enabled=rule.get("enabled", True) is not False,
                schedule=cron,
                change=MappingProxyType(dict(change)),
            )
        )
    ordered = tuple(sorted(specs, key=lambda r: (r.order, r.index)))
    index: dict[str, list[RuleSpec]] = {}
    for spec in ordered:
        if spec.enabled:
            index.setdefault(spec.trigger, []).append(spec)
    return RuleSet(ordered, MappingProxyType({k: tuple(v) for k, v in index.items()}))


def change_matches(rule: RuleSpec, payload: Mapping[str, Any]) -> bool:
    """A ``field_changed`` rule with from/to: does this change go from and to those values?"""
    if "from" in rule.change and payload.get("old") != rule.change["from"]:
        return False
    return not ("to" in rule.change and payload.get("new") != rule.change["to"])


def rule_context(work: FlowWork, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a rule's condition sees: the ticket now, ``old`` (before the command) and ``event``."""
    ctx = dict(work.context())
    ctx["old"] = dict(work.original)
    ctx["event"] = {"type": kind, **payload}
    return ctx


@dataclass
class RuleLog:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, work: FlowWork, rule: RuleSpec, position: int, matched: bool,
            done: list[str], error: str | None, started: float) -> None:  # fmt: skip
        self.rows.append(
            {
                "app_id": work.ticket.app_id,
                "app_version": work.version,
                "ticket_type": work.ticket.ticket_type,
                "rule": rule.name,
                "record_id": work.ticket.record_id,
                "trigger": rule.trigger,
                "event_seq": work.base_seq + position + 1,  # the seq the event is appended with
                "matched": matched,
                "actions": done,
                "error": error,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "at": work.now,
            }
        )


def run_rules(work: FlowWork, dry_run: bool = False) -> list[dict[str, Any]]:
    """Let the rules meet every event of the command not yet seen; returns the log rows."""
    ruleset: RuleSet = work.tspec.rules
    if not ruleset.by_trigger:
        work.rules_seen = len(work.events)
        return []
    log = RuleLog()
    firings: dict[str, int] = {}
    depths = work.event_depths
    while work.rules_seen < len(work.events):
        position = work.rules_seen
        kind, payload = work.events[position]
        work.rules_seen += 1
        depth = depths.get(position, 0)
        candidates = ruleset.for_event(kind, payload)
        if not candidates:
            continue
        if depth >= MAX_DEPTH:
            work.events.append(("rule_loop_stopped", {"event": kind, "depth": depth}))
            continue
        for rule in candidates:
            if rule.change and not change_matches(rule, payload):
                continue
            started = time.perf_counter()
            firings[rule.name] = firings.get(rule.name, 0) + 1
            if firings[rule.name] > MAX_FIRINGS:
                work.events.append(("rule_loop_stopped", {"rule": rule.name, "event": kind}))
                log.add(work, rule, position, False, [], "loop: fired too often in one command", started)
                continue
            try:
                matched = rule.condition is None or bool(rule.condition(rule_context(work, kind, payload)))
            except ExprError as exc:
                log.add(work, rule, position, False, [], exc.message("en"), started)
                work.events.append(("rule_failed", {"rule": rule.name, "error": exc.message("en")}))
                continue
            done: list[str] = []
            if matched:
                before = len(work.events)
                done = run_rule_actions(work, rule, payload)
                for i in range(before, len(work.events)):
                    depths[i] = depth + 1
                work.events.append(("rule_fired", {"rule": rule.name, "event": kind, "actions": done}))
                depths[len(work.events) - 1] = MAX_DEPTH  # its own log event triggers nothing
            log.add(work, rule, position, matched, done, None, started)
            if matched and rule.stop:
                break
    if log.rows and not dry_run:
        fast.execute_many(work.conn, INSERT_RULE_RUNS, log.rows)
    return log.rows


def run_rule_actions(work: FlowWork, rule: RuleSpec, payload: Mapping[str, Any] | None = None) -> list[str]:
    """Run a matched rule's actions; the people @-mentioned in the event that fired it travel along
    (``notify`` ``to: mentioned``), and so does an internal note's mark: what the rule says of it stays
    with staff (its ``comment`` is internal too, its ``notify`` reaches no customer)."""
    from engine.rules.actions import run_actions  # actions use the FlowWork, which imports rules

    origin: dict[str, Any] = {"rule": rule.name}
    if (payload or {}).get("internal") is True:
        origin["internal"] = True
    mentions = (payload or {}).get("mentions")
    if mentions:
        origin["mentions"] = list(mentions)
        origin["comment"] = str((payload or {}).get("body") or "")[:1000]
    return run_actions(work, rule.actions, origin)


__all__ = ["EMPTY", "MAX_DEPTH", "RuleSet", "RuleSpec", "compile_rules", "rule_context", "run_rules"]
