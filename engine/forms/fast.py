"""The fast path of cleaning a new record: one Python function generated and compiled per form.

The generic :meth:`FieldsSpec.clean` looks each value's field up in dicts and walks the lists of
conditions for every submission. Once per compiled form, the same steps are written out here as
straight-line source for *that* form (the idea of fastjsonschema): common values (text within its
limits, a number in range, a listed option, a flag, a plain date) are checked inline, anything else
goes to the field's own cleaner, and conditions, formulas, option rules and checks run only for
the fields that have them, in the generic order. The function answers with the cleaned record, or
with None ("not sure") on any problem at all — then the generic path cleans the submission, so the
problems reported, and their order, are always the generic path's own. So that a refused
submission is not cleaned twice, the values the function did clean are handed to the generic path
(``out``), which takes them instead of calling the cleaners again.

Only definition data reaches the source: field keys matching :data:`SAFE_KEY`, as ``repr``
literals. Limits, patterns, option sets, cleaners and compiled expressions are bound as names of
the function's namespace, which has no builtins besides the few it uses.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.definitions.model import FieldDef
from engine.forms.fields import _DATE as ISO_DATE
from engine.forms.fields import (
    MAX_MAGNITUDE,
    TEXT_PATTERNS,
    choice_texts,
    money_rules,
    number_rules,
    text_rules,
)
from engine.forms.spec import (
    Env,
    FieldSpec,
    FieldsSpec,
    _default_of,
    _stored,
    _typed,
    add_env_context,
    refused_options,
)

log = logging.getLogger(__name__)

#: (data, env, locked, out) → the cleaned new record, or None: "not sure, ask the generic path";
#: then ``out`` (if given) holds the values cleaned on the way, exactly as their cleaners return them.
FastClean = Callable[..., dict[str, Any] | None]

#: A sub-table's submitted rows → the cleaned rows, or None: "not sure".
RowsClean = Callable[[list[Any]], list[dict[str, Any]] | None]

#: The only field keys written into generated source (the app schema allows no others).
SAFE_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: ``is_empty`` of engine.forms.spec, inline: of the submitted ``v``, of the cleaned ``x``.
EMPTY_V = 'v is None or v == "" or (type(v) in LIST_OR_DICT and not v)'
EMPTY_X = 'x is None or x == "" or (type(x) in LIST_OR_DICT and not x)'

TEXT_TYPES = frozenset({"text", "textarea", *TEXT_PATTERNS})
CHOICE_TYPES = frozenset({"select", "radio"})
DAY = dt.date.fromisoformat
#: The magnitude limit as a float where that is exact: compared faster with floats, and the same.
LARGEST = float(MAX_MAGNITUDE) if float(MAX_MAGNITUDE) == MAX_MAGNITUDE else MAX_MAGNITUDE


_ONLY_TEXT = {str}


def _all_offered(values: list[Any], offered: frozenset[str]) -> bool:
    """Every chosen value is plain text that is one of the options (a multiselect, inline)."""
    return offered.issuperset(values) and set(map(type, values)) == _ONLY_TEXT


_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,15}\.([0-9]+)", re.ASCII)


def _money_text(places: int) -> Callable[[Any], str | None]:
    """What the money cleaner stores for a plain number (a float or int), or None: ask the cleaner.

    A float's text (its shortest round-trip decimal) with at most ``places`` decimals, padded with
    zeros, is exactly the Decimal quantized to ``places`` as text, while there are at most six of
    them (more, and Decimal may write zero as ``0E-7``). The bounds are left to the caller: as that
    decimal rounds to the float, comparing the float is comparing the Decimal.
    """
    point = "." + "0" * places if places else ""

    def text(value: Any) -> str | None:
        if type(value) is int:
            return str(value) + point if -MAX_MAGNITUDE < value < MAX_MAGNITUDE else None
        digits = repr(value)
        match = _PLAIN_DECIMAL.fullmatch(digits)
        if match is None or len(match.group(1)) > places:
            return None
        return digits + "0" * (places - len(match.group(1)))

    return text


def _rows_cleaner(row_fast: FastClean) -> RowsClean:
    """A sub-table's rows, each by the row form's own fast path (None as soon as one is not sure)."""

    def clean_rows(rows: list[Any]) -> list[dict[str, Any]] | None:
        out = []
        for row in rows:
            cleaned = row_fast(row, None, None) if type(row) is dict else None
            if cleaned is None:
                return None
            out.append(cleaned)
        return out

    return clean_rows


def _salvage(given: dict[str, Any], out: dict[str, Any] | None) -> None:
    """Not sure: hand what was cleaned to the generic path, which reads ``out`` only for submitted keys
    of fields that take input. Where it gives up on purpose, the function holds each of those keys in
    ``given`` with its cleaned value, or not at all (other keys there it never reads)."""
    if out is not None:
        out.update(given)


#: What generated code may call besides what it binds: no ``__import__``, ``open``, ``getattr``…
BUILTINS: dict[str, Any] = {
    "Exception": Exception,
    "LIST_OR_DICT": (list, dict),
    "M": object(),  # a key that is not in the submission
    "dict": dict,
    "float": float,
    "int": int,
    "len": len,
    "list": list,
    "round": round,
    "str": str,
    "type": type,
}


class _Source:
    """The lines of the function being written, and the objects that its bound names stand for."""

    def __init__(self, depth: int, bail: str) -> None:
        self.lines: list[str] = []
        self.bound: dict[str, Any] = {}
        self.depth = depth
        self.bail = bail  # the statement that gives up

    def add(self, *lines: str, indent: int = 0) -> None:
        self.lines.extend("    " * (self.depth + indent) + line for line in lines)

    def bind(self, value: Any) -> str:
        """A name for ``value`` in the generated code: definition data becomes a constant, never text."""
        name = f"_c{len(self.bound)}"
        self.bound[name] = value
        return name

    def function(self, head: list[str], tail: list[str], name: str, fields: FieldsSpec) -> Callable[..., Any]:
        text = "\n".join([*head, *self.lines, *tail]) + "\n"
        accepting = frozenset(fields.cleaners)  # type: ignore[attr-defined]
        namespace = {"__builtins__": {}, **BUILTINS, "ACCEPTING": accepting, "SALVAGE": _salvage}
        namespace.update(self.bound)
        exec(compile(text, "<form fast path>", "exec"), namespace)
        return namespace[name]  # type: ignore[no-any-return]


def _compilable(fields: FieldsSpec, defs: Sequence[FieldDef]) -> bool:
    """Whether a function can be written for ``fields``: unique keys, each of them a :data:`SAFE_KEY`."""
    keys = [spec.key for spec in fields.fields]
    return (
        len(defs) == len(keys) == len(set(keys))
        and all(type(key) is str and SAFE_KEY.fullmatch(key) for key in keys)
        and all(d.key == key for d, key in zip(defs, keys, strict=True))
    )


def _cleaning(src: _Source, fields: FieldsSpec, defs: Sequence[FieldDef], ctx: Mapping[str, Any]) -> set[str]:
    """Clean every submitted value of ``data`` in ``given``; returns the keys that must have a value."""
    accepting: Mapping[str, Any] = fields.cleaners  # type: ignore[attr-defined]
    defaulted = {spec.key for spec in fields.defaulted}  # type: ignore[attr-defined]
    # Required whatever the record holds: missing or empty is a problem as soon as it is seen.
    must = {
        spec.key
        for spec in fields.fields
        if spec.required and spec.key in accepting and spec.key not in defaulted and spec.visible_if is None
    }
    # ``given`` starts as a copy of the submission, in its order; cleaning replaces the values.
    src.add("get = data.get", "given = data.copy()", "bad = False")
    for spec, fdef in zip(fields.fields, defs, strict=True):
        if spec.key in accepting:
            _value(src, spec, fdef, ctx, spec.key in must)
    # A key no accepting field took (unknown, read-only, computed): the generic path reports it.
    src.add("if bad or not ACCEPTING.issuperset(data):", f"    {src.bail}")
    return must


def compile_fast(fields: FieldsSpec, defs: Sequence[FieldDef], ctx: Mapping[str, Any]) -> FastClean | None:
    """The fast path of ``fields`` (compiled from ``defs`` with ``ctx``), or None where there is none."""
    if not _compilable(fields, defs):
        return None
    # Giving up hands what was cleaned so far to the generic path; an exception hands over nothing.
    src = _Source(depth=2, bail="return SALVAGE(given, out)")
    must = _cleaning(src, fields, defs, ctx)
    if fields.has_logic:  # type: ignore[attr-defined]
        _conditions(src, fields, must)
    else:
        _plain(src, fields, must, "return given")
    head = [
        "def clean_fast(data, env, locked, out=None):",
        "    if locked:",
        "        for key in data:",
        "            if key in locked:",
        "                return None",
        "    try:",
    ]
    return src.function(head, ["    except Exception:", "        return None"], "clean_fast", fields)


def compile_lazily(fields: FieldsSpec, defs: Sequence[FieldDef], ctx: Mapping[str, Any]) -> FastClean:
    """A stand-in that compiles the fast path of ``fields`` when it is first called, and puts it in
    its place (``fields.fast``): definitions are loaded, and checked by compiling them, far more
    often than their forms are used."""

    def compile_and_clean(
        data: dict[str, Any],
        env: Env | None,
        locked: Mapping[str, str] | None,
        out: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        try:
            compiled = compile_fast(fields, defs, ctx)
        except Exception:  # a bug here must not refuse submissions: the generic path cleans them all
            log.exception("no fast path for a form of fields %s", [spec.key for spec in fields.fields])
            compiled = None
        object.__setattr__(fields, "fast", compiled)
        return None if compiled is None else compiled(data, env, locked, out)

    return compile_and_clean


def _rows_fast(fields: FieldsSpec, defs: Sequence[FieldDef], ctx: Mapping[str, Any]) -> RowsClean | None:
    """All rows of a sub-table without conditions or formulas, in one loop: the cleaned rows, or None."""
    if fields.has_logic or not _compilable(fields, defs):  # type: ignore[attr-defined]
        return None
    src = _Source(depth=3, bail="return None")
    src.add("if type(data) is not dict:", "    return None")
    must = _cleaning(src, fields, defs, ctx)
    _plain(src, fields, must, "rows.append(given)")
    head = ["def clean_rows(submitted):", "    rows = []", "    try:", "        for data in submitted:"]
    return src.function(
        head, ["    except Exception:", "        return None", "    return rows"], "clean_rows", fields
    )


def _value(src: _Source, spec: FieldSpec, fdef: FieldDef, ctx: Mapping[str, Any], must: bool) -> None:
    """Clean ``data[key]``, if given, in ``given``: inline when the value is a common one.

    Whatever goes wrong only sets ``bad`` (and drops the key, if its value is not a cleaned one),
    and the other fields are still cleaned, for the generic path to take over. ``must``: the field
    is required whatever else holds, so missing or empty is bad at once.
    """
    key = repr(spec.key)
    src.add(f"v = get({key}, M)", "try:")
    inline = _inline(src, spec, fdef, ctx)
    if inline is not None:  # the test only holds for a value that the cleaner stores, not empty, as result
        test, result = inline  # every test starts with the value's type: never true for M
        src.add(f"if {test}:", indent=1)
        if spec.type == "subtable":  # rows: None when one of them is not sure
            src.add(f"x = {result}", "if x is None:", "    bad = True", f"    del given[{key}]", indent=2)
            src.add("else:", f"    given[{key}] = x", indent=2)
        else:
            src.add("pass" if result == "v" else f"given[{key}] = {result}", indent=2)
        src.add("elif v is M:", indent=1)
    else:
        src.add("if v is M:", indent=1)
    src.add("    bad = True" if must else "    pass", indent=1)
    src.add(f"elif {EMPTY_V}:", f"    given[{key}] = None", indent=1)
    if must:
        src.add("    bad = True", indent=1)
    src.add("else:", f"    given[{key}] = x = {src.bind(spec.clean)}(v)", indent=1)
    if must:
        src.add(f"    if {EMPTY_X}:", "        bad = True", indent=1)
    src.add("except Exception:", "    bad = True", f"    given.pop({key}, None)")


def _inline(src: _Source, spec: FieldSpec, fdef: FieldDef, ctx: Mapping[str, Any]) -> tuple[str, str] | None:
    """(test, result) for a value ``v`` that the field's cleaner stores as ``result``, which is not empty."""
    if spec.type in TEXT_TYPES:
        lo, hi, rx, strip = text_rules(
            fdef, TEXT_PATTERNS[spec.type][0] if spec.type in TEXT_PATTERNS else None
        )
        subject = "s" if strip else "v"
        length = "len(s := v.strip())" if strip else "len(v)"
        tests = [
            "type(v) is str",
            "'\\x00' not in v",
            f"{src.bind(max(lo or 0, 1))} <= {length} <= {src.bind(hi)}",
        ]
        if rx is not None:
            tests.append(f"{src.bind(rx.fullmatch)}({subject}) is not None")
        return " and ".join(tests), subject
    if spec.type in CHOICE_TYPES:
        return f"type(v) is str and v in {src.bind(choice_texts(fdef, ctx) - {''})}", "v"
    if spec.type == "number":
        lo, hi, integer, precision = number_rules(fdef)
        kind = "type(v) is int" if integer else "(type(v) is float or type(v) is int)"
        tests = [kind, f"{src.bind(-LARGEST)} < v < {src.bind(LARGEST)}"]
        tests += [f"v >= {src.bind(lo)}"] if lo is not None else []
        tests += [f"v <= {src.bind(hi)}"] if hi is not None else []
        rounded = precision is not None and not integer
        return " and ".join(tests), f"round(v, {src.bind(precision)}) + 0.0" if rounded else "v"
    if spec.type == "money":
        lo, hi, places = money_rules(fdef)
        if type(places) is not int or not 0 <= places <= 6:
            return None
        tests = ["(type(v) is float or type(v) is int)"]
        tests += [f"v >= {src.bind(lo)}"] if lo is not None else []
        tests += [f"v <= {src.bind(hi)}"] if hi is not None else []
        tests.append(f"(x := {src.bind(_money_text(places))}(v)) is not None")
        return " and ".join(tests), "x"
    if spec.type == "checkbox":
        return "v is True or v is False", "v"
    if spec.type == "date" and fdef.get("min") is None and fdef.get("max") is None:
        # An impossible day (2025-02-30) raises in fromisoformat: the generic path reports it.
        # The day's ISO text is the text itself (four-digit year, two-digit month and day).
        day = f"{src.bind(ISO_DATE.fullmatch)}(v) is not None and {src.bind(DAY)}(v) is not None"
        return f"type(v) is str and {day}", "v"
    if spec.type == "multiselect":
        offered = src.bind(choice_texts(fdef, ctx))
        return f"type(v) is list and v and {src.bind(_all_offered)}(v, {offered})", "list(v)"
    if spec.type == "subtable" and spec.rows is not None:
        tests = ["type(v) is list and v"]
        if fdef.get("min_rows") is not None:
            tests.append(f"len(v) >= {src.bind(fdef.get('min_rows'))}")
        if fdef.get("max_rows") is not None:
            tests.append(f"len(v) <= {src.bind(fdef.get('max_rows'))}")
        rows = _rows_fast(spec.rows, fdef.fields, ctx)
        if rows is None:  # rows with conditions or formulas: each by the row form's own function
            row_fast = compile_fast(spec.rows, fdef.fields, ctx)
            if row_fast is None:
                return None
            rows = _rows_cleaner(row_fast)
        return " and ".join(tests), f"{src.bind(rows)}(v)"
    return None


