"""The form designer in a real browser: a designer drags a new field from the palette into the
complaint form, names it, makes it required for P1 complaints with the expression box (checked as
they type), sees it in the live preview rendered by the form engine, and saves the draft.

Headless Chromium against the real Flask app over HTTP (fixtures in conftest.py); ``expect``
retries until the page shows what is expected: no sleeps, no timings.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

if importlib.util.find_spec("playwright") is None:  # the browser fixture checks for chromium itself
    REASON = "playwright is not installed (pip install -e '.[dev]'); it drives chromium"
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(REASON + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import Page, expect

from engine import designer
from tests.e2e.conftest import ADMIN

pytestmark = pytest.mark.slow

FORM_DESIGNER = "/designer/complaint/form/complaint"


def drag(page: Page, source, target) -> None:
    """Drag with the mouse the way a person does (SortableJS follows pointer moves)."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 12, start["y"] + start["height"] / 2 + 8, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 6, steps=20)
    page.mouse.up()


def test_a_designer_adds_a_field_required_for_p1_and_saves_it(page: Page, sign_in, shoot, live_site):
    sign_in(page, ADMIN)
    page.goto(FORM_DESIGNER)
    designer_root = page.locator("#form-designer")
    expect(designer_root).to_have_attribute("data-ready", "true")
    expect(page.locator(".fd-field")).to_have_count(20)
    expect(page.locator("#fd-preview [name=customer]")).to_be_visible()  # the preview is the real form

    drag(
        page, page.locator('.fd-palette-item[data-type="text"]'), page.locator('.fd-fields[data-section="0"]')
    )
    new_field = page.locator('.fd-fields[data-section="0"] .fd-field[data-key="text"]')
    expect(new_field).to_be_visible()
    expect(new_field).to_have_class(re.compile(r"\bselected\b"))

    props = page.locator("#fd-props")
    props.locator("[data-prop=label_zh]").fill("合同号")
    props.locator("[data-prop=label_zh]").press("Tab")
    props.locator("[data-prop=label_en]").fill("Contract number")
    props.locator("[data-prop=label_en]").press("Tab")
    props.locator("[data-prop=key]").fill("contract_no")
    props.locator("[data-prop=key]").press("Tab")
    expect(page.locator('.fd-field[data-key="contract_no"]')).to_contain_text("合同号")

    condition = page.locator("#fd-props [data-prop=required_if]")
    state = page.locator("#fd-props [data-expr-state=required_if]")
    condition.fill("priorty == 'P1'")  # a typo: the box says what is wrong while typing
    expect(state).to_have_class(re.compile(r"\berror\b"))
    expect(state).to_contain_text("priorty")
    condition.fill("priority == 'P1'")
    expect(state).to_have_class(re.compile(r"\bok\b"))
    condition.press("Tab")
    expect(page.locator('.fd-field[data-key="contract_no"] .badge.cond')).to_be_visible()

    expect(page.locator("#fd-preview [name=contract_no]")).to_be_visible()
    expect(page.locator('#fd-preview label[for="f-contract_no"]')).to_contain_text("合同号")
    expect(page.locator("#fd-check")).to_have_class(re.compile(r"\bok\b"))
    shoot(page, "field_added")

    page.locator('[data-cmd="save"]').click()
    expect(page.locator("#draft-status")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#draft-status")).to_contain_text("2")
    shoot(page, "saved")

    draft = designer.load_draft(live_site.platform.db, "complaint")
    assert draft.revision == 2
    first = draft.definition["ticket_types"]["complaint"]["form"]["sections"][0]["fields"]
    added = next(f for f in first if f["key"] == "contract_no")
    assert added["type"] == "text" and added["required_if"] == "priority == 'P1'"
    assert added["label"] == {"zh": "合同号", "en": "Contract number"}
    assert "renamed_from" not in added  # a new field, not a rename of a published one

    page.locator('[data-cmd="undo"]').click()  # undo works after saving too (the editor keeps its stack)
    expect(page.locator('.fd-field[data-key="contract_no"] .badge.cond')).to_have_count(0)


def test_an_admin_starts_an_app_from_a_template_and_publishes_it(page: Page, sign_in, shoot, live_site):
    sign_in(page, ADMIN)
    page.goto("/designer")
    expect(page.locator('tr[data-app="complaint"]')).to_be_visible()
    form = page.locator("#new-app")
    form.locator('input[name=template][value="empty"]').check()
    form.locator("input[name=key]").fill("hr_leave")
    form.locator("input[name=name_zh]").fill("请假")
    form.locator("input[name=name_en]").fill("Leave")
    shoot(page, "gallery")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/designer/hr_leave$"))
    form_tab = page.locator(".designer-tabs a[data-tab=form]")
    expect(form_tab).to_have_attribute("href", "/designer/hr_leave/form/request")

    page.locator(".designer-tabs a[data-tab=publish]").click()
    expect(page.locator("#check-result .ok")).to_be_visible()  # checked on arrival
    expect(page.locator("#diff-result li").first).to_be_visible()  # everything is new
    page.locator('[data-step="test"]').click()
    expect(page.locator("#test-result")).to_contain_text("没有场景测试")
    page.locator("#publish-form input[name=note]").fill("第一版")
    page.locator("#publish-form button[type=submit]").click()
    expect(page.locator("#publish-result [data-version]")).to_have_attribute("data-version", "1")
    expect(page.locator("table.versions")).to_contain_text("第一版")
    shoot(page, "published")
    assert live_site.platform.runtime.versions("hr_leave")[-1]["note"] == "第一版"
