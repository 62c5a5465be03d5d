"""Form fields on the ticket page and the portal as a person meets them: a colleague is picked by
name (never by an internal id), a department too, uploads are not said to be unavailable, limited
text shows its count, and the live state names a malformed e-mail in the server's words."""

from __future__ import annotations

import re
from pathlib import Path

from werkzeug.datastructures import MultiDict

from engine.definitions.model import FieldDef
from engine.people import create_department
from server.forms import parse_form
from tests.support import complaint_form

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
NEW = "/portal/complaint/complaint/new"


def text(answer) -> str:
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def field_of(page: str, key: str) -> str:
    start = page.index(f'data-field="{key}"')
    ends = [i for i in (page.find('<div class="gd-field', start), page.find("</fieldset>", start)) if i != -1]
    return page[start : min(ends)]


def test_the_owner_at_triage_is_a_colleague_picked_by_name(web):
    web.user("cathy")
    alice = web.user("alice", roles={"complaint": ["agent", "billing_team"]})
    bob = web.user("bob", roles={"complaint": ["agent"]})
    form = complaint_form(web.runtime.definition("complaint")[1])
    ticket = web.runtime.submit("complaint", "complaint", form, actor=web.id("cathy"))
    client = web.client("alice")

    owner = field_of(text(client.get(f"/tickets/{ticket.id}?lang=zh")), "owner")
    assert '<select id="f-owner" name="owner"' in owner and 'type="number"' not in owner
    assert '<option value="">选择同事…</option>' in owner
    assert f'<option value="{alice}">Alice (alice)</option>' in owner  # oneself first
    assert f'<option value="{bob}">Bob (bob)</option>' in owner
    assert "Cathy" not in owner  # the customer is nobody's colleague here

    task = next(t for t in web.runtime.tasks(ticket.id) if t["node_id"] == "triage")
    answer = client.post(
        f"/tickets/{ticket.id}/tasks/{task['id']}/act",
        data={"action": "dispatch", "owner": str(bob), "row_version": str(ticket.row_version)},
    )
    assert answer.status_code == 303, answer.status_code
    assert web.runtime.ticket(ticket.id).data["owner"] == bob  # the picked name stored as the id


def test_a_developer_named_on_the_portal_is_picked_by_name_and_customers_are_not_offered(web):
    web.runtime.publish(APPS / "bugfix.yaml")
    grace = web.user("grace", department=create_department(web.db, "销售部"))  # staff report bugs
    web.user("henry")  # a customer: no role anywhere, not grace's teammate
    bob = web.user("bob", roles={"complaint": ["agent"]})  # works in the system, in another app
    page = text(web.client("grace").get("/portal/bugfix/bug/new?lang=en"))
    developer = field_of(page, "developer")
    assert '<option value="">Pick a colleague…</option>' in developer
    assert f'<option value="{grace}">Grace (grace)</option>' in developer
    assert f'<option value="{bob}">Bob (bob)</option>' in developer
    assert "Henry" not in developer
    reporter = field_of(page, "reporter")  # read-only: nobody is offered there
    assert "disabled" in reporter and "Bob" not in reporter


def test_the_requesting_department_is_picked_by_name_on_the_portal(web):
    web.runtime.publish(APPS / "it_ops.yaml")
    finance = create_department(web.db, "财务部")
    create_department(web.db, "信息部")
    web.user("erin", department=finance)
    page = text(web.client("erin").get("/portal/it_ops/request/new?lang=zh"))
    dept = field_of(page, "requested_by")
    assert '<select id="f-requested_by" name="requested_by"' in dept and 'type="number"' not in dept
    assert f'<option value="{finance}">财务部</option>' in dept and ">信息部</option>" in dept


def test_the_portal_form_does_not_say_uploads_are_unavailable(web):
    web.user("cathy")
    client = web.client("cathy")
    for lang in ("zh", "en"):
        page = text(client.get(f"{NEW}?lang={lang}"))
        assert 'type="file"' in page and 'data-upload-url="/api/v1/attachments"' in page
        assert "尚未开放" not in page and "not available yet" not in page


def test_limited_text_shows_its_count_also_after_a_rejected_submission(web):
    web.user("cathy")
    client = web.client("cathy")
    fresh = field_of(text(client.get(f"{NEW}?lang=en")), "customer")
    assert "<span data-count>0</span> / 100" in fresh and "characters used, at most 100" in fresh
    answer = client.post(f"{NEW}?lang=zh", data={"customer": "ACME 有限公司", "summary": ""})
    assert answer.status_code == 422
    kept = field_of(answer.get_data(as_text=True), "customer")
    assert "<span data-count>9</span> / 100" in kept and "字，最多 100 字" in kept


def test_the_live_state_says_a_malformed_email_at_once_in_the_servers_words(web):
    web.user("cathy")
    client = web.client("cathy")
    url = "/api/v1/forms/complaint/complaint/state"
    bad = client.post(url + "?lang=en", json={"form": [["email", "cathy-at-home"], ["phone", "call me"]]})
    assert bad.status_code == 200
    assert bad.json["invalid"]["email"] == "Enter a valid e-mail address."
    assert bad.json["invalid"]["phone"] == "Enter a valid phone number."
    zh = client.post(url + "?lang=zh", json={"form": [["email", "cathy-at-home"]]}).json["invalid"]
    assert zh["email"] == "请输入有效的邮箱地址。"
    good = client.post(url, json={"form": [["email", "cathy@example.com"]]}).json["invalid"]
    assert "email" not in good
    submitted = client.post(f"{NEW}?lang=en", data={"email": "cathy-at-home"})
    assert re.search(
        r'id="f-email-error" role="alert"><p>Enter a valid e-mail address\.</p>',
        submitted.get_data(as_text=True),
    )


def test_every_colleague_picked_for_a_multiple_field_is_kept():
    fields = (FieldDef("helpers", "user", {"en": "Helpers"}, {"multiple": True}),)
    assert parse_form(fields, MultiDict([("helpers", "3"), ("helpers", "5")])) == {"helpers": [3, 5]}
    assert parse_form(fields, MultiDict([("helpers", "3, 4")])) == {"helpers": [3, 4]}  # typed by hand
