"""Unique fields (enforced by the database, race-safe) and auto-numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from engine.errors import FormError
from engine.people import create_department
from engine.runtime import Runtime, count_records
from engine.store import Database
from tests.support import race

APPS = Path(__file__).resolve().parents[3] / "app_definitions"


@pytest.fixture
def it_ops(runtime, db):
    runtime.publish(APPS / "it_ops.yaml")
    assert create_department(db, "IT 运维部") == 1  # the department every request below names
    return runtime


def request(**extra):
    data = {
        "summary": "VPN 无法连接",
        "description": "<p>在家里连不上公司的 VPN</p>",
        "category": "network",
        "impact": "medium",
        "urgency": "medium",
        "requested_by": 1,
    }
    data.update(extra)
    return data


def test_a_unique_value_is_refused_for_a_second_ticket(it_ops, db):
    it_ops.submit("it_ops", "request", request(alert_id="ALERT-42"))
    with pytest.raises(FormError) as caught:
        it_ops.submit("it_ops", "request", request(alert_id="ALERT-42"))
    assert [(p.path, p.code) for p in caught.value.problems] == [("alert_id", "form.not_unique")]
    assert "duplicate" in caught.value.render("en")
    assert count_records(db) == 1


def test_empty_values_are_never_duplicates(it_ops, db):
    it_ops.submit("it_ops", "request", request())
    it_ops.submit("it_ops", "request", request(alert_id=""))
    assert count_records(db) == 2


def test_changing_a_unique_value_frees_the_old_one(it_ops):
    first = it_ops.submit("it_ops", "request", request(alert_id="A-1"))
    it_ops.submit("it_ops", "request", request(alert_id="A-2"))
    with pytest.raises(FormError):
        it_ops.update(first.id, {"alert_id": "A-2"})
    it_ops.update(first.id, {"alert_id": "A-3"})
    third = it_ops.submit("it_ops", "request", request(alert_id="A-1"))
    assert third.data["alert_id"] == "A-1"


def test_two_connections_racing_for_one_value_only_one_wins(database_url, it_ops):
    dbs = [Database(database_url), Database(database_url)]
    outcomes = race(
        *(functools.partial(Runtime(d).submit, "it_ops", "request", request(alert_id="STORM-1")) for d in dbs)
    )
    for d in dbs:
        d.dispose()
    assert sum(isinstance(o, FormError) for o in outcomes) == 1
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1


def test_auto_numbers_follow_their_pattern_and_count_up(it_ops):
    numbers = [it_ops.submit("it_ops", "request", request()).data["change_no"] for _ in range(3)]
    assert all(re.fullmatch(r"CHG-\d{6}-\d{3}", n) for n in numbers)
    assert [n[-3:] for n in numbers] == ["001", "002", "003"]


def test_an_auto_number_cannot_be_typed_in(it_ops):
    with pytest.raises(FormError) as caught:
        it_ops.submit("it_ops", "request", request(change_no="CHG-1"))
    assert [p.code for p in caught.value.problems] == ["form.readonly_field"]


def test_a_reference_to_a_department_that_does_not_exist_is_refused(it_ops, db):
    with pytest.raises(FormError) as caught:
        it_ops.submit("it_ops", "request", request(requested_by=999))
    assert [(p.path, p.code) for p in caught.value.problems] == [("requested_by", "form.reference_missing")]
    assert "999" in caught.value.render("en")
    assert count_records(db) == 0
