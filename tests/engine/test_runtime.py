"""The Runtime: one command, one transaction — on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from copy import deepcopy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.source import read_source
from engine.errors import ActionError, ConflictError, FormError, NotFoundError
from engine.runtime import Runtime, count_records
from engine.store import Database
from engine.store.models import Event, Outbox, Record, Task
from tests.support import complaint_form, race

APPS = Path(__file__).resolve().parents[2] / "app_definitions"


@pytest.fixture
def ticket_data(runtime, complaint_app):
    return complaint_form(runtime.definition("complaint")[1])


def test_submit_numbers_the_ticket_and_opens_the_first_task(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    assert ticket.number.startswith("TS-") and ticket.number.endswith("-0001")
    assert ticket.stage == "triage"
    assert ticket.status == "open"
    kinds = [e["type"] for e in runtime.events(ticket.id)]
    assert kinds[0] == "created"
    assert "task_created" in kinds
    assert [e["seq"] for e in runtime.events(ticket.id)] == list(range(1, len(kinds) + 1))
    tasks = runtime.tasks(ticket.id)
    assert [t["node_id"] for t in tasks] == ["triage"]


def test_submit_fills_defaults_the_user_left_out(runtime, ticket_data):
    ticket = runtime.submit(
        "complaint", "complaint", {k: v for k, v in ticket_data.items() if k != "priority"}
    )
    assert ticket.data["priority"] == "P3"
    assert ticket.data["channel"] == "web"
    assert ticket.data["vip"] is False


def test_invalid_submit_names_every_bad_field_and_writes_nothing(runtime, db, ticket_data):
    bad = dict(ticket_data, phone="call me", summary="", colour="red")
    bad.pop("customer")
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", bad)
    paths = {p.path: p.code for p in caught.value.problems}
    assert paths == {
        "customer": "form.required",
        "phone": "field.phone",
        "summary": "form.required",
        "colour": "form.unknown_field",
    }
    assert "phone" in caught.value.render("en") and "电话" in caught.value.render("zh")
    assert count_records(db) == 0
    # The failed command did not consume a number either.
    assert runtime.submit("complaint", "complaint", ticket_data).number.endswith("-0001")


def test_subtable_problems_point_at_the_row_and_column(runtime, ticket_data):
    rows = [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "A-2", "qty": 0}, {"qty": 1}]
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", dict(ticket_data, items=rows))
    assert {p.path for p in caught.value.problems} == {"items[1].qty", "items[2].sku"}


def test_read_only_and_computed_fields_cannot_be_typed_in(runtime, ticket_data):
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", dict(ticket_data, vip=True, total=5))
    assert {p.path: p.code for p in caught.value.problems} == {
        "vip": "form.readonly_field",
        "total": "form.readonly_field",
    }


def test_unknown_app_and_ticket_type_are_clear_errors(runtime, complaint_app):
    with pytest.raises(NotFoundError) as caught:
        runtime.submit("nope", "complaint", {})
    assert "gongdan import" in caught.value.message("en")
    with pytest.raises(NotFoundError) as caught:
        runtime.submit("complaint", "nope", {})
    assert "complaint" in caught.value.message("en")


def test_ticket_numbers_count_up_without_gaps(runtime, ticket_data):
    numbers = [runtime.submit("complaint", "complaint", ticket_data).number for _ in range(5)]
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3, 4, 5]


def test_update_records_old_and_new_values(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    after = runtime.update(
        ticket.id, {"priority": "P3", "summary": ticket_data["summary"]}, expected_version=1
    )
    assert after.row_version == 2 and after.data["priority"] == "P3"
    changed = [e for e in runtime.events(ticket.id) if e["type"] == "field_changed"]
    assert [c["payload"] for c in changed] == [{"field": "priority", "old": "P2", "new": "P3"}]


def test_update_with_a_stale_version_is_refused(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    runtime.update(ticket.id, {"priority": "P3"}, expected_version=1)
    with pytest.raises(ConflictError) as caught:
        runtime.update(ticket.id, {"priority": "P1"}, expected_version=1)
    assert caught.value.params["actual"] == 2
    assert runtime.ticket(ticket.id).data["priority"] == "P3"


def test_a_condition_that_becomes_true_on_update_requires_its_field(runtime, ticket_data):
    # refund is required_if "priority == 'P1' and category == 'billing'"
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    with pytest.raises(FormError) as caught:
        runtime.update(ticket.id, {"priority": "P1"})
    assert [(p.path, p.code) for p in caught.value.problems] == [("refund", "form.required")]
    after = runtime.update(ticket.id, {"priority": "P1", "refund": "120.5"})
    assert after.data["refund"] == "120.50"
    changed = {e["payload"]["field"] for e in runtime.events(ticket.id) if e["type"] == "field_changed"}
    assert changed == {"priority", "refund"}


def test_a_hidden_field_is_not_stored_from_input(runtime, ticket_data):
    # refund is visible_if "category == 'billing'"
    ticket = runtime.submit("complaint", "complaint", dict(ticket_data, category="quality", refund=99))
    assert "refund" not in ticket.data


def test_formulas_are_computed_from_the_rows_and_kept_exact(runtime, ticket_data):
    rows = [{"sku": "A-1", "qty": 2, "price": "9.95"}, {"sku": "A-2", "qty": 1, "price": "0.10"}]
    ticket = runtime.submit("complaint", "complaint", dict(ticket_data, items=rows))
    assert ticket.data["total"] == "20.00"
    after = runtime.update(ticket.id, {"items": rows[:1]})
    assert after.data["total"] == "19.90"
    assert {"field": "total", "old": "20.00", "new": "19.90"} in [
        e["payload"] for e in runtime.events(ticket.id) if e["type"] == "field_changed"
    ]


def test_two_connections_updating_one_ticket_one_wins_one_conflicts(database_url, runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    dbs = [Database(database_url), Database(database_url)]
    summaries = ("电话已回访", "已退款")
    outcomes = race(
        *(
            functools.partial(Runtime(d).update, ticket.id, {"summary": text}, expected_version=1)
            for d, text in zip(dbs, summaries, strict=True)
        )
    )
    for d in dbs:
        d.dispose()
    winners = [text for text, o in zip(summaries, outcomes, strict=True) if not isinstance(o, Exception)]
    assert len(winners) == 1 and sum(isinstance(o, ConflictError) for o in outcomes) == 1
    final = runtime.ticket(ticket.id)
    assert final.data["summary"] == winners[0] and final.row_version == 2


def test_completing_a_task_moves_the_ticket_on(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    (task,) = runtime.tasks(ticket.id)
    moved = runtime.act(task["id"], "dispatch")
    assert moved.stage == "fix"
    assert [t["node_id"] for t in runtime.tasks(ticket.id)] == ["fix"]
    kinds = [e["type"] for e in runtime.events(ticket.id)]
    done = kinds.index("task_completed")
    steps = [kinds.index(k, done) for k in ("task_completed", "stage_left", "stage_entered", "task_created")]
    assert steps == sorted(steps)
    assert "sla_started" in kinds[done:]  # fix has a resolution target
    assert "assignment_problem" in kinds[done:]  # fix goes to the owner field, still empty


def test_an_action_the_node_does_not_offer_is_refused_with_the_choices(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    (task,) = runtime.tasks(ticket.id)
    with pytest.raises(ActionError) as caught:
        runtime.act(task["id"], "resolve")
    assert "dispatch" in caught.value.message("en")
    assert runtime.tasks(ticket.id)[0]["status"] == "open"


def test_named_actions_choose_the_branch(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    runtime.act(runtime.tasks(ticket.id)[0]["id"], "dispatch")
    asked = runtime.act(runtime.tasks(ticket.id)[0]["id"], "ask_customer")
    assert asked.stage == "need_info"
    back = runtime.act(runtime.tasks(ticket.id)[0]["id"], "provide_info")
    assert back.stage == "fix"


def test_a_task_cannot_be_completed_twice(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    (task,) = runtime.tasks(ticket.id)
    runtime.act(task["id"], "dispatch")
    with pytest.raises(ActionError):
        runtime.act(task["id"], "dispatch")
    assert runtime.ticket(ticket.id).stage == "fix"


def test_action_with_bad_form_data_changes_nothing(runtime, db, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    (task,) = runtime.tasks(ticket.id)
    with pytest.raises(FormError):
        runtime.act(task["id"], "dispatch", {"rating": 9})
    assert runtime.tasks(ticket.id)[0]["status"] == "open"
    assert runtime.ticket(ticket.id).stage == "triage"


def test_comment_is_an_event_of_the_ticket(runtime, ticket_data):
    ticket = runtime.submit("complaint", "complaint", ticket_data)
    runtime.comment(ticket.id, "  已联系客户  ")
    last = runtime.events(ticket.id)[-1]
    assert last["type"] == "comment_added" and last["payload"] == {"body": "已联系客户"}
    with pytest.raises(ActionError):
        runtime.comment(ticket.id, "   ")


def test_a_new_version_leaves_running_tickets_on_theirs(runtime, db, ticket_data):
    old_ticket = runtime.submit("complaint", "complaint", ticket_data)
    v2 = read_source(APPS / "complaint.yaml").data
    v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"].append(
        {"key": "wechat", "type": "text", "label": {"zh": "微信号", "en": "WeChat"}}
    )
    result = runtime.publish(v2)
    assert result.published and result.version == 2
    assert any(c.kind == "added" and "wechat" in c.path for c in result.changes)
    new_ticket = runtime.submit("complaint", "complaint", dict(ticket_data, wechat="acme_cs"))
    assert new_ticket.app_version == 2 and new_ticket.data["wechat"] == "acme_cs"
    assert runtime.ticket(old_ticket.id).app_version == 1
    with pytest.raises(FormError):  # version 1 has no such field
        runtime.update(old_ticket.id, {"wechat": "x"})
    (task,) = runtime.tasks(old_ticket.id)
    assert runtime.act(task["id"], "complete").stage == "fix"  # the only way out of triage


def test_a_submit_checked_before_a_new_version_is_published_obeys_the_new_version(runtime, db, ticket_data):
    # A submit checks its data in a read transaction before it takes its turn to write; when a
    # version is published in between, the write checks again against what it writes under.
    v2 = read_source(APPS / "complaint.yaml").data
    v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"].append(
        {"key": "wechat", "type": "text", "required": True, "label": {"zh": "微信号", "en": "WeChat"}}
    )
    checked_then_published = runtime.check_input

    def check_input(*args, **kwargs):
        checked = checked_then_published(*args, **kwargs)
        assert checked.version == 1
        runtime.publish(v2)
        return checked

    runtime.check_input = check_input
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", ticket_data)
    assert [(p.path, p.code) for p in caught.value.problems] == [("wechat", "form.required")]
    assert count_records(db) == 0
    runtime.check_input = checked_then_published
    assert runtime.submit("complaint", "complaint", dict(ticket_data, wechat="acme")).app_version == 2


def test_publishing_the_same_definition_again_creates_no_version(runtime, complaint_app):
    again = runtime.publish(APPS / "complaint.yaml")
    assert not again.published and again.version == 1
    assert [v["version"] for v in runtime.versions("complaint")] == [1]


def test_a_definition_back_from_a_browser_with_120_for_120_0_is_no_new_version(runtime, complaint_app):
    import json

    _, stored = runtime.definition("complaint")
    as_json = json.loads(json.dumps(stored).replace(": 120.0", ": 120"))  # JavaScript has one number type
    assert "120.0" in json.dumps(stored) and "120.0" not in json.dumps(as_json)
    again = runtime.publish(as_json)
    assert not again.published and [v["version"] for v in runtime.versions("complaint")] == [1]


def test_dry_run_publish_reports_the_diff_and_writes_nothing(runtime, complaint_app):
    v2 = deepcopy(runtime.definition("complaint")[1])
    v2["name"] = {"zh": "投诉", "en": "Complaints"}
    result = runtime.publish(v2, dry_run=True)
    assert not result.published and result.version == 2
    assert sorted(c.path for c in result.changes) == ["name.en", "name.zh"]
    assert [v["version"] for v in runtime.versions("complaint")] == [1]


def test_events_and_records_agree_after_many_commands(runtime, db, ticket_data):
    for _ in range(3):
        t = runtime.submit("complaint", "complaint", ticket_data)
        runtime.comment(t.id, "ok")
    with db.read() as conn:
        seqs = dict(conn.execute(select(Record.id, Record.event_seq)).all())
        counts = dict(conn.execute(select(Event.record_id, func.count()).group_by(Event.record_id)).all())
        # the one effect: each new complaint's VIP lookup (a rule's `call`) waits in the outbox
        assert conn.execute(select(Outbox.channel)).scalars().all() == ["call"] * 3
        assert conn.execute(select(func.count()).select_from(Task)).scalar() == 3
    assert seqs == counts


def test_a_definitions_own_check_refuses_with_its_own_message(runtime, ticket_data):
    # complaint.refund: must "refund <= 50000"
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", dict(ticket_data, refund="60000"))
    (problem,) = caught.value.problems
    assert (problem.path, problem.code) == ("refund", "form.check_failed")
    assert "50,000" in problem.message("en") and "5 万元" in problem.message("zh")
    assert (
        runtime.submit("complaint", "complaint", dict(ticket_data, refund="50000")).data["refund"]
        == "50000.00"
    )


def test_options_offered_only_under_a_condition_are_refused_otherwise(runtime, ticket_data):
    # remedy "replacement" is offered for quality and delivery complaints, not for billing ones
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", dict(ticket_data, category="billing", remedy="replacement"))
    (problem,) = caught.value.problems
    assert (problem.path, problem.code) == ("remedy", "field.option_not_offered")
    assert "apology, refund" in problem.message("en")
    ticket = runtime.submit(
        "complaint", "complaint", dict(ticket_data, category="quality", remedy="replacement")
    )
    assert ticket.data["remedy"] == "replacement"
