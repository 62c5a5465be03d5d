"""Property: a form's compiled fast path (engine/forms/fast.py) cleans exactly like the generic path.

Each form is loaded like any app (the benchmark's 30-field ticket, every ticket type of the shipped
apps, and the one-field forms of the JSON Schema property test); hypothesis sends it documents that
are mostly valid, with random breakage: wrong types, missing required fields, values off the option
list, empty values, unknown, read-only and computed keys, bad sub-table rows, shuffled keys and
conditions that flip. Every document is cleaned twice, with the fast path and with
``engine.forms.spec.FAST_PATH`` off; the cleaned records (values, their types and key order) or the
problems (paths, codes, parameters, order) must be the same.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import engine.forms.spec as form_spec
from benchmarks.ticket30 import make_invalid, make_valid
from engine.definitions.loader import load_definition
from engine.definitions.model import FieldDef
from engine.errors import FormError, Problem
from engine.files import MIB
from engine.forms.fast import compile_fast
from engine.forms.fields import TEXT_PATTERNS, Invalid, option_values, text_rules
from engine.forms.spec import Env, FormSpec, is_empty
from engine.specs import compile_app
from tests.engine.forms.test_describe_property import (
    DATETIMES,
    EMPTY,
    FORMS,
    JSON,
    described,
    padded,
    value_of,
)
from tests.engine.forms.test_field_types import one_field_form

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 3, 4, 9, 30, tzinfo=dt.UTC)


class Form:
    """A compiled form with what the strategies need: its field definitions and option sets."""

    def __init__(
        self, name: str, spec: FormSpec, fields: tuple[FieldDef, ...], option_sets: Mapping[str, Any]
    ):
        self.name = name
        self.spec = spec
        self.fields = fields
        self.ctx = {"option_sets": option_sets}


@functools.cache
def app_forms(path: Path) -> dict[str, Form]:
    app = load_definition(path).app
    compiled = compile_app(app)
    return {
        f"{path.stem}.{key}": Form(
            f"{path.stem}.{key}", compiled.types[key].form, tt.form.fields, app.option_sets
        )
        for key, tt in app.ticket_types.items()
    }


SHIPPED = sorted((ROOT / "app_definitions").glob("*.yaml"))
BENCH30 = ROOT / "benchmarks" / "bench30.yaml"


@functools.cache
def all_forms() -> dict[str, Form]:
    forms: dict[str, Form] = {}
    for path in [BENCH30, *SHIPPED]:
        forms.update(app_forms(path))
    return forms


def form_names() -> list[str]:
    return sorted(all_forms())


# --------------------------------------------------------------------------- outcomes
def canon(value: Any) -> Any:
    """``value`` with every type and key order spelled out (1, 1.0, True and "1" all differ)."""
    if isinstance(value, Mapping):
        return (type(value).__name__, [(canon(k), canon(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [canon(v) for v in value])
    if isinstance(value, Problem):
        return ("Problem", value.path, value.code, canon(value.params), value.line, value.column)
    return (type(value).__name__, repr(value))


def outcome(spec: FormSpec, doc: Any, fast: bool, **kw: Any) -> tuple[Any, ...]:
    before = canon(doc)
    form_spec.FAST_PATH = fast
    try:
        out = spec.validate(doc, **kw)
    except FormError as exc:
        result: tuple[Any, ...] = ("refused", canon(exc.problems), canon(exc.params))
    except Exception as exc:  # the same crash, if any, on both paths
        result = ("raised", type(exc).__name__, str(exc))
    else:
        result = ("clean", canon(out))
    finally:
        form_spec.FAST_PATH = True
    assert canon(doc) == before, "cleaning changed the submitted document"
    return result


def assert_same(spec: FormSpec, doc: Any, **kw: Any) -> None:
    fast = outcome(spec, doc, True, **kw)
    generic = outcome(spec, doc, False, **kw)
    assert fast == generic, f"fast path and generic path differ for {doc!r} ({kw})"


def check(spec: FormSpec, doc: Any, **kw: Any) -> None:
    """``assert_same``; and where the compiled function is not sure, what it hands to the generic path
    for a submitted field is exactly what that field's cleaner makes of the value. Counts (shown by
    ``--hypothesis-show-statistics``) how often the compiled function decides."""
    assert_same(spec, doc, **kw)
    if type(doc) is not dict or kw.get("partial") or kw.get("current"):
        return
    handed: dict[str, Any] = {}
    took = spec.body.fast(copy.deepcopy(doc), kw.get("env"), kw.get("locked"), handed)  # type: ignore[misc]
    event("clean, by the compiled function" if took is not None else "not sure: the generic path decided")
    cleaners = spec.body.cleaners  # type: ignore[attr-defined]
    for key in handed.keys() & doc.keys() & cleaners.keys():
        value = copy.deepcopy(doc[key])
        try:
            expected = None if is_empty(value) else cleaners[key](value)
        except Invalid:
            pytest.fail(f"{key}: {doc[key]!r} is refused by its cleaner, yet handed over as {handed[key]!r}")
        assert canon(handed[key]) == canon(expected), key


# --------------------------------------------------------------------------- strategies
def _number(f: FieldDef, whole: bool) -> st.SearchStrategy[Any]:
    lo = -1000 if f.get("min") is None else f.get("min")
    hi = 100_000 if f.get("max") is None else f.get("max")
    ints = st.integers(math.ceil(lo), math.floor(hi))
    if whole:
        return ints
    floats = st.floats(lo, hi)
    return ints | floats | floats.map(lambda x: round(x, 2))


def _money(f: FieldDef) -> st.SearchStrategy[Any]:
    places = f.get("precision", 2)
    lo = -1000 if f.get("min") is None else f.get("min")
    hi = 100_000 if f.get("max") is None else f.get("max")
    amounts = st.decimals(lo, hi, places=places, allow_nan=False, allow_infinity=False)
    return amounts.map(str) | amounts.map(float) | st.integers(math.ceil(lo), math.floor(hi))


def _text(f: FieldDef) -> st.SearchStrategy[Any]:
    lo, hi, rx, _strip = text_rules(f, TEXT_PATTERNS[f.type][0] if f.type in TEXT_PATTERNS else None)
    if f.type == "email" and not f.get("pattern"):
        return padded(st.from_regex(r"[a-z0-9.]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True))
    if f.type == "url" and not f.get("pattern"):
        return padded(st.from_regex(r"https?://[a-z]{1,8}\.[a-z]{2,3}(/[a-z]{0,5})?", fullmatch=True))
    if rx is not None:
        return st.from_regex(rx, fullmatch=True).filter(lambda s: (lo or 0) <= len(s) <= hi)
    return st.text(alphabet="abcxyz 工单\n", min_size=max(lo or 0, 1), max_size=min(hi, (lo or 0) + 12))


def _choices(f: FieldDef, form: Form) -> list[Any]:
    return [o.get("value") if isinstance(o, Mapping) else o for o in option_values(f, form.ctx)]


def _paths(f: FieldDef, form: Form) -> st.SearchStrategy[Any]:
    paths: list[list[Any]] = []

    def walk(level: Any, above: list[Any]) -> None:
        for o in level:
            value = o.get("value") if isinstance(o, Mapping) else o
            paths.append([*above, value])
            if isinstance(o, Mapping):
                walk(o.get("children") or [], [*above, value])

    walk(option_values(f, form.ctx), [])
    path = st.sampled_from(paths or [["none"]])
    return path | path.map(lambda p: "/".join(map(str, p)))


FILES = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
        "name": st.text(min_size=1, max_size=10),
        "size": st.integers(0, MIB),
        "mime": st.sampled_from(["image/png", "image/jpeg", "application/pdf", "text/plain"]),
    }
)


def good(f: FieldDef, form: Form) -> st.SearchStrategy[Any]:
    """Values of the field's type within its limits (a few are still refused: options, files)."""
    t = f.type
    if t in ("text", "textarea", "email", "url"):
        return _text(f)
    if t == "richtext":
        return st.sampled_from(["<p>hi</p>", "plain", "<b>x</b><script>y</script>"])
    if t == "phone":
        return st.sampled_from(
            ["13800138000", "+49 30 1234567", "010-12345678", "+8613800138000", " 138 0013 8000"]
        )
    if t == "number":
        return _number(f, f.get("precision") == 0)
    if t == "money":
        return _money(f)
    if t == "rating":
        return st.integers(0, f.get("max") or 5)
    if t == "date":
        return st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1)).map(dt.date.isoformat)
    if t == "datetime":
        return DATETIMES.filter(lambda d: d.tzinfo is not None).map(dt.datetime.isoformat)
    if t == "checkbox":
        return st.booleans()
    if t in ("select", "radio"):
        return st.sampled_from(_choices(f, form) or ["none"])
    if t == "multiselect":
        return st.lists(st.sampled_from(_choices(f, form) or ["none"]), min_size=1, max_size=3, unique=True)
    if t == "cascade":
        return _paths(f, form)
    if t in ("user", "department", "link"):
        one = st.integers(1, 10**6)
        return st.lists(one, min_size=1, max_size=3) if f.get("multiple") else one
    if t in ("attachment", "image"):
        return st.lists(FILES, min_size=1, max_size=2 if f.get("multiple") else 1)
    if t == "subtable":
        lo, hi = f.get("min_rows") or 0, f.get("max_rows") or 5
        full = st.fixed_dictionaries({sub.key: good(sub, form) for sub in f.fields})
        some = st.fixed_dictionaries(
            {sub.key: good(sub, form) for sub in f.fields if sub.required},
            optional={sub.key: good(sub, form) for sub in f.fields if not sub.required},
        )
        return st.lists(full | some, min_size=max(lo, 1), max_size=min(hi, lo + 4))
    return JSON  # computed: never typed in


