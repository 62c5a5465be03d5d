"""The one safe expression language of Gongdan: forms, flows and rules all speak it.

An expression is Python-shaped (``priority == 'P1' and category in ('billing', 'quality')``,
``sum(r.qty * r.price for r in items)``), parsed with simpleeval's parser and checked against
a whitelist of node types and functions, then *compiled once* into nested closures: evaluation
never walks the tree again. The sandbox holds because only plain data ever reaches an
expression (dicts, lists, text, numbers, dates), attribute access reads dict keys only, no
name may start with ``_``, and every operation that could grow without bound (power, string
and list repetition, comprehensions, regexes) is capped. There are no loops, no calls of
anything outside the function registry, so evaluation cost is bounded by the expression's
size times its data's size.

Missing values are ``None`` and behave like SQL's NULL where that is kind to users:
arithmetic with ``None`` gives ``None``, ordering comparisons with ``None`` are false,
``sum``/``min``/``max`` skip ``None``.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any

from simpleeval import MAX_COMPREHENSION_LENGTH, MAX_STRING_LENGTH

from engine.errors import GongdanError

Ctx = Mapping[str, Any]
Fn = Callable[[Ctx], Any]

MAX_SOURCE = 2000
MAX_NODES = 300
MAX_DEPTH = 40
MAX_POWER_EXPONENT = 100
MAX_POWER_BASE = 10**6
MAX_LIST = MAX_COMPREHENSION_LENGTH
MAX_TEXT = MAX_STRING_LENGTH
MAX_REGEX_SUBJECT = 10_000
DATE_ATTRS = frozenset({"year", "month", "day", "hour", "minute", "second"})


class ExprError(GongdanError):
    """An expression that cannot be compiled or evaluated; ``column`` points into its text."""

    code = "expr.invalid"
    http_status = 422

    @property
    def column(self) -> int | None:
        return self.params.get("column")


# --------------------------------------------------------------------------- functions
@dataclass(frozen=True)
class Function:
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    returns: str = "any"  # for static type checks: text, number, bool, date, datetime, list, any
    constant_args: tuple[int, ...] = ()  # argument positions that must be literals (regex patterns)


FUNCTIONS: dict[str, Function] = {}


SAME = -1  # max_args default: exactly min_args arguments


def function(name: str, min_args: int, max_args: int | None = SAME, returns: str = "any", **kw: Any):
    """Register ``fn`` as an expression function called ``name`` (``max_args=None``: any number)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(fn, min_args, min_args if max_args == SAME else max_args, returns, **kw)
        return fn

    return deco


def _present(values: Any) -> list[Any]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ExprError("expr.not_a_list", value=type(values).__name__)
    return [v for v in values if v is not None]


