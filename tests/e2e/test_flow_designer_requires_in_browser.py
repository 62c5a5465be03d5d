"""The flow designer in Chromium: a business user says, by ticking boxes, which fields an action
requires (an edge's ``requires``); once published, a ticket is refused that action without them.
The checks' problem with a required field shows at that field's box in the edge's inspector."""

from __future__ import annotations

import copy
import re
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import update

from engine.designer import load_draft, save_draft
from engine.people import user_id
from engine.store.models import AppDraft
from tests.e2e.conftest import ADMIN
from tests.e2e.test_designer_walkthrough import BEFORE, Api
from tests.e2e.test_flow_designer_in_browser import FLOW, _node, _open, _stored_flow

DISPATCH = {"from": "triage", "to": "fix", "action": "dispatch", "name": {"zh": "分派", "en": "Dispatch"}}


def _edge(flow: dict[str, Any], action: str) -> dict[str, Any]:
    return next(e for e in flow["edges"] if isinstance(e, dict) and e.get("action") == action)


def _task_for(api: Api, who: str, ticket_id: int, action: str) -> int:
    """The task on which ``who`` may take ``action`` (claimed from their team's queue if need be)."""
    offered = api.ticket(who, ticket_id)["actions"]
    pooled = next((a["task_id"] for a in offered if a["action"] == "claim"), None)
    if pooled is not None and not any(a["action"] == action for a in offered):
        api.call(who, "POST", f"/tasks/{pooled}/claim")
        offered = api.ticket(who, ticket_id)["actions"]
    return next(a["task_id"] for a in offered if a["action"] == action)


def _open_edge(page: Any, node: str, label: str) -> Any:
    """Select ``node`` on the canvas, then its connection named ``label``: the edge's inspector."""
    panel = page.locator("#flow-panel")
    _node(page, node).click()
    expect(panel).to_have_attribute("data-selected", node)
    panel.locator("[data-section=connections] a", has_text=label).click()
    expect(panel).to_have_attribute("data-kind", "edge")
    return panel.locator("[data-prop=requires]")


def test_a_designer_ticks_what_dispatch_requires_and_the_published_flow_refuses_it_without(
    page, live_site, sign_in, shoot
) -> None:
    _open(page, sign_in)
    # The shipped requirement shows as it is: submitting for review requires the solution.
    resolve = _open_edge(page, "fix", "提交审核")
    expect(resolve).to_contain_text("此操作需要填写")
    expect(resolve.locator("[data-requires=solution]")).to_be_checked()
    expect(resolve.locator("[data-requires=owner]")).not_to_be_checked()
    expect(page.locator("#flow-canvas text", has_text="提交审核 *")).to_be_visible()

    # Dispatching now requires the owner: one tick.
    dispatch = _open_edge(page, "triage", "分派")
    expect(dispatch.locator("input[type=checkbox]:checked")).to_have_count(0)
    dispatch.locator("[data-requires=owner]").check()
    expect(page.locator("#flow-canvas text", has_text="分派 *")).to_be_visible()
    # Asking the customer: ticked and unticked again, it requires nothing (no key left behind).
    ask = _open_edge(page, "fix", "请客户补充")
    ask.locator("[data-requires=solution]").check()
    ask.locator("[data-requires=solution]").uncheck()
    expect(page.locator("#flow-problems .ok")).to_be_visible()
    _open_edge(page, "triage", "分派")
    shoot(page, "01-dispatch-requires-owner")

    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    flow = _stored_flow(live_site)
    assert _edge(flow, "dispatch") == {**DISPATCH, "requires": ["owner"]}
    assert "requires" not in _edge(flow, "ask_customer")
    assert _edge(flow, "resolve")["requires"] == ["solution"]

    # Published (the designer API, as the publish page calls it): version 2 runs the new rule.
    api = Api(page, live_site)
    revision = load_draft(live_site.platform.db, "complaint").revision
    published = api.call(ADMIN, "POST", "/apps/complaint/draft/publish", {"revision": revision})
    assert published["version"] == 2
    ticket = api.call("grace", "POST", "/apps/complaint/ticket_types/complaint/tickets", BEFORE, status=201)
    assert (ticket["version"], ticket["stage"]) == (2, "triage")

    # alice (billing) dispatches without an owner: refused at the owner field, the ticket stays.
    task = _task_for(api, "alice", ticket["id"], "dispatch")
    refused = api.call(
        "alice", "POST", f"/tasks/{task}/complete", {"action": "dispatch", "data": {}}, status=422
    )
    assert [(p["path"], p["code"]) for p in refused["problems"]] == [("owner", "flow.required_for_action")]
    assert "分派" in refused["problems"][0]["message"]
    assert api.ticket("alice", ticket["id"])["stage"] == "triage"
    # With the owner picked, it goes on to that owner.
    carol = user_id(live_site.platform.db, "carol")
    moved = api.act("alice", ticket["id"], "dispatch", {"owner": carol})
    assert moved["stage"] == "fix" and moved["data"]["owner"] == carol


def test_a_required_field_the_form_lacks_is_marked_at_its_box(page, live_site, sign_in) -> None:
    # A draft stored before its form lost the field (the designer saves only drafts that load, so
    # it is written here directly): dispatch requires "budget", which the form does not have.
    db = live_site.platform.db
    draft = load_draft(db, "complaint")
    save_draft(db, "complaint", draft.revision, draft.definition)  # the draft is stored from here on
    definition = copy.deepcopy(draft.definition)
    flow = definition["ticket_types"]["complaint"]["flow"]
    at = flow["edges"].index(DISPATCH)
    flow["edges"][at] = {**DISPATCH, "requires": ["owner", "budget"]}
    with db.write() as conn:
        stored = conn.execute(
            update(AppDraft).where(AppDraft.app_key == "complaint").values(definition=definition)
        )
        assert stored.rowcount == 1

    _open(page, sign_in, FLOW)
    problems = page.locator("#flow-problems")
    expect(problems.locator(f"li[data-path$='.edges[{at}].requires[1]']")).to_have_count(1)
    dispatch = _open_edge(page, "triage", "分派")
    budget = dispatch.locator("[data-requires-row=budget]")
    expect(budget).to_have_class(re.compile(r"\bbad\b"))
    expect(budget).to_contain_text("表单中没有此字段")
    expect(dispatch.locator("[data-requires-row=owner]")).not_to_have_class(re.compile(r"\bbad\b"))
    expect(dispatch.locator(".kit-expr-note.error")).to_contain_text("budget")

    # Unticking it clears the problem; the owner stays required.
    dispatch.locator("[data-requires=budget]").uncheck()
    expect(problems.locator(".ok")).to_be_visible()
    expect(dispatch.locator(".kit-expr-note.error")).to_have_count(0)
    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    assert _edge(_stored_flow(live_site), "dispatch")["requires"] == ["owner"]