def bad(f: FieldDef) -> st.SearchStrategy[Any]:
    """Empty, of another type, or odd for the field's type (the JSON Schema test's strategies)."""
    odd = st.sampled_from(["zz", " ", -1, 10**16, True, 1.5, "2025-02-30", [None], {}, 2.5, "x" * 1001])
    return EMPTY | JSON | odd | value_of(f)


def typed_in(f: FieldDef) -> bool:
    return not (f.type in ("formula", "autonumber") or f.get("readonly"))


@st.composite
def documents(draw: st.DrawFn, form: Form) -> Any:
    """A valid submission (required fields, some others), then none to three things broken."""
    doc: dict[str, Any] = {}
    for f in form.fields:
        if typed_in(f) and (f.get("required") or draw(st.booleans())):
            doc[f.key] = draw(good(f, form))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3]))):
        f = draw(st.sampled_from(form.fields))
        how = draw(st.sampled_from(["bad", "bad", "drop", "unknown", "row"]))
        if how == "bad":
            doc[f.key] = draw(bad(f))
        elif how == "drop":
            doc.pop(f.key, None)
        elif how == "unknown":
            doc[draw(st.sampled_from(["unknown", "Title", "x" * 41, "_x"]))] = draw(JSON)
        elif f.type == "subtable" and isinstance(doc.get(f.key), list) and doc[f.key]:
            rows = doc[f.key] = list(doc[f.key])
            i = draw(st.integers(0, len(rows) - 1))
            sub = draw(st.sampled_from(f.fields))
            if isinstance(rows[i], dict) and draw(st.booleans()):
                rows[i] = {**rows[i], sub.key: draw(bad(sub))}
            else:
                rows[i] = draw(JSON)
    if draw(st.integers(0, 4)) == 0:  # keys in another order than the form's
        keys = draw(st.permutations(list(doc)))
        doc = {k: doc[k] for k in keys}
    return doc


