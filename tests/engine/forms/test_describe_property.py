"""Property: whatever the engine accepts, the described JSON Schema accepts too.

For each field type a one- or two-field form is loaded from a small definition; hypothesis sends
it documents of plausible values (per type) and of arbitrary JSON. Whenever ``FormSpec.validate``
takes a document, jsonschema with ``form_json_schema`` must take it as well.

Some odd inputs (Arabic-Indic digits, ISO week dates, a negative "phone number" …) were once
taken by the engine; they are refused now, and the tests at the end keep it that way.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.definitions.loader import load_definition
from engine.definitions.model import FieldDef
from engine.errors import FormError
from engine.files import KIND_OF_MIME, MIB
from engine.forms.describe import form_json_schema, spellings
from engine.forms.fields import FIELD_TYPES, option_values
from engine.forms.spec import FormSpec
from engine.specs import compile_app

OPTION_SETS = {"levels": [{"value": "high", "label": {"zh": "高", "en": "High"}}, "low", "7"]}
TREE = [
    {"value": "hw", "children": [{"value": "pc"}, {"value": "3", "children": ["a", "b"]}]},
    {"value": "sw"},
    "10",
]
CHOICES = ["a", "1", "2.5", "True", {"value": "x y", "label": "Ex"}]

#: One small form per field type (and per interesting option), by name.
FORMS: dict[str, list[dict[str, Any]]] = {
    "text": [{"key": "v", "type": "text", "min_length": 2, "max_length": 8}],
    "text_pattern": [{"key": "v", "type": "text", "pattern": "[a-z]+[0-9]?|[0-9]{2}", "required": True}],
    "textarea": [{"key": "v", "type": "textarea", "max_length": 12}],
    "richtext": [{"key": "v", "type": "richtext", "max_length": 20}],
    "email": [{"key": "v", "type": "email", "max_length": 24}],
    "url": [{"key": "v", "type": "url", "required": True}],
    "phone": [{"key": "v", "type": "phone"}],
    "phone_pattern": [{"key": "v", "type": "phone", "pattern": "[0-9]{3,6}", "max_length": 5}],
    "number": [{"key": "v", "type": "number", "min": -5, "max": 10, "precision": 2}],
    "number_whole": [{"key": "v", "type": "number", "min": 0, "max": 100, "precision": 0, "required": True}],
    "number_any": [{"key": "v", "type": "number"}],
    "money": [{"key": "v", "type": "money", "min": 0, "max": 1000}],
    "money_whole": [{"key": "v", "type": "money", "precision": 0, "min": -50, "max": 50.5}],
    "rating": [{"key": "v", "type": "rating", "max": 3}],
    "date": [{"key": "v", "type": "date"}],
    "datetime": [{"key": "v", "type": "datetime", "required": True}],
    "checkbox": [{"key": "v", "type": "checkbox"}],
    "select": [{"key": "v", "type": "select", "options": CHOICES}],
    "radio": [{"key": "v", "type": "radio", "options_from": "levels", "required": True, "default": "low"}],
    "multiselect": [{"key": "v", "type": "multiselect", "options": CHOICES}],
    "cascade": [{"key": "v", "type": "cascade", "options": TREE}],
    "user": [{"key": "v", "type": "user"}],
    "department": [{"key": "v", "type": "department", "multiple": True, "required": True}],
    "link": [{"key": "v", "type": "link", "target": {"ticket_type": "t"}, "multiple": True}],
    "attachment": [{"key": "v", "type": "attachment", "max_size_mb": 1, "accept": [".pdf", "image/*"]}],
    "image": [{"key": "v", "type": "image", "multiple": True}],
    "subtable": [
        {
            "key": "v",
            "type": "subtable",
            "min_rows": 1,
            "max_rows": 3,
            "fields": [
                {"key": "sku", "type": "text", "required": True, "pattern": "[A-Z]{2}"},
                {"key": "qty", "type": "number", "precision": 0, "min": 1},
                {"key": "tax", "type": "select", "options": ["STD", "ZERO"]},
            ],
        }
    ],
    "formula": [{"key": "a", "type": "number"}, {"key": "b", "type": "formula", "expr": "a * 2"}],
    "autonumber": [{"key": "n", "type": "autonumber", "format": "N-{seq:3}"}, {"key": "t", "type": "text"}],
    "readonly": [
        {"key": "v", "type": "text", "readonly": True, "default": "x"},
        {"key": "w", "type": "text"},
    ],
    "visible_if": [
        {"key": "flag", "type": "checkbox"},
        {"key": "v", "type": "money", "visible_if": "flag", "required": True},
    ],
    "required_if": [
        {"key": "flag", "type": "checkbox"},
        {"key": "v", "type": "rating", "required_if": "flag"},
    ],
}


class Described:
    """A loaded one- or two-field form: its field definitions, engine spec and schema validator."""

    def __init__(self, fields: tuple[FieldDef, ...], spec: FormSpec, schema: dict[str, Any]):
        self.fields = fields
        self.spec = spec
        self.schema = schema
        self.validator = Draft202012Validator(schema)
        self.documents = document(fields)


@functools.cache
def described(name: str) -> Described:
    """The form ``FORMS[name]`` loaded like any app (``load_definition``) and described."""
    data = {
        "app": "prop",
        "name": "Property",
        "option_sets": OPTION_SETS,
        "ticket_types": {"t": {"name": "T", "form": {"sections": [{"fields": FORMS[name]}]}}},
    }
    app = load_definition(data).app
    tt = app.ticket_type("t")
    schema = form_json_schema(tt, app.option_sets, "en")
    Draft202012Validator.check_schema(schema)
    return Described(tt.form.fields, compile_app(app).types["t"].form, schema)


# --------------------------------------------------------------------------- strategies
EMPTY = st.sampled_from([None, "", [], {}])
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | FLOATS | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
SPACE = st.text(alphabet=" \t\n\xa0\u3000", max_size=2)


def padded(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(SPACE, core, SPACE).map("".join)


NUMBER_TEXT = padded(
    st.from_regex(
        r"[+-]?(?:[0-9]{1,5}(?:\.[0-9]{0,4})?|\.[0-9]{1,3})(?:[eE][+-]?[0-9]{1,2})?", fullmatch=True
    )
)
NUMBERS = (
    st.integers(-100, 2000)
    | st.integers()
    | FLOATS
    | st.floats(-100, 2000)
    | NUMBER_TEXT
    | st.decimals(-2000, 2000, places=3).map(str)
    | st.sampled_from(["1_000", "nan", "inf", "-Infinity", "1e400", "٣", "١٢.٥", "0x10", "10.0050"])
)
WIDE = str.maketrans("0123456789+-()", "０１２３４５６７８９＋－（）")
PHONES = st.one_of(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"1[3-9][0-9] ?-?[0-9]{4}[ -]?[0-9]{4}", fullmatch=True),
    st.from_regex(r"\+[1-9][0-9]{0,2}[ (]?[0-9]{2,4}[) -]?[0-9]{3,8}", fullmatch=True),
    st.from_regex(r"\(?0(?:10|2[0-9]|[3-9][0-9]{2})\)?[ -]?[0-9]{7,8}(?: ?- ?[0-9]{1,6})?", fullmatch=True),
    st.from_regex(r"[0-9+() -]{3,16}", fullmatch=True),
)
PHONE_VALUES = (
    padded(PHONES)
    | padded(PHONES.map(lambda s: s.translate(WIDE)))
    | st.integers(12_999_999_990, 20_000_000_000)
    | st.integers(-20_000_000_000, -12_999_999_990)
)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
DATETIMES = st.datetimes(timezones=st.none() | st.just(dt.UTC) | OFFSETS)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times in four, else ``other`` (``one_of`` would merge repeated branches)."""
    return st.sampled_from((valid, valid, valid, other)).flatmap(lambda chosen: chosen)


