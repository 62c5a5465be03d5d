"""The report builder in Chromium: drag a field into the dimensions, see the bar chart the report
engine computes drawn live by ECharts, save the report into the draft and onto a dashboard."""

from __future__ import annotations

import copy
from typing import Any

from playwright.sync_api import expect

from engine.designer import load_draft, save_draft
from engine.people import user_id

REPORTS = "/designer/complaint/reports/complaint"


def _complaints(live_site: Any, categories: list[str]) -> None:
    grace = user_id(live_site.platform.db, "grace")
    for i, category in enumerate(categories):
        data = {
            "customer": f"客户 {i}",
            "phone": "13800138000",
            "product": ["phone", "battery"],
            "category": category,
            "summary": f"问题 {i}",
        }
        live_site.platform.runtime.submit("complaint", "complaint", data, actor=grace)


def test_a_bar_chart_of_tickets_by_category_renders_and_saves(page, live_site, sign_in, shoot) -> None:
    _complaints(live_site, ["quality", "quality", "billing"])
    sign_in(page, "root")
    page.goto(REPORTS)
    builder = page.locator("#report-builder")
    expect(builder).to_have_attribute("data-ready", "1")
    preview = page.locator("#report-preview")
    expect(preview).to_have_attribute("data-state", "done")  # the first report of the type, live

    page.locator("[data-action=new-report]").click()
    expect(page.locator("[data-prop=chart]")).to_have_value("bar")
    page.locator("#target-list .target[data-target=category]").drag_to(page.locator("#report-dims"))
    expect(page.locator("#report-dims .chip[data-target=category]")).to_be_visible()
    expect(page.locator("#report-measures .chip[data-target=count]")).to_be_visible()

    # The engine's answer: two categories; ECharts draws them on a canvas inside the preview.
    expect(preview).to_have_attribute("data-rows", "2")
    expect(preview).to_have_attribute("data-chart", "bar")
    expect(preview.locator(".report-chart canvas")).to_be_visible()
    preview.locator("details.dash-data summary").click()
    expect(preview.locator("tr", has_text="产品质量")).to_contain_text("2")
    expect(preview.locator("tr", has_text="账单退款")).to_contain_text("1")
    shoot(page, "01-bar-by-category")

    page.locator("[data-prop=id]").fill("by_category")
    page.locator("[data-prop=id]").press("Tab")
    page.locator("#report-settings [data-lang=zh]").fill("按投诉类别")
    page.locator("#report-settings [data-lang=en]").fill("By category")
    page.locator("#report-settings [data-lang=en]").press("Tab")
    page.locator("#report-board").select_option("overview")
    page.locator("[data-action=save-report]").click()
    expect(page.locator("#report-save-status")).to_contain_text("by_category")
    expect(page.locator("#board-grid .board-cell[data-report=by_category]")).to_be_visible()

    tt = load_draft(live_site.platform.db, "complaint").definition["ticket_types"]["complaint"]
    report = next(r for r in tt["reports"] if r["id"] == "by_category")
    assert report == {
        "id": "by_category",
        "name": {"zh": "按投诉类别", "en": "By category"},
        "dimensions": ["category"],
        "measures": ["count"],
        "chart": "bar",
    }
    board = next(b for b in tt["dashboards"] if b["id"] == "overview")
    assert board["reports"][-1] == "by_category"

    # Arrange the dashboard: the new report first, two columns.
    cells = page.locator("#board-grid .board-cell")
    cells.last.drag_to(cells.first)
    expect(cells.first).to_have_attribute("data-report", "by_category")
    page.locator("#board-columns").select_option("3")
    page.locator("[data-action=save-board]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    shoot(page, "02-saved-on-dashboard")
    tt = load_draft(live_site.platform.db, "complaint").definition["ticket_types"]["complaint"]
    board = next(b for b in tt["dashboards"] if b["id"] == "overview")
    assert board["reports"][0] == "by_category" and board["columns"] == 3


def test_a_measure_and_a_time_bucket_are_chosen_by_dragging(page, live_site, sign_in) -> None:
    _complaints(live_site, ["delivery"])
    sign_in(page, "root")
    page.goto(REPORTS)
    expect(page.locator("#report-builder")).to_have_attribute("data-ready", "1")
    page.locator("[data-action=new-report]").click()
    page.locator("#target-list .target[data-target=created_at]").drag_to(page.locator("#report-dims"))
    chip = page.locator("#report-dims .chip[data-target=created_at]")
    expect(chip.locator("select")).to_have_value("month")
    page.locator("#target-list .target[data-target='metrics.age_hours']").drag_to(
        page.locator("#report-measures")
    )
    measure = page.locator("#report-measures .chip[data-target='metrics.age_hours']")
    expect(measure.locator("select")).to_have_value("avg")
    page.locator("[data-prop=chart]").select_option("table")
    preview = page.locator("#report-preview")
    expect(preview).to_have_attribute("data-chart", "table")
    expect(preview).to_have_attribute("data-rows", "1")
    expect(preview.locator("th").nth(2)).to_be_visible()  # month, count, avg age

    # A filter on the category: only delivery complaints (there is one), then none of billing.
    page.locator("[data-action=add-filter]").click()
    row = page.locator("#report-filters .filter-row")
    row.locator("select").first.select_option("category")
    row.locator("select").nth(1).select_option("eq")
    row.locator("input").fill("delivery")
    row.locator("input").press("Tab")
    expect(preview.locator("tbody tr")).to_have_count(1)
    row.locator("input").fill("billing")
    row.locator("input").press("Tab")
    expect(preview.locator("tbody td.muted")).to_be_visible()  # no data


def test_a_report_on_a_field_only_the_draft_has_is_checked_against_it(page, live_site, sign_in) -> None:
    db = live_site.platform.db
    draft = load_draft(db, "complaint")
    definition = copy.deepcopy(draft.definition)
    fields = definition["ticket_types"]["complaint"]["form"]["sections"][1]["fields"]
    fields.append(
        {
            "key": "region",
            "type": "select",
            "label": {"zh": "区域", "en": "Region"},
            "options": [{"value": "north", "label": {"zh": "北区", "en": "North"}}],
        }
    )
    save_draft(db, "complaint", draft.revision, definition)
    sign_in(page, "root")
    page.goto(REPORTS)
    expect(page.locator("#report-builder")).to_have_attribute("data-ready", "1")
    page.locator("[data-action=new-report]").click()
    page.locator("#target-list .target[data-target=region]").drag_to(page.locator("#report-dims"))
    preview = page.locator("#report-preview")
    expect(preview).to_have_attribute("data-state", "draft-only")  # not running yet, but valid

    # A pie of two dimensions is wrong in the draft too: the problems say so.
    page.locator("#target-list .target[data-target=category]").drag_to(page.locator("#report-dims"))
    page.locator("[data-prop=chart]").select_option("pie")
    expect(preview).to_have_attribute("data-state", "invalid")
    expect(preview.locator("ul.problems li").first).to_be_visible()
    page.locator("#report-dims .chip[data-target=category] .chip-x").click()
    expect(preview).to_have_attribute("data-state", "draft-only")

    page.locator("[data-prop=id]").fill("by_region")
    page.locator("[data-prop=id]").press("Tab")
    page.locator("[data-action=save-report]").click()
    expect(page.locator("#report-save-status")).to_contain_text("by_region")
    tt = load_draft(db, "complaint").definition["ticket_types"]["complaint"]
    assert any(r["id"] == "by_region" and r["dimensions"] == ["region"] for r in tt["reports"])
