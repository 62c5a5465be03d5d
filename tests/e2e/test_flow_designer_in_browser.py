"""The flow designer in Chromium: a business user adds an or-sign approval to the complaint flow,
connects it and saves; the engines' static checks show on the node they concern while drawing."""

from __future__ import annotations

import copy
import re
from itertools import pairwise
from typing import Any

from playwright.sync_api import expect

from engine.designer import load_draft, save_draft

FLOW = "/designer/complaint/flow/complaint"


def _open(page: Any, sign_in: Any, path: str = FLOW) -> None:
    sign_in(page, "root")
    page.goto(path)
    expect(page.locator("#flow-designer[data-ready='1']")).to_be_attached()
    expect(page.locator("#flow-designer[data-checked]")).to_be_attached()


def _node(page: Any, node_id: str) -> Any:
    return page.locator(f"#flow-canvas g[data-node-id='{node_id}']")


def _stored_flow(live_site: Any) -> dict[str, Any]:
    return load_draft(live_site.platform.db, "complaint").definition["ticket_types"]["complaint"]["flow"]


def test_add_an_or_sign_approval_connect_it_and_save(page, live_site, sign_in, shoot) -> None:
    shipped = [n["id"] for n in _stored_flow(live_site)["nodes"]]
    _open(page, sign_in)
    expect(_node(page, "review")).to_be_visible()
    shoot(page, "01-complaint-flow")

    # Click the palette's approval: a new node, selected, with its property panel open.
    page.locator(".palette-item[data-node-type='approval']").click()
    expect(_node(page, "approval_1")).to_be_visible()
    panel = page.locator("#flow-panel")
    expect(panel).to_have_attribute("data-selected", "approval_1")
    # A fresh approval is unreachable and leads nowhere: the checks say so on the node itself.
    expect(_node(page, "approval_1")).to_have_class(re.compile(r"\bgd-problem\b"))

    panel.locator("[data-prop=id]").fill("lead_approval")
    panel.locator("[data-prop=id]").press("Enter")
    expect(panel).to_have_attribute("data-selected", "lead_approval")
    panel.locator("[data-lang=zh]").first.fill("主管审批")
    panel.locator("[data-lang=en]").first.fill("Lead approval")
    panel.locator("[data-lang=en]").first.press("Tab")
    panel.locator("[data-prop=mode]").select_option("or_sign")
    panel.locator("[data-action=add-approver]").click()  # a role: the first of the app (agent)
    panel.locator("[data-section=approval] [data-role=assignee-kind]").first.select_option("role")
    panel.locator("[data-section=approval] .kit-assignee-value select").first.select_option("cs_lead")
    panel.locator("[data-action=add-approver]").click()
    panel.locator("[data-section=approval] .kit-assignee-value select").nth(1).select_option("quality")

    # Connect it: on to the review, and from the resolve step with its own action.
    panel.locator("[data-role=connect-target]").select_option("review")
    panel.locator("[data-action=connect]").click()
    _node(page, "fix").click()
    expect(panel).to_have_attribute("data-selected", "fix")
    panel.locator("[data-role=connect-target]").select_option("lead_approval")
    panel.locator("[data-action=connect]").click()
    panel.locator("[data-section=connections] a", has_text="主管审批").click()
    expect(panel).to_have_attribute("data-kind", "edge")
    panel.locator("[data-prop=action]").fill("ask_lead")
    panel.locator("[data-prop=action]").press("Tab")
    panel.locator("[data-section=edge] [data-lang=en]").fill("Ask the lead")
    panel.locator("[data-section=edge] [data-lang=en]").press("Tab")

    # Every check passes again: no node is marked.
    expect(page.locator("#flow-problems .ok")).to_be_visible()
    expect(page.locator("#flow-canvas g.gd-problem")).to_have_count(0)
    shoot(page, "02-approval-added")

    # Auto-layout puts the approval in its own column between the resolve step and the review.
    page.locator("[data-action=layout]").click()
    page.locator("[data-action=fit]").click()
    x = {n: _node(page, n).bounding_box()["x"] for n in ("fix", "lead_approval", "review")}
    assert x["fix"] < x["lead_approval"] < x["review"], x
    shoot(page, "03-auto-layout")

    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    flow = _stored_flow(live_site)
    node = next(n for n in flow["nodes"] if n["id"] == "lead_approval")
    assert node["type"] == "approval" and node["mode"] == "or_sign"
    assert node["assignees"] == [{"role": "cs_lead"}, {"role": "quality"}]
    assert node["name"] == {"zh": "主管审批", "en": "Lead approval"}
    assert ["lead_approval", "review"] in flow["edges"]
    assert {
        "from": "fix",
        "to": "lead_approval",
        "action": "ask_lead",
        "name": {"en": "Ask the lead"},
    } in flow["edges"]
    # the rest of the flow is as it was
    assert [n["id"] for n in flow["nodes"]] == [*shipped, "lead_approval"]

    # Undo takes the last edit back on the canvas too.
    page.locator("[data-action=undo]").click()
    expect(page.locator("#flow-canvas text", has_text="Ask the lead")).to_have_count(0)