def _aggregate(fn: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        items = _present(args[0]) if len(args) == 1 else [a for a in args if a is not None]
        return fn(items) if items else None

    return call


function("len", 1, returns="number")(lambda v: 0 if v is None else len(v))
function("sum", 1, returns="number")(lambda v: _sum(_present(v)))
function("min", 1, None, returns="any")(_aggregate(min))
function("max", 1, None, returns="any")(_aggregate(max))
function("abs", 1, returns="number")(lambda v: None if v is None else abs(v))
function("round", 1, 2, returns="number")(lambda v, n=0: _round(v, n))


def _text(value: Any) -> str | None:
    """A value as text for text functions: text itself, or a scalar; never a whole list."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal | dt.date):
        return str(value)
    raise ExprError("expr.not_text", value=type(value).__name__)


def _number_of(value: Any, kind: type) -> Any:
    if value is None or value == "":
        return None
    number = Decimal(str(value).strip())
    if not number.is_finite() or abs(number) >= 10**18:
        raise ExprError("expr.number_too_big")
    return kind(number)


def _round(value: Any, places: Any = 0) -> Any:
    """Half up, as people round (2.5 → 3), exact for money."""
    if value is None:
        return None
    step = Decimal(1).scaleb(-int(places))
    exact = _decimal(value).quantize(step, rounding=ROUND_HALF_UP)
    if isinstance(value, Decimal):
        return exact
    return int(exact) if int(places) <= 0 else float(exact)


function("lower", 1, returns="text")(lambda s: None if s is None else _text(s).lower())
function("upper", 1, returns="text")(lambda s: None if s is None else _text(s).upper())
function("trim", 1, returns="text")(lambda s: None if s is None else _text(s).strip())
function("str", 1, returns="text")(lambda v: "" if v is None else _bounded_text(_text(v)))
function("int", 1, returns="number")(lambda v: _number_of(v, int))
function("float", 1, returns="number")(lambda v: _number_of(v, float))
function("contains", 2, returns="bool")(lambda hay, needle: _contains(needle, hay))
function("startswith", 2, returns="bool")(
    lambda s, p: s is not None and p is not None and _text(s).startswith(_text(p))
)
function("endswith", 2, returns="bool")(
    lambda s, p: s is not None and p is not None and _text(s).endswith(_text(p))
)
# if_else and coalesce are compiled lazily (see LAZY): only what is needed is evaluated.
function("if_else", 3, returns="any")(lambda cond, a, b: a if cond else b)
function("coalesce", 1, None, returns="any")(lambda *vs: next((v for v in vs if v not in (None, "")), None))
function("any", 1, returns="bool")(lambda v: any(_present(v)))
function("all", 1, returns="bool")(lambda v: all(_present(v)))
function("count", 1, returns="number")(lambda v: len(_present(v)))


def _sum(items: list[Any]) -> Any:
    if any(isinstance(i, Decimal) for i in items):
        return sum((_decimal(i) for i in items), Decimal(0))
    return sum(items)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: A quantified group — ``(a+)+``, ``((a)+)+``, ``(a|a)+`` — is how regexes backtrack
#: exponentially; expressions have no need for one, so any group followed by a quantifier is refused.
_NESTED_QUANTIFIER = re.compile(r"\)\s*(?:[+*]|\{\d*,)")


def check_regex(pattern: str) -> str | None:
    """Why ``pattern`` is not allowed in an expression, or None."""
    if len(pattern) > 200:
        return "pattern longer than 200 characters"
    if _NESTED_QUANTIFIER.search(pattern):
        return "a repeated group such as (a+)+ can take forever; repeat single characters instead"
    try:
        _regex(pattern)
    except re.error as exc:
        return str(exc)
    return None


@function("match", 2, returns="bool", constant_args=(1,))
def _match(text: Any, pattern: str) -> bool:
    if text is None:
        return False
    text = _text(text)
    if len(text) > MAX_REGEX_SUBJECT:
        raise ExprError("expr.too_long", limit=MAX_REGEX_SUBJECT)
    return _regex(pattern).search(text) is not None


def _as_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    return dt.datetime.fromisoformat(text).date() if len(text) > 10 else dt.date.fromisoformat(text)


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


function("date", 1, returns="date")(_as_date)
function("datetime", 1, returns="datetime")(_as_datetime)


@function("days_between", 2, returns="number")
def _days_between(a: Any, b: Any) -> int | None:
    a, b = _as_date(a), _as_date(b)
    return None if a is None or b is None else (b - a).days


@function("hours_between", 2, returns="number")
def _hours_between(a: Any, b: Any) -> float | None:
    a, b = _as_datetime(a), _as_datetime(b)
    return None if a is None or b is None else (b - a).total_seconds() / 3600


@function("add_days", 2, returns="date")
def _add_days(value: Any, days: Any) -> Any:
    if value is None or days is None:
        return None
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(days=float(days))
    return _as_date(value) + dt.timedelta(days=int(days))


@function("add_hours", 2, returns="datetime")
def _add_hours(value: Any, hours: Any) -> dt.datetime | None:
    start = _as_datetime(value)
    return None if start is None or hours is None else start + dt.timedelta(hours=float(hours))


@function("add_business_hours", 2, 3, returns="datetime")
def _add_business_hours(value: Any, hours: Any, calendar_key: Any = "cn_workdays") -> dt.datetime | None:
    """``hours`` working hours after ``value`` on a business calendar (default: cn_workdays)."""
    start = _as_datetime(value)
    if start is None or hours is None:
        return None
    return _calendar(calendar_key).add(start, float(hours))


@function("business_hours_between", 2, 3, returns="number")
def _business_hours_between(a: Any, b: Any, calendar_key: Any = "cn_workdays") -> float | None:
    start, end = _as_datetime(a), _as_datetime(b)
    if start is None or end is None:
        return None
    return round(_calendar(calendar_key).hours_between(start, end), 4)


def _calendar(key: Any) -> Any:
    from engine.calendars import CALENDARS

    found = CALENDARS.get(str(key))
    if found is None:
        raise ExprError("expr.unknown_calendar", name=key, known=", ".join(sorted(CALENDARS)))
    return found


@function("weekday", 1, returns="number")
def _weekday(value: Any) -> int | None:
    """Monday is 1 … Sunday is 7 (ISO)."""
    day = _as_date(value)
    return None if day is None else day.isoweekday()


# --------------------------------------------------------------------------- operators
def _bounded_text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise ExprError("expr.too_long", limit=MAX_TEXT)
    return value


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return _bounded_text(value)
    if isinstance(value, list | tuple) and len(value) > MAX_LIST:
        raise ExprError("expr.too_long", limit=MAX_LIST)
    return value


def _numeric_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Decimal (money) and float do not mix in Python; turn the float into a Decimal."""
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(str(b))
    if isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(str(a)), b
    return a, b


_PLAIN_NUMBERS = (int, float)


def _null_safe(op: Callable[[Any, Any], Any], when_null: Any = None) -> Callable[[Any, Any], Any]:
    """``op`` on two values, money and floats made comparable; ``when_null`` if either is missing."""

    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return when_null
        a, b = _numeric_pair(a, b)
        return op(a, b)

    return apply


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return _null_safe(op)


def _mul(a: Any, b: Any) -> Any:
    if type(a) in _PLAIN_NUMBERS and type(b) in _PLAIN_NUMBERS:
        return a * b
    if a is None or b is None:
        return None
    if isinstance(a, list | tuple | dict) or isinstance(b, list | tuple | dict):
        raise ExprError("expr.list_repeat")  # lists are data, never built by repetition
    if isinstance(a, str) or isinstance(b, str):
        text, times = (a, b) if isinstance(a, str) else (b, a)
        if isinstance(times, int) and len(text) * max(times, 0) > MAX_TEXT:
            raise ExprError("expr.too_long", limit=MAX_TEXT)
    a, b = _numeric_pair(a, b)
    return a * b


def _pow(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if abs(b) > MAX_POWER_EXPONENT or abs(a) > MAX_POWER_BASE:
        raise ExprError("expr.power_too_big", limit=MAX_POWER_EXPONENT)
    a, b = _numeric_pair(a, b)
    result = a**b
    if isinstance(result, complex):
        raise ExprError("expr.runtime", source="**", detail="the result is not a real number")
    return result


def _add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numeric_pair(a, b)
    return _bounded(a + b)


def _divisor(b: Any) -> Any:
    if b == 0:
        raise ExprError("expr.division_by_zero")
    return b


def _div(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return _null_safe(lambda a, b: op(a, _divisor(b)))


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):  # '%s' % x formatting can build unbounded text
        raise ExprError("expr.text_format")
    return a % b


BIN_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _arith(operator.sub),
    ast.Mult: _mul,
    ast.Div: _div(operator.truediv),
    ast.FloorDiv: _div(operator.floordiv),
    ast.Mod: _div(_mod),
    ast.Pow: _pow,
}


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return _null_safe(op, when_null=False)


def _contains(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(b, str):
        return _text(a) in b
    if isinstance(a, Decimal) and isinstance(b, list | tuple):
        return any(_eq(a, item) for item in b)
    return a in b


def _eq(a: Any, b: Any) -> bool:
    if type(a) is Decimal or type(b) is Decimal:
        a, b = _numeric_pair(a, b)
    return a == b


CMP_OPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: _eq,
    ast.NotEq: lambda a, b: not _eq(a, b),
    ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le),
    ast.Gt: _ordered(operator.gt),
    ast.GtE: _ordered(operator.ge),
    ast.Is: operator.is_,  # `x is None`, `flag is True`
    ast.IsNot: operator.is_not,
    ast.In: _contains,
    ast.NotIn: lambda a, b: not _contains(a, b),
}

