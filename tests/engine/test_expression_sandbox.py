"""Escape attempts against the expression sandbox: each is refused with a clear ExprError.

Every case runs at normal speed in the normal suite; nothing here measures time. A case that
escaped the cost bounds would make the suite hang (or, for the cases over context lists, trip
the ``Tripwire`` below, which turns a runaway loop into a failure instead of a hang).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.expressions import ExprError, compile_expr, evaluate


class Tripwire(list):
    """A context list that fails loudly once it has been iterated too often in one evaluation.

    The module promises that evaluation cost is bounded by the expression's size times its
    data's size; 20 passes over 10,000 rows is far beyond anything a legitimate short
    expression needs.
    """

    limit = 200_000

    def __init__(self, rows: list[Any]):
        super().__init__(rows)
        self.visits = 0

    def __iter__(self):
        for row in super().__iter__():
            self.visits += 1
            if self.visits > self.limit:
                raise RuntimeError(f"evaluation visited more than {self.limit} rows: unbounded cost")
            yield row


def benign_ctx() -> dict[str, Any]:
    return {
        "x": "hello",
        "title": "a" * 16 + "!",
        "priority": "P1",
        "amount": 120,
        "items": [{"qty": 2, "price": 3}, {"qty": 1, "price": 5}],
        "user": {"id": 7, "roles": ["agent"], "department": "IT", "_secret": "s3cret"},
        "pattern_field": "a+",
        "now": dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
        "ticket": {"number": "TS-1", "created_at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
    }


def esc(source: str, code: str | None = None, ctx: dict[str, Any] | None = None, id: str | None = None):
    """One escape attempt: the source, the expected code (None: any ExprError), extra context."""
    return pytest.param(source, code, ctx or {}, id=id or source[:60])


HUGE_INT = "1" * 10_000
LONG_SOURCE = "len('" + "a" * 4993 + "')"
assert len(LONG_SOURCE) == 5000

ESCAPES = [
    # --- dunders and private names
    esc("__class__", "expr.private_name"),
    esc("().__class__.__bases__[0].__subclasses__()"),
    esc("x.__class__", "expr.private_name"),
    esc("''.__class__.__mro__", "expr.private_name"),
    esc("items[0].__class__", "expr.private_name"),
    esc("sum(r.__class__ for r in items)", "expr.private_name"),
    esc("__import__('os')", "expr.private_name"),
    esc("x if x else __import__('os').system('id')"),
    esc("__builtins__", "expr.private_name"),
    esc("len.__self__", "expr.private_name"),
    esc("user._secret", "expr.private_name"),
    # Subscripting reads the same dict key as the attribute: it must be just as private.
    esc("user['_secret']", "expr.private_name"),
    # Fullwidth letters normalise (NFKC) to ASCII identifiers; the dunder is still seen.
    esc("ｘ.__class__", "expr.private_name", id="fullwidth-x-dunder"),
    # --- builtins that are not in the function registry
    esc("getattr(x, 'y')", "expr.unknown_function"),
    esc("eval('1')", "expr.unknown_function"),
    esc("exec('1')", "expr.unknown_function"),
    esc("open('/etc/passwd')", "expr.unknown_function"),
    esc("type(1)", "expr.unknown_function"),
    esc("globals()", "expr.unknown_function"),
    esc("locals()", "expr.unknown_function"),
    esc("vars()", "expr.unknown_function"),
    esc("max([1], key=type)", "expr.not_allowed"),
    # --- code objects, formatting, methods
    esc("lambda: 1", "expr.not_allowed"),
    esc("(lambda: 1)()"),
    esc('f"{x}"', "expr.not_allowed"),
    esc('f"{x.__class__}"', "expr.not_allowed"),
    esc("'{0.__class__}'.format(1)", "expr.method_call"),
    esc("x.format", "expr.no_attribute"),
    esc("priority.upper()", "expr.method_call"),
    esc("[].append(1)", "expr.method_call"),
    esc("now.tzinfo", "expr.no_attribute"),
    esc("ticket.created_at.astimezone", "expr.no_attribute"),
    # --- statements and other non-expressions
    esc("(y := 1)", "expr.not_allowed"),
    esc("x = 1", "expr.syntax"),
    esc("1; 2", "expr.syntax"),
    esc("import os", "expr.syntax"),
    esc("(yield)"),
    esc("await x"),
    esc("1\x00", id="null-byte"),
    esc("b'x'", "expr.not_allowed"),
    esc("1j", "expr.not_allowed"),
    esc("{'a': 1}", "expr.not_allowed"),
    # --- collection tricks
    esc("[*items]", "expr.not_allowed"),
    esc("{r['qty']: 1 for r in items}", "expr.not_allowed"),
    esc("{r['qty'] for r in items}", "expr.not_allowed"),
    esc("[x for x in items for y in items]", "expr.one_loop"),
    esc("items[0:10**9]", "expr.not_allowed"),
    # --- unbounded growth
    esc("2 ** 10**6", "expr.power_too_big"),
    esc("10 ** 400", "expr.power_too_big"),
    esc("'a' * 10**9", "expr.too_long"),
    esc("[1] * 10**8", "expr.list_repeat"),
    esc("'a' * 100000 + 'b' * 100000", "expr.too_long"),
    # Repeating a list of lists: 100**5 = 10**10 elements in all (str() or == of it never ends).
    esc("[[[[[1] * 100] * 100] * 100] * 100] * 100", "expr.list_repeat"),
    # Text made by converting a repeated list: a million characters, past the text limit.
    esc("lower(['abcdefghij' * 10] * 10000)", "expr.list_repeat"),
    esc("lower(items)", "expr.not_text"),
    # printf-style widths build text without going through the length check.
    esc("'%0200000d' % 1", "expr.text_format"),
    # %(key)s reads dict keys; a missing one must be an ExprError, not a bare KeyError.
    esc("'%(__class__)s' % user"),
    # A decimal exponent in text: int('1e999999999') would never finish; 1e100000 already is a
    # 100,001-digit number, far past anything ** may build (exponent <= 100).
    esc("int('1e100000')"),
    # --- nesting and size of the source
    # 2,001 characters: too long and too deep, either refusal will do.
    esc("(" * 1000 + "1" + ")" * 1000, None, id="1000-parens"),
    esc("(" * 100 + "1" + ")" * 100, "expr.too_deep", id="100-parens"),
    esc("-" * 500 + "1", "expr.too_deep", id="500-unary-minus"),
    # 500 "not " is 2,000 characters plus the operand: refused as too long before parsing.
    esc("not " * 500 + "x", "expr.too_long", id="500-not"),
    esc("not " * 400 + "x", "expr.too_deep", id="400-not"),
    esc("x" + ".a" * 900, "expr.too_deep", id="900-attributes"),
    esc(LONG_SOURCE, "expr.too_long", id="5000-characters"),
    # A 10,000-digit integer literal: refused (the source is longer than 2,000 characters).
    esc(HUGE_INT, "expr.too_long", id="10000-digit-literal"),
    # --- regular expressions
    esc("match(title, '(a+)+$')", "expr.bad_regex"),
    esc("match(title, pattern_field)", "expr.constant_pattern"),
    # Nested quantifiers the pattern check does not see: exponential backtracking all the same
    # (2**16 steps on the benign 16-character title, 2**10000 on a 10,000-character one).
    esc("match(title, '((a)+)+$')", "expr.bad_regex"),
    esc("match(title, '(a|a)+$')", "expr.bad_regex"),
    # --- evaluation cost over context data
    esc("[r for r in big]", "expr.too_long", {"big": [1] * 10**6}, id="comprehension-over-10**6"),
    esc("sum(r for r in big)", "expr.too_long", {"big": tuple(range(10**6))}, id="sum-over-10**6"),
    # A comprehension inside a comprehension: one `for` each, yet rows**3 = 10**12 steps.
    esc(
        "sum(sum(sum(1 for c in rows) for b in rows) for a in rows)",
        None,
        {"rows": Tripwire([{"qty": 1}] * 10_000)},
        id="comprehension-in-comprehension",
    ),
]


def _attempt(source: str, extra: dict[str, Any]) -> Any:
    expression = compile_expr(source)  # may raise: refused at compile time
    return expression({**benign_ctx(), **extra})  # or refused at evaluation


@pytest.mark.parametrize(("source", "code", "extra"), ESCAPES)
def test_escape_attempt_is_refused_with_a_clear_error(source, code, extra):
    with pytest.raises(ExprError) as info:
        _attempt(source, extra)
    err = info.value
    if code is not None:
        assert err.code == code, err.message("en")
    for lang in ("en", "zh"):
        message = err.message(lang)
        assert message.strip()
        assert message != err.code
        assert "Traceback" not in message
        assert 'File "' not in message


def test_there_are_at_least_thirty_escape_attempts():
    assert len(ESCAPES) >= 30


def test_escape_is_refused_by_evaluate_too():
    with pytest.raises(ExprError):
        evaluate("().__class__.__bases__[0].__subclasses__()", benign_ctx())


def test_compile_refusals_carry_a_column():
    for source in ("x.__class__", "priority.upper()", "lambda: 1", "match(title, pattern_field)"):
        with pytest.raises(ExprError) as info:
            compile_expr(source)
        assert isinstance(info.value.column, int) and info.value.column >= 1


def test_private_name_column_points_at_the_offender():
    with pytest.raises(ExprError) as info:
        compile_expr("x if x else __import__('os')")
    assert info.value.code == "expr.private_name"
    assert info.value.column == 13


# --------------------------------------------------------------------------- harmless, not refused
@pytest.mark.parametrize("source", ["'%s' % x", "'%s!' % priority", "'%(department)s' % user", "'%d' % 2"])
def test_percent_formatting_of_text_is_refused_with_a_hint_to_join(source):
    with pytest.raises(ExprError) as info:
        evaluate(source, benign_ctx())
    assert info.value.code == "expr.text_format"
    assert "+" in info.value.message("en")


def test_numbers_still_have_a_remainder():
    assert evaluate("17 % 5", {}) == 2


@pytest.mark.parametrize(
    ("source", "expected", "names"),
    [
        ("ｆ", None, {"f"}),  # fullwidth f is the name f: a missing field, so None
        ("ｌｅｎ(x)", 5, {"x"}),  # fullwidth len is just the registered len
        ("ｘ == 'hello'", True, {"x"}),
    ],
)
def test_fullwidth_identifiers_are_plain_names(source, expected, names):
    assert evaluate(source, benign_ctx()) == expected
    assert compile_expr(source).names == frozenset(names)


def test_text_up_to_the_limit_is_allowed():
    assert evaluate("len('a' * 100000)", {}) == 100000
    assert evaluate("2 ** 100", {}) == 2**100


def test_huge_context_list_is_fine_for_plain_aggregates():
    # Functions over context data cost one pass: allowed, unlike comprehensions over 10**6 rows.
    big = list(range(10**6))
    assert evaluate("len(big)", {"big": big}) == 10**6
    assert evaluate("999999 in big", {"big": big}) is True


def test_legitimate_comprehension_over_big_sub_table_stays_within_the_tripwire():
    rows = Tripwire([{"qty": 1, "price": 2}] * 10_000)
    assert evaluate("sum(r.qty * r.price for r in rows)", {"rows": rows}) == 20_000
    assert rows.visits == 10_000
