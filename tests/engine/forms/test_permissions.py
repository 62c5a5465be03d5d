"""Field permissions by stage and role, enforced by the Runtime on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine.errors import FormError
from engine.people import create_user
from tests.support import complaint_form, give_role


@pytest.fixture
def people(db, complaint_app):
    agent = create_user(db, "agent_wang", "王坐席")
    lead = create_user(db, "lead_li", "李主管")
    give_role(db, agent, "complaint", "agent")
    give_role(db, lead, "complaint", "cs_lead")
    return {"agent": agent, "lead": lead}


@pytest.fixture
def ticket(runtime, complaint_app):
    return runtime.submit("complaint", "complaint", complaint_form(runtime.definition("complaint")[1]))


def move_to(runtime, ticket, action, data=None):
    (task,) = runtime.tasks(ticket.id)
    return runtime.act(task["id"], action, data)


def test_a_hidden_field_never_reaches_a_viewer_at_that_stage(runtime, ticket, people):
    runtime.update(ticket.id, {"solution": "内部备注:先退款"})  # the system may write it
    assert runtime.ticket(ticket.id).data["solution"] == "内部备注:先退款"
    seen = runtime.ticket(ticket.id, viewer=people["agent"])  # triage: solution hidden
    assert "solution" not in seen.data and seen.data["customer"] == ticket.data["customer"]
    history = runtime.events(ticket.id, viewer=people["agent"])
    assert all("solution" not in str(e["payload"]) for e in history)
    assert any(e["type"] == "created" for e in history)


def test_hidden_fields_cannot_be_written_either(runtime, ticket, people):
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"solution": "x"}, actor=people["agent"])
    assert [(p.path, p.code) for p in caught.value.problems] == [("solution", "form.field_locked")]


def test_a_read_only_field_is_refused_with_an_error_not_dropped(runtime, ticket, people):
    move_to(runtime, ticket, "dispatch")  # now at fix: refund is read-only except for the lead
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"refund": "50", "solution": "已补发"}, actor=people["agent"])
    assert [(p.path, p.code) for p in caught.value.problems] == [("refund", "form.field_locked")]
    assert "solution" not in runtime.ticket(ticket.id).data  # nothing of the command was written
    after = runtime.update(ticket.id, {"refund": "50"}, actor=people["lead"])
    assert after.data["refund"] == "50.00"


def test_a_stage_that_makes_everything_read_only_refuses_every_edit(runtime, ticket, people):
    move_to(runtime, ticket, "dispatch")
    move_to(runtime, ticket, "resolve", {"solution": "已退款"})  # review: "*": readonly
    with pytest.raises(FormError):
        runtime.update(ticket.id, {"summary": "改一下"}, actor=people["lead"])


def test_the_level_message_names_the_field_in_both_languages(runtime, ticket, people):
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"solution": "x"}, actor=people["agent"])
    assert "solution" in caught.value.render("en") and "solution" in caught.value.render("zh")
    assert "cannot be changed" in caught.value.render("en")


def test_a_read_only_field_takes_the_systems_value_but_refuses_a_persons(runtime, ticket, people):
    # vip is `readonly: true`: the CRM lookup's answer (a system command) sets it, nobody types it
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"vip": True}, actor=people["lead"])
    assert [(p.path, p.code) for p in caught.value.problems] == [("vip", "form.field_locked")]
    assert runtime.update(ticket.id, {"vip": True}).data["vip"] is True
    changed = [e for e in runtime.events(ticket.id) if e["type"] == "field_changed"]
    assert changed[-1]["payload"]["field"] == "vip" and changed[-1]["actor_id"] is None