UNARY_OPS: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: lambda v: None if v is None else -v,
    ast.UAdd: lambda v: None if v is None else +v,
}


class _Scope:
    """The context seen inside a comprehension: the loop variable, then the outer context."""

    __slots__ = ("name", "outer", "value")

    def __init__(self, outer: Ctx, name: str, value: Any):
        self.outer, self.name, self.value = outer, name, value

    def get(self, key: str, default: Any = None) -> Any:
        return self.value if key == self.name else self.outer.get(key, default)


def _attr(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, dt.date) and name in DATE_ATTRS:
        return getattr(value, name, None)
    raise ExprError("expr.no_attribute", attribute=name, value=type(value).__name__)


def _index(value: Any, key: Any) -> Any:
    if value is None or key is None:
        return None
    if isinstance(value, Mapping):
        if isinstance(key, str) and key.startswith("_"):
            raise ExprError("expr.private_name", name=key)
        return value.get(key)
    if isinstance(value, list | tuple | str) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if -len(value) <= key < len(value) else None
    raise ExprError("expr.bad_index", value=type(value).__name__)


# --------------------------------------------------------------------------- compiler
@dataclass(frozen=True)
class Expression:
    """A compiled expression: call it with a context mapping to evaluate."""

    source: str
    names: frozenset[str]  # free names it reads (fields, old, user, now, …)
    fn: Fn = field(repr=False, compare=False)

    def __call__(self, ctx: Ctx) -> Any:
        try:
            return self.fn(ctx)
        except ExprError:
            raise
        except (TypeError, ValueError, ArithmeticError, OverflowError, LookupError) as exc:
            raise ExprError("expr.runtime", source=self.source, detail=str(exc)[:200]) from None