FILE_REFS = st.fixed_dictionaries(
    {
        "id": mostly(
            st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), st.text(max_size=70) | st.integers()
        ),
        "name": mostly(st.text(max_size=10), st.integers() | st.none()),
        "size": mostly(st.integers(0, 2 * MIB), st.floats(-1, 2 * MIB) | st.booleans() | st.text(max_size=3)),
        "mime": mostly(st.sampled_from(list(KIND_OF_MIME)), st.sampled_from(["image/svg+xml", "x/y", ""])),
    },
    optional={"sha256": st.text(max_size=4), "url": JSON},
)
FILE_VALUES = FILE_REFS | st.lists(FILE_REFS, min_size=1, max_size=3) | st.text(max_size=8)


def _ids() -> st.SearchStrategy[Any]:
    one = st.integers(-3, 10**12) | st.from_regex(r"[0-9]{1,6}", fullmatch=True) | st.text(max_size=4)
    return one | st.lists(one, max_size=3)


def _choice(f: FieldDef) -> st.SearchStrategy[Any]:
    values = [v for o in option_values(f, {"option_sets": OPTION_SETS}) for v in spellings(_value(o))]
    return st.sampled_from([*values, "zz", 1.0, 2.5, True, False, None, ["a"], {"a": 1}])


def _value(option: Any) -> Any:
    return option["value"] if isinstance(option, Mapping) else option


