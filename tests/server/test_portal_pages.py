"""The portal as an end user meets it: pick a ticket type, submit its form, follow my tickets."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlsplit

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine.runtime import count_records
from engine.store.models import Record
from tests.support import complaint_form

NEW = "/portal/complaint/complaint/new"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def good_post(**changes: str) -> MultiDict:
    data = MultiDict(
        [
            ("customer", "ACME 有限公司"),
            ("phone", "13800138000"),
            ("product", "phone"),
            ("product", "screen"),
            ("category", "billing"),
            ("priority", "P2"),
            ("summary", "退款未到账"),
            ("_tz", "+08:00"),
        ]
    )
    for key, value in changes.items():
        data.setlist(key, [value])
    return data


def text(answer) -> str:
    return answer.get_data(as_text=True)


def submit_as(web, name: str, **changes):
    form = complaint_form(web.runtime.definition("complaint")[1], **changes)
    return web.runtime.submit("complaint", "complaint", form, actor=web.id(name))


# --------------------------------------------------------------------------- choosing a ticket type
def test_the_portal_offers_each_ticket_type_as_a_card_in_the_language(web):
    web.user("cathy")
    client = web.client("cathy")
    en = text(client.get("/portal?lang=en"))
    assert "Customer complaint" in en and f'href="{NEW}"' in en
    assert "SLA-bound resolution" in en  # the app's description
    zh = text(client.get("/portal?lang=zh"))
    assert "客户投诉" in zh and "提交工单" in zh


def test_anonymous_visitors_are_sent_to_sign_in_first(web):
    visitor = web.anonymous()
    for path in ("/portal", NEW, "/my"):
        answer = visitor.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    assert visitor.post(NEW, data=good_post()).status_code == 302
    assert count_records(web.db) == 0


def test_the_old_form_address_leads_to_the_portal(web):
    answer = web.anonymous().get("/forms/complaint/complaint?lang=en")
    assert answer.status_code == 308 and answer.headers["Location"] == NEW + "?lang=en"
    assert web.anonymous().get("/forms/complaint/nope").status_code == 404


# --------------------------------------------------------------------------- submitting
def test_the_form_shows_what_the_submitter_fills_in_at_the_start(web):
    web.user("cathy")
    page = text(web.client("cathy").get(NEW + "?lang=en"))
    assert '<label for="f-customer" id="f-customer-label" class="gd-label">Customer' in page
    assert 'data-state-url="/api/v1/forms/complaint/complaint/state"' in page
    assert 'data-field="solution"' not in page and 'data-field="rating"' not in page  # hidden at the start
    assert 'name="csrf_token"' in page and "/assets/form.js" in page


def test_a_customer_submits_a_complaint_and_lands_on_its_page(web):
    cathy = web.user("cathy")
    client = web.client("cathy")
    answer = client.post(NEW + "?lang=en", data=good_post())
    assert answer.status_code == 303
    path = urlsplit(answer.headers["Location"]).path
    ticket_id = int(re.fullmatch(r"/tickets/(\d+)", path)[1])
    with web.db.read() as conn:
        number, created_by, stage = conn.execute(
            select(Record.number, Record.created_by, Record.stage).where(Record.id == ticket_id)
        ).one()
    assert created_by == cathy and stage == "triage"
    page = text(client.get(path + "?lang=en"))
    assert number in page and 'data-stage="triage">Triage<' in page


def test_a_rejected_submission_shows_every_problem_beside_its_field_and_writes_nothing(web):
    web.user("cathy")
    data = good_post(customer="", phone="call me", summary="<script>alert(1)</script>")
    answer = web.client("cathy").post(NEW + "?lang=en", data=data)
    assert answer.status_code == 422
    page = text(answer)
    assert 'id="f-customer-error" role="alert"><p>Customer is required.</p>' in page
    assert 'id="f-phone-error" role="alert"><p>Enter a valid phone number.</p>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert count_records(web.db) == 0


def test_submitting_without_the_csrf_token_is_refused(web):
    web.user("cathy")
    client = web.client("cathy")
    client.csrf = ""
    answer = client.post(NEW, data=good_post())
    assert answer.status_code == 403 and count_records(web.db) == 0


def test_an_uploaded_screenshot_goes_with_the_complaint(web):
    web.user("cathy")
    client = web.client("cathy")
    uploaded = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(PNG), "截图.png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.json
    ref = {k: uploaded.json[k] for k in ("id", "name", "size", "mime")}
    answer = client.post(NEW, data=good_post(screenshots=json.dumps(ref)))
    assert answer.status_code == 303
    with web.db.read() as conn:
        data = conn.execute(select(Record.data)).scalar_one()
    assert data["screenshots"] == [ref]
    page = text(client.get(answer.headers["Location"]))
    assert f'href="/api/v1/attachments/{ref["id"]}"' in page and "截图.png" in page


# --------------------------------------------------------------------------- my tickets
def test_my_tickets_lists_only_mine_most_recent_first_a_page_at_a_time(web):
    web.user("cathy")
    web.user("dora")
    mine = [submit_as(web, "cathy", summary=f"问题 {i:02d}") for i in range(23)]
    theirs = submit_as(web, "dora", summary="别人的问题")
    client = web.client("cathy")
    first = text(client.get("/my?lang=en"))
    shown = re.findall(r'<tr data-ticket="(\d+)">', first)
    assert shown == [str(t.id) for t in reversed(mine)][:20]
    assert "问题 22" in first and "Triage" in first and "Open" in first
    assert theirs.number not in first
    following = re.search(r'href="(/my\?after=[^"]+)"', first)[1]
    second = text(client.get(following.replace("&amp;", "&")))
    assert re.findall(r'<tr data-ticket="(\d+)">', second) == [str(t.id) for t in reversed(mine)][20:]
    assert 'rel="next"' not in second


def test_html_in_a_summary_is_text_in_my_tickets(web):
    web.user("cathy")
    submit_as(web, "cathy", summary="<script>alert(1)</script>")
    page = text(web.client("cathy").get("/my"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_my_tickets_speaks_both_languages(web):
    web.user("cathy")
    submit_as(web, "cathy")
    client = web.client("cathy")
    assert "受理分派" in text(client.get("/my?lang=zh")) and "处理中" in text(client.get("/my?lang=zh"))
    assert "Triage" in text(client.get("/my?lang=en"))


# --------------------------------------------------------------------------- the landing page
def test_the_landing_page_sends_people_where_their_work_starts(web):
    web.user("cathy")
    web.user("alice", roles={"complaint": ["agent"]})
    product = web.anonymous().get("/?lang=en")
    assert product.status_code == 200
    assert 'href="/login"' in text(product) and "Customer complaint" in text(product)
    assert web.client("cathy").get("/").headers["Location"] == "/portal"
    assert web.client("alice").get("/").headers["Location"] == "/inbox"
    assert web.client("admin").get("/").headers["Location"] == "/inbox"


def test_my_closed_and_cancelled_tickets_show_their_end_as_the_stage(web):
    web.user("cathy")
    closed = submit_as(web, "cathy", summary="已解决")
    cancelled = submit_as(web, "cathy", summary="不用了")
    web.runtime.close(closed.id, web.id("admin"), None)
    web.runtime.cancel(cancelled.id, web.id("cathy"), None)
    client = web.client("cathy")
    for lang, shut, dropped in (("zh", "已关闭", "已取消"), ("en", "Closed", "Cancelled")):
        page = text(client.get(f"/my?lang={lang}"))
        assert re.search(rf'<td>{shut}</td>\s*<td><span class="badge status-closed">', page)
        assert re.search(rf'<td>{dropped}</td>\s*<td><span class="badge status-cancelled">', page)
        assert "<td>—</td>" not in page
