"""The fields an action needs, on the ticket page: marked on the task's form before anyone acts, and,
when an action is refused for an empty one, one summary naming each problem's field above the page
(the messages stay beside the fields)."""

from __future__ import annotations

import re

from tests.server.test_ticket_page_steps import field_error, page, row_version, task_at, to_fix, to_rating
from tests.server.test_ticket_page_steps import people as people  # the fixture

RESOLVE_NEEDS = "Solution is required for “Submit for review”: fill it in first."


def banners(html):
    """The error banners of the page: the page's own and any form summary, as their text."""
    found = re.findall(r'<div class="(?:tk-alert error|gd-summary)"[^>]*>(.*?)</div>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", re.sub(r"</?(ul|li|p)\b[^>]*>", " ", b)).split()) for b in found]


def needed_note(html, key):
    """The 'needed for' note beside the field ``key`` (None when it has none)."""
    box = re.search(
        rf'<div class="gd-field[^"]*" data-field="{key}".*?(?=<div class="gd-field|</fieldset>)', html, re.S
    )
    assert box is not None, f"no field {key} on the form"
    note = re.search(r'<p class="gd-note"[^>]*>([^<]*)</p>', box[0])
    return note[1] if note else None


def refuse_resolve(web, lang):
    ticket = to_fix(web)
    alice = web.client("alice")
    shown = page(alice, ticket.id, lang)
    answer = alice.post(
        f"/tickets/{ticket.id}/tasks/{task_at(web, ticket.id, 'fix')}/act?lang={lang}",
        data={"action": "resolve", "solution": "", "row_version": row_version(shown)},
    )
    assert answer.status_code == 422
    return answer.get_data(as_text=True)


def test_a_refused_action_shows_one_summary_naming_the_empty_field(people):
    refused = refuse_resolve(people, "en")
    assert banners(refused) == [f"The form has 1 problem; nothing was saved: Solution — {RESOLVE_NEEDS}"]
    assert re.search(r'<a href="#f-solution">Solution</a>', refused)  # the summary leads to the field
    assert (
        field_error(refused, "solution") == "Solution is required for “Submit for review”: fill it in first."
    )


def test_a_refused_action_in_chinese_shows_one_summary_naming_the_empty_field(people):
    refused = refuse_resolve(people, "zh")
    assert banners(refused) == [
        "表单有 1 处错误，未保存： 解决方案：解决方案为必填项:「提交审核」之前请先填写。"
    ]


def test_the_field_submitting_for_review_needs_is_marked_before_anyone_acts(people):
    ticket = to_fix(people)
    shown = page(people.client("alice"), ticket.id, "en")
    assert needed_note(shown, "solution") == "Needed for “Submit for review”"
    assert needed_note(shown, "detail") is None  # no action asks for it
    assert banners(shown) == []  # marked, not refused
    zh = page(people.client("alice"), ticket.id, "zh")
    assert needed_note(zh, "solution") == "「提交审核」需要填写此项"


def test_the_customer_sees_the_rating_marked_as_needed_to_rate_and_close(people):
    ticket = to_rating(people)
    shown = page(people.client("grace"), ticket.id, "zh")
    assert needed_note(shown, "rating") == "「评价并关闭」需要填写此项"
    assert needed_note(shown, "rating_comment") is None