def _cascade(f: FieldDef) -> st.SearchStrategy[Any]:
    paths: list[list[Any]] = []

    def walk(level: Any, above: list[Any]) -> None:
        for o in level:
            paths.append([*above, _value(o)])
            if isinstance(o, dict):
                walk(o.get("children") or [], [*above, _value(o)])

    walk(TREE, [])
    path = st.sampled_from(paths)
    step = st.sampled_from(["hw", "pc", "3", 3, 10, "10", "sw", "a", "zz", None, 3.0, ["hw"]])
    return (
        path
        | path.map("/".join)
        | path.map(lambda p: [int(s) if s.isdigit() else s for s in p])
        | st.lists(step, max_size=4)
        | st.lists(step, max_size=4).map(lambda p: "/".join(map(str, p)))
    )


def _rows(f: FieldDef) -> st.SearchStrategy[Any]:
    full = st.fixed_dictionaries({sub.key: value_of(sub) for sub in f.fields})
    some = st.fixed_dictionaries({}, optional={sub.key: value_of(sub) for sub in f.fields})
    rows = st.lists(mostly(full, some | JSON), min_size=1, max_size=3)
    return mostly(rows, st.lists(full, max_size=5))


PLAUSIBLE: dict[str, Callable[[FieldDef], st.SearchStrategy[Any]]] = {
    "text": lambda f: (
        mostly(st.from_regex(f.get("pattern"), fullmatch=True), st.text(max_size=10) | st.integers())
        if f.get("pattern")
        else st.text(max_size=10) | st.integers() | FLOATS
    ),
    "textarea": lambda f: st.text(max_size=14) | st.integers(),
    "richtext": lambda f: (
        st.text(max_size=30)
        | st.integers()
        | st.sampled_from(["<p>hi</p>", "<script>x</script>", "<b>" * 10, "<img src=x onerror=1>"])
    ),
    "email": lambda f: (
        padded(st.emails())
        | padded(st.from_regex(r"[a-z.%+-]{1,5}@[a-z0-9.-]{1,5}\.[a-z]{2,3}"))
        | st.integers()
    ),
    "url": lambda f: (
        padded(st.from_regex(r"https?://[^\s/$.?#][^\s]{0,10}", fullmatch=True)) | st.text(max_size=8)
    ),
    "phone": lambda f: (
        (PHONE_VALUES if not f.get("pattern") else padded(st.from_regex(r"[0-9]{2,7}", fullmatch=True)))
        | st.integers(0, 10**7)
    ),
    "number": lambda f: NUMBERS,
    "money": lambda f: NUMBERS,
    "rating": lambda f: NUMBERS | st.integers(-1, 5),
    "date": lambda f: (
        st.dates().map(dt.date.isoformat)
        | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True)
        | st.sampled_from(["2025-02-29", "2024-02-29", "20250101", "2025-W01-1", 20250101])
    ),
    "datetime": lambda f: (
        DATETIMES.map(dt.datetime.isoformat)
        | DATETIMES.map(lambda d: d.isoformat(sep=" ", timespec="minutes"))
        | DATETIMES.map(lambda d: d.isoformat().replace("+00:00", "Z"))
        | st.sampled_from(["2025-01-01T10:00:00z", "2025-01-01T10+08", "20250101T1000Z", "2025-01-01x10:00Z"])
    ),
    "checkbox": lambda f: st.sampled_from([True, False, 0, 1, 0.0, 1.0, "true", "false", "True", 2, "1"]),
    "select": _choice,
    "radio": _choice,
    "multiselect": lambda f: st.lists(_choice(f), max_size=4),
    "cascade": _cascade,
    "user": lambda f: _ids(),
    "department": lambda f: _ids(),
    "link": lambda f: _ids(),
    "attachment": lambda f: FILE_VALUES,
    "image": lambda f: FILE_VALUES,
    "subtable": _rows,
    "formula": lambda f: JSON,
    "autonumber": lambda f: JSON,
}