def test_a_static_check_problem_shows_on_the_node_concerned(page, live_site, sign_in, shoot) -> None:
    _open(page, sign_in)
    # An exclusive gateway after triage with one conditional branch and no default branch.
    page.locator(".palette-item[data-node-type='task']").click()
    expect(_node(page, "task_1")).to_be_visible()
    task = _node(page, "task_1")
    expect(task).to_have_attribute("data-problems", "2")  # unreachable, and no way out
    problems = page.locator("#flow-problems li")
    expect(problems.filter(has_text="task_1").first).to_be_visible()
    shoot(page, "01-unconnected-task")

    # Connecting it from the start and on to the end leaves one complaint: the start's two edges.
    panel = page.locator("#flow-panel")
    panel.locator("[data-role=connect-target]").select_option("end")
    panel.locator("[data-action=connect]").click()
    expect(task).to_have_attribute("data-problems", "1")  # still unreachable
    expect(task.locator(".gd-badge title")).to_contain_text("task_1")

    # Deleting it takes its problems away.
    page.keyboard.press("Delete")
    expect(_node(page, "task_1")).to_have_count(0)
    expect(page.locator("#flow-problems .ok")).to_be_visible()


def test_a_300_node_flow_draws_once_and_saves(page, live_site, sign_in, shoot) -> None:
    db = live_site.platform.db
    draft = load_draft(db, "complaint")
    definition = copy.deepcopy(draft.definition)
    flow = definition["ticket_types"]["complaint"]["flow"]
    chain = [f"step_{i}" for i in range(300 - len(flow["nodes"]))]
    flow["nodes"][-1:-1] = [{"id": n, "type": "task", "name": {"zh": n, "en": n}} for n in chain]
    edges = flow["edges"]
    edges.remove(["review", "rate"])
    edges += [
        ["review", chain[0]],
        *([a, b] for a, b in pairwise(chain)),
        [chain[-1], "rate"],
    ]
    save_draft(db, "complaint", draft.revision, definition)
    assert len(flow["nodes"]) == 300

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    _open(page, sign_in)
    root = page.locator("#flow-designer")
    expect(root).to_have_attribute("data-nodes", "300")
    expect(page.locator("#flow-problems .ok")).to_be_visible()
    # one draft load and one check for the whole flow: no request per node
    assert len([u for u in requests if u.endswith("/draft")]) == 1
    assert len([u for u in requests if u.endswith("/draft/check")]) == 1
    render_ms = int(root.get_attribute("data-render-ms"))
    print(f"300-node flow drawn in {render_ms} ms")
    shoot(page, "01-300-nodes")
    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    assert len(_stored_flow(live_site)["nodes"]) == 300


