"""Drawing flows: every shipped flow draws without overlaps, labels are text, the current stage stands out."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.definitions.loader import load_definition
from engine.definitions.model import EdgeDef, FlowDef, NodeDef, text
from engine.flowdraw import back_edges, draw, layout
from engine.flows.spec import compile_flow
from engine.specs import compile_app

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
SVG = "{http://www.w3.org/2000/svg}"
SHIPPED = [
    (path.stem, key, tspec.flow)
    for path in sorted(APPS.glob("*.yaml"))
    for key, tspec in compile_app(load_definition(path).app).types.items()
]


def node(node_id: str, kind: str = "task", name: object = None) -> NodeDef:
    return NodeDef(node_id, kind, text(name or node_id), {})


def flow_of(nodes: list[NodeDef], edges: list[tuple[str, str]]) -> FlowDef:
    return FlowDef(tuple(nodes), tuple(EdgeDef(s, t) for s, t in edges), {}, ())


def groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-node"): g for g in root.iter(f"{SVG}g") if g.get("data-node")}


@pytest.mark.parametrize(("app", "ticket_type", "flow"), SHIPPED, ids=[f"{a}.{t}" for a, t, _ in SHIPPED])
def test_every_shipped_flow_draws_each_node_once_in_its_own_place(app, ticket_type, flow):
    svg = draw(flow, lang="en", title=f"{app} {ticket_type}")
    drawn = groups(svg)  # well-formed XML, or this raises
    assert set(drawn) == set(flow.nodes)
    places = layout(flow)
    assert len({(p.x, p.y) for p in places.values()}) == len(places)
    for a in places.values():  # no two shapes even touch
        for b in places.values():
            if a is not b:
                assert (
                    abs(a.x - b.x) >= (a.width + b.width) / 2 or abs(a.y - b.y) >= (a.height + b.height) / 2
                )
    paths = [p for p in ET.fromstring(svg).iter(f"{SVG}path") if p.get("data-from")]
    assert len(paths) == len(flow.definition.edges)


@pytest.mark.parametrize(("app", "ticket_type", "flow"), SHIPPED, ids=[f"{a}.{t}" for a, t, _ in SHIPPED])
def test_edges_that_do_not_go_back_run_left_to_right(app, ticket_type, flow):
    places, back = layout(flow), back_edges(flow.definition)
    for e in flow.definition.edges:
        if (e.source, e.target) not in back:
            assert places[e.source].column < places[e.target].column, (e.source, e.target)


def test_a_return_to_an_earlier_stage_is_drawn_as_a_way_back():
    flow = flow_of(
        [node("start", "start"), node("fix"), node("check"), node("end", "end")],
        [("start", "fix"), ("fix", "check"), ("check", "fix"), ("check", "end")],
    )
    assert back_edges(flow) == {("check", "fix")}
    places = layout(flow)
    assert places["start"].column < places["fix"].column < places["check"].column < places["end"].column
    svg = draw(flow)
    assert 'class="gd-edge back" data-from="check" data-to="fix"' in svg


def test_the_current_stage_is_highlighted_and_the_visited_ones_marked():
    flow = compile_app(load_definition(APPS / "complaint.yaml").app).types["complaint"].flow
    drawn = groups(draw(flow, current=["fix"], visited=["start", "triage", "fix"], lang="zh"))
    assert "current" in drawn["fix"].get("class") and drawn["fix"].get("aria-current") == "step"
    assert "visited" in drawn["triage"].get("class") and "current" not in drawn["triage"].get("class")
    assert "visited" not in drawn["review"].get("class") and "current" not in drawn["review"].get("class")
    assert drawn["fix"].get("stroke") != drawn["review"].get("stroke")
    assert drawn["triage"].find(f"{SVG}title").text == "受理分派"


def test_gateways_are_diamonds_and_people_steps_are_boxes():
    flow = compile_app(load_definition(APPS / "it_ops.yaml").app).types["request"].flow
    drawn = groups(draw(flow, lang="en"))
    split = drawn["split"].find(f"{SVG}path")
    assert split is not None and re.fullmatch(r"M0 -\d+ L\d+ 0 L0 \d+ L-\d+ 0 Z", split.get("d"))
    assert drawn["process"].find(f"{SVG}rect") is not None
    assert drawn["submit"].find(f"{SVG}circle") is not None


def test_labels_are_escaped_text():
    evil = '<script>alert("x")</script> & <b>'
    flow = compile_flow(
        flow_of(
            [node("start", "start"), node("a", "task", evil), node("end", "end")],
            [("start", "a"), ("a", "end")],
        )
    )
    svg = draw(flow, current=["a"], title=evil)
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    title = groups(svg)["a"].find(f"{SVG}title").text
    assert title == evil  # the full label, as text


def test_a_long_label_is_cut_and_kept_whole_in_its_tooltip():
    name = "A very long step name that cannot fit into one small box at all"
    flow = flow_of([node("start", "start"), node("a", "task", name)], [("start", "a")])
    a = groups(draw(flow))["a"]
    shown = "".join(a.itertext())
    assert a.find(f"{SVG}title").text == name and "…" in shown


def test_an_empty_or_disconnected_flow_still_draws():
    lone = flow_of(
        [node("start", "start"), node("island"), node("other")], [("island", "other"), ("other", "island")]
    )
    places = layout(lone)
    assert len({(p.x, p.y) for p in places.values()}) == 3
    assert set(groups(draw(lone))) == {"start", "island", "other"}
