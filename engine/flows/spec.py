"""FlowSpec: a flow definition compiled once into lookup tables for stepping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.definitions.model import EdgeDef, FlowDef, NodeDef


@dataclass(frozen=True)
class FlowSpec:
    definition: FlowDef
    start: str
    nodes: Mapping[str, NodeDef]
    outgoing: Mapping[str, tuple[EdgeDef, ...]]
    incoming_count: Mapping[str, int]

    def node(self, node_id: str) -> NodeDef:
        return self.nodes[node_id]


def compile_flow(flow: FlowDef) -> FlowSpec:
    outgoing: dict[str, list[EdgeDef]] = {n.id: [] for n in flow.nodes}
    incoming: dict[str, int] = {n.id: 0 for n in flow.nodes}
    for edge in flow.edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target] += 1
    start = next(n.id for n in flow.nodes if n.type == "start")
    return FlowSpec(
        definition=flow,
        start=start,
        nodes=MappingProxyType({n.id: n for n in flow.nodes}),
        outgoing=MappingProxyType({k: tuple(v) for k, v in outgoing.items()}),
        incoming_count=MappingProxyType(incoming),
    )