def _column(source: str, node: ast.AST, lead: int = 0) -> int:
    """1-based character column of ``node`` in the text as written (ast gives UTF-8 byte offsets
    into the stripped text; ``lead`` is how much leading blank space was stripped)."""
    offset = getattr(node, "col_offset", 0) or 0
    line = source.splitlines()[max(getattr(node, "lineno", 1) - 1, 0)] if source else ""
    return len(line.encode("utf-8")[:offset].decode("utf-8", "replace")) + 1 + lead


class _Compiler:
    def __init__(self, source: str, lead: int = 0):
        self.source = source
        self.lead = lead
        self.names: set[str] = set()
        self.bound: list[str] = []

    def fail(self, node: ast.AST, code: str, **params: Any) -> ExprError:
        return ExprError(code, source=self.source, column=_column(self.source, node, self.lead), **params)

    def compile(self, node: ast.AST) -> Fn:
        handler = COMPILERS.get(type(node))
        if handler is None:
            raise self.fail(node, "expr.not_allowed", construct=type(node).__name__)
        return handler(self, node)


def _c_constant(c: _Compiler, node: ast.Constant) -> Fn:
    value = node.value
    if not isinstance(value, str | int | float | bool | type(None)):
        raise c.fail(node, "expr.not_allowed", construct=type(value).__name__)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise c.fail(node, "expr.too_long", limit=MAX_TEXT)
    return lambda ctx: value


JSON_NAMES = {"true": True, "false": False, "null": None}


def _check_name(c: _Compiler, node: ast.AST, name: str) -> None:
    if name.startswith("_"):
        raise c.fail(node, "expr.private_name", name=name)


def _c_name(c: _Compiler, node: ast.Name) -> Fn:
    name = node.id
    _check_name(c, node, name)
    if name in JSON_NAMES:  # the JSON spellings, for people who write JSON
        value = JSON_NAMES[name]
        return lambda ctx: value
    if name not in c.bound:
        c.names.add(name)
    return lambda ctx: ctx.get(name)


def _c_attribute(c: _Compiler, node: ast.Attribute) -> Fn:
    _check_name(c, node, node.attr)
    if isinstance(node.value, ast.Name) and node.value.id not in c.bound:
        c.names.add(node.value.id)
    target = c.compile(node.value)
    attr = node.attr

    def get(ctx: Ctx) -> Any:
        value = target(ctx)
        return value.get(attr) if type(value) is dict else _attr(value, attr)  # dicts: the common case

    return get


def _c_subscript(c: _Compiler, node: ast.Subscript) -> Fn:
    if isinstance(node.slice, ast.Slice):
        raise c.fail(node, "expr.not_allowed", construct="slice")
    target, key = c.compile(node.value), c.compile(node.slice)
    return lambda ctx: _index(target(ctx), key(ctx))


