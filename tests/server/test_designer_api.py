"""The designer's draft API and pages over HTTP (Flask test client, SQLite and PostgreSQL): who may
design, the compare-and-set save, refusals, live checks, preview, templates, copies and publishing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import APPS

DRAFT = "/api/v1/apps/complaint/draft"


def _field(definition: dict[str, Any], key: str) -> dict[str, Any]:
    fields = [f for s in definition["ticket_types"]["complaint"]["form"]["sections"] for f in s["fields"]]
    return next(f for f in fields if f["key"] == key)


@pytest.fixture
def site(web):
    """Admin, a member of the complaint app's ``designer`` role, and a plain agent."""
    _, data = web.runtime.definition("complaint")
    data = copy.deepcopy(data)
    data["roles"]["designer"] = {"name": {"zh": "应用设计", "en": "App designer"}, "scope": "all"}
    web.runtime.publish(data)
    web.runtime.publish(APPS / "kb.yaml")
    web.user("dora", roles={"complaint": ["designer"]})
    web.user("ann", roles={"complaint": ["agent"]})
    return web


def test_only_admins_and_the_apps_designers_may_use_the_draft(site):
    agent = site.client("ann")
    for method, path, body in (
        ("GET", DRAFT, None),
        ("PUT", DRAFT, {"revision": 1, "definition": {}}),
        ("POST", DRAFT + "/check", {"definition": {}}),
        ("POST", DRAFT + "/publish", {"revision": 1}),
        ("DELETE", DRAFT, None),
    ):
        answer = agent.open(path, method=method, json=body)
        assert answer.status_code == 403, (method, path)
        assert "designer" in answer.json["message"]
    assert site.anonymous().get(DRAFT).status_code == 401
    assert site.client("dora").get(DRAFT).status_code == 200
    assert site.client("admin").get(DRAFT).status_code == 200
    assert (
        site.client("dora")
        .post("/api/v1/apps", json={"key": "x1", "name": {"zh": "x", "en": "x"}})
        .status_code
        == 403
    )
    read_only = site.token("dora", ["read"])
    assert site.anonymous().get(DRAFT, headers=read_only).status_code == 403


def test_a_designer_saves_and_a_stale_save_gets_409_with_the_changes(site):
    dora, admin = site.client("dora"), site.client("admin")
    mine = dora.get(DRAFT).json
    theirs = admin.get(DRAFT).json
    _field(mine["definition"], "summary")["max_length"] = 150
    saved = dora.put(DRAFT, json={"revision": mine["revision"], "definition": mine["definition"]})
    assert saved.status_code == 200 and saved.json == {"revision": 2, "problems": []}

    _field(theirs["definition"], "customer")["max_length"] = 50
    stale = admin.put(DRAFT, json={"revision": theirs["revision"], "definition": theirs["definition"]})
    assert stale.status_code == 409
    assert stale.json["code"] == "designer.conflict" and stale.json["revision"] == 2
    assert stale.json["updated_by"] == "dora"
    assert any(
        c["path"].endswith("[key=summary].max_length") and c["new"] == 150 for c in stale.json["changes"]
    )
    assert admin.get(DRAFT).json["definition"] == mine["definition"]


def test_a_definition_that_would_not_load_is_refused_with_its_problems(site):
    dora = site.client("dora")
    draft = dora.get(DRAFT).json
    broken = copy.deepcopy(draft["definition"])
    _field(broken, "priority")["options"] = "P1"
    answer = dora.put(DRAFT, json={"revision": 1, "definition": broken})
    assert answer.status_code == 422
    assert any("fields[2].options" in p["path"] for p in answer.json["problems"])
    assert dora.get(DRAFT).json["revision"] == 1

    check = dora.post(DRAFT + "/check", json={"definition": broken}).json
    assert check["ok"] is False and check["problems"][0]["severity"] == "error"
    assert dora.post(DRAFT + "/check", json={"definition": draft["definition"]}).json == {
        "ok": True,
        "problems": [],
    }


def test_removing_a_field_in_use_answers_each_use(site):
    dora = site.client("dora")
    draft = dora.get(DRAFT).json
    definition = draft["definition"]
    for section in definition["ticket_types"]["complaint"]["form"]["sections"]:
        section["fields"] = [f for f in section["fields"] if f["key"] != "solution"]
    answer = dora.put(
        DRAFT, json={"revision": 1, "definition": definition}, headers={"Accept-Language": "en"}
    )
    assert answer.status_code == 422
    uses = [p for p in answer.json["problems"] if p["code"] == "designer.field_in_use"]
    assert {
        "ticket_types.complaint.rules[2].if",
        "ticket_types.complaint.flow.nodes[2].permissions.solution",
    } <= {p["path"] for p in uses}


