"""The ticket page as its people use it: the customer who submitted it, the agents who work on it,
the approvers, and anyone else (who must not find it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.store.models import Watcher
from tests.support import complaint_form

APPS = Path(__file__).resolve().parents[2] / "app_definitions"


@pytest.fixture
def people(web):
    """A customer, a billing agent (the keyword 退款 sends complaints to billing), a second agent,
    a quality reviewer, a support lead, and a customer who has nothing to do with it."""
    web.user("cathy")
    web.user("dora")
    web.user("alice", roles={"complaint": ["agent", "billing_team"]})
    web.user("bob", roles={"complaint": ["agent"]})
    web.user("quinn", roles={"complaint": ["quality"]})
    web.user("lena", roles={"complaint": ["cs_lead"]})
    return web


def submit(web, name: str = "cathy", **changes):
    form = complaint_form(web.runtime.definition("complaint")[1], **changes)
    return web.runtime.submit("complaint", "complaint", form, actor=web.id(name))


def task_at(web, ticket_id: int, node: str) -> dict:
    found = [t for t in web.runtime.tasks(ticket_id) if t["node_id"] == node]
    assert len(found) == 1, web.runtime.tasks(ticket_id)
    return found[0]


def page(client, ticket_id: int, lang: str = "en") -> str:
    answer = client.get(f"/tickets/{ticket_id}?lang={lang}")
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def node_group(svg_page: str, node: str) -> str:
    return re.search(rf'<g class="gd-node[^"]*" data-node="{node}"[^>]*>', svg_page)[0]


# --------------------------------------------------------------------------- who sees it
def test_the_submitter_sees_number_stage_and_who_holds_it(people):
    ticket = submit(people)
    shown = page(people.client("cathy"), ticket.id)
    assert ticket.number in shown
    assert 'data-stage="triage">Triage<' in shown
    assert '<span class="tk-owner">Alice</span>' in shown  # the billing team's only member


def test_another_customer_gets_a_404_page_and_cannot_act(people):
    ticket = submit(people)
    dora = people.client("dora")
    answer = dora.get(f"/tickets/{ticket.id}?lang=en")
    assert answer.status_code == 404 and "text/html" in answer.headers["Content-Type"]
    assert ticket.number not in answer.get_data(as_text=True)
    assert dora.get("/tickets/999999").status_code == 404  # the same as a ticket that does not exist
    assert dora.post(f"/tickets/{ticket.id}/comment", data={"body": "hi"}).status_code == 404
    assert dora.post(f"/tickets/{ticket.id}/watch").status_code == 404
    assert len([e for e in people.runtime.events(ticket.id) if e["type"] == "comment_added"]) == 0


def test_labels_speak_chinese_and_english(people):
    ticket = submit(people)
    client = people.client("cathy")
    zh, en = page(client, ticket.id, "zh"), page(client, ticket.id, "en")
    assert "当前阶段" in zh and ">受理分派<" in zh and "处理记录" in zh
    assert ">Stage<" in en and ">Triage<" in en and "Timeline" in en


# --------------------------------------------------------------------------- the flow
def test_the_flow_is_drawn_with_the_current_stage_marked(people):
    ticket = submit(people)
    shown = page(people.client("cathy"), ticket.id)
    assert "<svg" in shown
    assert 'aria-current="step"' in node_group(shown, "triage") and " current" in node_group(shown, "triage")
    assert " visited" in node_group(shown, "start")
    assert "current" not in node_group(shown, "fix") and "visited" not in node_group(shown, "fix")


# --------------------------------------------------------------------------- working on it
def test_an_agent_holding_the_task_completes_it_and_the_stage_moves(people):
    ticket = submit(people)
    alice = people.client("alice")
    shown = page(alice, ticket.id)
    assert 'data-action="dispatch"' in shown and ">Dispatch<" in shown  # the edge's name
    assert 'data-action="dispatch"' not in page(people.client("cathy"), ticket.id)  # not the customer's task
    task = task_at(people, ticket.id, "triage")
    answer = alice.post(
        f"/tickets/{ticket.id}/tasks/{task['id']}/act",
        data={"action": "dispatch", "owner": str(people.id("alice")), "row_version": str(ticket.row_version)},
    )
    assert answer.status_code == 303
    after = alice.get(answer.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert 'data-stage="fix">Resolve<' in after and 'role="status">Done.<' in after
    assert people.runtime.ticket(ticket.id).stage == "fix"
    assert 'aria-current="step"' in node_group(after, "fix")


def test_a_refused_action_says_why_and_changes_nothing(people):
    ticket = submit(people)
    task = task_at(people, ticket.id, "triage")
    answer = people.client("bob").post(
        f"/tickets/{ticket.id}/tasks/{task['id']}/act?lang=en", data={"action": "dispatch"}
    )
    assert answer.status_code == 409
    assert 'class="tk-alert error" role="alert"' in answer.get_data(as_text=True)
    assert people.runtime.ticket(ticket.id).stage == "triage"


def test_a_pool_task_is_claimed_from_the_page(people):
    ticket = submit(people, summary="页面打不开")  # no keyword: the support pool, which has nobody yet
    people.user("pete", roles={"complaint": ["cs_pool"]})
    pete = people.client("pete")
    task = task_at(people, ticket.id, "triage")
    assert task["assignee_id"] is None
    assert 'data-action="claim"' in page(pete, ticket.id)
    assert pete.post(f"/tickets/{ticket.id}/tasks/{task['id']}/claim").status_code == 303
    assert task_at(people, ticket.id, "triage")["assignee_id"] == people.id("pete")
    assert 'data-action="dispatch"' in page(pete, ticket.id)


def test_the_holder_saves_a_field_and_a_stale_save_is_refused_with_a_clear_message(people):
    ticket = submit(people)
    agent = people.id("alice")
    people.runtime.act(task_at(people, ticket.id, "triage")["id"], "dispatch", {"owner": agent}, actor=agent)
    alice = people.client("alice")
    shown = page(alice, ticket.id)
    assert 'id="ticket-form"' in shown and 'name="solution"' in shown
    seen = int(re.search(r'name="row_version" value="(\d+)"', shown)[1])
    saved = alice.post(f"/tickets/{ticket.id}/save", data={"row_version": str(seen), "solution": "已退款"})
    assert saved.status_code == 303
    assert people.runtime.ticket(ticket.id).data["solution"] == "已退款"
    stale = alice.post(
        f"/tickets/{ticket.id}/save?lang=en", data={"row_version": str(seen), "solution": "覆盖"}
    )
    assert stale.status_code == 409
    assert "someone changed this ticket while you were editing" in stale.get_data(as_text=True)
    assert people.runtime.ticket(ticket.id).data["solution"] == "已退款"


def test_only_a_holder_may_save(people):
    ticket = submit(people)
    answer = people.client("cathy").post(
        f"/tickets/{ticket.id}/save?lang=en", data={"row_version": str(ticket.row_version), "summary": "改了"}
    )
    assert answer.status_code in (403, 409)
    assert people.runtime.ticket(ticket.id).data["summary"] == "退款未到账"


def walk_to_rating(web, ticket):
    """Dispatch, resolve and countersign the complaint: it waits for the customer's rating."""
    agent = web.id("alice")
    web.runtime.act(task_at(web, ticket.id, "triage")["id"], "dispatch", {"owner": agent}, actor=agent)
    web.runtime.act(task_at(web, ticket.id, "fix")["id"], "resolve", {"solution": "已原路退款"}, actor=agent)
    review = {t["candidates"].get("role"): t["id"] for t in web.runtime.tasks(ticket.id)}
    web.runtime.act(review["quality"], "approve", actor=web.id("quinn"))
    web.runtime.act(review["cs_lead"], "approve", actor=web.id("lena"))
    assert web.runtime.ticket(ticket.id).stage == "rate"


