"""Scenario tests of apps (`gongdan test`, the designer's "Run tests"): real engines on a throw-away
database with a clock the scenario moves."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.definitions.loader import load_definition
from engine.scenarios import run_app_scenarios, run_files
from engine.store.models import App, AppVersion, Record, User

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
SHIPPED = sorted(APPS.glob("*.yaml"))
WHERE = "ticket_types.complaint.tests[0]"


@pytest.fixture(scope="module")
def complaint() -> dict[str, Any]:
    return load_definition(APPS / "complaint.yaml").data


@pytest.fixture(scope="module")
def kb() -> Any:
    return load_definition(APPS / "kb.yaml")


def with_tests(data: dict[str, Any], *tests: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["ticket_types"]["complaint"]["tests"] = list(tests)
    return changed


def shipped_scenario(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The complaint app's own scenario with some of its parts replaced."""
    return {**copy.deepcopy(data["ticket_types"]["complaint"]["tests"][0]), **changes}


def problems_of(report: Any, lang: str = "en") -> dict[str, str]:
    assert len(report.results) == 1
    return {p.path: p.message(lang) for p in report.results[0].problems}


def test_every_shipped_app_scenario_passes():
    reports = run_files(SHIPPED, "en")

    failures = {r.app: r.as_dict()["scenarios"] for r in reports if not r.passed}
    assert failures == {}
    assert {r.app for r in reports} == {p.stem for p in SHIPPED}
    assert all(r.results for r in reports)  # every shipped app carries scenarios
    assert sum(len(r.results) for r in reports) >= 6


def test_a_passing_scenario_passes_and_its_report_is_json(complaint, kb):
    report = run_app_scenarios(complaint, "en", companions=[kb])

    assert report.passed and report.results[0].passed
    shown = report.as_dict()
    assert json.loads(json.dumps(shown, ensure_ascii=False)) == shown
    scenario = shown["scenarios"][0]
    assert scenario["path"] == WHERE and scenario["problems"] == [] and scenario["duration_ms"] > 0


def test_each_kind_of_mismatch_names_its_path_what_was_expected_and_what_was_found(complaint, kb):
    wrong = {
        "stage": "fix",
        "status": "closed",
        "assignee": "carol",
        "assignee_team": "delivery_team",
        "assignee_role": "quality",
        "fields": {"vip": False, "priority": "P3", "refund": 120},
        "queued": [{"channel": "sms"}, {"channel": "wecom", "robot": "oncall"}],
        "events": ["created", "sla_breached"],
        "created": [{"app": "kb", "type": "article"}],
        "sla_breached": True,
    }
    report = run_app_scenarios(
        with_tests(complaint, shipped_scenario(complaint, then=wrong, steps=[{"then": {"queued": []}}])),
        "en",
        companions=[kb],
    )

    found = problems_of(report)
    then = f"{WHERE}.then"
    assert found == {
        f"{then}.stage": found[f"{then}.stage"],
        f"{then}.status": found[f"{then}.status"],
        f"{then}.assignee": found[f"{then}.assignee"],
        f"{then}.assignee_team": found[f"{then}.assignee_team"],
        f"{then}.assignee_role": found[f"{then}.assignee_role"],
        f"{then}.fields.vip": found[f"{then}.fields.vip"],
        f"{then}.fields.priority": found[f"{then}.fields.priority"],
        f"{then}.queued[0]": found[f"{then}.queued[0]"],  # the wecom alert was queued: [1] passes
        f"{then}.events[1]": found[f"{then}.events[1]"],
        f"{then}.created[0]": found[f"{then}.created[0]"],
        f"{then}.sla_breached": found[f"{then}.sla_breached"],
    }  # refund 120 is the 120.00 submitted; a step queuing nothing passes `queued: []`
    assert "should be at stage fix but is at triage" in found[f"{then}.stage"]
    assert "status should be closed but is open" in found[f"{then}.status"]
    assert "held by carol but are held by bob" in found[f"{then}.assignee"]
    assert "team delivery_team; the teams and pools found are billing_team" in found[f"{then}.assignee_team"]
    assert "role quality" in found[f"{then}.assignee_role"] and "found bob" in found[f"{then}.assignee_role"]
    assert "Field vip should be false but is true" in found[f"{then}.fields.vip"]
    assert 'Field priority should be "P3" but is "P1"' in found[f"{then}.fields.priority"]
    queued = found[f"{then}.queued[0]"]
    assert '{"channel": "sms"}' in queued and "wecom robot=oncall" in queued and "call https://crm" in queued
    assert "Event sla_breached should have happened" in found[f"{then}.events[1]"]
    assert "created" in found[f"{then}.events[1]"]
    assert "it created: (nothing)" in found[f"{then}.created[0]"]
    assert "SLA breached should be true" in found[f"{then}.sla_breached"]
    assert all("Correct the scenario's expectation" in message for message in found.values())
    chinese = problems_of(report, "zh")
    assert "工单应在阶段 fix,实际在 triage" in chinese[f"{then}.stage"]
    assert "请修改场景的期望" in chinese[f"{then}.stage"]