def test_expression_check_and_preview_use_the_draft(site):
    dora = site.client("dora")
    definition = dora.get(DRAFT).json["definition"]
    _field(definition, "summary")["required_if"] = "priority == 'P1'"
    good = dora.post(
        DRAFT + "/expression",
        json={"ticket_type": "complaint", "expression": "priority == 'P1'", "definition": definition},
    ).json
    assert good["ok"] is True and "priority" in good["names"]
    bad = dora.post(
        DRAFT + "/expression", json={"ticket_type": "complaint", "expression": "priority ==", "kind": "value"}
    ).json
    assert bad["ok"] is False and bad["problems"][0]["column"] >= 1
    unknown = dora.post(DRAFT + "/expression", json={"ticket_type": "nope", "expression": "1"})
    assert unknown.status_code == 404

    html = dora.post(DRAFT + "/preview", json={"definition": definition, "ticket_type": "complaint"}).json[
        "html"
    ]
    assert 'name="summary"' in html and 'class="gd-form"' in html
    at_fix = dora.post(
        DRAFT + "/preview", json={"definition": definition, "ticket_type": "complaint", "stage": "fix"}
    )
    assert 'name="solution"' in at_fix.json["html"]
    assert (
        dora.post(
            DRAFT + "/preview", json={"definition": definition, "ticket_type": "complaint", "stage": "zzz"}
        ).status_code
        == 404
    )


def test_publish_runs_the_tests_and_makes_the_next_version(site):
    dora = site.client("dora")
    draft = dora.get(DRAFT).json
    _field(draft["definition"], "summary")["max_length"] = 180
    saved = dora.put(DRAFT, json={"revision": draft["revision"], "definition": draft["definition"]}).json
    diff = dora.get(DRAFT + "/diff").json
    assert any(c["path"].endswith("[key=summary].max_length") for c in diff["changes"])
    tests = dora.post(DRAFT + "/test").json
    assert tests["ok"] is True and tests["scenarios"]

    assert dora.post(DRAFT + "/publish", json={"revision": 1}).status_code == 409
    published = dora.post(DRAFT + "/publish", json={"revision": saved["revision"], "note": "longer summary"})
    assert published.status_code == 200
    assert published.json["version"] == 3 and published.json["published"] is True
    assert site.runtime.definition("complaint")[1]["ticket_types"] == draft["definition"]["ticket_types"]

    rolled = dora.post("/api/v1/apps/complaint/rollback", json={"version": 2})
    assert rolled.status_code == 200 and rolled.json["version"] == 4
    assert dora.delete(DRAFT).status_code in (204, 404)


def test_new_apps_come_from_templates_and_copies(site):
    admin = site.client("admin")
    gallery = {t["key"]: t for t in admin.get("/api/v1/templates").json}
    assert {"complaint", "it_ops", "bugfix", "empty"} <= set(gallery)
    assert gallery["complaint"]["fields"] > 10 and gallery["empty"]["fields"] == 1

    made = admin.post(
        "/api/v1/apps", json={"key": "hr_leave", "name": {"zh": "请假", "en": "Leave"}, "template": "empty"}
    )
    assert made.status_code == 201 and made.json["base_version"] is None and made.json["app"] == "hr_leave"
    assert admin.get("/api/v1/apps/hr_leave/draft").json["revision"] == 1
    taken = admin.post("/api/v1/apps", json={"key": "hr_leave", "name": {"zh": "请假", "en": "Leave"}})
    assert taken.status_code == 400 and taken.json["problems"][0]["path"] == "key"

    copied = admin.post(
        "/api/v1/apps/complaint/copy",
        json={"key": "complaint_b", "name": {"zh": "投诉 B", "en": "Complaints B"}},
    )
    assert copied.status_code == 201 and copied.json["definition"]["app"] == "complaint_b"
    assert (
        site.client("dora")
        .post("/api/v1/apps/complaint/copy", json={"key": "complaint_c", "name": {"zh": "c", "en": "c"}})
        .status_code
        == 403
    )
    assert admin.get("/api/v1/apps/no_such/draft").status_code == 404


def test_designer_pages_render_for_designers_only(site):
    dora = site.client("dora")
    for path in (
        "/designer",
        "/designer/complaint",
        "/designer/complaint/form/complaint",
        "/designer/complaint/publish",
    ):
        page = dora.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, path
    form = dora.get("/designer/complaint/form/complaint").get_data(as_text=True)
    assert 'data-type="cascade"' in form and 'data-type="subtable"' in form  # the whole registry
    assert "draft.js" in form and "form_designer.js" in form
    index = dora.get("/designer").get_data(as_text=True)
    assert "/designer/complaint" in index
    assert site.client("ann").get("/designer/complaint/form/complaint").status_code == 403
    assert dora.get("/designer/complaint/form/nope").status_code == 404
    assert site.client("dora").get("/designer/static/draft.js").status_code == 200
