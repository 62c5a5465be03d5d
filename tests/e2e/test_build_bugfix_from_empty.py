"""A business user builds a small bug-fix app from the Empty template with the designers' forms
only — palette drags, property panels, the flow designer's forms for returns (退回), the escalation
chain and per-role field permissions — publishes it, and a bug then goes through it in the portal:
triage, fix, verify, and back to fix with the return action.

Headless Chromium against the real Flask app over HTTP (fixtures in conftest.py); ``expect``
retries until the page shows what is expected: no sleeps, no timings. Screenshots of each step go
to var/test-artifacts/e2e/.

Two things are not done through the designer because it does not offer them (yet): writing a
scenario test (the publish page runs the app's scenario tests, but there is no form to write one)
and putting people into the app's role (an administrator's job, done here with the engine).
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import pytest

if importlib.util.find_spec("playwright") is None:  # the browser fixture checks for chromium itself
    REASON = "playwright is not installed (pip install -e '.[dev]'); it drives chromium"
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(REASON + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import Locator, Page, expect

from engine.admin import set_role_members
from engine.designer import load_draft
from engine.people import user_id
from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.slow

APP = "bugs"
TYPE = "request"  # the Empty template's ticket type
FORM = f"/designer/{APP}/form/{TYPE}"
FLOW = f"/designer/{APP}/flow/{TYPE}"
RULES = f"/designer/{APP}/rules/{TYPE}"
REPORTS = f"/designer/{APP}/reports/{TYPE}"
TALL = {"width": 1280, "height": 1400}


def drag(page: Page, source: Locator, target: Locator) -> None:
    """Drag with the mouse the way a person does (SortableJS and LogicFlow follow pointer moves)."""
    page.evaluate("window.scrollTo(0, 0)")
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 12, start["y"] + start["height"] / 2 + 8, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 6, steps=20)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 3, steps=3)
    page.mouse.up()


def _type(live_site: Any) -> dict[str, Any]:
    return load_draft(live_site.platform.db, APP).definition["ticket_types"][TYPE]


def _saved(page: Page) -> None:
    expect(page.locator("#draft-status")).to_have_class(re.compile(r"\bok\b"))


# ---------------------------------------------------------------------------------------- form
def _add_field(page: Page, kind: str, key: str, zh: str, en: str) -> Locator:
    drag(
        page,
        page.locator(f'.fd-palette-item[data-type="{kind}"]'),
        page.locator('.fd-fields[data-section="0"] .fd-field').last,
    )
    added = page.locator(f'.fd-fields[data-section="0"] .fd-field[data-key="{kind}"]')
    expect(added).to_have_class(re.compile(r"\bselected\b"))
    props = page.locator("#fd-props")
    for prop, value in (("label_zh", zh), ("label_en", en), ("key", key)):
        props.locator(f"[data-prop={prop}]").fill(value)
        props.locator(f"[data-prop={prop}]").press("Tab")
    expect(page.locator(f'.fd-field[data-key="{key}"]')).to_contain_text(zh)
    return props


def _build_form(page: Page, shoot: Any) -> None:
    page.set_viewport_size(TALL)  # the whole palette and the form in view, as on a big screen
    page.goto(FORM)
    expect(page.locator("#form-designer")).to_have_attribute("data-ready", "true")
    props = _add_field(page, "select", "severity", "严重程度", "Severity")
    options = props.locator("textarea[data-prop=options]")
    options.fill("blocker=阻断|Blocker\nmajor=一般|Major\nminor=轻微|Minor")
    options.press("Tab")
    _add_field(page, "textarea", "steps", "复现步骤", "Steps to reproduce")
    _add_field(page, "user", "developer", "负责开发", "Developer")
    expect(page.locator("#fd-preview [name=severity] option[value=blocker]")).to_be_attached()
    expect(page.locator("#fd-check")).to_have_class(re.compile(r"\bok\b"))
    shoot(page, "01-form")
    page.locator('[data-cmd="save"]').click()
    _saved(page)


# ---------------------------------------------------------------------------------------- flow
def _node(page: Page, node_id: str) -> Locator:
    return page.locator(f"#flow-canvas g[data-node-id='{node_id}']")


def _name_node(panel: Locator, node_id: str, zh: str, en: str) -> None:
    panel.locator("[data-prop=id]").fill(node_id)
    panel.locator("[data-prop=id]").press("Enter")
    expect(panel).to_have_attribute("data-selected", node_id)
    panel.locator("[data-lang=zh]").first.fill(zh)
    panel.locator("[data-lang=en]").first.fill(en)
    panel.locator("[data-lang=en]").first.press("Tab")


def _connect(page: Page, source: str, target: str, action: str, zh: str) -> None:
    """Connect from the selected node's panel, then name the connection's button."""
    panel = page.locator("#flow-panel")
    _node(page, source).click()
    expect(panel).to_have_attribute("data-selected", source)
    panel.locator("[data-role=connect-target]").select_option(target)
    panel.locator("[data-action=connect]").click()
    panel.locator("[data-section=connections] a").last.click()  # the new connection
    expect(panel).to_have_attribute("data-kind", "edge")
    panel.locator("[data-prop=action]").fill(action)
    panel.locator("[data-prop=action]").press("Tab")
    panel.locator("[data-section=edge] [data-lang=zh]").fill(zh)
    panel.locator("[data-section=edge] [data-lang=zh]").press("Tab")


def _build_flow(page: Page, shoot: Any) -> None:
    page.goto(FLOW)
    expect(page.locator("#flow-designer[data-ready='1']")).to_be_attached()
    expect(page.locator("#flow-designer[data-checked]")).to_be_attached()
    panel = page.locator("#flow-panel")

    # The template's one step becomes the triage by the agent role; its way to the end goes.
    _node(page, "handle").click()
    _name_node(panel, "triage", "评估", "Triage")
    expect(panel.locator("[data-section=assignee] .kit-assignee-value select")).to_have_value("agent")
    panel.locator("[data-section=connections] a").first.click()
    expect(panel).to_have_attribute("data-kind", "edge")
    panel.locator("[data-action=delete]").click()

    # The fix: dragged from the palette, worked on by the developer named on the ticket, 1 day.
    canvas = page.locator("#flow-canvas").bounding_box()
    item = page.locator(".palette-item[data-node-type='task']").bounding_box()
    page.mouse.move(item["x"] + 20, item["y"] + 10)
    page.mouse.down()
    page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + 260, steps=8)
    page.mouse.move(canvas["x"] + canvas["width"] / 2 + 10, canvas["y"] + 270, steps=2)
    page.mouse.up()
    expect(panel).to_have_attribute("data-selected", "task_1")
    _name_node(panel, "fix", "修复", "Fix")
    panel.locator("[data-section=assignee] [data-role=assignee-kind]").select_option("field")
    panel.locator("[data-section=assignee] .kit-assignee-value select").select_option("developer")
    panel.locator("[data-prop='sla.resolution']").fill("1d")
    panel.locator("[data-prop='sla.resolution']").press("Tab")
    # Per-role permissions at the fix: the agent may still edit the steps, everyone else reads them;
    # the severity is read-only for everybody.
    grid = panel.locator("[data-section=permissions]")
    grid.locator("select[data-field=steps][data-perm-role=agent]").select_option("editable")
    grid.locator("select[data-field=steps][data-perm-role='*']").select_option("readonly")
    grid.locator("select[data-field=severity][data-perm-role='*']").select_option("readonly")
    grid.scroll_into_view_if_needed()
    shoot(page, "02-fix-permissions")

    # The verification by the agent role, which may send the bug back to the fix.
    page.locator(".palette-item[data-node-type='task']").click()  # right of the selected fix
    expect(panel).to_have_attribute("data-selected", "task_1")
    _name_node(panel, "verify", "验证", "Verify")
    panel.locator("[data-section=assignee] [data-role=assignee-kind]").select_option("role")
    panel.locator("[data-section=assignee] .kit-assignee-value select").select_option("agent")
    returns = panel.locator("[data-section=returns]")
    expect(returns.locator("[data-return-to]")).to_have_count(2)  # triage and fix: people's steps
    returns.locator("[data-return-to=fix]").check()
    returns.scroll_into_view_if_needed()
    shoot(page, "03-verify-returns")

    _connect(page, "triage", "fix", "accept", "确认缺陷")
    _connect(page, "fix", "verify", "resolve", "提交验证")
    _connect(page, "verify", "end", "pass", "验证通过")

    # The escalation chain: at 100 % of the fix's time the developer's manager hears of it.
    _node(page, "fix").click()
    panel.locator("[data-action=open-escalation]").click()
    expect(panel).to_have_attribute("data-kind", "flow")
    chain = panel.locator("[data-section=escalation]")
    chain.locator("[data-action=add-level]").click()
    level = chain.locator(".esc-step").first
    expect(level.locator("[data-prop=esc-at]")).to_have_value("100")
    expect(level.locator("[data-prop=action-kind]")).to_have_value("notify")
    level.locator("[data-prop=to]").fill("manager_of_assignee")
    level.locator("[data-prop=to]").press("Tab")
    level.locator("[data-prop=template]").select_option("sla_breached")
    # A share that is no percentage is refused where it is typed, and nothing is stored.
    level.locator("[data-prop=esc-at]").fill("0")
    level.locator("[data-prop=esc-at]").press("Tab")
    expect(level.locator(".kit-expr-note.error")).to_be_visible()
    level.locator("[data-prop=esc-at]").fill("100")
    level.locator("[data-prop=esc-at]").press("Tab")
    expect(panel.locator("[data-role=returns-summary] a[data-return-from=verify]")).to_contain_text("修复")

    expect(page.locator("#flow-problems .ok")).to_be_visible()
    expect(page.locator("#flow-canvas g.gd-problem")).to_have_count(0)
    page.locator("[data-action=layout]").click()
    page.locator("[data-action=fit]").click()
    chain.scroll_into_view_if_needed()
    shoot(page, "04-flow-and-escalation")
    page.locator("[data-action=save]").click()
    _saved(page)


# ------------------------------------------------------------------------------- rule and report
def _build_rule(page: Page) -> None:
    page.goto(RULES)
    expect(page.locator("#rule-editor")).to_have_attribute("data-ready", "1")
    page.locator("[data-action=add-rule]").click()
    form = page.locator("#rule-form")
    form.locator("[data-prop=name]").fill("阻断缺陷通知负责人")
    form.locator("[data-prop=name]").press("Tab")
    form.locator("[data-action=add-condition]").click()
    form.locator("[data-role=condition-field]").select_option("severity")
    form.locator("[data-role=condition-value]").select_option("blocker")
    expect(form.locator("input[data-prop=if]")).to_have_value("severity == 'blocker'")
    form.locator("[data-prop=to]").fill("agent")
    form.locator("[data-prop=to]").press("Tab")
    page.locator("[data-action=save]").click()
    _saved(page)


def _build_report(page: Page, shoot: Any) -> None:
    page.goto(REPORTS)
    expect(page.locator("#report-builder")).to_have_attribute("data-ready", "1")
    page.locator("[data-action=new-report]").click()
    page.locator("#target-list .target[data-target=severity]").drag_to(page.locator("#report-dims"))
    expect(page.locator("#report-dims .chip[data-target=severity]")).to_be_visible()
    page.locator("[data-prop=id]").fill("by_severity")
    page.locator("[data-prop=id]").press("Tab")
    page.locator("#report-settings [data-lang=zh]").fill("按严重程度")
    page.locator("#report-settings [data-lang=en]").fill("By severity")
    page.locator("#report-settings [data-lang=en]").press("Tab")
    page.locator("[data-action=save-report]").click()
    expect(page.locator("#report-save-status")).to_contain_text("by_severity")
    shoot(page, "05-report")


# ---------------------------------------------------------------------------------------- test
def test_a_business_user_builds_the_bugfix_app_from_empty_and_a_bug_is_returned_to_fix(
    open_page, sign_in, shoot, live_site
) -> None:
    page = open_page()
    sign_in(page, ADMIN)
    page.goto("/designer")
    new = page.locator("#new-app")
    new.locator('input[name=template][value="empty"]').check()
    new.locator("input[name=key]").fill(APP)
    new.locator("input[name=name_zh]").fill("缺陷修复")
    new.locator("input[name=name_en]").fill("Bug fix")
    new.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/designer/{APP}$"))

    _build_form(page, shoot)
    _build_flow(page, shoot)
    _build_rule(page)
    _build_report(page, shoot)

    # What the forms wrote is the app definition a developer would have written by hand.
    tt = _type(live_site)
    nodes = {n["id"]: n for n in tt["flow"]["nodes"]}
    assert [n["id"] for n in tt["flow"]["nodes"]] == ["start", "triage", "end", "fix", "verify"]
    assert nodes["fix"]["assignee"] == {"field": "developer"} and nodes["fix"]["sla"] == {"resolution": "1d"}
    assert nodes["fix"]["permissions"] == {
        "steps": {"agent": "editable", "*": "readonly"},
        "severity": "readonly",
    }
    assert nodes["verify"]["assignee"] == {"role": "agent"}
    assert tt["flow"]["returns"] == {"verify": ["fix"]}
    assert tt["flow"]["escalation"] == [
        {
            "at": "100%",
            "do": [{"notify": {"channel": "email", "to": "manager_of_assignee", "template": "sla_breached"}}],
        }
    ]
    assert {"from": "verify", "to": "end", "action": "pass", "name": {"zh": "验证通过"}} in tt["flow"][
        "edges"
    ]
    assert tt["rules"][0]["if"] == "severity == 'blocker'"
    assert tt["reports"][-1]["dimensions"] == ["severity"]

    # Publish: checked, the scenario tests run (the designer has no form to write one), version 1.
    page.locator(".designer-tabs a[data-tab=publish]").click()
    expect(page.locator("#check-result .ok")).to_be_visible()
    page.locator('[data-step="test"]').click()
    expect(page.locator("#test-result")).to_contain_text("没有场景测试")
    page.locator("#publish-form input[name=note]").fill("从空白应用搭建")
    page.locator("#publish-form button[type=submit]").click()
    expect(page.locator("#publish-result [data-version]")).to_have_attribute("data-version", "1")
    shoot(page, "06-published")

    # An administrator puts alice into the agent role (the admin's pages, not the designer's).
    db = live_site.platform.db
    set_role_members(db, None, APP, "agent", [{"user": "alice"}])
    bob = user_id(db, "bob")

    # grace reports a bug in the portal; bob is the developer.
    grace = open_page()
    sign_in(grace, "grace")
    grace.goto(f"/portal/{APP}/{TYPE}/new")
    grace.get_by_label("标题").fill("导出报表乱码")
    grace.locator("#f-severity").select_option("major")
    grace.get_by_label("复现步骤").fill("导出任一报表为 CSV。")
    grace.locator("#f-developer").select_option(str(bob))  # picked by name; the value is the id
    grace.get_by_role("button", name="提交").click()
    expect(grace.locator(".tk-stage")).to_contain_text("评估")
    ticket_url = grace.url

    # alice claims the triage and accepts the bug: it goes to bob's fix.
    alice = open_page()
    sign_in(alice, "alice")
    alice.goto(ticket_url)
    alice.locator(".tk-actions .tk-task").get_by_role("button", name="认领").click()
    alice.locator(".tk-actions .tk-task").get_by_role("button", name="确认缺陷").click()
    expect(alice.locator(".tk-stage")).to_contain_text("修复")

    bob_page = open_page()
    sign_in(bob_page, "bob")
    bob_page.goto(ticket_url)
    bob_page.locator(".tk-actions .tk-task").get_by_role("button", name="提交验证").click()
    expect(bob_page.locator(".tk-stage")).to_contain_text("验证")

    # alice verifies, is not satisfied and returns it to the fix with the return action.
    alice.goto(ticket_url)
    task = alice.locator(".tk-actions .tk-task")
    task.get_by_role("button", name="认领").click()
    task = alice.locator(".tk-actions .tk-task")
    task.locator("select[name=to]").select_option("fix")
    shoot(alice, "07-return-to-fix")
    task.locator("[data-action=return]").click()
    expect(alice.locator(".tk-stage")).to_contain_text("修复")
    shoot(alice, "08-back-at-fix")
    bob_page.goto(ticket_url)
    expect(bob_page.locator(".tk-actions .tk-task").get_by_role("button", name="提交验证")).to_be_visible()


def test_the_shipped_bugfix_flow_shows_its_returns_escalation_and_role_permissions_as_forms(
    page, sign_in, shoot, live_site
) -> None:
    """What the shipped app says in YAML is what the forms show; a return to a later step is marked
    on the node by the engines' check and refused on save; undo takes an edit back."""
    sign_in(page, ADMIN)
    page.goto("/designer/bugfix/flow/bug")
    expect(page.locator("#flow-designer[data-ready='1']")).to_be_attached()
    expect(page.locator("#flow-problems .ok")).to_be_visible()
    panel = page.locator("#flow-panel")

    # The verification may send back to the hotfix, the fix and the triage, as bugfix.yaml says.
    _node(page, "verify").click()
    returns = panel.locator("[data-section=returns]")
    for target, ticked in (("triage", True), ("hotfix", True), ("fix", True), ("release", False)):
        expect(returns.locator(f"[data-return-to={target}]")).to_be_checked(checked=ticked)
    returns.locator("[data-return-to=triage]").uncheck()
    page.locator("[data-action=undo]").click()  # the panel is drawn again from the definition
    expect(panel.locator("[data-section=returns] [data-return-to=triage]")).to_be_checked()

    # Per-role permissions: "*" rows and columns as written, and a role of its own for one field.
    grid = panel.locator("[data-section=permissions]")
    expect(grid.locator("select[data-field='*'][data-perm-role='*']")).to_have_value("readonly")
    expect(grid.locator("select[data-field=verify_note][data-perm-role='*']")).to_have_value("editable")
    grid.locator("select[data-field=verify_note][data-perm-role=dev_lead]").select_option("readonly")
    shoot(page, "01-verify-permissions")

    # A return from the triage to the verification (which comes later) is marked on the triage.
    _node(page, "triage").click()
    panel.locator("[data-section=returns] [data-return-to=verify]").check()
    expect(_node(page, "triage")).to_have_class(re.compile(r"\bgd-problem\b"))
    expect(page.locator("#flow-problems li[data-path*='returns.triage']")).to_be_visible()
    shoot(page, "02-return-not-before")
    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class(re.compile(r"\bbad\b"))  # 422: nothing stored
    assert (
        "triage"
        not in load_draft(live_site.platform.db, "bugfix").definition["ticket_types"]["bug"]["flow"][
            "returns"
        ]
    )
    panel.locator("[data-section=returns] [data-return-to=verify]").uncheck()
    expect(page.locator("#flow-problems .ok")).to_be_visible()

    # The escalation chain: two levels, the second assigns the development lead; it moves to 150 %.
    page.locator("#flow-canvas").click(position={"x": 20, "y": 20})
    expect(panel).to_have_attribute("data-kind", "flow")
    levels = panel.locator("[data-section=escalation] .esc-step")
    expect(levels).to_have_count(2)
    expect(levels.nth(0).locator("[data-prop=channel]")).to_have_value("feishu")
    expect(levels.nth(1).locator("[data-prop=action-kind]")).to_have_value("assign")
    expect(levels.nth(1).locator(".kit-assignee-value select")).to_have_value("dev_lead")
    levels.nth(1).locator("[data-prop=esc-at]").fill("150")
    levels.nth(1).locator("[data-prop=esc-at]").press("Tab")
    shoot(page, "03-escalation")
    page.locator("[data-action=save]").click()
    _saved(page)

    flow = load_draft(live_site.platform.db, "bugfix").definition["ticket_types"]["bug"]["flow"]
    assert flow["escalation"][1] == {"at": "150%", "do": [{"assign": {"role": "dev_lead"}}]}
    assert flow["returns"]["verify"] == ["hotfix", "fix", "triage"]  # as shipped: the undo took it back
    verify = next(n for n in flow["nodes"] if n["id"] == "verify")
    assert verify["permissions"] == {
        "verify_note": {"dev_lead": "readonly", "*": "editable"},
        "*": "readonly",
    }
