"""Moving a flow instance: a registry of node types, each deciding what entering it does.

Stepping is pure: it takes the instance's tokens and state and returns a :class:`Walk` — the
tokens after, the nodes that now wait for people, timers or sub-processes, the nodes left, and
the events to append. The Runtime writes the Walk in the command's transaction. Branch
conditions are read through :class:`Hooks`, so the same code runs in memory (tests, benchmarks,
scenario replays) and inside a command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.definitions.model import EdgeDef, NodeDef
from engine.errors import ActionError
from engine.expressions import ExprError
from engine.flows.spec import PEOPLE, FlowSpec

#: A graph that loops through nodes nobody waits at is stopped after this many steps.
MAX_STEPS = 1000


class ConditionFailed(ActionError):
    """A branch condition raised while the flow moved: the command is refused, the ticket stays."""

    def __init__(self, node: str, source: str, detail: str):
        super().__init__("flow.condition_failed", node=node, condition=source, detail=detail)
        self.node = node


@dataclass
class Hooks:
    """What stepping needs from outside: the expression context, and running an auto node."""

    context: Callable[[], Mapping[str, Any]] = dict
    auto: Callable[[NodeDef], None] | None = None


NO_HOOKS = Hooks()


@dataclass
class Walk:
    tokens: list[str]
    state: dict[str, Any] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)  # nodes entered that now wait (people, timers, …)
    left: list[str] = field(default_factory=list)  # nodes a token left: their open work is cancelled
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False
    steps: int = 0

    @property
    def stage(self) -> str | None:
        return self.tokens[0] if self.tokens else None


NodeHandler = Callable[[FlowSpec, NodeDef, Walk, Hooks], "list[EdgeDef] | tuple[EdgeDef, ...]"]
NODE_TYPES: dict[str, NodeHandler] = {}


def node_type(*names: str) -> Callable[[NodeHandler], NodeHandler]:
    def deco(fn: NodeHandler) -> NodeHandler:
        for name in names:
            NODE_TYPES[name] = fn
        return fn

    return deco


def _expect(spec: FlowSpec, node: NodeDef, walk: Walk, arrivals: int) -> None:
    join = spec.join_of.get(node.id)
    if join is not None:
        walk.state.setdefault("joins", {})[join] = arrivals


@node_type("start", "auto", "parallel")
def _pass_all(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> tuple[EdgeDef, ...]:
    if node.type == "auto" and hooks.auto is not None:
        hooks.auto(node)
    edges = spec.outgoing[node.id]
    if len(edges) > 1:
        _expect(spec, node, walk, len(edges))
    return edges


def _holds(node: NodeDef, branch: Any, ctx: Mapping[str, Any]) -> bool:
    try:
        return bool(branch.condition(ctx))
    except ExprError as exc:
        raise ConditionFailed(node.id, branch.condition.source, exc.message()) from None


@node_type("exclusive")
def _first_true(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> list[EdgeDef]:
    ctx = hooks.context()
    for branch in spec.branches[node.id]:
        if _holds(node, branch, ctx):
            return [branch.edge]
    default = spec.defaults[node.id]
    if default is None:
        raise ActionError("flow.no_branch", node=node.id)
    return [default]


@node_type("inclusive")
def _all_true(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> list[EdgeDef]:
    ctx = hooks.context()
    taken = [b.edge for b in spec.branches[node.id] if _holds(node, b, ctx)]
    if not taken:
        default = spec.defaults[node.id]
        if default is None:
            raise ActionError("flow.no_branch", node=node.id)
        taken = [default]
    _expect(spec, node, walk, len(taken))
    return taken


@node_type("task", "approval", "timer", "subprocess")
def _wait(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> tuple[EdgeDef, ...]:
    walk.tokens.append(node.id)
    walk.waiting.append(node.id)
    return ()


@node_type("join")
def _join(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> tuple[EdgeDef, ...]:
    walk.tokens.append(node.id)
    joins = walk.state.get("joins") or {}
    expected = joins.get(node.id, spec.incoming_count[node.id])
    if walk.tokens.count(node.id) < expected:
        return ()
    walk.tokens[:] = [t for t in walk.tokens if t != node.id]
    joins.pop(node.id, None)
    return spec.outgoing[node.id]


@node_type("end")
def _end(spec: FlowSpec, node: NodeDef, walk: Walk, hooks: Hooks) -> tuple[EdgeDef, ...]:
    walk.state["ended_at_node"] = node.id
    return ()


def enter(spec: FlowSpec, node_id: str, walk: Walk, hooks: Hooks = NO_HOOKS, via: str | None = None) -> Walk:
    """Enter ``node_id`` and keep going through nodes that do not wait for anyone."""
    pending: list[tuple[str, str | None]] = [(node_id, via)]
    nodes, events = spec.nodes, walk.events
    while pending:
        current, came_from = pending.pop(0)
        walk.steps += 1
        if walk.steps > MAX_STEPS:
            raise ActionError("flow.loop", node=current)
        node = nodes[current]
        events.append(("stage_entered", {"node": current, "type": node.type, "from": came_from}))
        for edge in NODE_TYPES[node.type](spec, node, walk, hooks):
            pending.append((edge.target, current))
    if not walk.tokens and "ended_at_node" in walk.state:
        walk.finished = True
        events.append(("flow_ended", {"node": walk.state.pop("ended_at_node")}))
    return walk


def start(spec: FlowSpec, hooks: Hooks = NO_HOOKS) -> Walk:
    return enter(spec, spec.start, Walk(tokens=[]), hooks)


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


def _leave_token(walk: Walk, node_id: str, action: str | None) -> None:
    if node_id in walk.tokens:
        walk.tokens.remove(node_id)
    walk.left.append(node_id)
    walk.events.append(("stage_left", {"node": node_id, "action": action}))


def complete(
    spec: FlowSpec,
    tokens: list[str],
    node_id: str,
    action: str,
    hooks: Hooks = NO_HOOKS,
    state: dict[str, Any] | None = None,
) -> Walk:
    """The work at ``node_id`` finished with ``action``: leave the node and follow the matching edge."""
    known = available_actions(spec, node_id)
    if action not in known:
        raise ActionError("flow.unknown_action", action=action, known=", ".join(known))
    walk = Walk(tokens=list(tokens), state=dict(state or {}))
    _leave_token(walk, node_id, action)
    edges = spec.outgoing[node_id]
    if action == "reject" and not any(e.action == "reject" for e in edges):
        target = spec.node(node_id).get("on_reject") or "end"
        if target == "end" or spec.node(target).type == "end":
            return finish(walk, node_id, "rejected")
        return enter(spec, target, walk, hooks, via=node_id)
    chosen = taken_edge(spec, node_id, action)
    if chosen is None:  # a node with no way out (the flow checks refuse one)
        raise ActionError("flow.unknown_action", action=action, known=", ".join(known))
    return enter(spec, chosen.target, walk, hooks, via=node_id)


def taken_edge(spec: FlowSpec, node_id: str, action: str) -> EdgeDef | None:
    """The edge ``action`` takes out of ``node_id``: its own, else the plain one; None for a reject
    that goes to ``on_reject`` rather than along an edge."""
    edges = spec.outgoing[node_id]
    if action == "reject" and not any(e.action == "reject" for e in edges):
        return None
    chosen = [e for e in edges if e.action == action] or [e for e in edges if e.action is None] or list(edges)
    return chosen[0] if chosen else None


def required_fields(spec: FlowSpec, node_id: str, action: str) -> tuple[str, ...]:
    """The fields that must hold a value before ``action`` is taken at ``node_id`` (the edge's requires)."""
    edge = taken_edge(spec, node_id, action) if node_id in spec.outgoing else None
    return edge.requires if edge is not None else ()


def primary_action(spec: FlowSpec, node_id: str, actions: list[str]) -> str | None:
    """The action shown as the main (blue) button of a task: the first one, in the order the edges
    are written, that moves the ticket on — its edge does not lead back to ``node_id`` (a detour
    such as asking the customer and coming back) — and is not a rejection; else the first action
    that is not a rejection; else the first."""
    if not actions:
        return None
    ahead = [a for a in actions if a != "reject"]
    for action in ahead:
        edge = taken_edge(spec, node_id, action) if node_id in spec.outgoing else None
        if edge is not None and not _leads_back(spec, edge.target, node_id):
            return action
    return (ahead or actions)[0]


def _leads_back(spec: FlowSpec, start: str, node_id: str) -> bool:
    """Whether the edges from ``start`` lead back to ``node_id`` (rejections and returns not counted)."""
    seen, stack = set(), [start]
    while stack:
        current = stack.pop()
        if current == node_id:
            return True
        if current in seen:
            continue
        seen.add(current)
        stack.extend(e.target for e in spec.outgoing.get(current, ()))
    return False


def resume(
    spec: FlowSpec,
    tokens: list[str],
    node_id: str,
    hooks: Hooks = NO_HOOKS,
    state: dict[str, Any] | None = None,
) -> Walk:
    """A timer or sub-process at ``node_id`` is done: follow all of its outgoing edges."""
    walk = Walk(tokens=list(tokens), state=dict(state or {}))
    _leave_token(walk, node_id, None)
    edges = spec.outgoing[node_id]
    for edge in edges[1:]:
        enter(spec, edge.target, walk, hooks, via=node_id)
    return enter(spec, edges[0].target, walk, hooks, via=node_id) if edges else walk


def jump(
    spec: FlowSpec,
    tokens: list[str],
    from_nodes: list[str],
    to_node: str,
    hooks: Hooks = NO_HOOKS,
    state: dict[str, Any] | None = None,
    reason: str = "return",
) -> Walk:
    """Take the tokens at ``from_nodes`` and put one at ``to_node`` (return, withdraw, reopen)."""
    walk = Walk(tokens=list(tokens), state=dict(state or {}))
    for node_id in from_nodes:
        _leave_token(walk, node_id, reason)
    if not walk.tokens:  # nothing left running: no join waits for anyone any more
        walk.state.pop("joins", None)
    return enter(spec, to_node, walk, hooks, via=from_nodes[0] if from_nodes else None)


def finish(walk: Walk, node_id: str, outcome: str) -> Walk:
    """End the flow now (rejected, closed or cancelled): every other token is taken away too."""
    for token in list(walk.tokens):
        _leave_token(walk, token, outcome)
    walk.finished = True
    walk.events.append(("flow_ended", {"node": node_id, "outcome": outcome}))
    return walk


__all__ = [
    "NODE_TYPES",
    "PEOPLE",
    "ConditionFailed",
    "Hooks",
    "Walk",
    "available_actions",
    "complete",
    "enter",
    "finish",
    "jump",
    "node_type",
    "resume",
    "start",
]
