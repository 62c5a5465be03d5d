"""A top-N report reads its tickets once (engine.reports.query ``_rows``) for both the ranking and
the groups: its rows carry the very numbers of the same report without a top, and ``others`` those
of the tickets outside the top, for every kind of measure, masked fields and a period comparison."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.reports.query import Viewer
from tests.engine.reports.lab import Clock, Lab

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
#: (days before NOW, fields): customers A (4 tickets), B (3), C (2), D (1).
TICKETS = [
    (1, {"customer": "A", "amount": 1, "vip": True, "priority": "P1", "secret": "x"}),
    (2, {"customer": "A", "amount": 12, "vip": False, "priority": "P2"}),
    (9, {"customer": "A", "amount": 3, "priority": "P1"}),
    (3, {"customer": "A", "amount": 30, "vip": True, "priority": "P3", "secret": "y"}),
    (1, {"customer": "B", "amount": 5, "vip": True, "priority": "P2", "secret": "x"}),
    (10, {"customer": "B", "amount": 50, "priority": "P2"}),
    (4, {"customer": "B", "amount": 7, "vip": False, "priority": "P3"}),
    (2, {"customer": "C", "amount": 11, "priority": "P1", "secret": "z"}),
    (8, {"customer": "C", "amount": 2, "vip": True, "priority": "P1"}),
    (5, {"customer": "D", "amount": 40, "vip": False, "priority": "P3"}),
]
MEASURES = [
    "count",
    {"sum": "amount"},
    {"avg": "amount"},
    {"min": "amount"},
    {"median": "amount"},
    {"p90": "amount"},
    {"rate": "vip"},
    {"rate": "amount >= 10", "as": "big_rate"},
    {"distinct": "priority"},
]


@pytest.fixture
def lab(db):
    lab = Lab(db, Clock())
    for days, data in TICKETS:
        lab.clock.now = NOW - dt.timedelta(days=days)
        lab.submit(**data)
    lab.clock.now = NOW
    return lab


def report(dimension: str, **more):
    return {"id": "adhoc", "dimensions": [dimension], "measures": MEASURES, "sort": ["-count"], **more}


def by_key(result, dimension):
    return {r.key[dimension]: r.values for r in result.rows}


def same(got, expected):
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == (pytest.approx(value) if isinstance(value, float) else value), name


def test_top_rows_and_others_carry_the_numbers_of_the_full_report(lab):
    top = lab.run(report("customer", top=2, others=True), viewer=Viewer(timezone="UTC"))
    full = by_key(lab.run(report("customer"), viewer=Viewer(timezone="UTC")), "customer")
    assert [(r.key["customer"], r.others) for r in top.rows] == [("A", False), ("B", False), (None, True)]
    for row in top.rows[:2]:
        same(row.values, full[row.key["customer"]])
    rest = lab.run(
        {
            "id": "rest",
            "measures": MEASURES,
            "filters": [{"field": "customer", "op": "in", "value": ["C", "D"]}],
        },
        viewer=Viewer(timezone="UTC"),
    )
    same(top.rows[2].values, rest.rows[0].values)
    assert top.rows[2].values["count"] == 3
    assert lab.run(report("customer", top=2), viewer=Viewer(timezone="UTC")).rows[1].values == full["B"]


def test_a_top_n_of_a_masked_field_ranks_what_its_viewer_may_see(lab):
    agent = Viewer(user_id=lab.people["ann"], roles=frozenset({"agent"}), timezone="UTC")
    lead = Viewer(user_id=lab.people["lee"], roles=frozenset({"lead"}), timezone="UTC")
    for viewer in (agent, lead):
        top = lab.run(report("secret", top=1, others=True), viewer=viewer)
        full = by_key(lab.run(report("secret"), viewer=viewer), "secret")
        first = top.rows[0]
        same(first.values, full[first.key["secret"]])
        assert sum(r.values["count"] for r in top.rows) == len(TICKETS)
    assert lab.run(report("secret", top=1), viewer=agent).rows[0].key["secret"] is None  # all hidden at work
    assert lab.run(report("secret", top=1), viewer=lead).rows[0].key["secret"] is None  # 6 have none


def test_a_top_n_compared_with_the_period_before_keeps_both_periods(lab):
    last = [{"field": "created_at", "op": "last", "value": "7d"}]
    top = lab.run(
        report("customer", top=2, others=True, compare=True, filters=last), viewer=Viewer(timezone="UTC")
    )
    full = lab.run(report("customer", compare=True, filters=last), viewer=Viewer(timezone="UTC"))
    expected = by_key(full, "customer")
    assert [r.key["customer"] for r in top.rows[:2]] == ["A", "B"]
    for row in top.rows[:2]:
        same(row.values, expected[row.key["customer"]])
    assert top.rows[0].values["count"] == 3 and top.rows[0].values["count_previous"] == 1