def _c_binop(c: _Compiler, node: ast.BinOp) -> Fn:
    op = BIN_OPS.get(type(node.op))
    if op is None:
        raise c.fail(node, "expr.not_allowed", construct=type(node.op).__name__)
    left, right = c.compile(node.left), c.compile(node.right)
    return lambda ctx: op(left(ctx), right(ctx))


def _c_unary(c: _Compiler, node: ast.UnaryOp) -> Fn:
    op = UNARY_OPS.get(type(node.op))
    if op is None:
        raise c.fail(node, "expr.not_allowed", construct=type(node.op).__name__)
    operand = c.compile(node.operand)
    return lambda ctx: op(operand(ctx))


def _c_boolop(c: _Compiler, node: ast.BoolOp) -> Fn:
    parts = [c.compile(v) for v in node.values]
    if isinstance(node.op, ast.And):
        if len(parts) == 2:
            a, b = parts
            return lambda ctx: a(ctx) and b(ctx)

        def all_of(ctx: Ctx) -> Any:
            value: Any = True
            for p in parts:
                value = p(ctx)
                if not value:
                    return value
            return value

        return all_of
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) or b(ctx)

    def any_of(ctx: Ctx) -> Any:
        value: Any = False
        for p in parts:
            value = p(ctx)
            if value:
                return value
        return value

    return any_of


def _c_compare(c: _Compiler, node: ast.Compare) -> Fn:
    ops = [CMP_OPS.get(type(op)) for op in node.ops]
    if None in ops:
        bad = next(op for op in node.ops if type(op) not in CMP_OPS)
        raise c.fail(node, "expr.not_allowed", construct=type(bad).__name__)
    left = node.left
    if len(ops) == 1:
        op = ops[0]
        right = node.comparators[0]
        lf, rf = c.compile(left), c.compile(right)
        constant_right = isinstance(right, ast.Constant) or (
            isinstance(right, ast.Tuple | ast.List | ast.Set)
            and all(isinstance(e, ast.Constant) for e in right.elts)
        )
        # The common shapes — a field against a literal — get one closure instead of three.
        if (
            isinstance(left, ast.Name)
            and left.id not in c.bound
            and left.id not in JSON_NAMES
            and constant_right
        ):
            key, constant = left.id, rf({})
            if op is _contains or isinstance(node.ops[0], ast.NotIn):
                members = _membership_set(constant) if not isinstance(constant, str) else None
                if members is not None:
                    if op is _contains:
                        return lambda ctx: (v := ctx.get(key)) is not None and _hashable(v) and v in members
                    return lambda ctx: not ((v := ctx.get(key)) is not None and _hashable(v) and v in members)
            elif not isinstance(constant, float) and isinstance(node.ops[0], ast.Eq | ast.NotEq):
                # Against a non-float literal, Python's == is already exact (Decimal("2") == 2).
                if isinstance(node.ops[0], ast.Eq):
                    return lambda ctx: ctx.get(key) == constant
                return lambda ctx: ctx.get(key) != constant
            return lambda ctx: op(ctx.get(key), constant)
        return lambda ctx: op(lf(ctx), rf(ctx))
    fns = [c.compile(left), *(c.compile(x) for x in node.comparators)]

    def chain(ctx: Ctx) -> bool:
        a = fns[0](ctx)
        for op, fn in zip(ops, fns[1:], strict=True):
            b = fn(ctx)
            if not op(a, b):
                return False
            a = b
        return True

    return chain


def _hashable(value: Any) -> bool:
    return not isinstance(value, list | dict)


def _c_ifexp(c: _Compiler, node: ast.IfExp) -> Fn:
    test, body, orelse = c.compile(node.test), c.compile(node.body), c.compile(node.orelse)
    return lambda ctx: body(ctx) if test(ctx) else orelse(ctx)


