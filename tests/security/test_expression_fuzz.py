"""The expression sandbox under fuzzing (hypothesis): expressions built from the pieces escapes are
made of — dunder attributes, builtins, frames, format strings, lambdas, comprehensions, huge powers —
and plain random text. Whatever comes in, evaluation either answers plain data (text, numbers, dates,
lists and maps of them) or raises ExprError with a message; never another exception, never an object
that opens a way out (a type, function, module, frame), and nothing outside the sandbox is touched.
The hand-picked escape list lives in tests/engine/test_expression_sandbox.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.expressions import ExprError, evaluate
from tests.security.tally import TRIED

PLAIN = (type(None), bool, int, float, Decimal, str, dt.date, dt.datetime, dt.timedelta)
TOUCHED: list[str] = []


class Canary(dict):
    """A context value that records any attribute reach past plain dict access."""

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") and name not in ("__class__", "__len__", "__iter__", "__contains__"):
            TOUCHED.append(name)
        return super().__getattribute__(name)


def ctx() -> dict[str, Any]:
    return {
        "x": "hello",
        "n": 42,
        "items": [{"qty": 2, "price": 3}, {"qty": 1, "price": 5}],
        "user": Canary(id=7, roles=["agent"], name="ann"),
        "now": dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
    }


NAMES = st.sampled_from(
    ["x", "n", "items", "user", "now", "len", "sum", "str", "int", "lower", "if_else", "coalesce",
     "__import__", "eval", "exec", "open", "getattr", "setattr", "globals", "locals", "vars", "type",
     "object", "compile", "breakpoint", "input", "help", "os", "sys", "builtins", "__builtins__",
     "format", "print", "classmethod", "super", "memoryview", "bytes", "bytearray", "dir", "id", "hash"]
)  # fmt: skip
ATTRS = st.sampled_from(
    ["__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__dict__", "__init__",
     "__code__", "__closure__", "__func__", "__self__", "__module__", "__loader__", "__spec__",
     "gi_frame", "f_back", "f_globals", "f_locals", "cr_frame", "tb_frame", "mro", "format",
     "format_map", "upper", "join", "split", "replace", "keys", "values", "items", "get", "pop",
     "update", "append", "clear", "real", "year", "tzinfo", "strftime", "fromisoformat", "id", "roles"]
)  # fmt: skip
LITERALS = st.sampled_from(
    ["1", "0", "-1", "9**9", "10**100", "2**1000000", "'a'", "'{0.__class__}'", "'%s'", "'{}'*9999",
     "[1,2,3]", "{'a': 1}", "None", "True", "1.5e308", "'x'*100000", "()", "[]", "...", "0x7f",
     "b'x'", "f'{n}'", "'\\x00'", "'あ'", "'\\u202e'"]
)  # fmt: skip


OPS = st.sampled_from(
    ["+", "*", "**", "-", "/", "//", "%", "<<", "and", "or", "==", "in", "if True else", ":="]
)


def expressions() -> st.SearchStrategy[str]:
    atom = st.one_of(NAMES, LITERALS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda e, a: f"{e}.{a}", inner, ATTRS),
            st.builds(lambda e, a: f"{e}({a})", inner, st.lists(inner, max_size=3).map(", ".join)),
            st.builds(lambda e, i: f"{e}[{i}]", inner, inner),
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner, OPS, inner),
            st.builds(lambda e: f"lambda: {e}", inner),
            st.builds(lambda e, s: f"[{e} for r in {s}]", inner, inner),
            st.builds(lambda e: f"not {e}", inner),
        )

    return st.recursive(atom, extend, max_leaves=8)


def plain(value: Any, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, list | tuple):
        return all(plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v, depth + 1) for k, v in value.items())
    return False


def check(source: str) -> None:
    TRIED["expression sandbox fuzz inputs"] += 1
    TOUCHED.clear()
    try:
        value = evaluate(source, ctx())
    except ExprError as exc:
        assert exc.message("en") and exc.message("zh")
        return
    assert plain(value), f"{source!r} gave {type(value).__name__}: {value!r}"[:300]
    assert TOUCHED == [], f"{source!r} reached {TOUCHED}"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_built_expressions_answer_plain_data_or_a_clear_error(source: str) -> None:
    check(source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_random_text_answers_plain_data_or_a_clear_error(source: str) -> None:
    check(source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="()[]{}.,:'\"_ax1+*-/%<>=!~^|&@#\\ \n\tlambdfornisy", max_size=80))
def test_punctuation_soup_answers_plain_data_or_a_clear_error(source: str) -> None:
    check(source)
