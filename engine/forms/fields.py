"""The field-type registry: each type says which options it takes and how it cleans a value.

A cleaner is compiled once per field (``make_cleaner``) and then called for every submission;
it returns the stored value or raises :class:`Invalid` with a message code and parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.definitions.model import FieldDef

Cleaner = Callable[[Any], Any]

#: Options every field may carry, whatever its type.
COMMON_OPTIONS = frozenset(
    {
        "required", "required_if", "visible_if", "readonly", "readonly_if", "default",
        "default_from", "unique", "index", "help", "placeholder",
    }
)  # fmt: skip


class Invalid(Exception):
    """A value a field refuses: ``code`` is a message code, ``params`` fill it in."""

    def __init__(self, code: str, nested: list[Any] | None = None, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params
        self.nested = nested or []  # problems inside sub-table rows, already with their paths


@dataclass(frozen=True)
class FieldType:
    name: str
    options: frozenset[str]
    make_cleaner: Callable[[FieldDef, Mapping[str, Any]], Cleaner]
    required_options: tuple[frozenset[str], ...] = ()  # each set: at least one of them
    computed: bool = False  # formula/autonumber: never accepted from input
    multi_valued: bool = False
    expr_type: str = "text"  # what expressions see: text, number, bool, date, list, any
    to_expr: Callable[[Any], Any] | None = None  # stored value → the value expressions compute with


FIELD_TYPES: dict[str, FieldType] = {}


def field_type(name: str, options: set[str] | frozenset[str] = frozenset(), **kw: Any):
    """Register a cleaner factory as field type ``name``."""

    def deco(factory: Callable[[FieldDef, Mapping[str, Any]], Cleaner]):
        FIELD_TYPES[name] = FieldType(name, frozenset(options), factory, **kw)
        return factory

    return deco


# --------------------------------------------------------------------------- helpers
#: Without a max_length of their own, text fields still refuse what no ticket needs (10 MB).
DEFAULT_MAX_LENGTH = {"text": 1_000, "email": 254, "phone": 32, "url": 2_000}
LONG_TEXT_LIMIT = 200_000


def _pattern(f: FieldDef, default: str | None = None) -> re.Pattern[str] | None:
    pattern = f.get("pattern") or default
    return re.compile(pattern) if pattern else None


def _string_cleaner(default_pattern: str | None = None, code: str = "field.pattern") -> Callable:
    """Text-like fields; every limit is looked up once, when the form is compiled."""

    def factory(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
        rx = _pattern(f, default_pattern)
        fullmatch = rx.fullmatch if rx is not None else None
        shown = rx.pattern if rx is not None else ""
        lo = f.get("min_length")
        hi = f.get("max_length") or DEFAULT_MAX_LENGTH.get(f.type, LONG_TEXT_LIMIT)
        strip = default_pattern is not None

        def clean(value: Any) -> str:
            if type(value) is not str:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise Invalid("field.not_text")
                value = str(value)
            if strip:
                value = value.strip()
            n = len(value)
            if n > hi:
                raise Invalid("field.too_long", max=hi, length=n)
            if lo is not None and n < lo:
                raise Invalid("field.too_short", min=lo, length=n)
            if fullmatch is not None and fullmatch(value) is None:
                raise Invalid(code, pattern=shown)
            return value

        return clean

    return factory


#: Larger magnitudes are typing accidents (or attacks: a 400-digit number), not ticket data.
MAX_MAGNITUDE = 10**15
MAX_NUMBER_TEXT = 40


def _parse_number(value: Any) -> int | float:
    if type(value) is int or type(value) is float:
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_NUMBER_TEXT:
            raise Invalid("field.not_number")
        try:
            number = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise Invalid("field.not_number") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise Invalid("field.not_number")
    if not -MAX_MAGNITUDE < number < MAX_MAGNITUDE:  # also false for NaN and infinities
        if number != number or number in (math.inf, -math.inf):
            raise Invalid("field.not_number")
        raise Invalid("field.number_too_big", max=MAX_MAGNITUDE)
    return number


def _number_cleaner(f: FieldDef, integer: bool = False, precision: int | None = None) -> Cleaner:
    lo, hi = f.get("min"), f.get("max")

    def clean(value: Any) -> int | float:
        number = _parse_number(value)
        if integer:
            if number != int(number):
                raise Invalid("field.not_integer")
            number = int(number)
        elif precision is not None:
            number = round(number, precision)
        if lo is not None and number < lo:
            raise Invalid("field.too_small", min=lo)
        if hi is not None and number > hi:
            raise Invalid("field.too_large", max=hi)
        return number

    return clean


def option_values(f: FieldDef, ctx: Mapping[str, Any]) -> list[Any]:
    """The options a choice field offers: inline or from the app's option sets."""
    raw = f.get("options")
    if raw is None and f.get("options_from"):
        raw = ctx.get("option_sets", {}).get(f.get("options_from"), ())
    return list(raw or ())