def environments(spec: FormSpec) -> st.SearchStrategy[Env | None]:
    """Who acts; None only where no expression reads the clock (it would differ between the calls)."""
    envs = [Env(now=NOW), Env(user={"id": 7, "department": 3, "name": "Li"}, now=NOW, ticket={"id": 1})]
    reads_clock = bool({"now", "today"} & spec.body.expr_names)  # type: ignore[attr-defined]
    return st.sampled_from(envs if reads_clock else [None, *envs])


def locks(form: Form) -> st.SearchStrategy[Any]:
    keys = [f.key for f in form.fields]
    return st.none() | st.just({}) | st.sampled_from(keys).map(lambda k: {k: "readonly"})


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- the properties
@pytest.mark.parametrize("name", form_names())
@SETTINGS
@given(data=st.data())
def test_fast_path_cleans_like_the_generic_path(name, data):
    form = all_forms()[name]
    doc = data.draw(documents(form), label="document")
    env = data.draw(environments(form.spec), label="env")
    locked = data.draw(locks(form), label="locked")
    check(form.spec, doc, env=env, locked=locked)


@pytest.mark.parametrize("name", form_names())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_updates_and_odd_submissions_agree_too(name, data):
    """Updates (partial, or over a stored record) and non-objects take the generic path on both sides."""
    form = all_forms()[name]
    doc = data.draw(documents(form) | JSON, label="document")
    current = data.draw(st.sampled_from([None, {}]) | documents(form), label="current")
    partial = data.draw(st.booleans(), label="partial")
    check(form.spec, doc, env=Env(now=NOW), current=current, partial=partial)