def value_of(f: FieldDef) -> st.SearchStrategy[Any]:
    """Mostly values of the field's type (valid or nearly), else empty values or any JSON."""
    return mostly(PLAUSIBLE[f.type](f), EMPTY | JSON)


def document(fields: tuple[FieldDef, ...]) -> st.SearchStrategy[Any]:
    """Objects with any of the fields; now and then with a key the form lacks, or not an object."""
    doc = st.fixed_dictionaries({}, optional={f.key: value_of(f) for f in fields})
    stray = st.tuples(doc, JSON).map(lambda pair: {**pair[0], "unknown": pair[1]})
    return mostly(doc, stray | JSON)


# --------------------------------------------------------------------------- the property
def check_agreement(form: Described, doc: Any) -> None:
    try:
        form.spec.validate(doc)
    except FormError:
        return  # refused: the schema may or may not refuse it too
    event("accepted by the engine")
    errors = [e.message[:300] for e in form.validator.iter_errors(doc)]
    assert not errors, (
        f"the engine accepts {json.dumps(doc, default=str)[:300]} but the schema refuses it: {errors}"
    )


@pytest.mark.parametrize("name", sorted(FORMS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_the_engine_accepts_the_schema_accepts(name, data):
    form = described(name)
    doc = data.draw(form.documents, label="document")
    check_agreement(form, doc)


# --------------------------------------------------------------------------- odd inputs stay refused
def _accepts(name: str, value: Any) -> bool:
    form = described(name)
    try:
        form.spec.validate({form.fields[-1].key: value})
    except FormError:
        return False
    return True


ODD_INPUTS = [
    ("number_any", "١٢", "numeric text in Arabic-Indic digits"),
    ("money", "1_000", "underscores inside numeric text"),
    ("date", 20250101, "a JSON number as a date"),
    ("date", "2025-W01-1", "an ISO week date"),
    ("datetime", "2025-01-01x10:00+08", "any character between date and time"),
    ("phone", -13800138000, "a negative number as a phone number"),
    ("phone", "¹³⁸⁰⁰¹³⁸⁰⁰⁰", "superscript digits as a phone number"),
    ("user", "١٢", "an id in Arabic-Indic digits"),
]


@pytest.mark.parametrize(("name", "value", "what"), ODD_INPUTS, ids=[b[2] for b in ODD_INPUTS])
def test_engine_refuses_odd_input(name, value, what):
    assert not _accepts(name, value)


def test_a_superscript_id_is_refused_not_a_crash():
    assert not _accepts("user", "²")


def test_odd_values_are_not_in_the_schema():
    for name, value, _ in ODD_INPUTS:
        form = described(name)
        assert not form.validator.is_valid({form.fields[-1].key: value}), (name, value)


def test_plausible_strategies_cover_every_field_type():
    assert set(PLAUSIBLE) == set(FIELD_TYPES)
    assert {f["type"] for fields in FORMS.values() for f in fields} == set(FIELD_TYPES)


def test_money_text_keeps_exactly_its_places():
    form = described("money")
    for text, ok in [("1.25", True), ("1.250", True), ("1.255", False), ("1e1", True), (" 7 ", True)]:
        assert _accepts("money", text) is ok
        assert form.validator.is_valid({"v": text}) is ok
