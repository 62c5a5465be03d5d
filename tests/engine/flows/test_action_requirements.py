"""What an action needs and who may end a ticket, on the shipped complaint app: a resolution needs a
solution, closing by rating needs a rating, the forward action is the main one, and only who may
really end the ticket at its stage may close or cancel it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from engine.definitions.loader import load_definition
from engine.errors import ActionError, DefinitionError, FormError
from engine.flows.stepping import available_actions, primary_action
from engine.people import create_user
from engine.runtime import Runtime
from tests.support import complaint_form, give_role

APPS = Path(__file__).resolve().parents[3] / "app_definitions"


@pytest.fixture
def lab(db):
    runtime = Runtime(db)
    runtime.publish(APPS / "complaint.yaml")
    runtime.publish(APPS / "kb.yaml")
    people = {n: create_user(db, n) for n in ("grace", "alice", "carol", "dave", "root")}
    give_role(db, people["alice"], "complaint", "billing_team")
    give_role(db, people["alice"], "complaint", "agent")
    give_role(db, people["carol"], "complaint", "quality")
    give_role(db, people["dave"], "complaint", "cs_lead")
    return runtime, people


def task_at(runtime, ticket_id, node, role=None):
    found = [
        t
        for t in runtime.tasks(ticket_id)
        if t["node_id"] == node and (role is None or t["candidates"].get("role") == role)
    ]
    assert len(found) == 1, runtime.tasks(ticket_id)
    return found[0]["id"]


def to_fix(lab):
    runtime, p = lab
    form = complaint_form(runtime.definition("complaint")[1], summary="退款未到账")
    ticket = runtime.submit("complaint", "complaint", form, actor=p["grace"])
    runtime.act(task_at(runtime, ticket.id, "triage"), "dispatch", {"owner": p["alice"]}, actor=p["alice"])
    return ticket


def to_rating(lab):
    runtime, p = lab
    ticket = to_fix(lab)
    runtime.act(task_at(runtime, ticket.id, "fix"), "resolve", {"solution": "已原路退款"}, actor=p["alice"])
    runtime.act(task_at(runtime, ticket.id, "review", "quality"), "approve", actor=p["carol"])
    runtime.act(task_at(runtime, ticket.id, "review", "cs_lead"), "approve", actor=p["dave"])
    assert runtime.ticket(ticket.id).stage == "rate"
    return ticket


# --------------------------------------------------------------------------- what an action requires
def test_rating_and_closing_without_a_rating_is_refused_at_the_rating_field_in_both_languages(lab):
    runtime, p = lab
    ticket = to_rating(lab)
    rate = task_at(runtime, ticket.id, "rate")
    with pytest.raises(FormError) as caught:
        runtime.act(rate, "rate", {"rating_comment": "还行"}, actor=p["grace"])
    [problem] = caught.value.problems
    assert problem.path == "rating"
    assert problem.message("zh") == "满意度为必填项:「评价并关闭」之前请先填写。"
    assert (
        problem.message("en") == "Satisfaction is required for \u201cRate and close\u201d: fill it in first."
    )
    after = runtime.ticket(ticket.id)
    assert after.status == "open" and after.stage == "rate" and not after.data.get("rating_comment")
    closed = runtime.act(rate, "rate", {"rating": 4}, actor=p["grace"])
    assert closed.status == "closed" and closed.data["rating"] == 4


def test_submitting_for_review_needs_a_solution_but_asking_the_customer_does_not(lab):
    runtime, p = lab
    ticket = to_fix(lab)
    fix = task_at(runtime, ticket.id, "fix")
    with pytest.raises(FormError) as caught:
        runtime.act(fix, "resolve", actor=p["alice"])
    assert [x.path for x in caught.value.problems] == ["solution"]
    assert "提交审核" in caught.value.problems[0].message("zh")
    assert runtime.ticket(ticket.id).stage == "fix"
    asked = runtime.act(fix, "ask_customer", actor=p["alice"])  # no solution yet, and that is fine
    assert asked.stage == "need_info"
    runtime.act(
        task_at(runtime, ticket.id, "need_info"), "provide_info", {"detail": "流水"}, actor=p["grace"]
    )
    fix = task_at(runtime, ticket.id, "fix")
    assert runtime.act(fix, "resolve", {"solution": "已重新退款"}, actor=p["alice"]).stage == "review"


def complaint_source() -> dict:
    return yaml.safe_load((APPS / "complaint.yaml").read_text(encoding="utf-8"))


def test_requires_naming_a_missing_field_or_leaving_a_gateway_is_refused_at_its_path():
    data = complaint_source()
    flow = data["ticket_types"]["complaint"]["flow"]
    resolve = next(
        i for i, e in enumerate(flow["edges"]) if isinstance(e, dict) and e.get("action") == "resolve"
    )
    flow["edges"][resolve]["requires"] = ["solution", "soluton"]
    flow["nodes"].append({"id": "route", "type": "exclusive"})
    flow["edges"][0] = ["start", "route"]
    flow["edges"].append({"from": "route", "to": "triage", "default": True, "requires": ["summary"]})
    with pytest.raises(DefinitionError) as caught:
        load_definition(copy.deepcopy(data))
    found = {(x.path, x.code) for x in caught.value.problems}
    assert (f"ticket_types.complaint.flow.edges[{resolve}].requires[1]", "check.unknown_field") in found
    last = len(flow["edges"]) - 1
    assert (f"ticket_types.complaint.flow.edges[{last}].requires", "check.flow.requires_off_task") in found


# --------------------------------------------------------------------------- the main button
def test_the_forward_action_is_the_main_one_not_the_detour(lab):
    runtime, _ = lab
    flow = runtime.type_spec("complaint", "complaint")[1].flow
    assert primary_action(flow, "fix", available_actions(flow, "fix")) == "resolve"
    assert primary_action(flow, "need_info", ["provide_info"]) == "provide_info"
    assert primary_action(flow, "review", ["approve", "reject"]) == "approve"
    assert primary_action(flow, "rate", ["rate"]) == "rate"


# --------------------------------------------------------------------------- ending the ticket
def test_at_the_rating_stage_only_the_rating_ends_the_ticket_for_the_customer(lab):
    runtime, p = lab
    ticket = to_rating(lab)
    for end in (runtime.close, runtime.cancel):
        with pytest.raises(ActionError) as caught:
            end(ticket.id, actor=p["grace"])
        assert caught.value.code == "flow.not_allowed"
    with pytest.raises(ActionError):
        runtime.withdraw(ticket.id, p["grace"])  # the last step was the reviewers'
    assert runtime.ticket(ticket.id).stage == "rate"


def test_an_approver_decides_and_cannot_close_the_ticket_over_the_other_signer(lab):
    runtime, p = lab
    ticket = to_fix(lab)
    runtime.act(task_at(runtime, ticket.id, "fix"), "resolve", {"solution": "已退款"}, actor=p["alice"])
    runtime.claim(task_at(runtime, ticket.id, "review", "quality"), p["carol"])
    with pytest.raises(ActionError) as caught:
        runtime.close(ticket.id, actor=p["carol"])
    assert "approver" in caught.value.message("en")
    assert runtime.ticket(ticket.id).status == "open"


def test_the_agent_working_it_closes_and_the_customer_cancels_while_it_is_handled(lab):
    runtime, p = lab
    ticket = to_fix(lab)
    closed = runtime.close(ticket.id, actor=p["alice"], comment="duplicate")
    assert closed.status == "closed"
    second = to_fix(lab)
    assert runtime.cancel(second.id, actor=p["grace"]).status == "cancelled"