@pytest.mark.parametrize("name", sorted(FORMS))
@SETTINGS
@given(data=st.data())
def test_fast_path_agrees_for_every_field_type(name, data):
    one = described(name)
    form = Form(name, one.spec, one.fields, {"levels": [{"value": "high"}, "low", "7"]})
    doc = data.draw(documents(form) | one.documents, label="document")
    check(form.spec, doc, env=Env(now=NOW))


@SETTINGS
@given(seed=st.integers(0, 2**32), broken=st.booleans(), billable=st.sampled_from([None, True, False]))
def test_fast_path_agrees_on_the_benchmark_documents(seed, broken, billable):
    rng = random.Random(seed)
    doc = make_invalid(rng) if broken else make_valid(rng)
    if billable is not None:
        doc["is_billable"] = billable
        if billable and rng.random() < 0.5:
            doc.pop("amount", None)  # required_if holds, and currency is hidden
    check(all_forms()["bench30.ticket"].spec, doc)


BOUNDS = st.none() | st.integers(-1000, 1000) | st.floats(-1000, 1000).map(lambda x: round(x, 3))
AMOUNTS = (
    st.floats(-2000, 2000)
    | st.floats(-2000, 2000).map(lambda x: round(x, 2))
    | st.integers(-2000, 2000)
    | st.sampled_from([-0.0, 0.1 + 0.2, 1e-05, 1e15, 999999999999999.9, 10**15, 2.5, 50.5, 50.50000000000001])
    | st.decimals(-2000, 2000, places=3).map(str)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ftype=st.sampled_from(["money", "number"]),
    precision=st.none() | st.integers(0, 8),
    lo=BOUNDS,
    hi=BOUNDS,
    value=AMOUNTS,
)
def test_numbers_and_money_agree_at_every_precision_and_bound(ftype, precision, lo, hi, value):
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo  # the loader refuses a minimum above the maximum
    options = {k: v for k, v in {"precision": precision, "min": lo, "max": hi}.items() if v is not None}
    check(one_field_form(ftype, **options), {"f": value})


def test_the_benchmark_documents_take_the_fast_path():
    """Not a timing: the valid benchmark documents are cleaned by the compiled function itself."""
    body = all_forms()["bench30.ticket"].spec.body
    rng = random.Random(7)
    for _ in range(50):
        doc = make_valid(rng)
        assert body.fast(copy.deepcopy(doc), None, None) is not None  # type: ignore[misc]


#: A valid submission of each shipped ticket type, with its sub-table rows where it has one.
SHIPPED_SUBMISSIONS: dict[str, dict[str, Any]] = {
    "it_ops.request": {
        "summary": "VPN 连不上",
        "category": "network",
        "affected_asset": "PC-001234",
        "description": "从今天早上开始无法连接公司 VPN",
        "due_date": "2026-03-10",
        "contact_phone": "+86 10 1234 5678",
    },
    "bugfix.bug": {
        "title": "登录后白屏",
        "module": "platform/auth",
        "version": "2.3.1",
        "steps": "<p>打开首页<script>x</script></p>",
        "environment": "staging",
    },
    "complaint.complaint": {
        "customer": "ACME 有限公司",
        "phone": "13800138000",
        "email": " li@example.com ",
        "category": "billing",
        "priority": "P1",
        "summary": "退款未到账",
        "refund": 120.5,
        "remedy": "refund",
        "items": [{"sku": "A-1", "qty": 2, "price": "19.90"}, {"sku": "B-2", "qty": 1, "price": 5}],
    },
}


@pytest.mark.parametrize("name", sorted(SHIPPED_SUBMISSIONS))
def test_valid_submissions_of_the_shipped_apps_take_the_fast_path(name):
    form = all_forms()[name]
    doc = dict(SHIPPED_SUBMISSIONS[name])
    if name == "complaint.complaint":
        product = form.ctx["option_sets"]["products"][0]
        doc["product"] = [product["value"], product["children"][0]["value"]]
    env = Env(user={"id": 7, "department": 3}, now=NOW)
    assert form.spec.body.fast(copy.deepcopy(doc), env, None) is not None  # type: ignore[misc]
    assert_same(form.spec, doc, env=env)


def test_every_form_compiles_to_a_fast_path():
    forms = list(all_forms().values())
    for name in FORMS:
        one = described(name)
        forms.append(Form(name, one.spec, one.fields, {"levels": [{"value": "high"}, "low", "7"]}))
    for form in forms:
        assert compile_fast(form.spec.body, form.fields, form.ctx) is not None, form.name
        for spec, fdef in zip(form.spec.body.fields, form.fields, strict=True):
            assert spec.rows is None or compile_fast(spec.rows, fdef.fields, form.ctx) is not None
