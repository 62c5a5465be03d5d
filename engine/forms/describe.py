"""The JSON Schema (Draft 2020-12) of a ticket type's form input, for API clients.

:func:`form_json_schema` describes what ``FormSpec.validate`` accepts for a new ticket: one
property per field, each built by the describer of its field type (``DESCRIBERS``, one small
function per type, mirroring that type's cleaner in :mod:`engine.forms.fields`). The contract,
checked by property tests: **whatever the engine accepts, the schema accepts**. The reverse
need not hold, the engine knows more than JSON Schema can say (real calendar dates, a money
amount's decimal places, the numeric value of numeric text, conditions between fields).

Decisions, each following the engine:

* **Empty values.** The engine treats ``null``, ``""``, ``[]`` and ``{}`` alike as "no value"
  (never seen by a cleaner). A field that may stay empty takes them besides its value schema
  (one more ``anyOf`` branch, or more ``enum`` members); the value schema itself never admits
  an empty value. Fields that are ``required`` without a ``visible_if`` take no empty value.
* **required** lists the fields a client must send: required, shown unconditionally
  (no ``visible_if``) and without a ``default`` / ``default_from`` to fill them in. A required
  field left out of that list because of a default or a condition is marked
  ``x-gongdan-required: true`` (with a default it still refuses an explicit empty value; the
  default is shown as ``default``). Conditions are carried as their expression text in
  ``x-gongdan-visible-if`` / ``x-gongdan-required-if`` / ``x-gongdan-readonly-if``: the
  engine, not JSON Schema, evaluates them.
* **Read-only and computed fields** (``readonly``, formula, autonumber) stay under
  ``properties`` with ``readOnly: true`` and ``not: {}``. Keeping them lets a client see that
  the field exists, with its title and type (``x-gongdan-type``), as it will find it in
  responses; ``not: {}`` makes any value invalid because the engine *refuses* such a key
  (``form.readonly_field``) rather than ignoring it, and ``readOnly`` alone is an annotation
  that validators do not enforce. Leaving them out of ``properties`` would reject them too
  (``additionalProperties: false``) but would hide them from clients.
* **Patterns** are anchored ``^(?:...)$`` (JSON Schema patterns search, cleaners fullmatch);
  inline flags leading a definition's pattern stay in front. A definition's own patterns are
  copied as written (Python ``re`` syntax: portable when they keep to the common subset).
  Whitespace is ``\\s``, which in Python (jsonschema) is exactly what ``str.strip`` removes.
* **Leniencies kept**, since the cleaners mean them: text fields also take numbers (turned into
  text); email, url and phone are trimmed before their checks, so whitespace may surround them
  and their length is counted inside it; phone numbers follow the engine's rules (mainland
  mobile, E.164, landline; spaces and dashes anywhere, full-width characters); rich text may be
  ``RICH_RAW_FACTOR`` times ``max_length`` before sanitising (``x-gongdan-max-length`` is the
  limit after it); numbers, money and ratings also take numeric text (ASCII digits, trimmed,
  exponents allowed); a number with a ``precision`` is rounded before its range is checked, so
  its bounds widen by half a step; choices compare as text, so an option ``"1"`` may also be
  sent as ``1``; users, departments and links take an id or its digits (one or a list when
  ``multiple``); files take one stored-file reference or a list of them.
* **Not described** (the engine checks them, JSON Schema cannot): whether a date exists, the
  decimal places of a money *number* (``multipleOf`` on floats misjudges 0.07 / 0.01), the
  value of numeric text against min/max, the length of a number's text, rich text's length
  after sanitising, conditions between fields.
* **Not admitted although the engine takes them** (engine leniencies reported as bugs, pinned by
  strict xfail tests): non-ASCII digits and underscores in numeric text and ids, dates and
  times in any spelling ``fromisoformat`` reads (numbers, week dates, any separator), negative
  numbers and NFKC look-alike digits as phone numbers.

``format: date`` / ``date-time`` are annotations; the patterns state the RFC 3339 shapes
(date-time: seconds optional, offset required). The schema has no ``$id`` and no ``$ref``:
each property schema stands alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from engine.definitions.model import FieldDef, TicketTypeDef, thaw
from engine.files import KIND_OF_MIME, MIB, accepts
from engine.forms.fields import (
    DEFAULT_MAX_FILE_MB,
    DEFAULT_MAX_LENGTH,
    FIELD_TYPES,
    LONG_TEXT_LIMIT,
    MAX_FILES,
    MAX_MAGNITUDE,
    MAX_NUMBER_TEXT,
    RICH_RAW_FACTOR,
    option_values,
)
from engine.i18n import current_lang, text_of

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: What the engine takes for "no value": never cleaned, refused only where a value is required.
EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})

Describer = Callable[[FieldDef, Mapping[str, Any]], dict[str, Any]]

#: Field type → the schema of one non-empty input value of a field of that type.
DESCRIBERS: dict[str, Describer] = {}


def describes(*types: str) -> Callable[[Describer], Describer]:
    """Register a describer for field types ``types``."""

    def deco(fn: Describer) -> Describer:
        for name in types:
            DESCRIBERS[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- regex pieces
#: Whitespace as ``str.strip()`` removes it: ``\s`` in Python's ``re`` (what jsonschema uses) is
#: exactly ``str.isspace``; ECMA-262's ``\s`` differs only in rare control characters.
_WS = r"\s"
_NWS = r"\S"

#: The patterns the engine gives email and url fields without one of their own
#: (the same text as in :mod:`engine.forms.fields`; a test compares them).
DEFAULT_PATTERNS = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}",
    "url": r"https?://[^\s/$.?#][^\s]*",
}


def _phone_pattern() -> str:
    """What ``normalize_phone`` reads, in the raw text: a mainland mobile, E.164 or landline number.

    It reads full-width characters as their ASCII twins (NFKC) and drops spaces and dashes (and,
    after a leading ``+``, brackets) anywhere in mobile and E.164 numbers.
    """
    d, nz = "[0-9\uff10-\uff19]", "[1-9\uff11-\uff19]"
    sep, plus = "[\\s\\-\uff0d]", "[+\uff0b]"
    opened, closed = "[(\uff08]", "[)\uff09]"
    zero, one, dash = "[0\uff10]", "[1\uff11]", "[\\-\uff0d]"
    inside = f"(?:{sep}|{opened}|{closed})"
    e164 = f"{sep}*{plus}{inside}*{nz}(?:{inside}*{d}){{6,14}}{inside}*"
    mobile = f"{sep}*{one}{sep}*[3-9\uff13-\uff19](?:{sep}*{d}){{9}}{sep}*"
    area = f"(?:{zero}{one}{zero}|{zero}[2\uff12]{d}|{zero}[3-9\uff13-\uff19]{d}{{2}})"
    landline = f"{opened}?{area}{closed}?{sep}?{d}{{7,8}}(?:\\s*{dash}\\s*{d}{{1,6}})?"
    return f"{e164}|{mobile}|{landline}"


#: The numbers whose text is a mainland mobile number (the only phone a JSON number can spell).
_MOBILE_NUMBERS = {"type": "integer", "minimum": 13_000_000_000, "maximum": 19_999_999_999}

_LEADING_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def anchored(pattern: str) -> str:
    """``pattern`` matching whole strings only, as the cleaners' ``fullmatch`` does."""
    flags = ""
    while m := _LEADING_FLAGS.match(pattern):  # Python wants global flags first
        flags += m.group()
        pattern = pattern[m.end() :]
    return f"{flags}^(?:{pattern})$"


