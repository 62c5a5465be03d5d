"""The complaint form in a real browser: what a user sees while filling it in and submitting it.

Headless Chromium against the real Flask app over HTTP (fixtures in conftest.py). Every change
is judged by the engine on the server (form.js posts the form to the live-state endpoint and
shows the answer), so these tests prove the whole loop: the markup, form.js, the endpoint and
the engine's conditions and formulas. The live parts must happen without a page reload.
Playwright's ``expect`` retries until the page shows what is expected: no sleeps, no timings.
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

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from engine.runtime import count_records
from engine.store.models import Record

pytestmark = pytest.mark.slow

FORM = "/portal/complaint/complaint/new"


@pytest.fixture(autouse=True)
def customer(page: Page, live_site) -> None:
    """Submitting needs a signed-in person: a customer signs in before each test."""
    from engine.people import create_user

    create_user(live_site.platform.db, "cathy", "Cathy", password="pw-cathy")
    page.goto("/login")
    page.locator("input[name=username]").fill("cathy")
    page.locator("input[name=password]").fill("pw-cathy")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal$"))


def field(page: Page, key: str) -> Locator:
    """A field's wrapper (label, control, required mark, messages)."""
    return page.locator(f'.gd-field[data-field="{key}"]')


def control(page: Page, key: str) -> Locator:
    return page.locator(f"#f-{key}")


def required_mark(page: Page, key: str) -> Locator:
    return field(page, key).locator(".gd-label .gd-req")


def test_refund_shows_for_billing_and_is_required_for_p1(page: Page, same_page, watch):
    page.goto(FORM + "?lang=en")
    still_here = same_page(page)
    refund = field(page, "refund")
    expect(refund).to_be_hidden()

    control(page, "category").select_option(label="Billing")
    expect(refund).to_be_visible()
    expect(page.get_by_label("Refund amount")).to_be_visible()
    expect(required_mark(page, "refund")).to_be_hidden()  # priority is P3 by default

    page.get_by_role("radio", name="P1 urgent").check()
    expect(required_mark(page, "refund")).to_be_visible()
    expect(control(page, "refund")).to_have_attribute("aria-required", "true")

    page.get_by_role("radio", name="P3 normal").check()
    expect(required_mark(page, "refund")).to_be_hidden()
    expect(control(page, "refund")).not_to_have_attribute("aria-required", "true")
    expect(refund).to_be_visible()

    control(page, "category").select_option(label="Product quality")
    expect(refund).to_be_hidden()

    still_here()
    assert watch.states, "the page never asked the server for the form's state"


def test_item_rows_add_up_to_the_engines_total(page: Page, same_page, watch, tmp_path):
    page.goto(FORM + "?lang=en")
    still_here = same_page(page)
    rows = field(page, "items").locator("tbody tr")
    expect(rows).to_have_count(0)

    add_row = page.get_by_role("button", name="Add row")
    add_row.click()
    add_row.click()
    expect(rows).to_have_count(2)
    for row, (sku, qty, price) in zip(rows.all(), [("A-1", "2", "9.95"), ("B-2", "1", "0.10")], strict=True):
        row.get_by_label("SKU").fill(sku)
        row.get_by_label("Quantity").fill(qty)
        row.get_by_label("Unit price").fill(price)
    # Money is exact on the server: 2 × 9.95 + 1 × 0.10 is 20.00, not 19.999….
    expect(control(page, "total")).to_have_text("20.00")

    rows.nth(1).get_by_role("button", name="Remove row").click()
    expect(rows).to_have_count(1)
    expect(control(page, "total")).to_have_text("19.90")
    add_row.click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_label("SKU").fill("C-3")  # a row without its SKU is invalid: no total
    rows.nth(1).get_by_label("Quantity").fill("1")
    rows.nth(1).get_by_label("Unit price").fill("0.10")
    expect(control(page, "total")).to_have_text("20.00")

    still_here()
    assert watch.states, "the page never asked the server for the form's state"
    shot = tmp_path / "complaint-form.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000


def test_an_empty_form_shows_every_problem_then_a_filled_one_gets_a_number(page: Page, live_site):
    page.goto(FORM + "?lang=en")
    with page.expect_response(lambda r: r.request.method == "POST" and FORM in r.url) as posted:
        page.get_by_role("button", name="Submit").click()
    assert posted.value.status == 422

    expected = {
        "customer": "Customer is required.",
        "phone": "Phone is required.",
        "product": "Product / module is required.",
        "category": "Category is required.",
        "summary": "Summary is required.",
    }
    expect(page.locator("#gd-summary")).to_contain_text("5 problem(s)")
    expect(page.locator(".gd-error")).to_have_count(len(expected))
    for key, message in expected.items():
        expect(field(page, key).locator(".gd-error")).to_have_text(message)
        expect(control(page, key)).to_have_attribute("aria-invalid", "true")
    assert count_records(live_site.platform.db) == 0

    # The user corrects the form on the page that came back, and submits again.
    control(page, "customer").fill("ACME 有限公司")
    control(page, "phone").fill("13800138000")
    control(page, "product").select_option(label="Phones")
    page.get_by_label("Product / module · Level 2").select_option(label="Screen")  # filled by form.js
    control(page, "category").select_option(label="Delivery")
    control(page, "summary").fill("The parcel never arrived")
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/tickets/\d+\?lang=en$"))
    shown = page.locator(".tk-number")
    expect(shown).to_have_text(re.compile(r"^TS-\d{6}-\d{4}$"))
    with live_site.platform.db.read() as conn:
        numbers = conn.execute(select(Record.number)).scalars().all()
    assert len(numbers) == 1 and numbers[0] == shown.inner_text()


def test_the_page_in_chinese(page: Page, same_page):
    page.goto(FORM + "?lang=zh")
    still_here = same_page(page)
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    expect(page.get_by_role("heading", level=1)).to_have_text("新建:客户投诉")
    for key, label in {
        "customer": "客户名称",
        "phone": "联系电话",
        "category": "投诉类别",
        "total": "商品总额",
    }.items():
        expect(field(page, key).locator(".gd-label")).to_contain_text(label)
    expect(page.get_by_role("button", name="提交")).to_be_visible()
    expect(page.get_by_role("button", name="添加一行")).to_be_visible()

    control(page, "category").select_option(label="账单退款")
    expect(page.get_by_label("退款金额")).to_be_visible()
    still_here()
