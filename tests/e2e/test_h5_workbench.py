"""Gongdan as the H5 app of a WeCom workbench, on a phone (390×844, WeCom's built-in browser):
carol taps the app, is signed in by WeCom without a password, sees her inbox as cards, opens the
ticket waiting for her review and approves it; the portal (choose a type, the form, my tickets)
fits the same screen. WeCom's in-app authorisation is a local stand-in (tests/engine/identity/
h5_standins.py) that knows carol by the same e-mail as the demo site (GONGDAN_SSO_MATCH=email).
"""

from __future__ import annotations

import importlib.util
import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest

if importlib.util.find_spec("playwright") is None:  # the browser fixture checks for chromium itself
    REASON = "playwright is not installed (pip install -e '.[dev]'); it drives chromium"
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(REASON + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import Page, expect

from engine.people import user_id
from tests.engine.identity.h5_standins import DingTalkInApp, WeComInApp
from tests.engine.identity.standins import DingTalkStandIn, Org, WeComStandIn

pytestmark = pytest.mark.slow

#: What WeCom's built-in browser says it is on an iPhone.
WXWORK = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 wxwork/4.1.26 MicroMessenger/7.0.1 Language/zh ColorScheme/Light"
)
#: The smallest comfortable tap target (px), as the platforms' guidelines put it.
TAP = 40


@pytest.fixture
def wecom(httpserver) -> WeComInApp:
    return WeComInApp(WeComStandIn(httpserver, Org.sample()), person="carol")


@pytest.fixture
def dingtalk(httpserver) -> DingTalkInApp:
    return DingTalkInApp(DingTalkStandIn(httpserver, Org.sample()), person="carol")


@pytest.fixture
def site_env(wecom: WeComInApp, dingtalk: DingTalkInApp) -> dict[str, str]:
    return {
        **wecom.env(),
        **dingtalk.env(),
        "GONGDAN_SIGNIN": "local,wecom,dingtalk",
        "GONGDAN_SSO_MATCH": "email",
    }


def fits_the_screen(page: Page) -> None:
    """Nothing sticks out sideways: the page needs no horizontal scrolling on this screen."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page is wider than the screen"


def big_enough(page: Page, selector: str) -> None:
    """Every visible element matching ``selector`` is at least a finger tall."""
    heights = page.locator(selector).evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= TAP, f"{selector}: {heights}"


def review_for_carol(live_site) -> str:
    """A refund complaint resolved by alice and waiting for carol's (quality) approval."""
    runtime, db = live_site.platform.runtime, live_site.platform.db
    alice, carol = user_id(db, "alice"), user_id(db, "carol")
    data = {
        "customer": "华东商贸有限公司",
        "phone": "13800138000",
        "product": ["phone", "battery"],
        "category": "billing",
        "summary": "退款三周仍未到账",
    }
    ticket = runtime.submit("complaint", "complaint", data, actor=user_id(db, "grace"))
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "dispatch", actor=alice)
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "resolve", {"solution": "已原路退回"}, actor=alice)
    runtime.claim(runtime.tasks(ticket.id)[0]["id"], carol)
    return ticket.number


def test_in_the_wecom_workbench_carol_is_signed_in_and_approves_on_her_phone(
    open_page, live_site, wecom, shoot
):
    number = review_for_carol(live_site)
    carol = open_page(phone=True, user_agent=WXWORK)

    # 1. she taps the app in the workbench: WeCom vouches for her, no password -----------------
    carol.goto("/h5/wecom?next=/inbox")
    expect(carol).to_have_url(re.compile(r"/inbox(#wechat_redirect)?$"))  # the browser keeps the marker
    expect(carol.locator("header.top .me")).to_have_text("Carol 张")
    assert [asked["scope"] for asked in wecom.asked] == ["snsapi_base"]

    # 2. her inbox is a list of cards that fit the phone ---------------------------------------
    card = carol.locator(".inbox-row", has_text=number)
    expect(card).to_be_visible()
    assert card.evaluate("row => getComputedStyle(row).display") == "flex"
    fits_the_screen(carol)
    shoot(carol, "01-inbox-as-cards")

    # 3. she opens the ticket and approves it ---------------------------------------------------
    card.get_by_role("link", name=number).tap()
    expect(carol.locator(".tk-number")).to_have_text(number)
    approve = carol.locator(".tk-actions .tk-task").get_by_role("button", name="同意")
    reject = carol.locator(".tk-actions .tk-task").get_by_role("button", name="驳回")
    expect(approve).to_be_in_viewport()  # on the first screen, no scrolling
    expect(reject).to_be_visible()
    big_enough(carol, ".tk-actions .tk-buttons button")
    fits_the_screen(carol)
    shoot(carol, "02-ticket-with-approve-and-reject")
    approve.tap()
    expect(carol.locator(".tk-alert.ok")).to_have_text("已提交。")
    expect(carol.locator(".tk-actions .tk-task")).to_have_count(0)
    shoot(carol, "03-approved")

    # 4. the portal fits the same screen: choose a type, the form, my tickets ------------------
    carol.goto("/portal")
    fits_the_screen(carol)
    big_enough(carol, "header.top nav.main a")
    shoot(carol, "04-portal")
    carol.locator('a.pt-card[data-type="complaint/complaint"]').tap()
    expect(carol).to_have_url(re.compile(r"/portal/complaint/complaint/new$"))
    carol.wait_for_load_state()  # form.js is listening
    carol.get_by_role("button", name="添加一行").tap()  # detail rows scroll in their box, not the page
    fits_the_screen(carol)
    carol.get_by_role("button", name="删除此行").tap()
    carol.get_by_label("客户名称").fill("华东商贸有限公司")
    carol.get_by_label("联系电话").fill("13800138000")
    carol.locator("#f-product").select_option(label="服务 App")
    carol.get_by_label("产品/模块 · 第 2 级").select_option(label="支付")
    carol.get_by_label("投诉类别").select_option(label="账单退款")
    carol.get_by_label("问题摘要").fill("手机上提交的投诉")
    big_enough(carol, ".pt-actions button")
    big_enough(carol, ".gd-field select")
    shoot(carol, "05-portal-form")
    carol.get_by_role("button", name="提交").tap()
    expect(carol).to_have_url(re.compile(r"/tickets/\d+$"))
    mine = carol.locator(".tk-number").inner_text()
    carol.get_by_role("link", name="我的工单").tap()
    expect(carol.locator("tr", has=carol.get_by_role("link", name=mine))).to_be_visible()
    fits_the_screen(carol)
    shoot(carol, "06-my-tickets")


def test_outside_dingtalk_its_entry_falls_back_to_the_dingtalk_sign_in_page(open_page, live_site, shoot):
    # The DingTalk entry is an H5 page whose script asks the DingTalk client for a code; in an
    # ordinary browser there is no client, so the script sends the person to DingTalk's web sign-in.
    phone = open_page(phone=True)
    with phone.expect_request(lambda r: "/oauth2/auth?" in r.url) as asked:
        phone.goto("/h5/dingtalk?next=/inbox")
    assert parse_qs(urlsplit(asked.value.url).query)["redirect_uri"] == [
        f"{live_site.url}/login/dingtalk/callback"
    ]
    expect(phone).to_have_url(re.compile(r"/inbox$"))
    expect(phone.locator("header.top .me")).to_have_text("Carol 张")
    shoot(phone, "signed-in-by-the-dingtalk-web-sign-in")
