"""In the browser: an admin brings a sheet of old complaints in (upload, the dry run on the job queue
followed as it goes, map, import with a progress bar); an approver opens the card's link on a phone,
inside the IM app, and approves there."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
from engine.store.models import Outbox, Record

pytestmark = pytest.mark.slow

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
ROWS = [
    ["单号", "标题", "优先级", "处理人", "状态", "创建时间", "关闭时间"],
    ["OLD-1", "退款三周未到账", "紧急", "alice", "已关闭", "2025年11月3日 9:00", "2025/11/4 18:00"],
    ["OLD-2", "快递破损", "普通", "dave", "处理中", "2025/11/5 10:00", ""],
    ["OLD-3", "发票错误", "P9", "nobody", "", "", ""],
]


@contextmanager
def queue_worker(huey) -> Iterator[None]:
    """A worker thread taking the queued tasks, as ``gongdan worker`` does (the site's queue is
    immediate otherwise); the huey queue must already be non-immediate."""
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            task = huey.dequeue()
            if task is None:
                stop.wait(0.05)
            else:
                huey.execute(task)

    worker = threading.Thread(target=consume, daemon=True, name="queue-worker")
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(30)


def fits_the_screen(page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page is wider than the screen"


def test_an_admin_uploads_maps_checks_and_imports_a_sheet(open_page, sign_in, live_site, shoot, tmp_path):
    live_site.platform.runtime.publish(LAB)
    sheet = tmp_path / "去年的投诉.csv"
    with sheet.open("w", encoding="gbk", newline="") as f:
        csv.writer(f).writerows(ROWS)

    admin = open_page()
    sign_in(admin, "root")
    admin.goto("/admin/imports")
    admin.get_by_label("工单类型").select_option("importlab/complaint")
    admin.get_by_role("button", name="选择").click()
    admin.locator("#import-file").set_input_files(str(sheet))
    huey = live_site.platform.queue.huey
    huey.immediate = False  # the check waits on the queue until a worker takes it
    try:
        admin.get_by_role("button", name="检查").click()
        expect(admin.locator("#checking-summary")).to_contain_text("排队检查")
        expect(admin.locator("#check-button")).to_be_disabled()
        shoot(admin, "00-checking-on-the-queue")
        with queue_worker(huey):
            expect(admin.locator("#importer")).to_have_attribute("data-job", re.compile(r"\d+"))
            expect(admin.locator("#import-checking")).to_be_hidden()
    finally:
        huey.immediate = True
    first_job = admin.locator("#importer").get_attribute("data-job")

    # 单号 is taken for the ticket number by its name; the admin still picks it by hand to be sure
    expect(admin.locator("#import-summary")).to_contain_text("2 行可导入,1 行有错误")
    errors = admin.locator("#error-rows tr")
    expect(errors.first).to_contain_text("优先级")
    expect(admin.locator("#error-rows")).to_contain_text("找不到用户“nobody”")
    shoot(admin, "01-dry-run-errors")

    admin.get_by_label("单号", exact=True).select_option("_number")  # map it to the ticket number
    admin.get_by_label("保存映射为").fill("去年的表")
    admin.get_by_role("button", name="按此映射重新检查").click()
    expect(admin.locator("#importer")).not_to_have_attribute("data-job", first_job)  # the new check's job
    expect(admin.locator("#mapping-rows select[data-column='单号']")).to_have_value("_number")
    expect(admin.locator("#import-summary")).to_contain_text("2 行可导入")

    admin.get_by_role("button", name="导入有效的行").click()
    progress = admin.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress.locator("progress")).to_have_attribute("value", "3")
    expect(progress).to_contain_text("新建 2 个工单")
    shoot(admin, "02-imported")

    with live_site.platform.db.read() as conn:
        refs = sorted(
            conn.execute(select(Record.external_ref).where(Record.external_ref.is_not(None))).scalars()
        )
    assert refs == ["OLD-1", "OLD-2"]
    admin.reload()
    expect(admin.locator("#mapping-name option", has_text="去年的表")).to_have_count(1)


def test_the_approver_opens_the_cards_link_on_a_phone_and_approves(open_page, sign_in, live_site, shoot):
    platform = live_site.platform
    platform.runtime.publish(LAB)
    dave = user_id(platform.db, "dave")
    ticket = platform.runtime.submit("importlab", "complaint", {"title": "客户要求退款"}, actor=dave)
    platform.runtime.act(platform.runtime.tasks(ticket.id)[0]["id"], "complete", None, actor=dave)
    with platform.db.read() as conn:  # the DingTalk card the rule queued for alice
        payload = conn.execute(
            select(Outbox.payload).where(Outbox.record_id == ticket.id, Outbox.channel == "dingtalk")
        ).scalar_one()
    approve_url = build_card("dingtalk", payload)["actionCard"]["btns"][0]["actionURL"]
    target = urlsplit(approve_url)

    alice = open_page(phone=True)
    sign_in(alice, "alice")
    alice.goto(f"{target.path}?{target.query}")
    expect(alice.locator(".tk-number")).to_have_text(ticket.number)
    approve = alice.locator(".tk-actions .tk-task").get_by_role("button", name="同意")
    expect(approve).to_be_in_viewport()  # on the first screen of the phone, no scrolling
    fits_the_screen(alice)
    shoot(alice, "01-the-card-link-on-a-phone")
    approve.tap()
    expect(alice.locator(".tk-alert.ok")).to_have_text("已提交。")
    assert platform.runtime.ticket(ticket.id).status == "closed"

    alice.goto("/inbox")
    expect(alice.locator("#inbox-list")).not_to_contain_text(ticket.number)
    fits_the_screen(alice)
    shoot(alice, "02-the-inbox-on-a-phone")
    assert re.fullmatch(r"IM-\d{6}-\d{4}", ticket.number)
