"""The API keeps its published contract: schemathesis generates requests for every operation
of /api/v1/openapi.json (valid and invalid ones) and checks that no answer is a 5xx and that
every answer — status code, content type and body — matches the document."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

import server.api  # noqa: F401  (declares every operation)
from server.api.core import OPERATIONS
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
