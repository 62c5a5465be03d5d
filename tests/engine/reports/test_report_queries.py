"""Reports as one SQL query on SQLite and PostgreSQL: measures, time buckets in the viewer's zone,
relative dates, top-N with others, pivot, running totals, period-over-period, permissions, drill-down."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.errors import DefinitionError, InputError
from engine.reports.query import Viewer
from engine.reports.run import ReportError, ReportForbidden, Reports
from tests.engine.reports.lab import Clock, Lab

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SHANGHAI = Viewer(timezone="Asia/Shanghai")
IN_UTC = Viewer(timezone="UTC")
#: (created at, fields): six tickets; in Shanghai (UTC+8) ticket 4 falls on 1 December, in UTC on 30 November.
TICKETS = [
    (dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
     {"priority": "P1", "amount": 1, "customer": "A", "vip": True, "cost": "10.50"}),
    (dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
     {"priority": "P1", "amount": 2, "customer": "B", "vip": False}),
    (dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
     {"priority": "P2", "amount": 10, "customer": "A", "vip": True, "cost": "5.25"}),
    (dt.datetime(2026, 11, 30, 20, 0, tzinfo=UTC), {"priority": "P3", "amount": 4, "customer": "C"}),
    (dt.datetime(2026, 10, 15, 10, 0, tzinfo=UTC),
     {"priority": "P2", "amount": 20, "customer": "C", "due": "2026-10-20"}),
    (dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC), {"priority": "P3"}),
]  # fmt: skip


@pytest.fixture
def lab(db):
    lab = Lab(db, Clock())
    lab.ids = []
    for at, data in TICKETS:
        lab.clock.now = at
        lab.ids.append(lab.submit(**data).id)
    lab.clock.now = NOW
    return lab


def rows(result, measure="count"):
    """{tuple of dimension labels (or the one label): measure value}."""
    out = {}
    for r in result.rows:
        labels = tuple(r.labels[d.name] for d in result.spec.dimensions)
        out[labels[0] if len(labels) == 1 else labels] = r.values[measure]
    return out


def adhoc(dimensions=(), measures=("count",), **more):
    return {"id": "adhoc", "dimensions": list(dimensions), "measures": list(measures), **more}


def test_every_measure_matches_hand_computed_numbers(lab):
    result = lab.run("amounts")
    by = {r.key["priority"]: r.values for r in result.rows}
    assert by["P1"] == {
        "count": 2, "count_amount": 2, "distinct_customer": 2, "sum_amount": 3.0, "avg_amount": 1.5,
        "min_amount": 1, "max_amount": 2, "median_amount": 1.5, "p90_amount": pytest.approx(1.9),
        "p95_amount": pytest.approx(1.95), "rate_vip": 0.5, "big_rate": 0.0, "sum_cost": 10.5,
    }  # fmt: skip
    assert by["P2"] == {
        "count": 2, "count_amount": 2, "distinct_customer": 2, "sum_amount": 30.0, "avg_amount": 15.0,
        "min_amount": 10, "max_amount": 20, "median_amount": 15.0, "p90_amount": pytest.approx(19.0),
        "p95_amount": pytest.approx(19.5), "rate_vip": 1.0, "big_rate": 1.0, "sum_cost": 5.25,
    }  # fmt: skip
    p3 = by["P3"]
    assert (p3["count"], p3["count_amount"], p3["distinct_customer"], p3["avg_amount"]) == (2, 1, 1, 4.0)
    assert (p3["median_amount"], p3["p90_amount"], p3["rate_vip"], p3["big_rate"], p3["sum_cost"]) == (
        4.0, 4.0, None, 0.0, None,
    )  # fmt: skip
    assert [r.labels["priority"] for r in result.rows] == ["紧急", "高", "普通"]  # option labels


def test_percentiles_interpolate_like_numpy(lab):
    values = [3, 7, 8, 15, 16, 23, 42, 4, 1]
    for v in values:
        lab.submit(priority="P1", customer="pct", amount=v)
    report = adhoc(measures=["count", {"median": "amount"}, {"p90": "amount"}, {"p95": "amount"}])
    report["filters"] = [{"field": "customer", "op": "eq", "value": "pct"}]
    got = lab.run(report).rows[0].values
    for name, q in (("median_amount", 50), ("p90_amount", 90), ("p95_amount", 95)):
        assert got[name] == pytest.approx(float(np.percentile(values, q)))


@pytest.mark.parametrize(
    ("bucket", "viewer", "expected"),
    [
        ("hour", SHANGHAI, {"2026-12-01 17:00": 1, "2026-12-01 18:00": 1, "2026-12-02 17:00": 1,
                            "2026-12-01 04:00": 1, "2026-10-15 18:00": 1, "2026-12-02 07:00": 1}),
        ("day", SHANGHAI, {"2026-12-01": 3, "2026-12-02": 2, "2026-10-15": 1}),
        ("day", IN_UTC, {"2026-11-30": 1, "2026-12-01": 3, "2026-12-02": 1, "2026-10-15": 1}),
        ("week", SHANGHAI, {"2026-11-30": 5, "2026-10-12": 1}),
        ("month", SHANGHAI, {"2026-12": 5, "2026-10": 1}),
        ("month", IN_UTC, {"2026-12": 4, "2026-11": 1, "2026-10": 1}),
        ("quarter", SHANGHAI, {"2026-Q4": 6}),
        ("year", SHANGHAI, {"2026": 6}),
    ],
)  # fmt: skip
def test_time_buckets_are_taken_in_the_viewers_time_zone(lab, bucket, viewer, expected):
    result = lab.run(adhoc([{"at": f"bucket(created_at, '{bucket}')"}]), viewer=viewer)
    assert rows(result) == expected


def test_weekday_and_hour_of_day_make_a_heatmap(lab):
    result = lab.run(
        adhoc([{"weekday": "weekday(created_at)"}, {"hour": "hour(created_at)"}], chart="heatmap"),
        viewer=SHANGHAI,
    )
    assert rows(result) == {("周二", "17"): 1, ("周二", "18"): 1, ("周二", "04"): 1, ("周三", "17"): 1,
                            ("周三", "07"): 1, ("周四", "18"): 1}  # fmt: skip
    option = result.chart
    assert option["series"][0]["type"] == "heatmap"
    assert len(option["xAxis"]["data"]) == 24 and len(option["yAxis"]["data"]) == 7
    assert [option["xAxis"]["data"][x] for x, _y, _v in option["series"][0]["data"]].count("17") == 2


def test_a_time_bucket_of_a_date_field_keeps_its_calendar_day(lab):
    result = lab.run(adhoc([{"month": "bucket(due, 'month')"}]), viewer=SHANGHAI)
    assert rows(result) == {"2026-10": 1, "(空)": 5}


@pytest.mark.parametrize(
    ("flt", "viewer", "count"),
    [
        ({"op": "last", "value": "7d"}, IN_UTC, 5),
        ({"op": "last", "value": "24h"}, IN_UTC, 2),
        ({"op": "this", "value": "month"}, IN_UTC, 4),
        ({"op": "this", "value": "month"}, SHANGHAI, 5),
        ({"op": "previous", "value": "month"}, IN_UTC, 1),
        ({"op": "this", "value": "quarter"}, IN_UTC, 6),
        ({"op": "this", "value": "week"}, IN_UTC, 5),
        ({"op": "previous", "value": "year"}, IN_UTC, 0),
        ({"op": "between", "value": ["2026-12-01", "2026-12-01"]}, IN_UTC, 3),
        ({"op": "lt", "value": "2026-12-01"}, IN_UTC, 2),
        ({"op": "ge", "value": "2026-12-01T10:00:00+00:00"}, IN_UTC, 3),
    ],
)
def test_date_filters_relative_to_now_in_the_viewers_zone(lab, flt, viewer, count):
    result = lab.run(adhoc(filters=[{"field": "created_at", **flt}]), viewer=viewer)
    assert sum(r.values["count"] for r in result.rows) == count


def test_field_filters_of_every_kind(lab):
    def count(*filters):
        return sum(r.values["count"] for r in lab.run(adhoc(filters=list(filters))).rows)

    assert count({"field": "amount", "op": "between", "value": [2, 10]}) == 3
    assert count({"field": "priority", "op": "in", "value": ["P1", "P3"]}) == 4
    assert count({"field": "priority", "op": "not_in", "value": ["P1"]}) == 4
    assert count({"field": "customer", "op": "empty"}) == 1
    assert count({"field": "vip", "op": "eq", "value": True}) == 2
    assert count({"field": "due", "op": "eq", "value": "2026-10-20"}) == 1
    assert count({"field": "customer", "op": "contains", "value": "A"}) == 2
    assert count({"field": "cost", "op": "gt", "value": 6}) == 1


def test_top_n_folds_the_rest_into_others_and_drills_down_to_them(lab):
    report = adhoc(["customer"], top=1, others=True, sort=["-count"])
    result = lab.run(report)
    assert [(r.labels["customer"], r.values["count"], r.others) for r in result.rows] == [
        ("A", 2, False), ("其他", 4, True),
    ]  # fmt: skip
    assert lab.reports.drill_count("reportlab", "case", report, result.rows[1].cell()) == 4
    plain = lab.run(adhoc(["customer"], top=2, sort=["-count"]))
    assert rows(plain) == {"A": 2, "C": 2}


def test_pivot_running_totals_and_change_on_the_previous_period(lab):
    result = lab.run(
        adhoc(["priority", {"month": "bucket(created_at, 'month')"}], pivot="month", running_total=["count"]),
        viewer=IN_UTC,
    )
    assert result.pivot["columns"] == ["2026-10", "2026-11", "2026-12"]
    assert result.pivot["rows"] == [["紧急"], ["高"], ["普通"]]
    assert result.pivot["values"]["count"] == [[None, None, 2], [1, None, 1], [None, 1, 1]]
    running = {(r.key["priority"], r.key["month"]): r.values["count_running"] for r in result.rows}
    assert running == {("P1", "2026-12"): 2, ("P2", "2026-10"): 1, ("P2", "2026-12"): 2,
                       ("P3", "2026-11"): 1, ("P3", "2026-12"): 2}  # fmt: skip
    daily = lab.run(adhoc([{"day": "bucket(created_at, 'day')"}], compare=True), viewer=IN_UTC)
    change = {r.key["day"]: (r.values["count_previous"], r.values["count_change"]) for r in daily.rows}
    assert change["2026-12-01"] == (1, 2.0)  # 3 against 1 the day before
    assert change["2026-12-02"] == (3, pytest.approx(-2 / 3))
    assert change["2026-10-15"] == (None, None)


def test_a_kpi_shows_its_trend_against_the_window_before(lab):
    report = adhoc(filters=[{"field": "created_at", "op": "last", "value": "1d"}], chart="kpi", compare=True)
    result = lab.run(report, viewer=IN_UTC)
    assert result.kpi["count"] == {"value": 2, "previous": 3, "change": pytest.approx(-1 / 3)}
    assert result.chart["graphic"][0]["style"]["text"] == "2"
    assert lab.reports.drill_count("reportlab", "case", report, {}, viewer=IN_UTC) == 2


def test_a_field_hidden_at_a_stage_shows_nothing_of_it_to_who_may_not_see_it(lab):
    rt, p = lab.runtime, lab.people
    lab.submit(secret="s1")
    closed = lab.submit(secret="s2")
    rt.act(lab.task(closed.id), "solve", actor=p["ann"])
    rt.act(lab.task(closed.id), "rate", {"rating": 5}, actor=p["cus"])
    agent = Viewer(user_id=p["ann"], roles=frozenset({"agent"}), timezone="UTC")
    lead = Viewer(user_id=p["lee"], roles=frozenset({"lead"}), timezone="UTC")
    assert rows(lab.run("by_secret", viewer=agent)) == {"(空)": 7, "s2": 1}  # s1 waits at work: hidden
    assert rows(lab.run("by_secret", viewer=lead)) == {"(空)": 6, "s1": 1, "s2": 1}
    assert rows(lab.run("by_secret")) == {"(空)": 6, "s1": 1, "s2": 1}  # the system sees everything
    filtered = adhoc(filters=[{"field": "secret", "op": "eq", "value": "s1"}])
    assert lab.run(filtered, viewer=agent).rows[0].values["count"] == 0
    page = lab.reports.drill("reportlab", "case", "by_secret", {"secret": None}, viewer=agent, limit=500)
    assert all("secret" not in t["data"] for t in page.tickets)
    with pytest.raises(ReportForbidden) as refused:
        lab.run("by_secret", viewer=Viewer(hidden=frozenset({"secret"})))
    assert refused.value.params["field"] == "secret"
    assert "ticket_types.case.reports[2]" in refused.value.message("en")


def test_drill_down_lists_exactly_the_tickets_each_cell_counts(lab):
    reports = [
        "by_priority",
        adhoc(["priority", "customer"]),
        adhoc([{"day": "bucket(created_at, 'day')"}, "vip"]),
        adhoc(["customer"], top=1, others=True, sort=["-count"]),
        adhoc(
            [{"month": "bucket(created_at, 'month')"}], filters=[{"field": "amount", "op": "ge", "value": 2}]
        ),
        adhoc(filters=[{"field": "created_at", "op": "last", "value": "7d"}]),
    ]
    checked = 0
    for report in reports:
        result = lab.run(report, viewer=SHANGHAI)
        for row in result.rows:
            cell = row.cell()
            count = lab.reports.drill_count("reportlab", "case", report, cell, viewer=SHANGHAI)
            listed, after = [], None
            while True:
                page = lab.reports.drill(
                    "reportlab", "case", report, cell, viewer=SHANGHAI, after=after, limit=2
                )
                listed += [t["id"] for t in page.tickets]
                after = page.next_after
                if after is None:
                    break
            assert count == len(listed) == len(set(listed)) == row.values["count"], (report, cell)
            checked += 1
    assert checked >= 15


def test_dashboard_runs_its_reports_with_global_filters(lab):
    board = lab.reports.dashboard(
        "reportlab", "case", "board", filters=[{"field": "priority", "op": "eq", "value": "P1"}]
    )
    assert [r.spec.id for r in board.reports] == ["by_priority", "amounts"]
    assert rows(board.reports[0]) == {"紧急": 2}
    with pytest.raises(InputError) as bad:
        lab.reports.dashboard(
            "reportlab", "case", "board", filters=[{"field": "customer", "op": "eq", "value": "A"}]
        )
    assert bad.value.code == "report.filter_not_offered"


def test_a_filter_value_of_the_wrong_type_is_refused_with_its_path(lab):
    with pytest.raises(InputError) as bad:
        lab.run("by_priority", filters=[{"field": "amount", "op": "gt", "value": "many"}])
    assert [(p.path, p.code) for p in bad.value.problems] == [
        ("filters[0].value", "report.filter_value_type")
    ]


@pytest.mark.parametrize(
    ("report", "path", "code"),
    [
        ({"dimensions": ["nosuch"]}, "report.dimensions[0]", "check.unknown_field"),
        ({"dimensions": [{"m": "bucket(customer, 'month')"}]}, "report.dimensions[0]",
         "report.bucket_not_time"),
        ({"dimensions": [{"m": "bucket(created_at, 'fortnight')"}]}, "report.dimensions[0]",
         "report.unknown_bucket"),
        ({"measures": [{"avg": "customer"}]}, "report.measures[0]", "report.measure_not_numeric"),
        ({"measures": [{"avg": "metrics.nosuch"}]}, "report.measures[0]", "report.unknown_target"),
        ({"filters": [{"field": "created_at", "op": "last", "value": "soon"}]}, "report.filters[0].value",
         "report.bad_duration"),
        ({"filters": [{"field": "amount", "op": "this", "value": "month"}]}, "report.filters[0]",
         "report.relative_not_time"),
        ({"running_total": ["avg_amount"], "measures": [{"avg": "amount"}]}, "report.running_total[0]",
         "report.running_not_additive"),
        ({"chart": "pie", "dimensions": ["priority", "customer"]}, "report.chart", "report.chart_dimensions"),
    ],
)  # fmt: skip
def test_a_wrong_report_is_refused_with_the_path_of_its_member(lab, report, path, code):
    with pytest.raises(DefinitionError) as bad:
        lab.run({"id": "x", **report})
    assert [(p.path, p.code) for p in bad.value.problems] == [(path, code)]


def test_too_many_groups_asks_to_narrow_the_report(lab):
    narrow = Reports(lab.runtime, max_groups=2)
    with pytest.raises(ReportError) as big:
        narrow.run("reportlab", "case", "by_priority")
    assert big.value.code == "report.too_many_groups"
    assert "Add filters" in big.value.message("en")


def test_a_statement_past_its_time_limit_is_stopped_not_left_hanging(lab, db):
    from sqlalchemy import text

    endless = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
    reports = Reports(lab.runtime, timeout_s=0.05)
    spec = lab.run("by_priority").spec
    with db.read() as conn, pytest.raises(ReportError) as slow:
        reports._execute(conn, endless, spec)
    assert slow.value.code == "report.too_slow"
    assert "Narrow it" in slow.value.message("en")
    assert lab.run("by_priority").rows  # the connection is usable again


def test_buckets_follow_daylight_saving_time_in_the_viewers_zone(lab):
    for at in (dt.datetime(2026, 7, 1, 3, 30, tzinfo=UTC), dt.datetime(2026, 1, 15, 4, 30, tzinfo=UTC)):
        lab.clock.now = at
        lab.submit(customer="dst")
    report = adhoc(
        [{"day": "bucket(created_at, 'day')"}], filters=[{"field": "customer", "op": "eq", "value": "dst"}]
    )
    assert rows(lab.run(report, viewer=Viewer(timezone="America/New_York"))) == {
        "2026-06-30": 1,
        "2026-01-14": 1,
    }
