"""What the complaint form tells a person while they type, in a real browser: how much of a
limited text field is used, and a malformed e-mail or phone said as soon as the field is left,
in the server's words (form.js shows the live state's ``invalid``; nothing is checked in the
page itself). Playwright's ``expect`` retries until the page shows it: no sleeps, no timings."""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

if importlib.util.find_spec("playwright") is None:
    REASON = "playwright is not installed (pip install -e '.[dev]'); it drives chromium"
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(REASON + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

FORM = "/portal/complaint/complaint/new"


@pytest.fixture(autouse=True)
def customer(page: Page, live_site) -> None:
    from engine.people import create_user

    create_user(live_site.platform.db, "cathy", "Cathy", password="pw-cathy")
    page.goto("/login")
    page.locator("input[name=username]").fill("cathy")
    page.locator("input[name=password]").fill("pw-cathy")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal$"))


def test_the_count_of_a_limited_field_follows_the_typing(page: Page, same_page):
    page.goto(FORM + "?lang=en")
    still_here = same_page(page)
    count = page.locator("#f-customer-count")
    expect(count).to_contain_text("0 / 100")
    page.locator("#f-customer").fill("ACME 有限公司")
    expect(count).to_contain_text("9 / 100")
    page.locator("#f-customer").fill("x" * 100)
    expect(count).to_contain_text("100 / 100")
    expect(count).to_have_class(re.compile(r"\bgd-full\b"))
    page.locator("#f-customer").fill("")
    expect(count).to_contain_text("0 / 100")
    still_here()


@pytest.mark.parametrize(
    ("lang", "email_says", "phone_says"),
    [
        ("en", "Enter a valid e-mail address.", "Enter a valid phone number."),
        ("zh", "请输入有效的邮箱地址。", "请输入有效的电话号码。"),
    ],
)
def test_a_malformed_email_or_phone_is_said_when_the_field_is_left(
    page: Page, same_page, lang, email_says, phone_says
):
    page.goto(f"{FORM}?lang={lang}")
    still_here = same_page(page)
    email, phone = page.locator("#f-email"), page.locator("#f-phone")
    email_field = page.locator('.gd-field[data-field="email"]')

    email.fill("cathy-at-home")
    expect(email_field.locator(".gd-error")).to_have_count(0)  # not while typing a first time
    email.press("Tab")  # leaving it
    expect(email_field.locator(".gd-error")).to_have_text(email_says)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", re.compile(r"\bf-email-error\b"))

    phone.fill("call me")
    phone.press("Tab")
    expect(page.locator('.gd-field[data-field="phone"] .gd-error')).to_have_text(phone_says)

    email.fill("cathy@example.com")  # corrected: the message goes as soon as it is right
    expect(email_field.locator(".gd-error")).to_have_count(0)
    expect(email).not_to_have_attribute("aria-invalid", "true")
    # Fields not touched yet say nothing, even the required ones still empty.
    expect(page.locator('.gd-field[data-field="customer"] .gd-error')).to_have_count(0)
    still_here()