def test_the_customer_rates_the_resolved_complaint_and_it_closes(people):
    people.runtime.publish(APPS / "kb.yaml")
    ticket = submit(people)
    walk_to_rating(people, ticket)
    cathy = people.client("cathy")
    shown = page(cathy, ticket.id)
    assert 'name="rating"' in shown and ">Rate and close<" in shown
    assert "已原路退款" in shown  # the solution, to read before rating
    row_version = re.search(r'name="row_version" value="(\d+)"', shown)[1]
    task = task_at(people, ticket.id, "rate")
    answer = cathy.post(
        f"/tickets/{ticket.id}/tasks/{task['id']}/act",
        data={"action": "rate", "rating": "5", "rating_comment": "很满意", "row_version": row_version},
    )
    assert answer.status_code == 303
    closed = people.runtime.ticket(ticket.id)
    assert closed.status == "closed" and closed.data["rating"] == 5
    after = page(cathy, ticket.id)
    assert "status-closed" in after and "★★★★★" in after
    assert 'data-action="reopen"' in after
    # The rule drafted a knowledge-base article from the well-rated solution: a linked record.
    admin_view = page(people.client("admin"), ticket.id)
    assert 'data-link="created"' in admin_view


# --------------------------------------------------------------------------- the conversation
def test_a_comment_mentioning_someone_highlights_them_and_makes_them_watch(people):
    ticket = submit(people)
    alice = people.client("alice")
    answer = alice.post(f"/tickets/{ticket.id}/comment", data={"body": "@bob 请帮忙核对退款记录"})
    assert answer.status_code == 303
    shown = page(people.client("cathy"), ticket.id)
    assert '<mark class="mention">@bob</mark> 请帮忙核对退款记录' in shown
    with people.db.read() as conn:
        watching = set(conn.execute(select(Watcher.user_id).where(Watcher.record_id == ticket.id)).scalars())
    assert people.id("bob") in watching
    assert "<li>Bob</li>" in shown


