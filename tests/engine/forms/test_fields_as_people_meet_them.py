"""Form fields as a person meets them: colleagues and departments picked by name, no false
"upload not available" note, a count of what a limited text field still takes, and the live
state naming a malformed value in the words a submission would use."""

from __future__ import annotations

import pytest

from engine.forms.render import render_form
from engine.forms.state import form_state
from tests.engine.forms.test_render import app_spec, field_html, render

PEOPLE = {"user": [(1, "Alice (alice)"), (2, "Bob (bob)")], "department": [(7, "财务部"), (8, "信息部")]}


def test_a_user_field_offers_colleagues_by_name_and_keeps_the_id_as_its_value():
    page = render("complaint", lang="zh", values={"owner": 2}, directory=PEOPLE)
    owner = field_html(page, "owner")
    assert '<select id="f-owner" name="owner"' in owner and 'type="number"' not in owner
    assert '<option value="">选择同事…</option>' in owner
    assert '<option value="1">Alice (alice)</option>' in owner
    assert '<option value="2" selected>Bob (bob)</option>' in owner  # the current value, by name
    en = field_html(render("complaint", lang="en", directory=PEOPLE), "owner")
    assert '<option value="">Pick a colleague…</option>' in en and " selected" not in en


def test_someone_not_in_the_list_still_shows_as_the_current_value():
    owner = field_html(render("complaint", lang="en", values={"owner": 99}, directory=PEOPLE), "owner")
    assert '<option value="99" selected>#99</option>' in owner


def test_department_fields_and_multiple_choices_are_pickers_too():
    page = render("all_types", lang="en", values={"who": 1, "dept": [7, 8]}, directory=PEOPLE)
    dept = field_html(page, "dept")
    assert "<select multiple" in dept and 'name="dept"' in dept
    assert (
        '<option value="7" selected>财务部</option>' in dept
        and '<option value="8" selected>信息部</option>' in dept
    )
    assert '<option value="1" selected>Alice (alice)</option>' in field_html(page, "who")


def test_the_requesting_department_is_picked_by_name():
    spec = app_spec("it_ops")
    tspec = next(iter(spec.types.values()))
    page = render_form(
        tspec, {"requested_by": 8}, lang="zh", option_sets=spec.app.option_sets, directory=PEOPLE
    )
    dept = field_html(page, "requested_by")
    assert (
        '<option value="">选择部门…</option>' in dept and '<option value="8" selected>信息部</option>' in dept
    )


def test_a_read_only_user_field_still_shows_the_name():
    owner = field_html(
        render(
            "complaint", lang="en", values={"owner": 1}, directory=PEOPLE, permissions={"owner": "readonly"}
        ),
        "owner",
    )
    assert "disabled" in owner and '<option value="1" selected>Alice (alice)</option>' in owner


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_file_fields_do_not_claim_uploads_are_unavailable(lang):
    page = render("all_types", lang=lang)
    assert "尚未开放" not in page and "not available yet" not in page
    doc = field_html(page, "doc")
    # Only where it is true: without scripts a chosen file cannot be uploaded.
    assert "<noscript>" in doc and ("JavaScript" in doc)


def test_a_text_field_with_a_maximum_shows_how_much_is_used():
    zh = field_html(render("complaint", lang="zh", values={"customer": "张三 😀"}), "customer")
    assert 'maxlength="100"' in zh
    assert '<span class="gd-count" id="f-customer-count" data-count-for="f-customer">' in zh
    assert "<span data-count>5</span> / 100" in zh  # as the browser counts it (the emoji takes two)
    assert "字，最多 100 字" in zh and 'aria-describedby="f-customer-count"' in zh
    en = field_html(render("complaint", lang="en"), "solution")
    assert "<span data-count>0</span> / 4000" in en and "characters used, at most 4000" in en
    assert "gd-count" not in field_html(render("complaint", lang="en"), "category")  # no maximum, no count


def test_the_live_state_names_a_malformed_email_and_phone_as_a_submission_would():
    tspec = app_spec("complaint").types["complaint"]
    zh = form_state(tspec, {"email": "not-an-address", "phone": "call me"}, lang="zh")["invalid"]
    assert zh["email"] == "请输入有效的邮箱地址。" and zh["phone"] == "请输入有效的电话号码。"
    en = form_state(tspec, {"email": "a@b.example", "phone": "13800138000"}, lang="en")["invalid"]
    assert "email" not in en and "phone" not in en
    rendered = render(
        "complaint", lang="en", values={"email": "x"}, problems=_problems(tspec, {"email": "not-an-address"})
    )
    en_bad = form_state(tspec, {"email": "not-an-address"}, lang="en")["invalid"]["email"]
    assert f"<p>{en_bad}</p>" in field_html(rendered, "email")  # the same words as after submitting


def _problems(tspec, values):
    problems: list = []
    tspec.form.body.clean(values, problems)
    return problems