def test_queued_nothing_fails_when_a_step_queues_something(complaint, kb):
    scenario = shipped_scenario(complaint, then={"queued": []}, steps=[{"then": {"stage": "triage"}}])

    found = problems_of(run_app_scenarios(with_tests(complaint, scenario), "en", companions=[kb]))

    assert list(found) == [f"{WHERE}.then.queued"]
    assert (
        "should queue nothing but queued: call https://crm.example.com/api/customers"
        in found[f"{WHERE}.then.queued"]
    )


def test_time_passing_fires_the_sla_escalation_at_its_business_moment(complaint, kb):
    # P1: 4 business hours to resolve on cn_workdays; from 09:00 that is 14:30 (lunch 12:00–13:30).
    business = shipped_scenario(
        complaint,
        steps=[
            {"act": "dispatch", "as": "bob", "data": {"owner": "carol"}, "then": {"stage": "fix"}},
            {"after": "3h", "then": {"sla_breached": False, "queued": []}},  # 12:00: lunch, nothing due
            {"after": "15m", "then": {"events": ["sla_warning"]}},  # 13:45: 80 % was due at 13:42
            {"after": "45m", "then": {"sla_breached": "fix", "events": ["sla_breached"]}},  # 14:30
            {
                "after": "2h",
                "then": {
                    "events": ["sla_escalated"],
                    "assignee_role": "cs_lead",
                    "queued": [{"channel": "call"}],
                },
            },
        ],
    )
    wall = copy.deepcopy(business)
    wall["name"] = "Counted on the wall clock, 09:00 + 4h is only 13:00"
    wall["given"]["calendar"] = "24x7"
    wall["steps"] = [business["steps"][0], {"after": "4h", "then": {"sla_breached": False}}]

    report = run_app_scenarios(with_tests(complaint, business, wall), "en", companions=[kb])

    assert [p.path for r in report.results for p in r.problems] == [f"{WHERE}.steps[4].then.queued[0]"]
    assert report.results[1].passed


def test_a_step_that_cannot_run_ends_the_scenario_with_the_reason(complaint, kb):
    stranger = shipped_scenario(
        complaint, steps=[{"act": "dispatch", "as": "mallory"}, {"then": {"stage": "x"}}]
    )
    unknown = shipped_scenario(complaint, steps=[{"act": "fly", "as": "bob"}])

    report = run_app_scenarios(with_tests(complaint, stranger, unknown), "en", companions=[kb])

    first = {p.path: p.message("en") for p in report.results[0].problems}
    assert list(first) == [f"{WHERE}.steps[0].act"]  # the later steps were not run
    assert (
        "no open task mallory may do dispatch on (open tasks: triage(bob))" in first[f"{WHERE}.steps[0].act"]
    )
    second = report.results[1].problems
    assert [p.path for p in second] == ["ticket_types.complaint.tests[1].steps[0].act"]
    assert "could not run" in second[0].message("en") and "fly" in second[0].message("en")