def _value_of(option: Any) -> Any:
    return option.get("value") if isinstance(option, Mapping) else option


# --------------------------------------------------------------------------- types
field_type("text", {"min_length", "max_length", "pattern"})(_string_cleaner())
field_type("textarea", {"min_length", "max_length"})(_string_cleaner())
field_type("richtext", {"max_length"})(_string_cleaner())
field_type("email", {"max_length", "pattern"})(
    _string_cleaner(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", "field.email")
)
field_type("phone", {"max_length", "pattern"})(_string_cleaner(r"\+?[0-9][0-9 ()\-]{4,19}", "field.phone"))
field_type("url", {"max_length", "pattern"})(_string_cleaner(r"https?://[^\s/$.?#][^\s]*", "field.url"))


@field_type("number", {"min", "max", "precision"}, expr_type="number")
def _number_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    precision = f.get("precision")
    return _number_cleaner(f, integer=precision == 0, precision=precision)


@field_type("money", {"min", "max", "precision", "currency"}, expr_type="number", to_expr=Decimal)
def _money_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    """Money is exact: a Decimal kept as its text (``"120.00"``), never a float."""
    step = Decimal(1).scaleb(-f.get("precision", 2))
    lo, hi = f.get("min"), f.get("max")

    def clean(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid("field.not_number")
        text = str(value).strip()
        if not text or len(text) > MAX_NUMBER_TEXT:
            raise Invalid("field.not_number")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise Invalid("field.not_number") from None
        if not amount.is_finite():
            raise Invalid("field.not_number")
        if abs(amount) >= MAX_MAGNITUDE:
            raise Invalid("field.number_too_big", max=MAX_MAGNITUDE)
        if amount.quantize(step) != amount:
            raise Invalid("field.too_precise", places=-step.as_tuple().exponent)
        if lo is not None and amount < Decimal(str(lo)):
            raise Invalid("field.too_small", min=lo)
        if hi is not None and amount > Decimal(str(hi)):
            raise Invalid("field.too_large", max=hi)
        return str(amount.quantize(step))

    return clean


@field_type("rating", {"max"}, expr_type="number")
def _rating_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    top = f.get("max", 5)

    def clean(value: Any) -> int:
        number = _parse_number(value)
        if number != int(number) or not 0 <= number <= top:
            raise Invalid("field.rating_range", max=top)
        return int(number)

    return clean


@field_type("date", {"min", "max"}, expr_type="date", to_expr=dt.date.fromisoformat)
def _date_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    def clean(value: Any) -> str:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise Invalid("field.date") from None

    return clean


@field_type("datetime", {"min", "max"}, expr_type="date", to_expr=dt.datetime.fromisoformat)
def _datetime_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    def clean(value: Any) -> str:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise Invalid("field.datetime") from None
        if parsed.tzinfo is None:
            raise Invalid("field.datetime_zone")
        return parsed.isoformat()

    return clean


@field_type("checkbox", expr_type="bool")
def _checkbox_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    def clean(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if value in (0, 1, "true", "false"):
            return value in (1, "true")
        raise Invalid("field.boolean")

    return clean


def _choice(multiple: bool) -> Callable:
    def factory(f: FieldDef, ctx: Mapping[str, Any]) -> Cleaner:
        allowed = [_value_of(o) for o in option_values(f, ctx)]
        allowed_set = set(map(str, allowed))
        shown = ", ".join(map(str, allowed[:12]))

        def one(value: Any) -> Any:
            if str(value) not in allowed_set or isinstance(value, list | dict):
                raise Invalid("field.not_an_option", value=value, options=shown)
            return value

        if not multiple:
            return one

        def many(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise Invalid("field.not_a_list")
            return [one(v) for v in value]

        return many

    return factory


field_type("select", {"options", "options_from"}, required_options=(frozenset({"options", "options_from"}),))(
    _choice(False)
)
field_type("radio", {"options", "options_from"}, required_options=(frozenset({"options", "options_from"}),))(
    _choice(False)
)
field_type(
    "multiselect",
    {"options", "options_from"},
    required_options=(frozenset({"options", "options_from"}),),
    multi_valued=True,
    expr_type="list",
)(_choice(True))


@field_type(
    "cascade",
    {"options", "options_from"},
    required_options=(frozenset({"options", "options_from"}),),
    expr_type="list",
)
def _cascade_field(f: FieldDef, ctx: Mapping[str, Any]) -> Cleaner:
    tree = option_values(f, ctx)

    def clean(value: Any) -> list[Any]:
        path = value.split("/") if isinstance(value, str) else value
        if not isinstance(path, list) or not path:
            raise Invalid("field.cascade_path")
        level = tree
        for step in path:
            match = next((o for o in level if str(_value_of(o)) == str(step)), None)
            if match is None:
                raise Invalid(
                    "field.not_an_option", value=step, options=", ".join(str(_value_of(o)) for o in level)
                )
            level = match.get("children", ()) if isinstance(match, Mapping) else ()
        return list(path)

    return clean


def _reference(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    """Users, departments and linked records are stored by their numeric id."""

    def one(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise Invalid("field.reference")
        return int(value)

    if not f.get("multiple"):
        return one
    return lambda value: [one(v) for v in value] if isinstance(value, list) else [one(value)]


field_type("user", {"multiple"}, expr_type="any")(_reference)
field_type("department", {"multiple"}, expr_type="any")(_reference)
field_type("link", {"multiple", "target"}, required_options=(frozenset({"target"}),), expr_type="any")(
    _reference
)


def _files(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    limit = f.get("max_size_mb")

    def one(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            value = {"id": value}
        if not isinstance(value, Mapping) or not value.get("id"):
            raise Invalid("field.file")
        size = value.get("size")
        if limit is not None and isinstance(size, int | float) and size > limit * 1024 * 1024:
            raise Invalid("field.file_too_large", max_mb=limit)
        return dict(value)

    def clean(value: Any) -> list[dict[str, Any]]:
        items = value if isinstance(value, list) else [value]
        if not f.get("multiple") and len(items) > 1:
            raise Invalid("field.one_file")
        return [one(v) for v in items]

    return clean


field_type("attachment", {"multiple", "max_size_mb", "accept"}, expr_type="list")(_files)
field_type("image", {"multiple", "max_size_mb", "accept"}, expr_type="list")(_files)


@field_type("subtable", {"min_rows", "max_rows"}, required_options=(frozenset({"fields"}),), expr_type="list")
def _subtable_field(f: FieldDef, ctx: Mapping[str, Any]) -> Cleaner:
    from engine.forms.spec import compile_fields  # the row form is a form of its own

    rows_form = compile_fields(f.fields, ctx)

    def clean(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise Invalid("field.not_a_list")
        lo, hi = f.get("min_rows"), f.get("max_rows")
        if lo is not None and len(value) < lo:
            raise Invalid("field.too_few_rows", min=lo)
        if hi is not None and len(value) > hi:
            raise Invalid("field.too_many_rows", max=hi)
        problems: list[Any] = []
        rows = [rows_form.clean(row, problems, f"{f.key}[{i}]") for i, row in enumerate(value)]
        if problems:
            raise Invalid("field.rows_invalid", nested=problems)
        return rows

    return clean


def _computed(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    def clean(value: Any) -> Any:
        raise Invalid("field.computed")

    return clean


field_type(
    "formula", {"expr", "precision"}, required_options=(frozenset({"expr"}),), computed=True, expr_type="any"
)(_computed)
field_type("autonumber", {"format"}, computed=True)(_computed)
