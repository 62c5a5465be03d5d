"""The API keeps its published contract: schemathesis generates requests for every operation
of /api/v1/openapi.json (valid and invalid ones), and scenarios that follow the document's links
from one operation to the next (stateful), and checks that no answer is a 5xx and that every
answer — status code, content type and body — matches the document."""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

import server.api  # noqa: F401  (declares every operation)
from server.api.core import OPERATIONS, Operation, link
from server.api.openapi import openapi_document
from tests.support import complaint_form

#: Operations whose examples would end the test's own credentials.
SKIP = {"api_logout"}
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _known(web) -> dict[str, object]:
    """Path parameters that name real things of the seeded site."""
    from sqlalchemy import select

    from engine.store.models import Task

    definition = web.runtime.definition("complaint")[1]
    ctype = definition["ticket_types"]["complaint"]
    with web.db.read() as conn:
        task = conn.execute(select(Task.id).order_by(Task.id)).scalar()
    known: dict[str, object] = {
        "key": "complaint",
        "ticket_type": "complaint",
        "ticket_id": 1,
        "task_id": task or 1,
        "user_id": web.id("ann"),
    }
    if ctype.get("reports"):
        known["report_id"] = ctype["reports"][0]["id"]
    if ctype.get("dashboards"):
        known["dashboard_id"] = ctype["dashboards"][0]["id"]
    return known


def _ids() -> list[tuple[str, str]]:
    return sorted({(op.method, op.rule) for op in OPERATIONS if op.name not in SKIP})


