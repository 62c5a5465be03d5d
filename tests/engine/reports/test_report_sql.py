"""The report engine's own SQL: the SQLite percentile aggregate (percentile_cont's definition), time
buckets cut from stored UTC text, and grouping by one key, each checked against a plain reference."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3

import numpy as np
import pytest
from sqlalchemy import Float, literal, select, union_all

from engine.reports import sql
from engine.reports.spec import PERCENTILES, TIME
from tests.engine.reports.lab import Clock, Lab

UTC = dt.UTC


def percentile_cont(values_: list[float], p: float) -> float | None:
    """PostgreSQL's percentile_cont, step by step: ``lo + (hi - lo) * (p * (n - 1) - floor)``."""
    ordered = sorted(v for v in values_ if v is not None)
    if not ordered:
        return None
    k = p * (len(ordered) - 1)
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@pytest.fixture
def lite():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (g TEXT, x REAL)")
    yield con
    con.close()


def aggregate(con: sqlite3.Connection, p: float) -> str:
    """The percentile's function name, registered on ``con`` (as :func:`sql.bounded` does)."""
    name = sql.percentile_function(p)
    sql.register_functions(con, set())
    return name


def groups(con: sqlite3.Connection, p: float) -> dict[str, float | None]:
    return dict(con.execute(f"SELECT g, {aggregate(con, p)}(x) FROM t GROUP BY g"))


@pytest.mark.parametrize("p", [0.0, 0.25, *PERCENTILES.values(), 1.0])
def test_the_sqlite_percentile_is_percentile_cont_and_numpys_linear_quantile(lite, p):
    rng = random.Random(2024)
    data = {
        "many": [rng.lognormvariate(9.0, 1.2) / 3600 for _ in range(2001)],
        "ties": [1.0, 1.0, 2.0, 2.0, 2.0, 7.5],
        "negative": [-3.5, 0.0, -0.25, 12.0, 4.0],
        "with nulls": [None, 3.0, None, 1.0, 2.0, None],
        "one": [42.0],
        "one and nulls": [None, 42.0, None],
        "only nulls": [None, None],
        "one null": [None],
    }
    rows = [(g, x) for g, xs in data.items() for x in xs]
    rng.shuffle(rows)
    lite.executemany("INSERT INTO t VALUES (?, ?)", rows)
    got = groups(lite, p)
    for g, xs in data.items():
        present = [x for x in xs if x is not None]
        assert got[g] == percentile_cont(xs, p), g  # the very same arithmetic as PostgreSQL
        if present:
            assert got[g] == pytest.approx(float(np.percentile(present, p * 100, method="linear")), rel=1e-12)
        else:
            assert got[g] is None  # a group of NULLs has no percentile


def test_a_percentile_of_no_rows_is_null(lite):
    name = aggregate(lite, 0.9)
    assert lite.execute(f"SELECT {name}(x) FROM t").fetchone() == (None,)
    lite.execute("INSERT INTO t VALUES ('a', 1.0)")
    assert lite.execute(f"SELECT {name}(x) FROM t WHERE g = 'b'").fetchone() == (None,)
    assert lite.execute(f"SELECT g, {name}(x) FROM t WHERE g = 'b' GROUP BY g").fetchall() == []


def test_each_percentile_has_its_own_aggregate():
    names = {p: sql.percentile_function(p) for p in PERCENTILES.values()}
    assert names == {0.5: "gd_percentile_0_5", 0.9: "gd_percentile_0_9", 0.95: "gd_percentile_0_95"}
    assert sql.percentile_function(0.9) == names[0.9]
    with pytest.raises(ValueError):
        sql.percentile_function(1.5)


def test_percentiles_agree_on_sqlite_and_postgresql(db):
    rng = random.Random(7)
    data = {"a": [rng.uniform(0, 100) for _ in range(50)], "b": [None, 5.0, None], "c": [None], "d": [9.25]}
    rows = [
        select(literal(g).label("g"), literal(x, Float()).label("x")) for g, xs in data.items() for x in xs
    ]
    table = union_all(*rows).subquery("v")
    percentiles = (sql.percentile(db.dialect, table.c.x, p).label(f"p{i}") for i, p in enumerate((0.5, 0.9)))
    statement = select(table.c.g, *percentiles).group_by(table.c.g)
    with db.read() as conn, sql.bounded(conn, 10):
        got = {r.g: (r.p0, r.p1) for r in conn.execute(statement)}
        got_again = {r.g: (r.p0, r.p1) for r in conn.execute(statement)}  # registered once per connection
    assert got == got_again
    for g, xs in data.items():
        for value, p in zip(got[g], (0.5, 0.9), strict=True):
            expected = percentile_cont(xs, p)
            assert value == (None if expected is None else pytest.approx(expected, rel=1e-12)), (g, p)