def _c_sequence(c: _Compiler, node: ast.Tuple | ast.List | ast.Set) -> Fn:
    if len(node.elts) > MAX_LIST:
        raise c.fail(node, "expr.too_long", limit=MAX_LIST)
    items = [c.compile(e) for e in node.elts]
    # A set literal's value is a list of its distinct items in order: every value an expression
    # gives is plain data (a field, a rule's set action, JSON), and ``x in {…}`` works the same.
    kind: Callable[[Any], Any] = {ast.Tuple: tuple, ast.List: list, ast.Set: _distinct}[type(node)]
    if all(isinstance(e, ast.Constant) for e in node.elts):
        constant = kind(i({}) for i in items)
        return lambda ctx: constant
    return lambda ctx: kind(i(ctx) for i in items)


def _distinct(items: Any) -> list[Any]:
    return list(dict.fromkeys(items))


def _membership_set(values: Any) -> frozenset[Any] | None:
    """Constant options for a one-step ``in`` test; floats also match equal money (Decimal)."""
    try:
        members = set(values)
    except TypeError:
        return None
    members |= {Decimal(str(v)) for v in values if isinstance(v, float)}
    return frozenset(members)


def _c_call(c: _Compiler, node: ast.Call) -> Fn:
    if not isinstance(node.func, ast.Name):
        raise c.fail(node, "expr.method_call")
    name = node.func.id
    _check_name(c, node, name)
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise c.fail(node, "expr.unknown_function", name=name, known=", ".join(sorted(FUNCTIONS)))
    if node.keywords:
        raise c.fail(node, "expr.not_allowed", construct="keyword argument")
    n = len(node.args)
    if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
        raise c.fail(node, "expr.arg_count", name=name, count=n)
    for position in spec.constant_args:
        arg = node.args[position]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise c.fail(arg, "expr.constant_pattern", name=name)
        reason = check_regex(arg.value)
        if reason:
            raise c.fail(arg, "expr.bad_regex", reason=reason)
    args = [c.compile(a) for a in node.args]
    if name in LAZY:
        return LAZY[name](args)
    fn = spec.fn
    if len(args) == 1:
        (a,) = args
        return lambda ctx: fn(a(ctx))
    if len(args) == 2:
        a, b = args
        return lambda ctx: fn(a(ctx), b(ctx))
    return lambda ctx: fn(*(a(ctx) for a in args))


def _lazy_if_else(args: list[Fn]) -> Fn:
    test, then, otherwise = args
    return lambda ctx: then(ctx) if test(ctx) else otherwise(ctx)


def _lazy_coalesce(args: list[Fn]) -> Fn:
    def first(ctx: Ctx) -> Any:
        for arg in args:
            value = arg(ctx)
            if value is not None and value != "":
                return value
        return None

    return first


#: Functions whose arguments are evaluated only as far as needed (a branch not taken may divide by 0).
LAZY: dict[str, Callable[[list[Fn]], Fn]] = {"if_else": _lazy_if_else, "coalesce": _lazy_coalesce}


def _c_comprehension(c: _Compiler, node: ast.GeneratorExp | ast.ListComp) -> Fn:
    if len(node.generators) != 1 or c.bound:  # one loop, never a loop inside a loop: cost stays linear
        raise c.fail(node, "expr.one_loop")
    gen = node.generators[0]
    if not isinstance(gen.target, ast.Name) or gen.is_async:
        raise c.fail(gen.target, "expr.not_allowed", construct="loop target")
    var = gen.target.id
    _check_name(c, gen.target, var)
    source = c.compile(gen.iter)
    c.bound.append(var)
    try:
        conditions = [c.compile(cond) for cond in gen.ifs]
        element = c.compile(node.elt)
    finally:
        c.bound.pop()

    def run(ctx: Ctx) -> list[Any]:
        rows = source(ctx)
        if rows is None:
            return []
        if not isinstance(rows, list | tuple):
            raise ExprError("expr.not_a_list", value=type(rows).__name__)
        if len(rows) > MAX_LIST:
            raise ExprError("expr.too_long", limit=MAX_LIST)
        out = []
        for row in rows:
            scope = _Scope(ctx, var, row)
            if all(cond(scope) for cond in conditions):
                out.append(element(scope))
        return out

    return run