def test_watching_and_unwatching_from_the_page(people):
    ticket = submit(people)
    cathy = people.client("cathy")
    assert 'data-action="watch"' in page(cathy, ticket.id)
    assert cathy.post(f"/tickets/{ticket.id}/watch").status_code == 303
    assert 'data-action="unwatch"' in page(cathy, ticket.id)
    assert cathy.post(f"/tickets/{ticket.id}/unwatch").status_code == 303
    assert 'data-action="watch"' in page(cathy, ticket.id)


def test_html_typed_anywhere_is_shown_as_text(people):
    evil = "<script>alert(1)</script>"
    ticket = submit(people, summary="退款 " + evil, customer=evil)
    cathy = people.client("cathy")
    assert cathy.post(f"/tickets/{ticket.id}/comment", data={"body": evil + " @alice"}).status_code == 303
    agent = people.id("alice")
    people.runtime.act(task_at(people, ticket.id, "triage")["id"], "dispatch", {"owner": agent}, actor=agent)
    people.runtime.update(ticket.id, {"solution": evil}, actor=agent)  # a field change in the timeline
    for name in ("cathy", "alice"):
        shown = page(people.client(name), ticket.id)
        assert "<script>alert(1)" not in shown
        assert shown.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, details, comment, timeline


def test_fields_hidden_at_the_stage_never_reach_the_page(people):
    ticket = submit(people)
    agent = people.id("alice")
    people.runtime.act(task_at(people, ticket.id, "triage")["id"], "dispatch", {"owner": agent}, actor=agent)
    people.runtime.update(ticket.id, {"solution": "SECRET-DRAFT-42"}, actor=agent)
    people.runtime.act(task_at(people, ticket.id, "fix")["id"], "ask_customer", actor=agent)
    cathy_view = page(people.client("cathy"), ticket.id)  # waiting for the customer: solution hidden
    assert "SECRET-DRAFT-42" not in cathy_view
    assert 'data-field="solution"' not in cathy_view and 'name="solution"' not in cathy_view
    assert 'name="detail"' in cathy_view  # what the customer is asked to add
    timeline = people.runtime.events(ticket.id)
    assert any(e["payload"].get("new") == "SECRET-DRAFT-42" for e in timeline)  # it is there, just not shown