def _trimmed(pattern: str, lo: int | None, hi: int) -> str:
    """Text matching ``pattern`` once surrounding whitespace is stripped, of lo..hi characters."""
    longest = f"(?=[\\s\\S]{{0,{hi}}}{_WS}*$)"
    shortest = f"(?![\\s\\S]{{0,{lo - 1}}}{_WS}*$)" if lo else ""
    return f"^{_WS}*{longest}{shortest}(?:{pattern}){_WS}*$"


def _numeric_text(fraction: str = "[0-9]*") -> str:
    """Numeric text as the cleaners parse it: trimmed, at most MAX_NUMBER_TEXT characters.

    ``fraction`` restricts the digits after the point of a number without an exponent.
    """
    scientific = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+"
    plain = f"(?:[0-9]+(?:\\.{fraction})?|\\.(?=[0-9]){fraction})"
    return f"^{_WS}*(?={_NWS}{{1,{MAX_NUMBER_TEXT}}}{_WS}*$)[+-]?(?:{scientific}|{plain}){_WS}*$"


NUMERIC_TEXT = _numeric_text()
WHOLE_NUMBER_TEXT = _numeric_text("0*")
DATE_PATTERN = r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
DATETIME_PATTERN = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)


# --------------------------------------------------------------------------- helpers
def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _bounds(lo: Any, hi: Any, slack: Decimal = Decimal(0)) -> dict[str, Any]:
    """minimum/maximum for ``lo``..``hi`` widened by ``slack``, within the engine's magnitude."""
    out: dict[str, Any] = {}
    if lo is None or Decimal(str(lo)) - slack <= -MAX_MAGNITUDE:
        out["exclusiveMinimum"] = -MAX_MAGNITUDE
    else:
        out["minimum"] = _json_number(Decimal(str(lo)) - slack)
    if hi is None or Decimal(str(hi)) + slack >= MAX_MAGNITUDE:
        out["exclusiveMaximum"] = MAX_MAGNITUDE
    else:
        out["maximum"] = _json_number(Decimal(str(hi)) + slack)
    return out