def test_submitted_data_the_form_refuses_is_reported_at_submit(complaint, kb):
    scenario = shipped_scenario(complaint, submit={"customer": "ACME"})

    found = problems_of(run_app_scenarios(with_tests(complaint, scenario), "en", companions=[kb]))

    assert list(found) == [f"{WHERE}.submit"]
    assert "phone" in found[f"{WHERE}.submit"] and "summary" in found[f"{WHERE}.submit"]


def test_a_role_the_app_lacks_and_a_missing_companion_app_are_explained(complaint):
    scenario = shipped_scenario(complaint)
    scenario["given"]["people"]["quinn"] = ["auditor"]
    unknown_role = run_app_scenarios(with_tests(complaint, scenario), "en", companions=[])
    found = problems_of(unknown_role)
    assert list(found) == [f"{WHERE}.given.people.quinn[0]"]
    assert "no role auditor" in found[f"{WHERE}.given.people.quinn[0]"]

    alone = run_app_scenarios(with_tests(complaint, shipped_scenario(complaint)), "en")  # kb not given
    found = problems_of(alone)
    assert list(found) == [f"{WHERE}.steps[6].act"]
    assert "needs app kb" in found[f"{WHERE}.steps[6].act"]


def test_an_invalid_definition_reports_its_problems_and_runs_nothing(complaint):
    broken = copy.deepcopy(complaint)
    broken["ticket_types"]["complaint"]["tests"][0]["then"]["stag"] = "triage"  # a typo in a `then` key

    report = run_app_scenarios(broken, "en")

    assert not report.passed and report.results == []
    assert any("then" in p.path and "stag" in p.message("en") for p in report.problems)


def test_the_throwaway_database_leaves_the_real_one_untouched(db, runtime, complaint):
    runtime.publish(APPS / "kb.yaml")  # the real database runs kb; the scenario borrows it from there

    def state() -> tuple[int, ...]:
        with db.read() as conn:
            return tuple(
                conn.execute(select(func.count()).select_from(table)).scalar()
                for table in (App, AppVersion, Record, User)
            )

    before = state()
    report = run_app_scenarios(complaint, "en", db=db)

    assert report.passed, report.as_dict()
    assert state() == before == (1, 1, 0, 0)


def test_calls_are_answered_by_url_and_a_call_nobody_answers_stays_queued(complaint, kb):
    by_url = shipped_scenario(complaint, steps=[{"then": {"stage": "triage"}}])
    by_url["given"] = {
        **by_url["given"],
        "crm": {"level": "gold"},
        "calls": {"/customers": {"level": "silver"}},
    }
    by_url["then"] = {
        "fields": {"vip": False},
        "queued": [{"channel": "call", "query": {"phone": "13800138000"}}],
    }
    unanswered = copy.deepcopy(by_url)
    del unanswered["given"]["crm"], unanswered["given"]["calls"]

    report = run_app_scenarios(with_tests(complaint, by_url, unanswered), "en", companions=[kb])

    assert report.passed, report.as_dict()


def test_a_moment_without_offset_and_an_unknown_calendar_are_reported(complaint, kb):
    naive = shipped_scenario(complaint)
    naive["given"] = {**naive["given"], "at": "2026-12-01 09:00"}
    odd_calendar = shipped_scenario(complaint, steps=[{"after": "1h"}])
    odd_calendar["given"] = {**odd_calendar["given"], "calendar": "mars_workdays"}

    report = run_app_scenarios(with_tests(complaint, naive, odd_calendar), "en", companions=[kb])

    first, second = ({p.path: p.message("en") for p in r.problems} for r in report.results)
    assert "ISO date-time with its offset" in first[f"{WHERE}.given.at"]
    where = "ticket_types.complaint.tests[1].steps[0].after"
    assert "Unknown calendar mars_workdays" in second[where] and "cn_workdays" in second[where]