COMPILERS: dict[type, Callable[[_Compiler, Any], Fn]] = {
    ast.Constant: _c_constant,
    ast.Name: _c_name,
    ast.Attribute: _c_attribute,
    ast.Subscript: _c_subscript,
    ast.BinOp: _c_binop,
    ast.UnaryOp: _c_unary,
    ast.BoolOp: _c_boolop,
    ast.Compare: _c_compare,
    ast.IfExp: _c_ifexp,
    ast.Tuple: _c_sequence,
    ast.List: _c_sequence,
    ast.Set: _c_sequence,
    ast.Call: _c_call,
    ast.GeneratorExp: _c_comprehension,
    ast.ListComp: _c_comprehension,
}


def parse(source: str) -> tuple[ast.AST, str, int]:
    """simpleeval's parser (ast.parse), with limits on size and nesting checked before and after.

    Returns the tree, the stripped text it was parsed from, and how many leading blanks were cut.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExprError("expr.empty", source=source, column=1)
    if len(source) > MAX_SOURCE:
        raise ExprError("expr.too_long", source=source[:40] + "…", column=MAX_SOURCE, limit=MAX_SOURCE)
    if source.count("(") + source.count("[") > MAX_DEPTH * 2:
        raise ExprError("expr.too_deep", source=source[:40] + "…", column=1, limit=MAX_DEPTH)
    text = source.strip()
    lead = len(source) - len(source.lstrip())
    try:
        # mode="eval" also refuses statements, assignments and `a; b`.
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        column = (exc.offset or 0) if 0 < (exc.offset or 0) <= len(text) else len(text) + 1
        raise ExprError("expr.syntax", source=source, column=column + lead, detail=exc.msg) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExprError("expr.too_deep", source=source[:40] + "…", column=1, limit=MAX_DEPTH) from exc
    _check_shape(text, tree, lead)
    return tree, text, lead


def _check_shape(source: str, tree: ast.AST, lead: int) -> None:
    count = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise ExprError(
                "expr.too_deep", source=source, column=_column(source, node, lead), limit=MAX_DEPTH
            )
        if count > MAX_NODES:
            raise ExprError("expr.too_big", source=source, column=1 + lead, limit=MAX_NODES)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


@lru_cache(maxsize=4096)
def compile_expr(source: str) -> Expression:
    """Compile ``source`` once (cached by its text); raises ExprError with the column on bad input."""
    tree, text, lead = parse(source)
    compiler = _Compiler(text, lead)
    fn = compiler.compile(tree)
    return Expression(source, frozenset(compiler.names), fn)


def evaluate(source: str, ctx: Ctx) -> Any:
    return compile_expr(source)(ctx)


# --------------------------------------------------------------------------- static checks
#: Types the checker knows, as far as they can be seen without running anything.
TEXT, NUMBER, BOOL, DATE, LIST, ANY = "text", "number", "bool", "date", "list", "any"


@dataclass(frozen=True)
class NameInfo:
    """What the checker knows of a name: its type, its attributes, its allowed values."""

    type: str = ANY
    attrs: Mapping[str, NameInfo] | None = None  # None: any attribute allowed
    options: frozenset[Any] | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    column: int
    params: dict[str, Any]


def check_expression(source: str, names: Mapping[str, NameInfo], want: str | None = None) -> list[Finding]:
    """Static problems of ``source`` against the names it may use (empty list: fine)."""
    try:
        compile_expr(source)
        tree, text, lead = parse(source)
    except ExprError as exc:
        return [Finding(exc.code, exc.params.get("column") or 1, dict(exc.params))]
    checker = _Checker(text, names, lead)
    kind = checker.visit(tree)
    # A filled-in text or list is a fine condition ("fix_version"); arithmetic is a slip.
    if want == BOOL and kind == NUMBER and isinstance(tree, ast.BinOp) and not checker.findings:
        checker.findings.append(Finding("expr.not_a_condition", 1 + lead, {"type": kind}))
    return checker.findings


class _Checker:
    def __init__(self, source: str, names: Mapping[str, NameInfo], lead: int = 0):
        self.source = source
        self.lead = lead
        self.names = dict(names)
        self.findings: list[Finding] = []

    def add(self, node: ast.AST, code: str, **params: Any) -> None:
        self.findings.append(Finding(code, _column(self.source, node, self.lead), params))

    def info(self, node: ast.AST) -> NameInfo | None:
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self.info(node.value)
            if parent is not None and parent.attrs is not None:
                return parent.attrs.get(node.attr)
        return None

    def visit(self, node: ast.AST) -> str:
        handler = getattr(self, "v_" + type(node).__name__, None)
        if handler is not None:
            return handler(node)
        for child in ast.iter_child_nodes(node):
            self.visit(child)
        return ANY

    def v_Constant(self, node: ast.Constant) -> str:
        if isinstance(node.value, bool):
            return BOOL
        if isinstance(node.value, int | float):
            return NUMBER
        return TEXT if isinstance(node.value, str) else ANY

    def v_Name(self, node: ast.Name) -> str:
        if node.id in ("true", "false"):
            return BOOL
        if node.id == "null":
            return ANY
        info = self.names.get(node.id)
        if info is None:
            known = ", ".join(sorted(self.names)[:30])
            self.add(node, "expr.unknown_name", name=node.id, known=known)
            return ANY
        return info.type

    def v_Attribute(self, node: ast.Attribute) -> str:
        self.visit(node.value)
        parent = self.info(node.value)
        if parent is not None and parent.attrs is not None:
            info = parent.attrs.get(node.attr)
            if info is None:
                self.add(
                    node, "expr.unknown_attribute", name=node.attr, known=", ".join(sorted(parent.attrs))
                )
                return ANY
            return info.type
        return ANY

    def v_Call(self, node: ast.Call) -> str:
        for arg in node.args:
            self.visit(arg)
        spec = FUNCTIONS.get(node.func.id) if isinstance(node.func, ast.Name) else None
        return spec.returns if spec else ANY

    def v_GeneratorExp(self, node: ast.GeneratorExp | ast.ListComp) -> str:
        gen = node.generators[0]
        self.visit(gen.iter)
        outer = self.names.get(gen.target.id) if isinstance(gen.target, ast.Name) else None
        row = self.info(gen.iter)
        self.names[gen.target.id] = NameInfo(ANY, row.attrs if row else None)
        for cond in gen.ifs:
            self.visit(cond)
        self.visit(node.elt)
        if outer is None:
            self.names.pop(gen.target.id, None)
        else:
            self.names[gen.target.id] = outer
        return LIST

    v_ListComp = v_GeneratorExp

    def v_BoolOp(self, node: ast.BoolOp) -> str:
        for v in node.values:
            self.visit(v)
        return BOOL

    def v_UnaryOp(self, node: ast.UnaryOp) -> str:
        kind = self.visit(node.operand)
        return BOOL if isinstance(node.op, ast.Not) else kind

    def v_BinOp(self, node: ast.BinOp) -> str:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Add) and {left, right} == {TEXT, NUMBER}:
            self.add(node, "expr.type_mismatch", left=left, right=right)
        if isinstance(node.op, ast.Sub | ast.Div | ast.FloorDiv | ast.Pow) and TEXT in (left, right):
            self.add(node, "expr.type_mismatch", left=left, right=right)
        return NUMBER if left == right == NUMBER else ANY

    def v_Compare(self, node: ast.Compare) -> str:
        items = [node.left, *node.comparators]
        kinds = [self.visit(x) for x in items]
        for op, (a, b), (ka, kb) in zip(node.ops, pairwise(items), pairwise(kinds), strict=False):
            if isinstance(op, ast.In | ast.NotIn):
                self._check_options(a, b)
                continue
            if {ka, kb} == {TEXT, NUMBER} or ({ka, kb} == {TEXT, BOOL}):
                self.add(node, "expr.type_mismatch", left=ka, right=kb)
            self._check_options(a, b)
            self._check_options(b, a)
        return BOOL

    def _check_options(self, named: ast.AST, value: ast.AST) -> None:
        """``priority == 'P9'`` when priority offers P1–P3 can never be true: say so."""
        info = self.info(named)
        if info is None or not info.options:
            return
        values: list[ast.AST] = (
            list(value.elts) if isinstance(value, ast.Tuple | ast.List | ast.Set) else [value]
        )
        for v in values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value not in info.options:
                self.add(
                    v, "expr.not_an_option", value=v.value, options=", ".join(sorted(map(str, info.options)))
                )


__all__: Sequence[str] = [
    "FUNCTIONS",
    "ExprError",
    "Expression",
    "Finding",
    "NameInfo",
    "check_expression",
    "compile_expr",
    "evaluate",
    "function",
]
