"""Which running tickets a publish would affect (the designer's publish preview), on both databases."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from engine.definitions.impact import publish_impact
from engine.definitions.loader import load_definition
from engine.people import create_department, create_user
from engine.runtime import Runtime
from tests.support import complaint_form, give_role

APPS = Path(__file__).resolve().parents[3] / "app_definitions"


def nodes_of(data: dict[str, Any], ticket_type: str) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in data["ticket_types"][ticket_type]["flow"]["nodes"]}


def fields_of(data: dict[str, Any], ticket_type: str) -> dict[str, dict[str, Any]]:
    sections = data["ticket_types"][ticket_type]["form"]["sections"]
    return {f["key"]: f for s in sections for f in s["fields"]}


def impact_of(db, app: str, candidate: Any) -> dict[tuple[str, str], dict[str, Any]]:
    with db.read() as conn:
        found = publish_impact(conn, app, candidate)
    return {(c.kind, c.target): c.as_dict() for c in found.changes}


@pytest.fixture
def complaints(runtime: Runtime, db) -> tuple[dict[str, Any], list[Any]]:
    """The complaint app (v1) with three open complaints at triage; two give an email address."""
    runtime.publish(APPS / "kb.yaml")
    runtime.publish(APPS / "complaint.yaml")
    customer = create_user(db, "customer")
    give_role(db, create_user(db, "agent"), "complaint", "cs_pool")
    data = runtime.definition("complaint")[1]
    tickets = [
        runtime.submit("complaint", "complaint", complaint_form(data, summary=f"问题 {i}", **extra), customer)
        for i, extra in enumerate([{"email": "a@example.com"}, {"email": "b@example.com"}, {}])
    ]
    return data, tickets


def test_tickets_at_a_changed_or_removed_node_are_counted_with_their_numbers(db, complaints):
    data, tickets = complaints
    candidate = copy.deepcopy(data)
    nodes_of(candidate, "complaint")["triage"]["sla"]["response"]["P2"] = "30m"  # triage changes
    nodes_of(candidate, "complaint")["fix"]["name"] = {"zh": "解决", "en": "Solve"}  # nobody is at fix

    found = impact_of(db, "complaint", candidate)

    assert set(found) == {("node_changed", "triage")}
    change = found[("node_changed", "triage")]
    assert change["count"] == 3 and change["versions"] == [1]
    assert change["examples"] == [t.number for t in tickets]
    assert change["path"] == "ticket_types.complaint.flow.nodes[triage]"


def test_a_node_whose_edges_lead_elsewhere_counts_as_changed(db, complaints):
    data, _ = complaints
    candidate = copy.deepcopy(data)
    flow = candidate["ticket_types"]["complaint"]["flow"]
    for edge in flow["edges"]:
        if isinstance(edge, dict) and edge.get("action") == "dispatch":
            edge["action"] = "assign"

    assert set(impact_of(db, "complaint", candidate)) == {("node_changed", "triage")}


def test_tickets_holding_a_removed_or_retyped_field_are_counted(db, complaints):
    data, tickets = complaints
    candidate = copy.deepcopy(data)
    for section in candidate["ticket_types"]["complaint"]["form"]["sections"]:
        section["fields"] = [f for f in section["fields"] if f["key"] != "email"]
    fields_of(candidate, "complaint")["summary"]["type"] = "textarea"
    fields_of(candidate, "complaint")["order_no"]["type"] = "textarea"  # nobody filled it in

    found = impact_of(db, "complaint", candidate)

    assert found[("field_removed", "email")]["count"] == 2
    assert found[("field_removed", "email")]["examples"] == [tickets[0].number, tickets[1].number]
    retyped = found[("field_type_changed", "summary")]
    assert retyped["count"] == 3 and retyped["detail"] == {"from": "text", "to": "textarea"}
    assert ("field_type_changed", "order_no") not in found


def test_only_tickets_of_versions_that_differ_from_the_candidate_are_affected(db, runtime, complaints):
    data, old_tickets = complaints
    candidate = copy.deepcopy(data)
    nodes_of(candidate, "complaint")["triage"]["sla"]["response"]["P2"] = "30m"
    assert runtime.publish(candidate).version == 2
    customer = create_user(db, "late_customer")
    runtime.submit("complaint", "complaint", complaint_form(candidate), customer)  # on version 2

    found = impact_of(db, "complaint", candidate)

    change = found[("node_changed", "triage")]
    assert change["count"] == 3 and change["versions"] == [1]
    assert change["examples"] == [t.number for t in old_tickets]


def test_closed_tickets_and_an_unchanged_candidate_affect_nothing(db, runtime, complaints):
    data, tickets = complaints
    for ticket in tickets:
        runtime.cancel(ticket.id)
    candidate = copy.deepcopy(data)
    nodes_of(candidate, "complaint")["triage"]["name"] = {"zh": "分派", "en": "Dispatch"}
    with db.read() as conn:
        assert publish_impact(conn, "complaint", candidate).as_dict() == {
            "app": "complaint",
            "open_tickets": 0,
            "changes": [],
        }
        assert publish_impact(conn, "brand_new_app", candidate).changes == []


def test_a_ticket_on_a_parallel_branch_counts_at_each_node_it_waits_at(db, runtime):
    runtime.publish(APPS / "it_ops.yaml")
    dept = create_department(db, "Finance")
    requester = create_user(db, "requester", department_id=dept)
    for name, role in (("net1", "network_team"), ("desk1", "service_desk")):
        give_role(db, create_user(db, name), "it_ops", role)
    ticket = runtime.submit(
        "it_ops",
        "request",
        {"summary": "VPN down", "category": "network", "description": "Cannot reach the VPN since 9:00."},
        requester,
    )
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "assign")  # the system acts
    data = runtime.definition("it_ops")[1]
    candidate = copy.deepcopy(data)
    nodes_of(candidate, "request")["record_asset"]["sla"] = {"resolution": "2d", "calendar": "cn_workdays"}

    found = impact_of(db, "it_ops", candidate)

    assert runtime.ticket(ticket.id).stage == "process"  # the stage shows one branch …
    assert found[("node_changed", "record_asset")]["examples"] == [ticket.number]  # … the other counts too


def test_a_removed_ticket_type_counts_all_its_open_tickets_and_examples_stop_at_twenty(db, runtime):
    runtime.publish(APPS / "kb.yaml")
    author = create_user(db, "author")
    give_role(db, author, "kb", "editor")  # only editors write articles
    numbers = [
        runtime.submit("kb", "article", {"title": f"第 {i} 篇", "body": "正文"}, author).number
        for i in range(23)
    ]
    candidate = copy.deepcopy(load_definition(APPS / "kb.yaml").data)
    candidate["ticket_types"]["note"] = candidate["ticket_types"].pop("article")

    found = impact_of(db, "kb", candidate)

    removed = found[("ticket_type_removed", "article")]
    assert removed["count"] == 23 and removed["examples"] == numbers[:20]
    assert removed["path"] == "ticket_types.article"


def test_the_number_of_queries_does_not_grow_with_the_tickets(db, runtime):
    runtime.publish(APPS / "kb.yaml")
    candidate = copy.deepcopy(load_definition(APPS / "kb.yaml").data)
    nodes_of(candidate, "article")["review"]["name"] = {"zh": "复核", "en": "Check"}
    fields_of(candidate, "article")["source"]["type"] = "textarea"
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def queries_for(tickets: int) -> tuple[int, int]:
        for i in range(tickets):
            runtime.submit(
                "kb", "article", {"title": f"T{i}", "body": "B", "source": f"TS-{i}"}
            )  # a rule would
        statements.clear()
        found = impact_of(db, "kb", candidate)
        return len(statements), found[("node_changed", "review")]["count"]

    few = queries_for(2)
    many = queries_for(30)
    assert few[1] == 2 and many[1] == 32
    assert few[0] == many[0] <= 6