@pytest.mark.parametrize(("method", "rule"), _ids(), ids=[f"{m} {r}" for m, r in _ids()])
def test_every_answer_matches_the_published_contract(web, method, rule):
    web.user("ann")
    definition = web.runtime.definition("complaint")[1]
    for summary in ("退款未到账", "物流太慢"):
        web.runtime.submit(
            "complaint", "complaint", complaint_form(definition, summary=summary), actor=web.id("ann")
        )
    headers = web.token("admin", ["read", "write", "admin"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web.app, headers=headers)
    path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
    operation = schema[path][method]

    known = _known(web)

    def real_ids(case):
        """The same request aimed at things that exist, so answers other than 404 are checked."""
        for name in case.path_parameters or {}:
            if name in known:
                case.path_parameters[name] = known[name]
        return case

    strategy = operation.as_strategy()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(st.one_of(strategy, strategy.map(real_ids)))
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


# ----------------------------------------------------------------------------- links
def test_the_document_links_a_new_ticket_to_what_can_be_done_with_it():
    paths = openapi_document()["paths"]
    created = paths["/api/v1/apps/{key}/ticket_types/{ticket_type}/tickets"]["post"]["responses"]["201"]
    assert created["links"]["ticket_update"] == {
        "operationId": "ticket_update",
        "parameters": {"ticket_id": "$response.body#/id", "header.If-Match": "$response.header.ETag"},
    }
    assert {"ticket_get", "ticket_comment", "ticket_as_of", "ticket_watch"} <= set(created["links"])
    revoke = paths["/api/v1/me/tokens"]["post"]["responses"]["201"]["links"]["revoke_my_token"]
    assert revoke["parameters"] == {"token_id": "$response.body#/id"}
    # what the links need is documented: the If-Match header of a change, the moment of as_of
    patch = {p["name"]: p for p in paths["/api/v1/tickets/{ticket_id}"]["patch"]["parameters"]}
    assert patch["If-Match"]["in"] == "header" and patch["If-Match"]["required"] is True
    as_of = {p["name"]: p for p in paths["/api/v1/tickets/{ticket_id}/as_of"]["get"]["parameters"]}
    assert as_of["at"]["required"] is True


def test_a_link_to_an_operation_that_does_not_exist_stops_the_document(monkeypatch):
    broken = Operation("GET", "/nowhere", "nowhere", "-", "meta", None, links=(link("no_such_operation"),))
    monkeypatch.setattr("server.api.openapi.OPERATIONS", [*OPERATIONS, broken])
    with pytest.raises(ValueError, match="no_such_operation"):
        openapi_document()


# ----------------------------------------------------------------------------- stateful (OpenAPI links)
#: Operations a stateful run leaves out: those ending the run's own credentials or turning the
#: site's channel settings, which other operations' examples do not need.
STATEFUL_SKIP = {"api_logout", "change_my_password", "admin_set_channel", "admin_clear_channel"}
STATEFUL_STEPS = 60
#: Scenarios per database, ~25 s each at 25. A longer hunt: GONGDAN_STATEFUL_SCENARIOS=300, and
#: GONGDAN_STATEFUL_RANDOM=1 for other scenarios on every run (the default ones are the same every time).
STATEFUL_SCENARIOS = int(os.environ.get("GONGDAN_STATEFUL_SCENARIOS", "25"))
STATEFUL_RANDOM = bool(os.environ.get("GONGDAN_STATEFUL_RANDOM"))
#: Requests a run must at least make, so a run cut short cannot pass unnoticed.
STATEFUL_MIN_REQUESTS = 20 * STATEFUL_SCENARIOS
#: Valid bodies some requests get instead of generated ones.
VALID_BODIES = {
    "ticket_create": lambda definition: complaint_form(definition, summary="stateful run"),
    "ticket_update": lambda definition: {"summary": "changed by a stateful run"},
}


def test_linked_operations_follow_each_other_without_breaking_the_contract(web):
    """Scenarios chain the document's links (a ticket list → create another ticket → read, change,
    comment on, watch, close it; a task list → claim and act; a token → revoke it) with generated
    data, valid and not; every answer of every step must be no 5xx and match the document."""
    web.user("ann")
    definition = web.runtime.definition("complaint")[1]
    web.runtime.submit("complaint", "complaint", complaint_form(definition), actor=web.id("ann"))
    headers = web.token("admin", ["read", "write", "admin"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web.app, headers=headers)
    schema.config.phases.stateful.inference.algorithms = []  # the links we declare, nothing guessed
    schema = schema.exclude(operation_id=sorted(STATEFUL_SKIP | SKIP))
    steps: Counter[str] = Counter()
    failures: list[str] = []

    class Scenario(schema.as_state_machine()):
        def before_call(self, case):
            """Every other new ticket and change has valid fields (a generated body only ever meets a
            422), so the links from a created or changed ticket are followed too."""
            operation = case.operation.definition.raw.get("operationId")
            if operation in VALID_BODIES:
                steps[f"({operation} bodies)"] += 1
                if (
                    steps[f"({operation} bodies)"] % 2
                    and case.path_parameters.get("key", "complaint") == "complaint"
                ):
                    case.body = VALID_BODIES[operation](definition)

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def after_call(self, response, case):
            super().after_call(response, case)
            steps[f"{case.method} {case.path} {response.status_code}"] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            """Every failure is kept with its request (a scenario goes on), so one run lists them all."""
            try:
                case.validate_response(response, checks=CHECKS, headers=headers, recorder=self.recorder)
            except FailureGroup as group:
                failures.extend(f"{case.as_curl_command(headers=headers)}\n  {f}" for f in group.exceptions)

    # The site keeps what earlier scenarios made, so Hypothesis may find a replay drawing differently
    # (Flaky): that ends a run, and the next one goes on from there — as schemathesis' own runner does.
    for _ in range(3):
        with contextlib.suppress(Flaky):
            Scenario.run(
                settings=settings(
                    max_examples=STATEFUL_SCENARIOS,
                    stateful_step_count=STATEFUL_STEPS,
                    phases=[Phase.generate],
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=not STATEFUL_RANDOM,
                    database=None,
                )
            )
        if requests(steps) >= STATEFUL_MIN_REQUESTS:
            break
    print(
        f"\nstateful: {requests(steps)} requests, {STATEFUL_SCENARIOS} scenarios of <= {STATEFUL_STEPS} steps"
    )
    for key, count in sorted(steps.items()):
        print(f"  {count:5d}  {key}")
    assert failures == []
    assert requests(steps) >= STATEFUL_MIN_REQUESTS
    followed = {k.rsplit(" ", 1)[0] for k, n in steps.items() if k.endswith((" 200", " 201"))}
    for done in (
        "POST /api/v1/apps/{key}/ticket_types/{ticket_type}/tickets",
        "PATCH /api/v1/tickets/{ticket_id}",
        "POST /api/v1/tickets/{ticket_id}/comments",
        "POST /api/v1/tasks/{task_id}/claim",
        "DELETE /api/v1/me/tokens/{token_id}",
    ):
        assert done in followed, f"no scenario got as far as {done}"


def requests(steps: Counter[str]) -> int:
    return sum(n for k, n in steps.items() if not k.startswith("("))