def _length_limits(f: FieldDef) -> tuple[int | None, int]:
    return f.get("min_length"), f.get("max_length") or DEFAULT_MAX_LENGTH.get(f.type, LONG_TEXT_LIMIT)


def _value_of(option: Any) -> Any:
    return thaw(option.get("value")) if isinstance(option, Mapping) else thaw(option)


def spellings(value: Any) -> list[Any]:
    """Every JSON value a choice cleaner takes for option ``value``: those whose text equals its text."""
    text = str(value)
    out: list[Any] = [value, text]
    out += {"True": [True], "False": [False], "None": [None]}.get(text, [])
    if re.fullmatch(r"-?[0-9]+", text) and str(int(text)) == text:
        out.append(int(text))
    else:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number) and repr(number) == text:
                out.append(number)
    unique: dict[tuple[type, Any], Any] = {}
    for v in out:
        if isinstance(v, int | float | str | bool) or v is None:
            unique.setdefault((type(v), v), v)
    return list(unique.values())


def _choices(options: Any) -> list[Any]:
    unique: dict[tuple[type, Any], Any] = {}
    for option in options:
        for v in spellings(_value_of(option)):
            unique.setdefault((type(v), v), v)
    return list(unique.values())


def _not_empty(values: list[Any]) -> list[Any]:
    return [v for v in values if not (v is None or v == "")]


def _option_titles(options: list[Any], lang: str | None) -> list[dict[str, Any]]:
    return [
        {"value": _value_of(o), "title": text_of(o.get("label"), lang)}
        for o in options
        if isinstance(o, Mapping) and o.get("label")
    ]