def _default(src: _Source, spec: FieldSpec, into: str) -> None:
    """``into[key]`` = the field's default, unless ``given`` has the key or the default is None."""
    key = repr(spec.key)
    src.add(f"if {key} not in given:")
    if spec.default_from:
        src.add(f"x = {src.bind(_default_of)}({src.bind(spec)}, env)", "if x is not None:", indent=1)
        src.add(f"    {into}[{key}] = x", indent=1)
    else:
        src.add(f"{into}[{key}] = {src.bind(spec.default)}", indent=1)


def _plain(src: _Source, fields: FieldsSpec, must: set[str], done: str) -> None:
    """A form without conditions or formulas: defaults after the input, then what is required."""
    for spec in fields.defaulted:  # type: ignore[attr-defined]
        _default(src, spec, "given")
    for key in fields.required_keys:  # type: ignore[attr-defined]
        if key not in must:
            src.add(f"x = given.get({key!r})", f"if {EMPTY_X}:", f"    {src.bail}")
    src.add(done)


def _conditions(src: _Source, fields: FieldsSpec, must: set[str]) -> None:
    """Defaults, then conditions, required fields, formulas, option rules and checks, in that order."""
    if fields.defaulted:  # type: ignore[attr-defined]
        src.add("record = {}")
        for spec in fields.defaulted:  # type: ignore[attr-defined]
            _default(src, spec, "record")
        src.add("record.update(given)")
    else:
        src.add("record = given")  # the same keys and values throughout: one dict
    record_is_given = not fields.defaulted  # type: ignore[attr-defined]

    # What expressions see: typed values of the fields they read (taken before hiding), old, user…
    src.add("ctx = {}")
    wanted: frozenset[str] = fields.expr_names  # type: ignore[attr-defined]
    for spec in fields.fields:
        if spec.key in wanted:
            key = repr(spec.key)
            typed = (
                f"{src.bind(_typed)}({src.bind(spec)}, record[{key}])" if spec.to_expr else f"record[{key}]"
            )
            src.add(f"if {key} in record:", f"    ctx[{key}] = {typed}")
    src.add(f"{src.bind(add_env_context)}({src.bind(fields)}, ctx, None, env)")

    # Expressions are called unwrapped: whatever goes wrong in one, the generic path reports it.
    hidden: dict[str, str] = {}
    for i, spec in enumerate(fields.conditionally_visible):  # type: ignore[attr-defined]
        key, flag = repr(spec.key), f"h{i}"
        hidden[spec.key] = flag
        src.add(f"{flag} = not {src.bind(spec.visible_if.fn)}(ctx)")  # type: ignore[union-attr]
        src.add(f"if {flag} and {key} in given:", f"    del given[{key}]")
        if not record_is_given:
            src.add(f"    record.pop({key}, None)")
    for spec in fields.conditionally_readonly:  # type: ignore[attr-defined]
        src.add(f"if {spec.key!r} in given and {src.bind(spec.readonly_if.fn)}(ctx):", f"    {src.bail}")  # type: ignore[union-attr]
    for spec in fields.requirable:  # type: ignore[attr-defined]
        if spec.key in must:
            continue
        shown = f" and not {hidden[spec.key]}" if spec.key in hidden else ""
        required = "" if spec.required else f" and {src.bind(spec.required_if.fn)}(ctx)"  # type: ignore[union-attr]
        src.add(f"x = record.get({spec.key!r})", f"if ({EMPTY_X}){shown}{required}:", f"    {src.bail}")
    for spec in fields.formulas:
        key = repr(spec.key)
        src.add(f"x = {src.bind(_stored)}({src.bind(spec)}, {src.bind(spec.formula.fn)}(ctx))")  # type: ignore[union-attr]
        src.add(f"record[{key}] = x")
        if not record_is_given:
            src.add(f"given[{key}] = x")
        src.add(
            f"ctx[{key}] = {src.bind(_typed)}({src.bind(spec)}, x)" if spec.to_expr else f"ctx[{key}] = x"
        )
    for spec in fields.optioned:  # type: ignore[attr-defined]
        shown = f" and not {hidden[spec.key]}" if spec.key in hidden else ""
        refused = f"{src.bind(refused_options)}({src.bind(spec)}, x, ctx)[1]"
        src.add(
            f"x = record.get({spec.key!r})", f"if not ({EMPTY_X}) and {refused}{shown}:", f"    {src.bail}"
        )
    for spec in fields.checked:  # type: ignore[attr-defined]
        shown = f" and not {hidden[spec.key]}" if spec.key in hidden else ""
        src.add(f"x = record.get({spec.key!r})", f"if not ({EMPTY_X}){shown}:")
        for rule, _message in spec.checks:
            src.add(f"if not {src.bind(rule.fn)}(ctx):", f"    {src.bail}", indent=1)
    src.add("return record")
