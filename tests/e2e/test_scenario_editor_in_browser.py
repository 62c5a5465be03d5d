"""The scenario-test editor in Chromium: a business user writes a scenario of the shipped complaint
app with forms only (no YAML), saves it, runs the tests, sees a wrong expectation fail at its path,
and undoes it back to green."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from engine.designer import load_draft

TESTS = "/designer/complaint/tests/complaint"
NAME = "网页投诉分派后进入处理"


def _scenarios(live_site: Any) -> list[dict[str, Any]]:
    return load_draft(live_site.platform.db, "complaint").definition["ticket_types"]["complaint"]["tests"]


def _set(row: Any, value: str) -> None:
    """Type a value and commit it the way a user does (Enter), like every editor input."""
    row.fill(value)
    row.press("Enter")


def test_write_a_scenario_with_forms_run_it_and_see_a_wrong_stage_fail(
    page, live_site, sign_in, shoot
) -> None:
    sign_in(page, "root")
    page.goto(TESTS)
    editor = page.locator("#scenario-editor")
    expect(editor).to_have_attribute("data-ready", "1")
    shipped = len(_scenarios(live_site))
    cards = page.locator(".scenario-card")
    expect(cards).to_have_count(shipped)
    shoot(page, "01-shipped-scenarios")

    page.locator("[data-action=add-scenario]").click()
    expect(cards).to_have_count(shipped + 1)
    form = page.locator("#scenario-form")
    _set(form.locator("input[data-prop=name]"), NAME)
    expect(cards.nth(shipped)).to_have_attribute("data-scenario", NAME)

    # Given: grace submits on a Tuesday morning; dave works in the support pool.
    _set(form.locator("input[data-prop='given.user']"), "grace")
    _set(form.locator("input[data-prop='given.at']"), "2026-12-01T09:00")
    form.locator("[data-role=new-person]").fill("dave")
    form.locator("[data-action=add-person]").click()
    form.locator("[data-person=dave] [data-role=add-role]").select_option("cs_pool")
    expect(form.locator("[data-person=dave] [data-role-chip=cs_pool]")).to_be_visible()

    # Submit: a few fields of the form, each picked from the list and given a value.
    submit = form.locator("[data-prop=submit]")
    for key, value in (
        ("customer", "ACME 有限公司"),
        ("phone", "13800138000"),
        ("product", "phone, battery"),
        ("summary", "屏幕有坏点"),
    ):
        submit.locator("[data-role=add-field]").select_option(key)
        _set(submit.locator(f"[data-field={key}] [data-role=value]"), value)
    submit.locator("[data-role=add-field]").select_option("category")
    submit.locator("[data-field=category] [data-role=value]").select_option("quality")  # the field's options

    # One step: dave dispatches it; then it is at the fix stage.
    form.locator("[data-action=add-step]").click()
    step = form.locator("[data-step='0']")
    step.locator("[data-prop='steps[0].act']").select_option("dispatch")
    _set(step.locator("[data-prop='steps[0].as']"), "dave")
    stage = step.locator("[data-prop='steps[0].then.stage']")
    stage.select_option("fix")
    shoot(page, "02-scenario-form")

    page.locator("[data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    written = next(s for s in _scenarios(live_site) if s["name"] == NAME)
    assert written["given"]["user"] == "grace" and written["given"]["people"] == {"dave": ["cs_pool"]}
    assert written["given"]["at"].startswith("2026-12-01T09:00:00")
    assert written["submit"]["product"] == ["phone", "battery"] and written["submit"]["category"] == "quality"
    assert written["steps"] == [{"act": "dispatch", "as": "dave", "then": {"stage": "fix"}}]

    result = page.locator("#test-result")
    mine = result.locator(f"li[data-scenario='{NAME}']")
    page.locator("[data-action=run-tests]").click()
    expect(mine).to_have_class("passed")
    expect(result.locator("li.failed")).to_have_count(0)  # the shipped scenario passes too
    expect(cards.nth(shipped)).to_have_class("scenario-card on passed")
    shoot(page, "03-passed")

    # A wrong expectation fails, and says where.
    stage.select_option("review")
    page.locator("[data-action=run-tests]").click()
    expect(mine).to_have_class("failed")
    expect(mine.locator("code")).to_have_text(f"ticket_types.complaint.tests[{shipped}].steps[0].then.stage")
    expect(mine).to_contain_text("fix")
    expect(cards.nth(shipped)).to_have_class("scenario-card on failed")
    shoot(page, "04-failed-at-its-path")

    # Undo puts the right stage back; saved and run again, it passes.
    page.locator("[data-action=undo]").click()
    expect(page.locator("[data-prop='steps[0].then.stage']")).to_have_value("fix")
    page.locator("[data-action=run-tests]").click()
    expect(mine).to_have_class("passed")
    assert next(s for s in _scenarios(live_site) if s["name"] == NAME)["steps"][0]["then"] == {"stage": "fix"}
    shoot(page, "05-undone-passes")

    # The publish page runs the same scenarios (the shared result list).
    page.locator(".designer-tabs [data-tab=publish]").click()
    page.locator("[data-step=test]").click()
    expect(page.locator(f"#test-result li.passed[data-scenario='{NAME}']")).to_be_visible()
    expect(page.locator("#test-result li.failed")).to_have_count(0)
