"""The complaint's steps on the ticket page as a demanding user meets them: the main button moves the
ticket on, an action's required field is asked for at that field, and only the ticket-level buttons
the viewer may really use at this stage are offered."""

from __future__ import annotations

import re

import pytest

from tests.support import complaint_form


@pytest.fixture
def people(web):
    web.user("grace")
    web.user("alice", roles={"complaint": ["agent", "billing_team"]})
    web.user("carol", roles={"complaint": ["quality"]})
    web.user("dave", roles={"complaint": ["cs_lead"]})
    return web


def submit(web):
    form = complaint_form(web.runtime.definition("complaint")[1], summary="退款未到账")
    return web.runtime.submit("complaint", "complaint", form, actor=web.id("grace"))


def task_at(web, ticket_id, node, role=None):
    found = [
        t
        for t in web.runtime.tasks(ticket_id)
        if t["node_id"] == node and (role is None or t["candidates"].get("role") == role)
    ]
    assert len(found) == 1, web.runtime.tasks(ticket_id)
    return found[0]["id"]


def to_fix(web):
    ticket = submit(web)
    agent = web.id("alice")
    web.runtime.act(task_at(web, ticket.id, "triage"), "dispatch", {"owner": agent}, actor=agent)
    return ticket


def to_review(web):
    ticket = to_fix(web)
    web.runtime.act(
        task_at(web, ticket.id, "fix"), "resolve", {"solution": "已原路退款"}, actor=web.id("alice")
    )
    return ticket


def to_rating(web):
    ticket = to_review(web)
    web.runtime.act(task_at(web, ticket.id, "review", "quality"), "approve", actor=web.id("carol"))
    web.runtime.act(task_at(web, ticket.id, "review", "cs_lead"), "approve", actor=web.id("dave"))
    return ticket


def page(client, ticket_id, lang="en"):
    answer = client.get(f"/tickets/{ticket_id}?lang={lang}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def button(html, action):
    return re.search(rf'<button[^>]*data-action="{action}"[^>]*>', html, re.S)[0]


def ticket_buttons(html):
    box = html.split('class="tk-buttons tk-ticket-actions"', 1)[1].split("</div>", 1)[0]
    return set(re.findall(r'data-action="(\w+)"', box))


def field_error(html, key):
    """The error shown under the field ``key`` of the form (None when it has none)."""
    found = re.search(rf'<div class="gd-error" id="[^"]*{key}-error" role="alert"><p>([^<]*)</p>', html)
    return found[1] if found else None


def row_version(html):
    return re.search(r'name="row_version" value="(\d+)"', html)[1]


def test_at_the_resolve_step_submitting_for_review_is_the_main_button(people):
    ticket = to_fix(people)
    shown = page(people.client("alice"), ticket.id, "zh")
    assert 'class="primary"' in button(shown, "resolve") and ">提交审核<" in shown
    assert "primary" not in button(shown, "ask_customer")


def test_submitting_for_review_without_a_solution_is_asked_for_at_the_solution_field(people):
    ticket = to_fix(people)
    alice = people.client("alice")
    shown = page(alice, ticket.id)
    task = task_at(people, ticket.id, "fix")
    answer = alice.post(
        f"/tickets/{ticket.id}/tasks/{task}/act?lang=en",
        data={"action": "resolve", "solution": "", "row_version": row_version(shown)},
    )
    assert answer.status_code == 422
    refused = answer.get_data(as_text=True)
    assert (
        field_error(refused, "solution") == "Solution is required for “Submit for review”: fill it in first."
    )
    assert people.runtime.ticket(ticket.id).stage == "fix"
    asked = alice.post(
        f"/tickets/{ticket.id}/tasks/{task}/act",
        data={"action": "ask_customer", "solution": "", "row_version": row_version(shown)},
    )
    assert asked.status_code == 303 and people.runtime.ticket(ticket.id).stage == "need_info"


def test_rating_and_closing_without_a_star_is_refused_in_chinese_at_the_rating(people):
    ticket = to_rating(people)
    grace = people.client("grace")
    shown = page(grace, ticket.id, "zh")
    task = task_at(people, ticket.id, "rate")
    answer = grace.post(
        f"/tickets/{ticket.id}/tasks/{task}/act?lang=zh",
        data={"action": "rate", "rating_comment": "不错", "row_version": row_version(shown)},
    )
    assert answer.status_code == 422
    assert (
        field_error(answer.get_data(as_text=True), "rating") == "满意度为必填项:「评价并关闭」之前请先填写。"
    )
    assert people.runtime.ticket(ticket.id).status == "open"


def test_at_the_rating_stage_the_customer_is_offered_only_rate_and_close(people):
    ticket = to_rating(people)
    shown = page(people.client("grace"), ticket.id, "zh")
    assert ">评价并关闭<" in shown and 'class="primary"' in button(shown, "rate")
    assert ticket_buttons(shown) == set()  # no 撤回, 取消工单 or 关闭工单 beside it


def test_a_reviewer_holding_only_a_review_task_is_not_offered_to_close_the_ticket(people):
    ticket = to_review(people)
    people.runtime.claim(task_at(people, ticket.id, "review", "quality"), people.id("carol"))
    shown = page(people.client("carol"), ticket.id)
    assert 'data-action="approve"' in shown
    assert "close" not in ticket_buttons(shown)


def test_the_agent_closes_and_the_customer_withdraws_or_cancels_while_it_is_handled(people):
    ticket = to_fix(people)
    # alice dispatched it to herself: she may take that step back, or close a duplicate
    assert ticket_buttons(page(people.client("alice"), ticket.id)) == {"withdraw", "close"}
    assert ticket_buttons(page(people.client("grace"), ticket.id)) == {"cancel"}
    fresh = submit(people)
    assert ticket_buttons(page(people.client("grace"), fresh.id)) == {"withdraw", "cancel"}
    assert ticket_buttons(page(people.client("admin"), fresh.id)) == {"cancel", "close"}
