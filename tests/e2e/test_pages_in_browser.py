"""Page checks in a real browser: sign-in errors, inbox keys, the portal form, admin, hidden fields.

Each test gets its own copy of the demo site (conftest.py: the shipped apps and the demo people,
password ``demo``). Where a test needs tickets that are not the point of it, the Runtime makes
them (the arrangement); everything checked is what the browser shows.
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

from engine.demo import USERS
from engine.people import user_id

pytestmark = pytest.mark.slow


def complaint(live_site, summary: str, **fields):
    """A complaint grace filed (summaries with 退款 go to alice, the billing team)."""
    data = {
        "customer": "ACME 有限公司",
        "phone": "13800138000",
        "product": ["phone", "battery"],
        "category": "billing",
        "summary": summary,
        **fields,
    }
    return live_site.platform.runtime.submit(
        "complaint", "complaint", data, actor=user_id(live_site.platform.db, "grace")
    )


def test_a_wrong_password_is_explained_in_both_languages(page: Page, shoot):
    for lang, message, button in (
        ("en", "Wrong username or password.", "Sign in"),
        ("zh", "用户名或密码错误。", "登录"),
    ):
        page.goto(f"/login?lang={lang}")
        page.locator("input[name=username]").fill("grace")
        page.locator("input[name=password]").fill("not her password")
        with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url) as answer:
            page.get_by_role("button", name=button).click()
        assert answer.value.status == 401
        expect(page.get_by_role("alert")).to_have_text(message)
        expect(page.locator("input[name=username]")).to_have_value("grace")  # kept for the next try
        expect(page.locator("header.top .me")).to_have_count(0)  # nobody signed in
        shoot(page, f"login-error-{lang}")


def test_inbox_keys_move_through_the_rows_and_enter_opens_one(page: Page, sign_in, live_site, shoot):
    numbers = [complaint(live_site, f"退款问题 {n}").number for n in range(3)]
    sign_in(page, "alice")
    expect(page).to_have_url(re.compile(r"/inbox$"))
    rows = page.locator("#inbox-list .inbox-row")
    expect(rows).to_have_count(3)
    for number in numbers:
        expect(page.locator("#inbox-list")).to_contain_text(number)
    current = page.locator("#inbox-list .inbox-row.current")

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(2)).to_be_focused()
    page.keyboard.press("j")  # the last row stays current
    expect(rows.nth(2)).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(1)).to_be_focused()
    expect(current).to_have_count(1)
    shoot(page, "inbox-second-row-current")

    target = rows.nth(1).get_attribute("data-href")
    number = rows.nth(1).locator("td.number a").inner_text()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    expect(page.locator(".tk-number")).to_have_text(number)


def test_the_portal_form_marks_a_field_required_as_you_fill_it(page: Page, sign_in, same_page, shoot):
    sign_in(page, "grace")
    page.locator('a.pt-card[data-type="complaint/complaint"]').click()
    expect(page).to_have_url(re.compile(r"/portal/complaint/complaint/new$"))
    page.wait_for_load_state()  # form.js is listening
    expect(page.get_by_role("heading", level=1)).to_have_text("新建:客户投诉")
    still_here = same_page(page)
    refund = page.locator('.gd-field[data-field="refund"]')
    mark = refund.locator(".gd-label .gd-req")
    expect(refund).to_be_hidden()

    page.get_by_label("投诉类别").select_option(label="账单退款")
    expect(refund).to_be_visible()
    expect(mark).to_be_hidden()
    page.get_by_role("radio", name="P1 紧急").check()  # a P1 refund must say how much
    expect(mark).to_be_visible()
    expect(page.get_by_label("退款金额")).to_have_attribute("aria-required", "true")
    still_here()
    shoot(page, "portal-refund-required-live")

    # Submitted without the amount, the form comes back with the reason beside the field and
    # everything typed still there.
    page.get_by_label("客户名称").fill("ACME 有限公司")
    page.get_by_label("联系电话").fill("13800138000")
    page.locator("#f-product").select_option(label="手机")
    page.get_by_label("产品/模块 · 第 2 级").select_option(label="电池")
    page.get_by_label("问题摘要").fill("退款金额不对")
    page.get_by_role("button", name="提交").click()
    expect(refund.locator(".gd-error")).to_be_visible()
    expect(page.locator(".gd-error")).to_have_count(1)
    expect(page.get_by_label("退款金额")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("问题摘要")).to_have_value("退款金额不对")
    shoot(page, "portal-refund-missing")


def test_the_admin_user_list_shows_the_organisation(page: Page, sign_in, shoot):
    sign_in(page, "root")
    page.get_by_role("link", name="管理").click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("用户")
    table = page.locator("table.list tbody")
    for username, name, _dept, _roles in USERS:
        row = table.locator("tr", has=page.get_by_role("link", name=username, exact=True))
        expect(row).to_contain_text(name)
    shoot(page, "admin-users")

    page.get_by_role("searchbox").fill("carol")
    page.get_by_role("button", name="搜索").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Carol 张")


def test_a_field_hidden_at_the_stage_is_not_in_the_customers_page(page: Page, sign_in, live_site, shoot):
    # alice drafted a solution, then asked grace for more information: at that stage the solution
    # is hidden, so grace's page must not carry it anywhere (values, form, timeline).
    draft = "内部草稿:先退一半,等财务确认"
    ticket = complaint(live_site, "退款少了一半")
    runtime = live_site.platform.runtime
    alice = user_id(live_site.platform.db, "alice")
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "dispatch", actor=alice)
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "ask_customer", {"solution": draft}, actor=alice)

    sign_in(page, "grace")
    page.goto(f"/tickets/{ticket.id}")
    expect(page.locator(".tk-stage")).to_have_text("客户补充信息")
    expect(page.locator(".tk-actions .tk-task")).to_have_count(1)  # grace has something to do
    expect(page.get_by_label("详细描述")).to_be_visible()  # and fields to fill in for it
    # the ticket's other values are there to read (not to change: only what was asked is editable)
    expect(page.locator('[data-field="summary"] dd')).to_have_text("退款少了一半")
    expect(page.get_by_label("问题摘要")).to_have_count(0)
    expect(page.locator('[data-field="solution"]')).to_have_count(0)
    expect(page.locator("#f-solution")).to_have_count(0)
    assert draft not in page.content()
    assert "先退一半" not in page.content()
    shoot(page, "hidden-solution-customer")
