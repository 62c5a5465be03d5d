"""Transferring a task from the ticket page: offered to the app's staff only, with a list of names to
pick from; and a command's address opened by itself (a reload after a refusal) leads back to the
ticket instead of an error page."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.server.test_ticket_page_steps import page, submit, task_at, to_fix, to_rating


@pytest.fixture
def people(web):
    web.user("grace")
    web.user("alice", roles={"complaint": ["agent", "billing_team"]})
    web.user("bob", roles={"complaint": ["agent"]})
    web.user("carol", roles={"complaint": ["quality"]})
    web.user("dave", roles={"complaint": ["cs_lead"]})
    return web


def offered_names(html, task_id):
    """The usernames the task's transfer box offers, each with the name it shows."""
    found = re.search(rf'<datalist id="tk-people-{task_id}">(.*?)</datalist>', html, re.S)
    return dict(re.findall(r'<option value="([^"]*)">([^<]*)</option>', found[1])) if found else {}


def test_a_customer_rating_her_own_ticket_is_not_offered_a_transfer(people):
    ticket = to_rating(people)
    grace = people.client("grace")
    task = task_at(people, ticket.id, "rate")
    shown = page(grace, ticket.id, "zh")
    assert f'data-task="{task}"' in shown  # she holds the rating task…
    assert 'data-action="transfer"' not in shown and "转派给" not in shown  # …but may not hand it on
    answer = grace.post(
        f"/tickets/{ticket.id}/tasks/{task}/transfer?lang=en", data={"to": "alice", "note": ""}
    )
    assert answer.status_code in (403, 409)
    assert "Only the app's staff or an admin may transfer" in unescape(answer.get_data(as_text=True))
    held = next(t for t in people.runtime.tasks(ticket.id) if t["id"] == task)
    assert held["assignee_id"] == people.id("grace")


def test_an_agent_picks_whom_to_transfer_to_from_the_app_staff_by_name(people):
    ticket = to_fix(people)
    alice = people.client("alice")
    task = task_at(people, ticket.id, "fix")
    shown = page(alice, ticket.id)
    assert 'data-action="transfer"' in shown
    names = offered_names(shown, task)
    assert names["bob"] == "Bob (bob)" and names["carol"] == "Carol (carol)"
    assert "alice" not in names  # she holds it already
    assert "grace" not in names  # the customer is nobody's colleague here
    answer = alice.post(f"/tickets/{ticket.id}/tasks/{task}/transfer", data={"to": "bob"})
    assert answer.status_code == 303
    moved = next(t for t in people.runtime.tasks(ticket.id) if t["id"] == task)
    assert moved["assignee_id"] == people.id("bob")


def test_an_admin_holding_a_task_may_transfer_it(people):
    ticket = to_fix(people)
    admin = people.client("admin")
    task = task_at(people, ticket.id, "fix")
    shown = page(admin, ticket.id)
    assert 'data-action="transfer"' in shown and "bob" in offered_names(shown, task)
    answer = admin.post(f"/tickets/{ticket.id}/tasks/{task}/transfer", data={"to": "dave"})
    assert answer.status_code == 303
    assert next(t for t in people.runtime.tasks(ticket.id) if t["id"] == task)["assignee_id"] == people.id(
        "dave"
    )


@pytest.mark.parametrize("command", ["act", "transfer", "claim", "return", "signer", "release"])
def test_opening_a_task_command_address_leads_back_to_the_ticket(people, command):
    ticket = to_fix(people)
    task = task_at(people, ticket.id, "fix")
    answer = people.client("alice").get(f"/tickets/{ticket.id}/tasks/{task}/{command}?lang=en")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/tickets/{ticket.id}?lang=en"


@pytest.mark.parametrize("command", ["save", "comment", "watch", "withdraw", "close", "reopen"])
def test_opening_a_ticket_command_address_leads_back_to_the_ticket(people, command):
    ticket = submit(people)
    answer = people.client("grace").get(f"/tickets/{ticket.id}/{command}")
    assert answer.status_code == 303 and answer.headers["Location"] == f"/tickets/{ticket.id}"
    assert page(people.client("grace"), ticket.id)


def test_after_a_refused_action_the_address_is_the_ticket_page_again(people):
    ticket = to_fix(people)
    alice = people.client("alice")
    task = task_at(people, ticket.id, "fix")
    answer = alice.post(f"/tickets/{ticket.id}/tasks/{task}/transfer?lang=en", data={"to": "nobody-here"})
    assert answer.status_code in (409, 422)
    assert "There is no user called nobody-here." in answer.get_data(as_text=True)
    assert answer.headers["HX-Replace-Url"] == f"/tickets/{ticket.id}?lang=en"
    reloaded = alice.get(answer.headers["HX-Replace-Url"])
    assert reloaded.status_code == 200


def test_the_engine_refuses_a_customer_handing_her_step_on_through_the_api_too(people):
    ticket = to_rating(people)
    task = task_at(people, ticket.id, "rate")
    grace = people.anonymous()
    grace.environ_base["HTTP_AUTHORIZATION"] = people.token("grace")["Authorization"]
    for command in ("transfer", "delegate"):
        answer = grace.post(f"/api/v1/tasks/{task}/{command}?lang=en", json={"to": people.id("alice")})
        if answer.status_code == 404:  # no such endpoint for this command
            continue
        assert answer.status_code in (403, 409, 422), (command, answer.json)
        assert "Only the app's staff" in answer.json["message"], answer.json
    held = next(t for t in people.runtime.tasks(ticket.id) if t["id"] == task)
    assert held["assignee_id"] == people.id("grace") and held["delegated_from"] is None