# --------------------------------------------------------------------------- describers
@describes("text", "textarea")
def _text(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Text, or a number (its text is checked against the limits: not expressible, so any number)."""
    lo, hi = _length_limits(f)
    out: dict[str, Any] = {"type": ["string", "number"], "minLength": max(1, lo or 0), "maxLength": hi}
    if f.get("pattern"):
        out["pattern"] = anchored(f.get("pattern"))
    return out


@describes("richtext")
def _richtext(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """HTML (or a number): ``max_length`` counts the sanitised HTML, the raw input may be longer."""
    hi = f.get("max_length") or LONG_TEXT_LIMIT
    return {
        "type": ["string", "number"],
        "contentMediaType": "text/html",
        "minLength": 1,
        "maxLength": hi * RICH_RAW_FACTOR,
        "x-gongdan-max-length": hi,
    }


@describes("email", "url")
def _trimmed_text(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Text checked once stripped; a number too when the field has a pattern of its own."""
    lo, hi = _length_limits(f)
    own = f.get("pattern")
    text = {"type": "string", "minLength": 1, "pattern": _trimmed(own or DEFAULT_PATTERNS[f.type], lo, hi)}
    return {**text, "type": ["string", "number"]} if own else text


@describes("phone")
def _phone(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A phone number by the engine's rules, or (own ``pattern``) trimmed text matching it."""
    lo, hi = _length_limits(f)
    own = f.get("pattern")
    if own:
        return {"type": ["string", "number"], "minLength": 1, "pattern": _trimmed(own, lo, hi)}
    text = {"type": "string", "minLength": 1, "pattern": _trimmed(_phone_pattern(), lo, hi)}
    return {"anyOf": [text, dict(_MOBILE_NUMBERS)]} if hi >= 11 else text


@describes("number")
def _number(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A number or numeric text; whole with ``precision: 0``, else rounded to it before min/max."""
    precision = f.get("precision")
    integer = precision == 0
    slack = Decimal(0) if precision is None or integer else Decimal(5).scaleb(-precision - 1)
    number = {"type": "integer" if integer else "number", **_bounds(f.get("min"), f.get("max"), slack)}
    text = {"type": "string", "pattern": WHOLE_NUMBER_TEXT if integer else NUMERIC_TEXT}
    return {"oneOf": [number, text]}


@describes("money")
def _money(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A number, or decimal text with at most ``precision`` places (trailing zeros aside)."""
    places = f.get("precision", 2)
    number = {"type": "integer" if places == 0 else "number", **_bounds(f.get("min"), f.get("max"))}
    fraction = f"[0-9]{{0,{places}}}0*" if places > 0 else "0*"
    out: dict[str, Any] = {"oneOf": [number, {"type": "string", "pattern": _numeric_text(fraction)}]}
    if f.get("currency"):
        out["x-gongdan-currency"] = f.get("currency")
    return out


@describes("rating")
def _rating(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    stars = {"type": "integer", "minimum": 0, "maximum": f.get("max", 5)}
    return {"oneOf": [stars, {"type": "string", "pattern": WHOLE_NUMBER_TEXT}]}


@describes("date")
def _date(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "string", "format": "date", "pattern": DATE_PATTERN}


@describes("datetime")
def _datetime(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A date and time with its zone offset (the engine refuses one without)."""
    return {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}


@describes("checkbox")
def _checkbox(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "boolean"}, {"enum": [0, 1, "true", "false"]}]}


@describes("select", "radio")
def _select(f: FieldDef, ctx: Mapping[str, Any]) -> dict[str, Any]:
    options = option_values(f, ctx)
    out: dict[str, Any] = {"enum": _not_empty(_choices(options))}
    if titles := _option_titles(options, ctx.get("lang")):
        out["x-gongdan-options"] = titles
    return out


@describes("multiselect")
def _multiselect(f: FieldDef, ctx: Mapping[str, Any]) -> dict[str, Any]:
    options = option_values(f, ctx)
    out: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"enum": _choices(options)}}
    if titles := _option_titles(options, ctx.get("lang")):
        out["x-gongdan-options"] = titles
    return out


def _paths(level: Any, above: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path from the root of an option tree, to leaves and to inner options alike."""
    for option in level:
        path = (*above, _value_of(option))
        yield path
        if isinstance(option, Mapping):
            yield from _paths(option.get("children") or (), path)


@describes("cascade")
def _cascade(f: FieldDef, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A path of option values from the root (not necessarily to a leaf), as a list or as ``a/b`` text."""
    paths = list(_paths(option_values(f, ctx)))
    as_text = {
        "type": "string",
        "enum": _not_empty(list(dict.fromkeys("/".join(map(str, p)) for p in paths))),
    }
    as_lists = [
        {
            "type": "array",
            "prefixItems": [{"enum": spellings(step)} for step in path],
            "minItems": len(path),
            "items": False,
        }
        for path in paths
    ]
    return {"anyOf": [as_text, *as_lists]}


#: An id: a whole number or its digits.
_ID = {"type": ["integer", "string"], "minimum": 0, "pattern": "^[0-9]+$"}


@describes("user", "department", "link")
def _reference(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A numeric id; with ``multiple``, a list of them (or still a single one)."""
    out: dict[str, Any] = (
        {"anyOf": [dict(_ID), {"type": "array", "minItems": 1, "items": dict(_ID)}]}
        if f.get("multiple")
        else dict(_ID)
    )
    if f.get("target"):
        out["x-gongdan-target"] = thaw(f.get("target"))
    return out


#: A stored file's id (``engine.forms.fields._FILE_ID``; a test compares them).
_FILE_ID = "[A-Za-z0-9_-]{1,64}"


def _file_reference(f: FieldDef) -> dict[str, Any]:
    """A stored file's reference as the upload endpoint returns it (other keys are dropped)."""
    image = f.type == "image"
    accept = tuple(f.get("accept") or ())
    mimes = [k.mime for k in KIND_OF_MIME.values() if k.is_image or not image]
    return {
        "type": "object",
        "required": ["id", "name", "size", "mime"],
        "properties": {
            "id": {"type": "string", "pattern": anchored(_FILE_ID)},
            "name": {"type": "string"},
            "size": {
                "type": "integer",
                "minimum": 0,
                "maximum": int((f.get("max_size_mb") or DEFAULT_MAX_FILE_MB) * MIB),
            },
            "mime": {"enum": [m for m in mimes if not accept or accepts(m, accept)]},
        },
    }


@describes("attachment", "image")
def _files(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """One file reference, or a list of them (one at most unless ``multiple``)."""
    ref = _file_reference(f)
    many = {"type": "array", "minItems": 1, "maxItems": MAX_FILES if f.get("multiple") else 1, "items": ref}
    out: dict[str, Any] = {"anyOf": [ref, many]}
    if f.get("accept"):
        out["x-gongdan-accept"] = thaw(f.get("accept"))
    return out


@describes("subtable")
def _subtable(f: FieldDef, ctx: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "array",
        "minItems": max(1, f.get("min_rows") or 0),
        "items": object_schema(f.fields, ctx),
    }
    if f.get("max_rows") is not None:
        out["maxItems"] = f.get("max_rows")
    return out


@describes("formula", "autonumber")
def _computed(f: FieldDef, _ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Computed by the engine: no input is accepted."""
    return {"not": {}}


# --------------------------------------------------------------------------- forms
_CONDITIONS = (
    ("visible_if", "x-gongdan-visible-if"),
    ("required_if", "x-gongdan-required-if"),
    ("readonly_if", "x-gongdan-readonly-if"),
)


def is_read_only(f: FieldDef) -> bool:
    return FIELD_TYPES[f.type].computed or bool(f.get("readonly"))


def must_send(f: FieldDef) -> bool:
    """Required unconditionally: shown always, no default fills it in, not computed."""
    return (
        bool(f.get("required"))
        and not FIELD_TYPES[f.type].computed
        and not f.get("visible_if")
        and f.get("default") is None
        and not f.get("default_from")
    )


def describe_field(f: FieldDef, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The property schema of one field: its value schema with title, annotations and empties."""
    lang = ctx.get("lang")
    out: dict[str, Any] = {"title": text_of(f.label, lang) or f.key}
    if help_text := text_of(f.get("help"), lang):
        out["description"] = help_text
    out["x-gongdan-type"] = f.type
    for option, keyword in _CONDITIONS:
        if f.get(option):
            out[keyword] = str(f.get(option))
    if is_read_only(f):
        return {**out, "readOnly": True, "not": {}}
    if f.get("default") is not None:
        out["default"] = thaw(f.get("default"))
    if f.get("required") and not must_send(f):
        out["x-gongdan-required"] = True
    value = DESCRIBERS[f.type](f, ctx)
    if f.get("required") and not f.get("visible_if"):
        return {**out, **value}
    return {**out, **_or_empty(value)}


def _or_empty(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` or an empty value, as flat as it goes (annotations stay outside the ``anyOf``)."""
    notes = {k: v for k, v in value.items() if k.startswith("x-gongdan-")}
    rest = {k: v for k, v in value.items() if k not in notes}
    if rest.keys() == {"enum"}:
        return {**notes, "enum": [*rest["enum"], *EMPTY_VALUES]}
    if rest.keys() == {"anyOf"}:
        return {**notes, "anyOf": [*rest["anyOf"], {"enum": list(EMPTY_VALUES)}]}
    return {**notes, "anyOf": [rest, {"enum": list(EMPTY_VALUES)}]}


def object_schema(fields: tuple[FieldDef, ...], ctx: Mapping[str, Any]) -> dict[str, Any]:
    """A whole form or one sub-table row: an object of exactly these fields."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.key: describe_field(f, ctx) for f in fields},
        "required": [f.key for f in fields if must_send(f)],
    }


def form_json_schema(
    ticket_type_def: TicketTypeDef, option_sets: Mapping[str, Any], lang: str | None = None
) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of a new ticket's form input for ``ticket_type_def``.

    ``option_sets``: the app's option sets (``AppDef.option_sets``) for ``options_from``;
    ``lang``: the language of titles and descriptions (default: the current language).
    An update sends only some fields (``partial``): it is checked against this schema without
    its ``required`` list.
    """
    lang = current_lang(lang)
    ctx = {"option_sets": option_sets, "lang": lang}
    return {
        "$schema": DRAFT,
        "title": text_of(ticket_type_def.name, lang) or ticket_type_def.key,
        "x-gongdan-ticket-type": ticket_type_def.key,
        **object_schema(ticket_type_def.form.fields, ctx),
    }