def test_nodes_are_dragged_from_the_palette_and_connected_by_their_anchors(page, live_site, sign_in) -> None:
    _open(page, sign_in)
    canvas = page.locator("#flow-canvas").bounding_box()
    item = page.locator(".palette-item[data-node-type='timer']").bounding_box()
    page.mouse.move(item["x"] + 20, item["y"] + 10)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 200, canvas["y"] + 80, steps=8)
    page.mouse.move(canvas["x"] + 210, canvas["y"] + 90, steps=2)
    page.mouse.up()
    timer = _node(page, "timer_1")
    expect(timer).to_be_visible()
    expect(page.locator("#flow-panel")).to_have_attribute("data-selected", "timer_1")
    expect(timer).to_have_attribute("data-problems", "2")  # unreachable, and no way out

    # Draw a connection from the timer's right anchor onto the end node.
    timer.hover()
    anchors = timer.locator(".lf-node-anchor")
    expect(anchors.first).to_be_attached()
    boxes = [anchors.nth(i).bounding_box() for i in range(anchors.count())]
    right = max(boxes, key=lambda b: b["x"])
    end = _node(page, "end").bounding_box()
    page.mouse.move(right["x"] + right["width"] / 2, right["y"] + right["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=10)
    page.mouse.up()
    expect(timer).to_have_attribute("data-problems", "1")  # it leads somewhere now
    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class(re.compile(r"\bbad\b"))  # still unreachable: refused
    assert not any(n["id"] == "timer_1" for n in _stored_flow(live_site)["nodes"])


def test_a_gateway_s_branches_get_a_condition_and_a_default(page, live_site, sign_in, shoot) -> None:
    gateway_at = len(_stored_flow(live_site)["nodes"])  # the new node's index in the flow's nodes
    _open(page, sign_in)
    panel = page.locator("#flow-panel")
    problems = page.locator("#flow-problems")
    # Take the review → rate connection away and put an exclusive gateway in its place.
    _node(page, "review").click()
    panel.locator("[data-section=connections] a").first.click()
    expect(panel).to_have_attribute("data-kind", "edge")
    panel.locator("[data-action=delete]").click()
    _node(page, "review").click()
    page.locator(".palette-item[data-node-type='exclusive']").click()
    expect(_node(page, "exclusive_1")).to_be_visible()
    _node(page, "review").click()
    panel.locator("[data-role=connect-target]").select_option("exclusive_1")
    panel.locator("[data-action=connect]").click()
    _node(page, "exclusive_1").click()
    for target in ("rate", "end"):
        panel.locator("[data-role=connect-target]").select_option(target)
        panel.locator("[data-action=connect]").click()
    # Two branches without a condition, and no default: said on the edges and on the gateway.
    expect(problems.locator(f"li[data-path$='.nodes[{gateway_at}]']")).to_have_count(1)
    expect(problems.locator("li[data-path*='.edges[']")).to_have_count(2)
    expect(_node(page, "exclusive_1")).to_have_attribute("data-problems", "1")
    shoot(page, "01-gateway-needs-conditions")

    panel.locator("[data-section=connections] a").nth(1).click()  # → end
    panel.locator("input[data-prop=if]").fill("vip and rating_comment")
    expect(panel.locator("input[data-prop=if]")).to_have_class(re.compile(r"\bgood\b"))
    panel.locator("input[data-prop=if]").press("Tab")
    _node(page, "exclusive_1").click()
    panel.locator("[data-section=connections] a").first.click()  # → rate
    panel.locator("[data-section=edge] input[type=checkbox]").check()
    expect(problems.locator(".ok")).to_be_visible()
    shoot(page, "02-gateway-decides")

    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    edges = _stored_flow(live_site)["edges"]
    assert {"from": "exclusive_1", "to": "end", "if": "vip and rating_comment"} in edges
    assert {"from": "exclusive_1", "to": "rate", "default": True} in edges
    assert ["review", "exclusive_1"] in edges and ["review", "rate"] not in edges
