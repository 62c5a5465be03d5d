"""On a phone, inside DingTalk: the approver taps Approve on the group robot's card, lands on the
ticket page (through the in-app sign-in) with a question on top, and approves with one more tap."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

if importlib.util.find_spec("playwright") is None:  # the browser fixture checks for chromium itself
    REASON = "playwright is not installed (pip install -e '.[dev]'); it drives chromium"
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(REASON + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(REASON, allow_module_level=True)

from playwright.sync_api import expect
from sqlalchemy import select

from engine.im_cards import build_card
from engine.people import user_id
from engine.store.models import Outbox

pytestmark = pytest.mark.slow

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
#: The smallest comfortable tap target (px).
TAP = 40


def test_the_approver_taps_approve_on_the_dingtalk_card_and_confirms_on_the_phone(
    open_page, sign_in, live_site, shoot
):
    platform = live_site.platform
    platform.runtime.publish(LAB)
    dave = user_id(platform.db, "dave")
    ticket = platform.runtime.submit("importlab", "complaint", {"title": "客户要求退款"}, actor=dave)
    platform.runtime.act(platform.runtime.tasks(ticket.id)[0]["id"], "complete", None, actor=dave)
    with platform.db.read() as conn:  # the DingTalk card the rule queued for alice
        payload = conn.execute(
            select(Outbox.payload).where(Outbox.record_id == ticket.id, Outbox.channel == "dingtalk")
        ).scalar_one()
    approve = urlsplit(build_card("dingtalk", payload)["actionCard"]["btns"][0]["actionURL"])
    assert approve.path == "/h5/dingtalk"

    alice = open_page(phone=True)
    sign_in(alice, "alice")  # DingTalk's in-app sign-in is tested on its own (test_h5_workbench.py)
    alice.goto(f"{approve.path}?{approve.query}")

    ask = alice.locator(".tk-card-ask")
    expect(ask).to_contain_text(f"同意工单 {ticket.number}?")
    confirm = ask.get_by_role("button", name="确认同意")
    expect(confirm).to_be_in_viewport()  # the first thing on the screen
    assert confirm.bounding_box()["height"] >= TAP
    assert ask.get_by_role("link", name="取消").bounding_box()["height"] >= TAP
    assert alice.evaluate("document.documentElement.scrollWidth") <= alice.viewport_size["width"]
    shoot(alice, "01-the-question-on-top")
    assert platform.runtime.ticket(ticket.id).status == "open"  # opening the link did nothing

    confirm.tap()

    expect(alice.locator(".tk-alert.ok")).to_have_text("已提交。")
    expect(alice.locator(".tk-card-ask")).to_have_count(0)
    shoot(alice, "02-approved")
    assert platform.runtime.ticket(ticket.id).status == "closed"
    decided = [e for e in platform.runtime.events(ticket.id) if e["type"] == "task_completed"][-1]
    assert decided["actor_id"] == user_id(platform.db, "alice")
