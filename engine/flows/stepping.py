"""Moving a flow instance: a registry of node types, each deciding what entering it does.

Stepping is pure: it takes the instance's tokens and returns a :class:`Walk` (tokens after,
tasks to open, events to append). The Runtime writes the Walk in the command's transaction.
Branch conditions, approval modes, timers and SLA clocks are the flow-engine issue's: here an
exclusive/inclusive gateway takes its default edge, timers and automatic steps pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.definitions.model import EdgeDef, NodeDef
from engine.errors import ActionError
from engine.flows.spec import FlowSpec

MAX_STEPS = 1000  # a graph that loops through pass-through nodes forever is stopped here


@dataclass(frozen=True)
class TaskToOpen:
    node_id: str
    assignee: Mapping[str, Any] | None  # the node's assignee spec, resolved by the Runtime


@dataclass
class Walk:
    tokens: list[str]
    tasks: list[TaskToOpen] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False
    steps: int = 0

    @property
    def stage(self) -> str | None:
        return self.tokens[0] if self.tokens else None


NodeHandler = Callable[[FlowSpec, NodeDef, Walk], list[EdgeDef]]
NODE_TYPES: dict[str, NodeHandler] = {}


def node_type(*names: str) -> Callable[[NodeHandler], NodeHandler]:
    def deco(fn: NodeHandler) -> NodeHandler:
        for name in names:
            NODE_TYPES[name] = fn
        return fn

    return deco


@node_type("start", "auto", "timer", "subprocess", "parallel")
def _pass_all(spec: FlowSpec, node: NodeDef, walk: Walk) -> list[EdgeDef]:
    return list(spec.outgoing[node.id])


@node_type("exclusive", "inclusive")
def _take_default(spec: FlowSpec, node: NodeDef, walk: Walk) -> list[EdgeDef]:
    edges = spec.outgoing[node.id]
    return [next((e for e in edges if e.default), edges[0])]


@node_type("task", "approval")
def _wait_for_people(spec: FlowSpec, node: NodeDef, walk: Walk) -> list[EdgeDef]:
    walk.tokens.append(node.id)
    assignees = node.get("assignees")
    walk.tasks.append(TaskToOpen(node.id, node.get("assignee") or (assignees[0] if assignees else None)))
    return []


@node_type("join")
def _join(spec: FlowSpec, node: NodeDef, walk: Walk) -> list[EdgeDef]:
    walk.tokens.append(node.id)
    if walk.tokens.count(node.id) < spec.incoming_count[node.id]:
        return []
    walk.tokens[:] = [t for t in walk.tokens if t != node.id]
    return list(spec.outgoing[node.id])


@node_type("end")
def _end(spec: FlowSpec, node: NodeDef, walk: Walk) -> list[EdgeDef]:
    if not walk.tokens:
        walk.finished = True
        walk.events.append(("flow_ended", {"node": node.id}))
    return []


def enter(spec: FlowSpec, node_id: str, walk: Walk, via: str | None = None) -> Walk:
    """Enter ``node_id`` and keep going through nodes that do not wait for anyone."""
    pending: list[tuple[str, str | None]] = [(node_id, via)]
    while pending:
        current, came_from = pending.pop(0)
        walk.steps += 1
        if walk.steps > MAX_STEPS:
            raise ActionError("flow.loop", node=current)
        node = spec.node(current)
        walk.events.append(("stage_entered", {"node": current, "type": node.type, "from": came_from}))
        for edge in NODE_TYPES[node.type](spec, node, walk):
            pending.append((edge.target, current))
    return walk


def start(spec: FlowSpec) -> Walk:
    return enter(spec, spec.start, Walk(tokens=[]))


GENERIC_ACTIONS = ("complete", "approve")


def available_actions(spec: FlowSpec, node_id: str) -> list[str]:
    """What a person can do with a task at ``node_id``: named edges, complete/approve, and reject."""
    node = spec.node(node_id)
    edges = spec.outgoing[node_id]
    named = [e.action for e in edges if e.action]
    plain = any(e.action is None for e in edges) or len(edges) == 1
    generic = ["approve" if node.type == "approval" else "complete"] if plain else []
    reject = ["reject"] if node.type == "approval" or node.get("on_reject") else []
    return list(dict.fromkeys(named + generic + reject))


def complete(spec: FlowSpec, tokens: list[str], node_id: str, action: str) -> Walk:
    """A task at ``node_id`` finished with ``action``: leave the node and follow the matching edge."""
    if action not in available_actions(spec, node_id):
        known = ", ".join(available_actions(spec, node_id))
        raise ActionError("flow.unknown_action", action=action, known=known)
    walk = Walk(tokens=list(tokens))
    if node_id in walk.tokens:
        walk.tokens.remove(node_id)
    walk.events.append(("stage_left", {"node": node_id, "action": action}))
    edges = spec.outgoing[node_id]
    chosen = [e for e in edges if e.action == action]
    if not chosen and action == "reject":
        target = spec.node(node_id).get("on_reject") or "end"
        if target == "end" or spec.node(target).type == "end":
            walk.tokens.clear()
            walk.finished = True
            walk.events.append(("flow_ended", {"node": node_id, "outcome": "rejected"}))
            return walk
        return enter(spec, target, walk, via=node_id)
    if not chosen:
        chosen = [e for e in edges if e.action is None] or list(edges)
    return enter(spec, chosen[0].target, walk, via=node_id)