MOMENTS = [
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
    dt.datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    dt.datetime(2025, 6, 30, 12, 0, tzinfo=UTC),
    dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC),
    dt.datetime(2026, 10, 1, 7, 5, tzinfo=UTC),
]
EXPECTED = {
    "hour": lambda at: at.strftime("%Y-%m-%d %H:00"),
    "day": lambda at: at.strftime("%Y-%m-%d"),
    "week": lambda at: (at.date() - dt.timedelta(days=at.weekday())).isoformat(),
    "month": lambda at: at.strftime("%Y-%m"),
    "quarter": lambda at: f"{at.year}-Q{(at.month + 2) // 3}",
    "year": lambda at: at.strftime("%Y"),
    "weekday": lambda at: at.isoweekday(),
    "hour_of_day": lambda at: at.hour,
}


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT"])
def test_buckets_of_a_zone_without_offset_are_cut_from_the_stored_text(db, zone):
    with db.read() as conn:
        for part, expected in EXPECTED.items():
            for at in MOMENTS:
                bucket = sql.bucket(db.dialect, sql.moment(at), TIME, part, zone)
                assert conn.execute(select(bucket)).scalar() == expected(at), (part, at)
            assert (
                conn.execute(select(sql.bucket(db.dialect, literal(None), TIME, part, zone))).scalar() is None
            )


def test_a_zone_with_an_offset_still_moves_the_time_first(db):
    half_past = dt.datetime(2024, 2, 29, 16, 30, tzinfo=UTC)  # 00:30 on 1 March in Shanghai
    last = dt.datetime(2024, 2, 29, 15, 59, 59, 999999, tzinfo=UTC)  # the last moment of 29 February there
    cases = [
        (half_past, "day", "2024-03-01"), (half_past, "month", "2024-03"),
        (half_past, "hour", "2024-03-01 00:00"),
        (last, "day", "2024-02-29"), (last, "month", "2024-02"), (last, "hour", "2024-02-29 23:00"),
        (last, "weekday", 4), (last, "hour_of_day", 23), (last, "week", "2024-02-26"),
        (last, "quarter", "2024-Q1"),
    ]  # fmt: skip
    with db.read() as conn:
        for at, part, label in cases:
            bucket = sql.bucket(db.dialect, sql.moment(at), TIME, part, "Asia/Shanghai")
            assert conn.execute(select(bucket)).scalar() == label, (at, part)


@pytest.fixture
def lab(db):
    return Lab(db, Clock())


def test_grouping_by_two_dimensions_keeps_every_pair_apart(lab):
    # Pairs that one concatenated text would merge: ("a", "bc") / ("ab", "c"), quotes, and no value.
    pairs = [("a", "bc"), ("ab", "c"), ("ab", "c"), ('a","b', "c"), ("a", '","b'), (None, "x"), (None, "x"),
             ("x", "null"), ("null", "x"), ("P1", "y")]  # fmt: skip
    for customer, title in pairs:
        data = {"title": title, **({"customer": customer} if customer is not None else {})}
        lab.submit(**data)
    result = lab.run({"id": "pairs", "dimensions": ["customer", "title"], "measures": ["count"]})
    got = {(r.key["customer"], r.key["title"]): r.values["count"] for r in result.rows}
    expected: dict[tuple[str | None, str], int] = {}
    for pair in pairs:
        expected[pair] = expected.get(pair, 0) + 1
    assert got == expected
    with_month = lab.run(
        {
            "id": "m",
            "dimensions": ["customer", {"month": "bucket(created_at, 'month')"}],
            "measures": ["count"],
        }
    )
    assert sum(r.values["count"] for r in with_month.rows) == len(pairs)
    assert len(with_month.rows) == len({c for c, _t in pairs})


def test_a_number_dimension_is_grouped_by_its_value(lab):
    for amount in (1, 1.0, 2.5, 2.5, None):
        lab.submit(**({"amount": amount} if amount is not None else {}))
    result = lab.run({"id": "n", "dimensions": ["amount", "priority"], "measures": ["count"]})
    assert {(r.key["amount"], r.key["priority"]): r.values["count"] for r in result.rows} == {
        (1.0, "P3"): 2,
        (2.5, "P3"): 2,
        (None, "P3"): 1,
    }


def test_the_aggregate_drops_nulls_once_when_it_finalizes():
    aggregate = sql._percentile_class(0.5)()
    for value in (None, 3.0, None, 1.0):
        aggregate.step(value)
    assert aggregate.finalize() == 2.0
