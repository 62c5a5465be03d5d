"""FlowSpec: a flow definition compiled once per (app, version) into lookup tables for stepping.

Edge conditions are compiled to expressions here; each split (parallel or inclusive gateway) is
paired with the join where its branches meet, so a join knows how many arrivals to wait for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.definitions.model import EdgeDef, FlowDef, NodeDef
from engine.expressions import Expression, compile_expr

#: Node types where a token stays until something outside the walk happens.
WAITING = frozenset({"task", "approval", "timer", "subprocess"})
PEOPLE = frozenset({"task", "approval"})


@dataclass(frozen=True)
class Branch:
    edge: EdgeDef
    condition: Expression | None


@dataclass(frozen=True)
class FlowSpec:
    definition: FlowDef
    start: str
    nodes: Mapping[str, NodeDef]
    outgoing: Mapping[str, tuple[EdgeDef, ...]]
    branches: Mapping[str, tuple[Branch, ...]]  # per gateway: conditional edges in written order
    defaults: Mapping[str, EdgeDef | None]  # per gateway: its default edge
    incoming_count: Mapping[str, int]
    join_of: Mapping[str, str]  # split node → the join its branches meet at
    returns: Mapping[str, tuple[str, ...]]
    reopen_to: str | None

    def node(self, node_id: str) -> NodeDef:
        return self.nodes[node_id]


def _meeting_join(
    node_id: str, outgoing: Mapping[str, list[EdgeDef]], nodes: Mapping[str, NodeDef]
) -> str | None:
    """The join that every branch of ``node_id`` reaches first (the nearest one common to all)."""
    reach: list[dict[str, int]] = []
    for edge in outgoing[node_id]:
        seen: dict[str, int] = {}
        frontier, depth = [edge.target], 0
        visited = {node_id}
        while frontier:
            depth += 1
            nxt = []
            for current in frontier:
                if current in visited:
                    continue
                visited.add(current)
                if nodes[current].type == "join":
                    seen.setdefault(current, depth)
                    continue
                nxt.extend(e.target for e in outgoing[current])
            frontier = nxt
        reach.append(seen)
    common = set(reach[0]).intersection(*reach[1:]) if reach else set()
    if not common:
        return None
    return min(common, key=lambda j: (sum(r[j] for r in reach), j))


def compile_flow(flow: FlowDef) -> FlowSpec:
    nodes = {n.id: n for n in flow.nodes}
    outgoing: dict[str, list[EdgeDef]] = {n.id: [] for n in flow.nodes}
    incoming: dict[str, int] = {n.id: 0 for n in flow.nodes}
    for edge in flow.edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target] += 1
    branches: dict[str, tuple[Branch, ...]] = {}
    defaults: dict[str, EdgeDef | None] = {}
    join_of: dict[str, str] = {}
    for node in flow.nodes:
        if node.type in ("exclusive", "inclusive"):
            branches[node.id] = tuple(
                Branch(e, compile_expr(e.condition)) for e in outgoing[node.id] if not e.default
            )
            defaults[node.id] = next((e for e in outgoing[node.id] if e.default), None)
        if node.type in ("parallel", "inclusive") and len(outgoing[node.id]) > 1:
            join = _meeting_join(node.id, outgoing, nodes)
            if join is not None:
                join_of[node.id] = join
    start = next(n.id for n in flow.nodes if n.type == "start")
    reopen = flow.reopen_to
    if reopen is None:  # the last person's node before an end
        ends = {n.id for n in flow.nodes if n.type == "end"}
        reopen = next(
            (e.source for e in reversed(flow.edges) if e.target in ends and nodes[e.source].type in PEOPLE),
            None,
        )
    return FlowSpec(
        definition=flow,
        start=start,
        nodes=MappingProxyType(nodes),
        outgoing=MappingProxyType({k: tuple(v) for k, v in outgoing.items()}),
        branches=MappingProxyType(branches),
        defaults=MappingProxyType(defaults),
        incoming_count=MappingProxyType(incoming),
        join_of=MappingProxyType(join_of),
        returns=flow.returns,
        reopen_to=reopen,
    )
