"""The designer's drafts (engine/designer.py) on SQLite and PostgreSQL: compare-and-set saves,
refusals that store nothing, guarded field removal and renames, publishing through scenario tests,
copies, templates and definition files from a newer Gongdan."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from engine import designer
from engine.errors import DefinitionError, InputError, NotFoundError
from engine.store.models import AppDraft, AuditEntry
from tests.conftest import APPS
from tests.support import complaint_form


def _fields(definition: dict[str, Any], tkey: str = "complaint") -> list[dict[str, Any]]:
    return [f for s in definition["ticket_types"][tkey]["form"]["sections"] for f in s["fields"]]


def _field(definition: dict[str, Any], key: str, tkey: str = "complaint") -> dict[str, Any]:
    return next(f for f in _fields(definition, tkey) if f["key"] == key)


def _drop_field(definition: dict[str, Any], key: str, tkey: str = "complaint") -> None:
    for section in definition["ticket_types"][tkey]["form"]["sections"]:
        section["fields"] = [f for f in section["fields"] if f["key"] != key]


@pytest.fixture
def complaint_app(runtime, complaint_app) -> str:
    """The complaint app, and the knowledge base its close rule creates articles in (for its scenarios)."""
    runtime.publish(APPS / "kb.yaml")
    return complaint_app


def _stored(db) -> Any:
    with db.read() as conn:
        return conn.execute(select(AppDraft.revision, AppDraft.definition)).one()


def test_opening_the_designer_copies_the_running_version_as_revision_1(runtime, complaint_app):
    draft = designer.load_draft(runtime.db, complaint_app)
    version, running = runtime.definition(complaint_app)
    assert (draft.revision, draft.base_version, draft.definition) == (1, version, running)
    assert designer.load_draft(runtime.db, complaint_app).revision == 1  # opened again: the same draft


def test_a_save_bumps_the_revision_and_a_stale_save_answers_what_differs(runtime, complaint_app):
    db = runtime.db
    ann = designer.load_draft(db, complaint_app)
    bob = designer.load_draft(db, complaint_app)
    mine = copy.deepcopy(ann.definition)
    _field(mine, "summary")["label"]["en"] = "Issue in one line"
    saved = designer.save_draft(db, complaint_app, ann.revision, mine)
    assert saved.revision == 2

    theirs = copy.deepcopy(bob.definition)
    _field(theirs, "customer")["max_length"] = 120
    with pytest.raises(designer.DraftConflict) as caught:
        designer.save_draft(db, complaint_app, bob.revision, theirs)
    answer = caught.value.as_dict("en")
    assert answer["code"] == "designer.conflict" and answer["revision"] == 2
    paths = {c["path"] for c in answer["changes"]}
    assert any(p.endswith("[key=summary].label.en") for p in paths)  # what Ann saved meanwhile
    assert "revision 2" in answer["message"]
    assert _stored(db).definition == saved.definition  # Bob's stale save stored nothing


def test_a_definition_that_does_not_load_is_refused_and_nothing_is_stored(runtime, complaint_app):
    db = runtime.db
    draft = designer.load_draft(db, complaint_app)
    broken = copy.deepcopy(draft.definition)
    broken["ticket_types"]["complaint"]["flow"]["edges"].append(
        {"from": "fix", "to": "nowhere", "action": "x"}
    )
    _field(broken, "priority")["type"] = "no_such_type"
    with pytest.raises(designer.DraftRefused) as caught:
        designer.save_draft(db, complaint_app, draft.revision, broken)
    problems = {p.path for p in caught.value.problems}
    assert any("flow.edges[7]" in p for p in problems)
    assert any(p.startswith("ticket_types.complaint.form.sections[1].fields[2]") for p in problems)
    assert caught.value.http_status == 422
    assert _stored(db) == (1, draft.definition)


def test_removing_a_field_still_in_use_is_refused_listing_each_use(runtime, complaint_app):
    db = runtime.db
    draft = designer.load_draft(db, complaint_app)
    without = copy.deepcopy(draft.definition)
    _drop_field(without, "priority")
    with pytest.raises(designer.DraftRefused) as caught:
        designer.save_draft(db, complaint_app, draft.revision, without)
    uses = {p.path: p.message("en") for p in caught.value.problems if p.code == "designer.field_in_use"}
    for path in (
        "ticket_types.complaint.rules[1].if",
        "ticket_types.complaint.flow.nodes[1].sla.by",
        "ticket_types.complaint.flow.nodes[1].permissions.priority",
        "ticket_types.complaint.dashboards[0].filters[1]",
        "templates.sla_breached.subject.en",
        "inbound[0].fields.priority",
    ):
        assert path in uses, path
    assert (
        "still used here (the SLA picks its limits by it)"
        in uses["ticket_types.complaint.flow.nodes[1].sla.by"]
    )
    assert _stored(db).revision == 1


def test_removing_an_unused_field_without_data_is_saved(runtime, complaint_app):
    db = runtime.db
    draft = designer.load_draft(db, complaint_app)
    without = copy.deepcopy(draft.definition)
    _drop_field(without, "remedy")
    assert designer.save_draft(db, complaint_app, 1, without).revision == 2


def test_renaming_a_field_tickets_hold_data_in_needs_a_decision_and_then_migrates(runtime, complaint_app):
    db = runtime.db
    _, running = runtime.definition(complaint_app)
    old = runtime.submit(complaint_app, "complaint", complaint_form(running, order_no="SO-1234567"))
    draft = designer.load_draft(db, complaint_app)
    renamed = copy.deepcopy(draft.definition)
    _field(renamed, "order_no")["key"] = "order_number"

    with pytest.raises(designer.DraftRefused) as caught:
        designer.save_draft(db, complaint_app, draft.revision, renamed)
    [problem] = caught.value.problems
    assert problem.code == "designer.field_has_data"
    assert problem.path == "ticket_types.complaint.form.sections[0].fields[5]"
    assert 'migrate: {"order_no": "new_key"}' in problem.message("en")
    assert _stored(db).revision == 1

    saved = designer.save_draft(
        db, complaint_app, draft.revision, renamed, migrate={"order_no": "order_number"}
    )
    assert _field(saved.definition, "order_number")["renamed_from"] == "order_no"

    published = designer.publish_draft(runtime, complaint_app, saved.revision)
    assert published["version"] == 2
    assert runtime.ticket(old.id).data["order_no"] == "SO-1234567"  # still on version 1, untouched
    moved = runtime.upgrade(old.id)
    assert moved.data["order_number"] == "SO-1234567" and "order_no" not in moved.data


def test_dropping_a_field_tickets_hold_data_in_is_allowed_when_said_so(runtime, complaint_app):
    db = runtime.db
    _, running = runtime.definition(complaint_app)
    runtime.submit(complaint_app, "complaint", complaint_form(running, order_no="SO-1234567"))
    draft = designer.load_draft(db, complaint_app)
    without = copy.deepcopy(draft.definition)
    _drop_field(without, "order_no")
    with pytest.raises(designer.DraftRefused):
        designer.save_draft(db, complaint_app, 1, without)
    assert designer.save_draft(db, complaint_app, 1, without, migrate={"order_no": None}).revision == 2


def test_publish_runs_the_scenarios_and_keeps_running_tickets_on_their_version(runtime, complaint_app):
    db = runtime.db
    _, running = runtime.definition(complaint_app)
    before = runtime.submit(complaint_app, "complaint", complaint_form(running))
    draft = designer.load_draft(db, complaint_app)
    changed = copy.deepcopy(draft.definition)
    _field(changed, "summary")["max_length"] = 300
    saved = designer.save_draft(db, complaint_app, 1, changed)

    with pytest.raises(designer.DraftConflict):
        designer.publish_draft(runtime, complaint_app, 1)  # a stale revision publishes nothing
    answer = designer.publish_draft(runtime, complaint_app, saved.revision, note="longer summaries")
    assert (answer["version"], answer["previous"], answer["published"]) == (2, 1, True)
    assert answer["scenarios"]  # the report of the scenario run
    assert any(c["path"].endswith("[key=summary].max_length") for c in answer["changes"])
    assert runtime.ticket(before.id).app_version == 1
    after = runtime.submit(complaint_app, "complaint", complaint_form(running))
    assert after.app_version == 2
    with db.read() as conn:
        assert conn.execute(select(AppDraft.id)).first() is None  # the draft is gone once published
        audit = conn.execute(
            select(AuditEntry.action, AuditEntry.details).order_by(AuditEntry.id.desc())
        ).first()
    assert audit.action == "app.published" and audit.details["via"] == "designer"


def test_a_failing_scenario_stops_the_publish(runtime, complaint_app):
    db = runtime.db
    draft = designer.load_draft(db, complaint_app)
    changed = copy.deepcopy(draft.definition)
    test = changed["ticket_types"]["complaint"]["tests"][0]
    test["then"]["stage"] = "fix"  # the complaint really waits at triage
    saved = designer.save_draft(db, complaint_app, 1, changed)
    with pytest.raises(designer.PublishRefused) as caught:
        designer.publish_draft(runtime, complaint_app, saved.revision)
    assert caught.value.http_status == 422
    assert any(p.code == "designer.scenario_failed" for p in caught.value.problems)
    assert runtime.versions(complaint_app)[-1]["version"] == 1
    assert _stored(db).revision == saved.revision


def test_copying_an_app_makes_a_draft_of_a_new_app(runtime, complaint_app):
    db = runtime.db
    draft = designer.copy_app(db, complaint_app, "complaint_eu", {"zh": "欧洲投诉", "en": "EU complaints"})
    assert (draft.app_key, draft.revision, draft.base_version) == ("complaint_eu", 1, None)
    assert draft.definition["app"] == "complaint_eu"
    assert (
        draft.definition["ticket_types"] == designer.load_draft(db, complaint_app).definition["ticket_types"]
    )
    with pytest.raises(InputError) as caught:
        designer.copy_app(db, complaint_app, "complaint_eu", {"zh": "再来", "en": "Again"})
    assert caught.value.problems[0].code == "designer.app_exists"
    again = designer.save_draft(db, "complaint_eu", 1, draft.definition)  # a never-published app saves alike
    assert again.revision == 2 and again.base_version is None


@pytest.mark.parametrize("template", designer.TEMPLATE_KEYS)
def test_a_new_app_starts_from_each_template_and_publishes(runtime, template):
    db = runtime.db
    draft = designer.new_app(db, "new_app", {"zh": "新应用", "en": "New app"}, template)
    assert draft.definition["name"] == {"zh": "新应用", "en": "New app"}
    gallery = {t["key"]: t for t in designer.template_gallery("en")}
    assert gallery[template]["fields"] == sum(
        len(designer._fields(draft.definition, k)) for k in draft.definition["ticket_types"]
    )
    if template == "empty":
        assert designer.publish_draft(runtime, "new_app", 1)["version"] == 1


def test_unknown_templates_and_bad_keys_are_refused(runtime):
    with pytest.raises(InputError) as caught:
        designer.new_app(runtime.db, "x1", {"zh": "x", "en": "x"}, "nope")
    assert "complaint" in caught.value.message("en")
    with pytest.raises(InputError):
        designer.new_app(runtime.db, "Bad-Key", {"zh": "x", "en": "x"})
    with pytest.raises(NotFoundError):
        designer.load_draft(runtime.db, "missing")


def test_a_definition_from_a_newer_gongdan_is_refused_clearly(runtime, complaint_app):
    text = (APPS / "kb.yaml").read_text(encoding="utf-8") + "\nformat: 2\nworkspaces: {}\n"
    with pytest.raises(DefinitionError) as caught:
        runtime.publish(text)
    [problem] = caught.value.problems
    assert problem.path == "format" and problem.code == "definition.newer_format"
    assert "Upgrade Gongdan" in problem.message("en") and "升级" in problem.message("zh")
    draft = designer.load_draft(runtime.db, complaint_app)
    with pytest.raises(designer.DraftRefused) as refused:
        designer.save_draft(runtime.db, complaint_app, 1, {**draft.definition, "format": 3})
    assert refused.value.problems[0].code == "definition.newer_format"
    data = yaml.safe_load((APPS / "kb.yaml").read_text(encoding="utf-8"))
    assert runtime.publish({**data, "format": 1}).version == 1  # today's format loads


def test_an_expression_is_checked_against_the_draft_fields(runtime, complaint_app):
    definition = designer.load_draft(runtime.db, complaint_app).definition
    good = designer.check_expression_text(
        definition, complaint_app, "complaint", "priority == 'P1'", "condition", "en"
    )
    assert good["ok"] and "priority" in good["names"] and "refund" in good["names"]
    bad = designer.check_expression_text(
        definition, complaint_app, "complaint", "priorty == 'P1'", "condition", "en"
    )
    assert not bad["ok"] and bad["problems"][0]["column"] == 1 and "priorty" in bad["problems"][0]["message"]


def test_the_preview_is_the_real_form_of_the_draft(runtime, complaint_app):
    definition = copy.deepcopy(designer.load_draft(runtime.db, complaint_app).definition)
    definition["ticket_types"]["complaint"]["form"]["sections"][0]["fields"].append(
        {
            "key": "contract",
            "type": "text",
            "label": {"zh": "合同号", "en": "Contract"},
            "required_if": "priority == 'P1'",
        }
    )
    html = designer.preview_form(definition, complaint_app, "complaint", lang="en")
    assert 'name="contract"' in html and "Contract" in html
    at_rate = designer.preview_form(definition, complaint_app, "complaint", stage="rate", lang="en")
    assert 'name="rating"' in at_rate
