"""The expression language: functions, None semantics, data access, money, dates, static checks."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from engine.expressions import (
    FUNCTIONS,
    ExprError,
    Finding,
    NameInfo,
    check_expression,
    compile_expr,
    evaluate,
)
from engine.i18n import t

UTC8 = dt.timezone(dt.timedelta(hours=8))

ITEMS = [
    {"qty": 2, "price": Decimal("1.50")},
    {"qty": 1, "price": Decimal("3.00")},
    {"qty": 3, "price": Decimal("2.25")},
]

CTX: dict[str, Any] = {
    "n": None,
    "priority": "P1",
    "category": "billing",
    "title": "打印机卡纸",
    "amount": Decimal("120.00"),
    "price": Decimal("0.10"),
    "qty": 0,
    "total": 10,
    "items": ITEMS,
    "d": dt.date(2026, 12, 1),
    "t": dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC8),
    "old": {"priority": "P2", "amount": Decimal("100.00")},
    "user": {"id": 7, "roles": ["agent", "admin"], "department": "财务部"},
    "now": dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC),
    "today": dt.date(2026, 12, 3),
    "ticket": {
        "number": "TS-202612-0001",
        "stage": "triage",
        "created_at": dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
    },
}


def ev(source: str, **extra: Any) -> Any:
    return evaluate(source, {**CTX, **extra})


# --------------------------------------------------------------------------- functions
FUNCTION_CASES = [
    # len
    ("len('abc')", 3),
    ("len(items)", 3),
    ("len(n)", 0),
    # sum (skips None; None list is an empty sum)
    ("sum([1, 2, 3])", 6),
    ("sum([1, n, 2])", 3),
    ("sum(n)", 0),
    ("sum([])", 0),
    # min / max: one list, or several values; None is skipped
    ("min([3, n, 1])", 1),
    ("min(n)", None),
    ("min([])", None),
    ("min(3, 1, 2)", 1),
    ("min(n, 4)", 4),
    ("max([3, n, 1])", 3),
    ("max(n)", None),
    ("max(2, 5)", 5),
    ("max(n, n)", None),
    # abs / round
    ("abs(-3)", 3),
    ("abs(-2.5)", 2.5),
    ("abs(n)", None),
    ("round(2.567, 2)", 2.57),
    ("round(2.4)", 2),
    ("round(n)", None),
    ("round(n, 2)", None),
    # text
    ("lower('AbC')", "abc"),
    ("lower(n)", None),
    ("upper('abc')", "ABC"),
    ("upper(n)", None),
    ("trim('  a b  ')", "a b"),
    ("trim(n)", None),
    ("str(5)", "5"),
    ("str(n)", ""),
    # numbers from text
    ("int('12')", 12),
    ("int('12.7')", 12),
    ("int(n)", None),
    ("int('')", None),
    ("float('1.5')", 1.5),
    ("float(n)", None),
    ("float('')", None),
    # contains / startswith / endswith: a missing side never matches
    ("contains('abc', 'b')", True),
    ("contains('abc', 'z')", False),
    ("contains(user.roles, 'admin')", True),
    ("contains(n, 'a')", False),
    ("contains('abc', n)", False),
    ("startswith('abc', 'ab')", True),
    ("startswith('abc', 'b')", False),
    ("startswith(n, 'a')", False),
    ("startswith('None of these', n)", False),
    ("endswith('abc', 'bc')", True),
    ("endswith(n, 'c')", False),
    ("endswith('it is None', n)", False),
    # if_else / coalesce
    ("if_else(true, 1, 2)", 1),
    ("if_else(false, 1, 2)", 2),
    ("if_else(n, 1, 2)", 2),
    ("coalesce('x')", "x"),
    ("coalesce(n)", None),
    ("coalesce(n, 'fallback')", "fallback"),
    ("coalesce(n, '', 0, 5)", 0),
    # any / all / count
    ("any([0, 1])", True),
    ("any([0, n])", False),
    ("any(n)", False),
    ("all([1, 1])", True),
    ("all([1, 0])", False),
    ("all(n)", True),
    ("count([1, n, 2])", 2),
    ("count(n)", 0),
    # regex match (search semantics)
    ("match('abc123', '[0-9]+$')", True),
    ("match('abc', '^b')", False),
    ("match(n, 'a')", False),
    # dates
    ("date('2026-12-01')", dt.date(2026, 12, 1)),
    ("date(t)", dt.date(2026, 12, 1)),
    ("date(n)", None),
    ("date('')", None),
    ("datetime('2026-12-01T10:00')", dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)),
    ("datetime(d)", dt.datetime(2026, 12, 1, tzinfo=dt.UTC)),
    ("datetime(n)", None),
    ("days_between('2026-12-01', '2026-12-31')", 30),
    ("days_between(n, '2026-12-31')", None),
    ("days_between('2026-12-01', n)", None),
    ("hours_between('2026-12-01T08:00', '2026-12-01T10:30')", 2.5),
    ("hours_between(n, now)", None),
    ("hours_between(now, n)", None),
    ("add_days('2026-12-01', 1)", dt.date(2026, 12, 2)),
    ("add_days(n, 1)", None),
    ("add_days('2026-12-01', n)", None),
    ("add_hours('2026-12-01T10:00', 1.5)", dt.datetime(2026, 12, 1, 11, 30, tzinfo=dt.UTC)),
    ("add_hours(n, 1)", None),
    ("add_hours('2026-12-01T10:00', n)", None),
    # Friday 17:00 Beijing time + 2 working hours on cn_workdays is Monday 10:00 (02:00 UTC).
    ("add_business_hours('2026-12-04T17:00+08:00', 2)", dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)),
    ("add_business_hours(n, 2)", None),
    ("business_hours_between('2026-12-04T17:00+08:00', '2026-12-07T10:00+08:00')", 2.0),
    ("business_hours_between('2026-12-05T10:00+08:00', '2026-12-05T12:00+08:00', '24x7')", 2.0),
    ("weekday('2026-12-01')", 2),
    ("weekday(n)", None),
]


@pytest.mark.parametrize(("source", "expected"), FUNCTION_CASES)
def test_function_gives_expected_value(source, expected):
    result = ev(source)
    if expected is None or isinstance(expected, bool):
        assert result is expected
    else:
        assert result == expected
        assert not isinstance(result, bool)


def test_every_registered_function_is_exercised_by_the_table():
    called = {
        node.func.id
        for source, _ in FUNCTION_CASES
        for node in ast.walk(ast.parse(source, mode="eval"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert set(FUNCTIONS) <= called, set(FUNCTIONS) - called


def test_if_else_only_evaluates_the_branch_it_returns():
    # The guard idiom: dividing by a quantity that may be zero.
    assert ev("if_else(qty == 0, 0, total / qty)") == 0
    assert ev("if_else(qty == 0, 0, total / qty)", qty=4) == 2.5


def test_function_called_with_wrong_number_of_arguments_is_refused_at_compile():
    with pytest.raises(ExprError) as info:
        compile_expr("len(1, 2)")
    assert info.value.code == "expr.arg_count"
    assert info.value.params["column"] == 1


def test_variadic_functions_accept_many_arguments():
    assert ev("max(1, 9, 3, n, 4)") == 9
    assert ev("min(5, 9, 3, n, 4)") == 3
    assert ev("coalesce(n, n, n, 'last')") == "last"


# --------------------------------------------------------------------------- None semantics
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("n + 1", None),
        ("1 - n", None),
        ("n * 2", None),
        ("n / 2", None),
        ("2 // n", None),
        ("n % 2", None),
        ("n ** 2", None),
        ("-n", None),
        ("+n", None),
        ("n + n", None),
        ("n < 1", False),
        ("n <= 1", False),
        ("n > 1", False),
        ("n >= 1", False),
        ("1 > n", False),
        ("n >= n", False),
        ("n == n", True),
        ("n == null", True),
        ("n != 1", True),
        ("n == 0", False),
        ("not n", True),
        ("n and 1", None),
        ("n or 'x'", "x"),
    ],
)
def test_none_semantics(source, expected):
    assert ev(source) == expected


def test_none_divided_by_zero_is_none_not_an_error():
    assert ev("n / 0") is None


# --------------------------------------------------------------------------- comparisons
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("3 > 2 > 1", True),
        ("1 <= total <= 10", True),
        ("1 <= total < 10", False),
        ("n < 1 < 2", False),
        ("1 < 2 < n", False),
        ("1 == 1.0 == true", True),
        ("'a' < 'b' < 'c'", True),
        ("0 < amount <= 120", True),
    ],
)
def test_chained_comparisons(source, expected):
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("priority in ('P1', 'P2')", True),
        ("priority in ('P2', 'P3')", False),
        ("priority not in ('P2', 'P3')", True),
        ("priority in ['P1']", True),
        ("2 in [1, 2]", True),
        ("2 in (1, 2)", True),
        ("3 not in (1, 2)", True),
        ("3 not in [1, 2]", True),
        ("'a' in 'cat'", True),
        ("'z' in 'cat'", False),
        ("'z' not in 'cat'", True),
        ("'纸' in title", True),
        ("'admin' in user.roles", True),
        ("'boss' not in user.roles", True),
        ("priority in [category, 'P1']", True),
        ("n in (1, 2)", False),
        ("n not in (1, 2)", True),
        ("'x' in n", False),
        ("'x' not in n", True),
        ("n in 'abc'", False),
    ],
)
def test_membership(source, expected):
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true", True),
        ("false", False),
        ("null", None),
        ("True", True),
        ("False", False),
        ("None", None),
        ("flag == true", True),
        ("flag == false", False),
        ("true == flag", True),
        ("n == null", True),
        ("null == n", True),
        ("if_else(flag, 'yes', 'no')", "yes"),
        ("not false", True),
    ],
)
def test_json_spellings_of_true_false_null(source, expected):
    result = ev(source, flag=True)
    assert result == expected
    assert type(result) is type(expected)


def test_json_spellings_are_not_free_names():
    assert compile_expr("flag == true or x == null or y != false").names == {"flag", "x", "y"}


# --------------------------------------------------------------------------- data access
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("old.priority", "P2"),
        ("old.priority != priority", True),
        ("old.missing", None),
        ("user.department", "财务部"),
        ("user.id", 7),
        ("user.roles", ["agent", "admin"]),
        ("user.roles[0]", "agent"),
        ("ticket.number", "TS-202612-0001"),
        ("ticket.stage == 'triage'", True),
        ("ticket.created_at.year", 2026),
        ("d.month", 12),
        ("t.hour", 23),
        ("items[0].qty", 2),
        ("items[2].price", Decimal("2.25")),
        ("items[-1].qty", 3),
        ("items[3]", None),
        ("items[5].qty", None),
        ("items[-4]", None),
        ("title[0]", "打"),
        ("title[99]", None),
        ("n.anything", None),
        ("n[0]", None),
        ("missing_field", None),
        ("missing_field.x", None),
    ],
)
def test_attribute_and_index_access(source, expected):
    assert ev(source) == expected


def test_old_is_none_for_a_new_ticket():
    assert evaluate("old.priority", {"old": None}) is None
    assert evaluate("old.priority != priority", {"old": None, "priority": "P1"}) is True


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("items.qty", "expr.no_attribute"),
        ("priority.length", "expr.no_attribute"),
        ("total.real", "expr.no_attribute"),
        ("d.tzinfo", "expr.no_attribute"),
        ("items['qty']", "expr.bad_index"),
        ("items[true]", "expr.bad_index"),
        ("total[0]", "expr.bad_index"),
    ],
)
def test_bad_attribute_or_index_is_a_clear_error(source, code):
    with pytest.raises(ExprError) as info:
        ev(source)
    assert info.value.code == code


# --------------------------------------------------------------------------- comprehensions
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sum(r.qty * r.price for r in items)", Decimal("12.75")),
        ("sum(r.qty for r in items if r.qty > 1)", 5),
        ("[r.qty for r in items if r.qty > 1]", [2, 3]),
        ("[r.qty for r in items if r.qty > limit]", [3]),
        ("len([r for r in items if r.price >= 2])", 2),
        ("max(r.price for r in items)", Decimal("3.00")),
        ("any(r.qty > 2 for r in items)", True),
        ("all(r.qty > 2 for r in items)", False),
        ("sum(r.qty for r in n)", 0),
        ("[r for r in []]", []),
        ("sum(x * 2 for x in [1, 2, 3])", 12),
    ],
)
def test_comprehension_over_rows(source, expected):
    assert ev(source, limit=2) == expected


def test_loop_variable_shadows_a_field_of_the_same_name_only_inside_the_loop():
    ctx = {**CTX, "r": "outer"}
    assert evaluate("[r for r in items]", ctx) == ITEMS
    assert evaluate("[r for r in items] + [r]", ctx) == [*ITEMS, "outer"]
    assert evaluate("[sum(r.qty for r in items), r]", ctx) == [6, "outer"]
    assert evaluate("[r == 'outer' for r in items]", ctx) == [False, False, False]
    assert evaluate("r", ctx) == "outer"


def test_loop_variable_reads_the_outer_field_in_its_own_source():
    assert evaluate("[r.qty for r in r]", {"r": ITEMS}) == [2, 1, 3]


def test_comprehension_over_text_is_not_a_list():
    with pytest.raises(ExprError) as info:
        ev("[c for c in title]")
    assert info.value.code == "expr.not_a_list"


# --------------------------------------------------------------------------- literal tuples
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len((1, 1, 2))", 3),
        ("sum((1, 2, 3))", 6),
        ("min((3, 1, 2))", 1),
        ("(10, 20, 30)[0]", 10),
        ("sum(x * 2 for x in (1, 2, 3))", 12),
        ("(1, 1) == (1,)", False),
    ],
)
def test_literal_tuples_behave_as_sequences(source, expected):
    assert ev(source) == expected


# --------------------------------------------------------------------------- money
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("amount * 1.5", Decimal("180.00")),
        ("1.5 * amount", Decimal("180.00")),
        ("amount + 1", Decimal("121.00")),
        ("amount - 0.1", Decimal("119.90")),
        ("amount / 4", Decimal("30.00")),
        ("amount / 2.5", Decimal("48")),
        ("amount // 7", Decimal("17")),
        ("amount % 7", Decimal("1")),
        ("amount + old.amount", Decimal("220.00")),
        ("sum(r.price for r in items)", Decimal("6.75")),
        ("sum([amount, 1.5, 2])", Decimal("123.50")),
        ("round(amount / 7, 2)", Decimal("17.14")),
        ("abs(0 - amount)", Decimal("120.00")),
    ],
)
def test_decimal_money_mixes_with_floats_and_ints(source, expected):
    result = ev(source)
    assert isinstance(result, Decimal)
    assert result == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("amount > 119.5", True),
        ("amount < 119.5", False),
        ("amount >= 120", True),
        ("amount == 120", True),
        ("amount == 120.0", True),
        ("price == 0.1", True),
        ("price != 0.1", False),
        ("0.1 == price", True),
        ("price in (0.1, 0.2)", True),
        ("price <= 0.1 and price >= 0.1", True),
    ],
)
def test_decimal_money_compares_with_floats_and_ints(source, expected):
    assert ev(source) is expected


# --------------------------------------------------------------------------- dates
DATE_LIKE = [
    pytest.param("2026-12-01", id="iso-text"),
    pytest.param(dt.date(2026, 12, 1), id="date"),
    pytest.param(dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC8), id="aware-datetime"),
    pytest.param("2026-12-01T23:30:00+08:00", id="iso-datetime-text"),
]


@pytest.mark.parametrize("start", DATE_LIKE)
def test_days_between_accepts_text_dates_and_aware_datetimes(start):
    assert evaluate("days_between(start, '2026-12-31')", {"start": start}) == 30
    assert evaluate("days_between('2026-12-31', start)", {"start": start}) == -30
    assert evaluate("days_between(start, end)", {"start": start, "end": dt.date(2026, 12, 3)}) == 2


@pytest.mark.parametrize("start", DATE_LIKE)
def test_weekday_is_iso_monday_one_to_sunday_seven(start):
    assert evaluate("weekday(start)", {"start": start}) == 2  # 2026-12-01 is a Tuesday


def test_weekday_of_a_sunday_is_seven():
    assert evaluate("weekday('2026-12-06')", {}) == 7


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-12-01", dt.date(2026, 12, 31)),
        (dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        (
            dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC8),
            dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC8),
        ),
    ],
)
def test_add_days_keeps_the_kind_of_its_input(start, expected):
    result = evaluate("add_days(start, 30)", {"start": start})
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, dt.datetime):
        assert result.utcoffset() == dt.timedelta(hours=8)


def test_add_days_across_a_year_end_and_backwards():
    assert evaluate("add_days('2026-12-31', 1)", {}) == dt.date(2027, 1, 1)
    assert evaluate("add_days('2027-01-01', -1)", {}) == dt.date(2026, 12, 31)


def test_aware_datetimes_in_different_zones_measure_real_hours():
    ctx = {
        "a": dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC8),
        "b": dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC),
    }
    assert evaluate("hours_between(a, b)", ctx) == 2.0
    assert evaluate("add_hours(a, 2) == b", ctx) is True


def test_ticket_age_rules_read_like_the_docs():
    assert ev("days_between(ticket.created_at, today) >= 2") is True
    assert ev("hours_between(ticket.created_at, now) > 48") is True
    assert ev("weekday(today) in (6, 7)") is False


@pytest.mark.parametrize("bad", ["2026-02-30", "not a date", "2026/12/01"])
def test_impossible_dates_are_a_runtime_error(bad):
    with pytest.raises(ExprError) as info:
        evaluate("days_between(start, '2026-12-31')", {"start": bad})
    assert info.value.code == "expr.runtime"


# --------------------------------------------------------------------------- compiling
def test_compile_once_returns_the_same_expression():
    source = "priority == 'P1' and amount > 100"
    assert compile_expr(source) is compile_expr(source)
    assert compile_expr(source)(CTX) is True


def test_compiled_expression_is_reusable_across_contexts():
    expr = compile_expr("priority in ('P1', 'P2') and amount > 100")
    assert expr({"priority": "P1", "amount": 101}) is True
    assert expr({"priority": "P3", "amount": 101}) is False
    assert expr({}) is False


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("priority == 'P1'", {"priority"}),
        ("sum(r.qty * r.price for r in items) > limit", {"items", "limit"}),
        ("old.priority != priority", {"old", "priority"}),
        ("user.department == '财务部' and 'admin' in user.roles", {"user"}),
        ("days_between(ticket.created_at, today) > 3", {"ticket", "today"}),
        ("len(title) > 3 and lower(title) == 'x'", {"title"}),
        ("items[0].qty", {"items"}),
        ("true or null == false", set()),
        ("[r for r in items] + [r]", {"items", "r"}),
        ("[r.qty for r in r]", {"r"}),
        ("max(x for x in items)", {"items"}),
    ],
)
def test_expression_names_lists_free_names_only(source, names):
    assert compile_expr(source).names == frozenset(names)


# --------------------------------------------------------------------------- runtime errors
@pytest.mark.parametrize(
    ("source", "extra"),
    [
        ("'a' < 1", {}),
        ("a < b", {"a": "x", "b": 1}),
        ("a >= b", {"a": dt.date(2026, 1, 1), "b": "2026-01-01"}),
        ("a > b", {"a": dt.datetime(2026, 1, 1), "b": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}),
        ("'a' + 1", {}),
        ("title - 1", {}),
        ("-title", {}),
        ("items > 1", {}),
        ("1 in total", {}),
        ("len(total)", {}),
        ("abs('x')", {}),
        ("round('x')", {}),
        ("round(1.5, 'x')", {}),
        ("int('abc')", {}),
        ("float('abc')", {}),
        ("lower(title) * 1.5", {}),
        ("min([1, 'a'])", {}),
        ("add_days(today, 'x')", {}),
        ("date('2026-02-30')", {}),
        ("today + 1", {}),
    ],
)
def test_runtime_type_errors_surface_as_expr_runtime(source, extra):
    with pytest.raises(ExprError) as info:
        ev(source, **extra)
    assert not isinstance(info.value, TypeError | ValueError)
    assert info.value.code == "expr.runtime"
    message = info.value.message("en")
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "source", ["1 / 0", "1 // 0", "1 % 0", "amount / 0", "amount / 0.0", "total / qty", "1 / (qty * 2)"]
)
def test_division_by_zero_is_its_own_error(source):
    with pytest.raises(ExprError) as info:
        ev(source)
    assert info.value.code == "expr.division_by_zero"


@pytest.mark.parametrize("source", ["sum(total)", "any('abc')", "count(total)"])
def test_aggregate_of_a_non_list_is_a_clear_error(source):
    with pytest.raises(ExprError) as info:
        ev(source)
    assert info.value.code == "expr.not_a_list"


# --------------------------------------------------------------------------- static checks
N = NameInfo
FIELDS: dict[str, NameInfo] = {
    "priority": N("text", options=frozenset({"P1", "P2", "P3"})),
    "category": N("text", options=frozenset({"billing", "quality", "退款"})),
    "title": N("text"),
    "amount": N("number"),
    "closed": N("bool"),
    "due": N("date"),
    "items": N("list", attrs={"qty": N("number"), "price": N("number")}),
}
NAMES: dict[str, NameInfo] = {
    **FIELDS,
    "old": N("any", attrs=FIELDS),
    "user": N("any", attrs={"id": N("number"), "roles": N("list"), "department": N("text")}),
    "ticket": N(
        "any",
        attrs={"number": N("text"), "stage": N("text"), "created_at": N("datetime")},
    ),
    "now": N("datetime"),
    "today": N("date"),
}


def col(source: str, needle: str) -> int:
    """1-based character column of ``needle`` in ``source``."""
    return source.index(needle) + 1


@pytest.mark.parametrize(
    "source",
    [
        "priority == 'P1' and category in ('billing', 'quality')",
        "sum(r.qty * r.price for r in items) > 1000",
        "old.priority != priority",
        "'admin' in user.roles and user.department == '财务部'",
        "days_between(ticket.created_at, today) > 3",
        "ticket.stage == 'triage' and not closed",
        "if_else(amount > 100, 'big', 'small') == 'big'",
        "match(title, '^退款')",
        "category == '退款'",
        "len(items) >= 1 and items[0].qty > 0",
        "amount * 2 > old.amount",
        "coalesce(title) != null",
    ],
)
def test_good_expression_has_no_findings(source):
    assert check_expression(source, NAMES) == []
    assert check_expression(source, NAMES, want="bool") == []


def test_unknown_name_is_reported_with_its_column():
    # The brief said column 23 here; "colour" starts at the 22nd character (1-based).
    source = "priority == 'P1' and colour == 'red'"
    findings = check_expression(source, NAMES)
    assert findings == [Finding("expr.unknown_name", 22, findings[0].params)]
    assert findings[0].column == col(source, "colour")
    assert findings[0].params["name"] == "colour"


def test_columns_count_characters_after_chinese_text():
    source = "category == '退款' and colour == 1"
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.unknown_name"
    assert finding.column == col(source, "colour") == 22


def test_type_mismatch_column_counts_characters_after_chinese_text():
    names = {**NAMES, "colour": N("text")}
    source = "category == '退款' and colour == 1"
    (finding,) = check_expression(source, names)
    assert finding.code == "expr.type_mismatch"
    assert finding.column == col(source, "colour")


def test_several_unknown_names_are_all_reported():
    source = "colour == 'red' or size > 3"
    findings = check_expression(source, NAMES)
    assert [(f.code, f.params["name"], f.column) for f in findings] == [
        ("expr.unknown_name", "colour", 1),
        ("expr.unknown_name", "size", col(source, "size")),
    ]


def test_unknown_function_is_reported_with_its_column():
    source = "priority == 'P1' and shout(title)"
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.unknown_function"
    assert finding.column == col(source, "shout")
    assert finding.params["name"] == "shout"


def test_unknown_attribute_of_a_structured_name():
    source = "priority == 'P1' and user.salary > 3"
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.unknown_attribute"
    assert finding.params["name"] == "salary"
    assert finding.column in (col(source, "user"), col(source, "salary"))


def test_unknown_attribute_of_a_sub_table_row():
    (finding,) = check_expression("sum(r.qyt for r in items)", NAMES)
    assert finding.code == "expr.unknown_attribute"
    assert finding.params["name"] == "qyt"


def test_loop_variable_is_not_an_unknown_name_but_does_not_leak():
    assert check_expression("[r.qty for r in items]", NAMES) == []
    (finding,) = check_expression("[r.qty for r in items] == r", NAMES)
    assert finding.code == "expr.unknown_name"
    assert finding.params["name"] == "r"


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("priority > 3", "priority"),
        ("amount == 'a lot'", "amount"),
        ("title + 1 == 'x'", "title"),
        ("closed == 'yes'", "closed"),
        ("priority == 'P1' and amount < 'ten'", "amount"),
    ],
)
def test_text_compared_with_a_number_is_a_type_mismatch(source, needle):
    findings = check_expression(source, NAMES)
    assert [f.code for f in findings] == ["expr.type_mismatch"]
    assert findings[0].column == col(source, needle)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("priority == 'P9'", "P9"),
        ("'P9' == priority", "P9"),
        ("priority != 'P9'", "P9"),
        ("priority in ('P1', 'P9')", "P9"),
        ("old.priority == 'P0'", "P0"),
        ("category == '退货'", "退货"),
    ],
)
def test_comparing_a_select_field_to_a_value_not_among_its_options(source, value):
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.not_an_option"
    assert finding.params["value"] == value
    assert finding.column == col(source, f"'{value}'")


@pytest.mark.parametrize("source", ["amount * 2", "amount + 1", "amount - old.amount", "len(items) * 2"])
def test_arithmetic_where_a_condition_is_wanted_is_not_a_condition(source):
    findings = check_expression(source, NAMES, want="bool")
    assert [(f.code, f.params["type"]) for f in findings] == [("expr.not_a_condition", "number")]
    assert check_expression(source, NAMES) == []


@pytest.mark.parametrize("source", ["title", "lower(title)", "items", "due"])
def test_a_filled_in_value_is_an_acceptable_condition(source):
    # By design a filled-in text, list or date reads as "is set"; only arithmetic is a slip.
    assert check_expression(source, NAMES, want="bool") == []


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("category == '退款' and (colour == ", 22),
        ("'退款退款' == 1 1", 13),
        ("amount +* 2", 9),
    ],
)
def test_syntax_error_is_reported_with_its_character_column(source, column):
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.syntax"
    assert finding.column == column
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    assert info.value.code == "expr.syntax"
    assert info.value.column == column


@pytest.mark.parametrize(("source", "operator"), [("priority ==", "=="), ("a and", "and")])
def test_missing_operand_at_the_end_is_reported_at_the_end_not_column_one(source, operator):
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.syntax"
    assert finding.column >= col(source, operator)


@pytest.mark.parametrize(
    ("source", "code", "needle"),
    [
        ("  colour == 1", "expr.unknown_name", "colour"),
        ("   priority == 'P1' and shout(1)", "expr.unknown_function", "shout"),
    ],
)
def test_columns_point_into_the_text_as_written_even_with_leading_spaces(source, code, needle):
    (finding,) = check_expression(source, NAMES)
    assert finding.code == code
    assert finding.column == col(source, needle)


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_expression(source):
    (finding,) = check_expression(source, NAMES)
    assert finding.code == "expr.empty"


# --------------------------------------------------------------------------- messages
def _compile_error(source: str) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ExprError) as info:
        compile_expr(source)
    return info.value.code, info.value.params


def _runtime_error(source: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ExprError) as info:
        ev(source, **extra)
    return info.value.code, info.value.params


def _finding(source: str, want: str | None = None) -> tuple[str, dict[str, Any]]:
    (finding,) = check_expression(source, NAMES, want=want)
    return finding.code, {**finding.params, "column": finding.column}


TRIGGERS = {
    "expr.empty": lambda: _compile_error(" "),
    "expr.syntax": lambda: _compile_error("1 +* 2"),
    "expr.not_allowed": lambda: _compile_error("lambda: 1"),
    "expr.private_name": lambda: _compile_error("_x"),
    "expr.method_call": lambda: _compile_error("title.upper()"),
    "expr.unknown_function": lambda: _compile_error("shout(1)"),
    "expr.arg_count": lambda: _compile_error("len()"),
    "expr.constant_pattern": lambda: _compile_error("match(title, pattern)"),
    "expr.bad_regex": lambda: _compile_error("match(title, '(')"),
    "expr.one_loop": lambda: _compile_error("[a for a in items for b in items]"),
    "expr.too_long": lambda: _compile_error("1" * 3000),
    "expr.too_deep": lambda: _compile_error("-" * 100 + "1"),
    "expr.too_big": lambda: _compile_error("[" + ", ".join(["1"] * 300) + "]"),
    "expr.power_too_big": lambda: _runtime_error("10 ** 400"),
    "expr.division_by_zero": lambda: _runtime_error("1 / 0"),
    "expr.not_a_list": lambda: _runtime_error("sum(total)"),
    "expr.no_attribute": lambda: _runtime_error("title.size"),
    "expr.bad_index": lambda: _runtime_error("total[0]"),
    "expr.runtime": lambda: _runtime_error("'a' < 1"),
    "expr.unknown_name": lambda: _finding("colour == 1"),
    "expr.unknown_attribute": lambda: _finding("user.salary > 1"),
    "expr.type_mismatch": lambda: _finding("priority > 3"),
    "expr.not_an_option": lambda: _finding("priority == 'P9'"),
    "expr.not_a_condition": lambda: _finding("amount * 2", want="bool"),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_every_triggered_code_has_a_chinese_and_an_english_message(code):
    got, params = TRIGGERS[code]()
    assert got == code
    zh, en = t(code, "zh", **params), t(code, "en", **params)
    assert zh and en
    assert zh != en
    assert code not in (zh, en)
    assert not re.search(r"\{[a-z_]+\}", zh + en), (zh, en)  # every placeholder filled
    assert re.search(r"[\u4e00-\u9fff]", zh), zh


def test_expr_error_message_speaks_both_languages():
    with pytest.raises(ExprError) as info:
        compile_expr("priority == 'P1' and shout(1)")
    err = info.value
    assert err.column == 22
    assert err.message("zh") != err.message("en")
    assert "shout" in err.message("zh") and "shout" in err.message("en")
    assert "22" in err.message("en")
