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

import nh3

import engine.forms.file_messages  # noqa: F401  (messages of the file, image and rich-text fields)
from engine.definitions.model import FieldDef
from engine.files import KIND_OF_MIME, MIB, accepts, clean_name, is_image

Cleaner = Callable[[Any], Any]

#: Options every field may carry, whatever its type.
COMMON_OPTIONS = frozenset(
    {
        "required", "required_if", "visible_if", "readonly", "readonly_if", "default",
        "default_from", "unique", "index", "help", "placeholder", "renamed_from", "checks",
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


#: Text-like types with a built-in pattern (replaced by a field's own), and the error it raises.
TEXT_PATTERNS = {
    "email": (r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", "field.email"),
    "url": (r"https?://[^\s/$.?#][^\s]*", "field.url"),
}


def text_rules(
    f: FieldDef, default_pattern: str | None = None
) -> tuple[int | None, int, re.Pattern[str] | None, bool]:
    """A text-like field's (min length, max length, pattern, trimmed), as its cleaner applies them.

    Values of the types with a built-in pattern are trimmed first.
    """
    hi = f.get("max_length") or DEFAULT_MAX_LENGTH.get(f.type, LONG_TEXT_LIMIT)
    return f.get("min_length"), hi, _pattern(f, default_pattern), default_pattern is not None


def _string_cleaner(default_pattern: str | None = None, code: str = "field.pattern") -> Callable:
    """Text-like fields; every limit is looked up once, when the form is compiled."""

    def factory(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
        lo, hi, rx, strip = text_rules(f, default_pattern)
        fullmatch = rx.fullmatch if rx is not None else None
        shown = rx.pattern if rx is not None else ""

        def clean(value: Any) -> str:
            if type(value) is not str:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise Invalid("field.not_text")
                value = str(value)
            if "\x00" in value:
                raise Invalid("field.nul")
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
        # Only plain ASCII numerals: "١٢" or "1_000" are not how people type amounts here.
        if not text or len(text) > MAX_NUMBER_TEXT or not text.isascii() or "_" in text:
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


def number_rules(f: FieldDef) -> tuple[Any, Any, bool, int | None]:
    """A number field's (min, max, whole numbers only, precision), as its cleaner applies them."""
    precision = f.get("precision")
    return f.get("min"), f.get("max"), precision == 0, precision


def _number_cleaner(f: FieldDef) -> Cleaner:
    lo, hi, integer, precision = number_rules(f)

    def clean(value: Any) -> int | float:
        number = _parse_number(value)
        if integer:
            if number != int(number):
                raise Invalid("field.not_integer")
            number = int(number)
        if lo is not None and number < lo:
            raise Invalid("field.too_small", min=lo)
        if hi is not None and number > hi:
            raise Invalid("field.too_large", max=hi)
        if precision is not None and not integer:
            number = round(number, precision) + 0.0  # + 0.0 turns -0.0 into 0.0
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


def choice_texts(f: FieldDef, ctx: Mapping[str, Any]) -> frozenset[str]:
    """A choice field's option values as text: what its cleaner compares a value's text with."""
    return frozenset(str(_value_of(o)) for o in option_values(f, ctx))


# --------------------------------------------------------------------------- types
field_type("text", {"min_length", "max_length", "pattern"})(_string_cleaner())
field_type("textarea", {"min_length", "max_length"})(_string_cleaner())
field_type("email", {"max_length", "pattern"})(_string_cleaner(*TEXT_PATTERNS["email"]))
field_type("url", {"max_length", "pattern"})(_string_cleaner(*TEXT_PATTERNS["url"]))


# --------------------------------------------------------------------------- rich text
#: What rich text may keep; everything else (script, style, iframe, on* handlers...) is removed.
RICH_TAGS = frozenset(
    {
        "p", "br", "hr", "b", "strong", "i", "em", "u", "s", "sub", "sup", "ul", "ol", "li", "a",
        "blockquote", "code", "pre", "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th",
        "td", "img",
    }
)  # fmt: skip
RICH_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
RICH_URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Before cleaning, input may be this many times the limit (markup that cleaning removes); more is
#: refused unread, so 10 MB of HTML is never handed to the sanitiser.
RICH_RAW_FACTOR = 4
_HTTP_SRC = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE | re.ASCII)
_FILES_SRC = re.compile(r"/files/[A-Za-z0-9_-]+(?:/[A-Za-z0-9._-]+)*", re.ASCII)


def _rich_attribute(element: str, attribute: str, value: str) -> str | None:
    """Images only from http(s) or our own ``/files/``: no data:, javascript: or protocol-relative src."""
    if element == "img" and attribute == "src":
        src = value.strip()
        if _HTTP_SRC.fullmatch(src) or (_FILES_SRC.fullmatch(src) and ".." not in src):
            return src
        return None
    return value


_NH3_OPTIONS: dict[str, Any] = {
    "tags": set(RICH_TAGS),
    "attributes": {tag: set(names) for tag, names in RICH_ATTRIBUTES.items()},
    "attribute_filter": _rich_attribute,
    "url_schemes": set(RICH_URL_SCHEMES),
    "strip_comments": True,
    "link_rel": "noopener noreferrer nofollow",
}


def sanitize_html(html: str) -> str:
    """``html`` with only the allowed tags, attributes and URLs left (nh3 / ammonia).

    Script and style elements go with their content; ``on*`` handlers, ``style`` and every other
    attribute not listed go; links keep only http(s)/mailto/relative targets and get
    ``rel="noopener noreferrer nofollow"``.
    """
    return nh3.clean(html, **_NH3_OPTIONS)


@field_type("richtext", {"max_length"})
def _richtext_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    """Stored as the sanitised HTML; ``max_length`` counts the cleaned HTML."""
    hi = f.get("max_length") or LONG_TEXT_LIMIT
    raw_limit = hi * RICH_RAW_FACTOR

    def clean(value: Any) -> str | None:
        if type(value) is not str:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Invalid("field.not_text")
            value = str(value)
        if len(value) > raw_limit:
            raise Invalid("field.too_long", max=hi, length=len(value))
        cleaned = sanitize_html(value)
        if len(cleaned) > hi:
            raise Invalid("field.too_long", max=hi, length=len(cleaned))
        return cleaned if cleaned.strip() else None  # nothing left (only a script): empty

    return clean


# --------------------------------------------------------------------------- phone
#: Full-width digits and signs, as Chinese input methods type them; other look-alikes are refused.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋－（）　", "0123456789+-() ")
_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)  # country codes never start with 0
#: Mainland landline: area code 010, 02x or 0xxx (prefix-free, so the separator may be left out),
#: a 7–8 digit number and an optional extension after a dash.
_LANDLINE = re.compile(r"\(?(010|02[0-9]|0[3-9][0-9]{2})\)?[ -]?([0-9]{7,8})(?: *- *([0-9]{1,6}))?", re.ASCII)


def normalize_phone(text: str) -> str | None:
    """``13800138000``, ``+8613800138000`` or ``010-12345678[-123]``; None if not a phone number.

    Full-width digits are read as digits; spaces and dashes inside mobile and international numbers
    (and brackets in international ones) are dropped.
    """
    if _MOBILE.fullmatch(text):  # the commonest spelling: nothing to read or drop
        return text
    if not text.isascii():  # only non-ASCII characters are translated
        text = text.translate(_FULL_WIDTH)
    text = text.strip()
    if text.startswith("-"):
        return None
    compact = text.replace(" ", "").replace("-", "")
    if compact.startswith("+"):
        compact = compact.replace("(", "").replace(")", "")
        return compact if _E164.fullmatch(compact) else None
    if _MOBILE.fullmatch(compact):
        return compact
    match = _LANDLINE.fullmatch(text)
    if match is None:
        return None
    area, number, ext = match.groups()
    return f"{area}-{number}" + (f"-{ext}" if ext else "")


@field_type("phone", {"max_length", "pattern"})
def _phone_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    """A mainland mobile, an E.164 or a mainland landline number, stored normalised.

    A field's own ``pattern`` replaces these rules: the trimmed value must match it and is kept as typed.
    """
    own = _pattern(f)
    hi = f.get("max_length") or DEFAULT_MAX_LENGTH["phone"]

    def clean(value: Any) -> str:
        if type(value) is not str:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Invalid("field.not_text")
            value = str(value)
        value = value.strip()
        if len(value) > hi:
            raise Invalid("field.too_long", max=hi, length=len(value))
        if own is not None:
            if own.fullmatch(value) is None:
                raise Invalid("field.pattern", pattern=own.pattern)
            return value
        number = normalize_phone(value)
        if number is None:
            raise Invalid("field.phone")
        return number

    return clean


@field_type("number", {"min", "max", "precision"}, expr_type="number")
def _number_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    return _number_cleaner(f)


def money_rules(f: FieldDef) -> tuple[Any, Any, int]:
    """A money field's (min, max, decimal places), as its cleaner applies them."""
    return f.get("min"), f.get("max"), f.get("precision", 2)


@field_type("money", {"min", "max", "precision", "currency"}, expr_type="number", to_expr=Decimal)
def _money_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    """Money is exact: a Decimal kept as its text (``"120.00"``), never a float."""
    lo, hi, places = money_rules(f)
    step = Decimal(1).scaleb(-places)
    least = Decimal(str(lo)) if lo is not None else None  # the schema makes both numbers
    most = Decimal(str(hi)) if hi is not None else None

    def clean(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid("field.not_number")
        text = str(value).strip()
        if not text or len(text) > MAX_NUMBER_TEXT or not text.isascii() or "_" in text:
            raise Invalid("field.not_number")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise Invalid("field.not_number") from None
        if not amount.is_finite():
            raise Invalid("field.not_number")
        if abs(amount) >= MAX_MAGNITUDE:
            raise Invalid("field.number_too_big", max=MAX_MAGNITUDE)
        exact = amount.quantize(step)
        if exact != amount:
            raise Invalid("field.too_precise", places=-step.as_tuple().exponent)
        if least is not None and amount < least:
            raise Invalid("field.too_small", min=lo)
        if most is not None and amount > most:
            raise Invalid("field.too_large", max=hi)
        return str(exact)

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


_ASCII_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
#: The forms people and APIs send: 2026-12-01, and 2026-12-01T09:00[:00[.000]]+08:00 (or Z).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)


def _bounds(f: FieldDef, parse: Callable[[str], Any]) -> tuple[Any, Any]:
    """A date field's min/max, as written in the definition (ISO text), parsed once."""
    return tuple(parse(str(f.get(k))) if f.get(k) is not None else None for k in ("min", "max"))  # type: ignore[return-value]


def _within(value: Any, lo: Any, hi: Any) -> Any:
    if lo is not None and value < lo:
        raise Invalid("field.too_small", min=lo.isoformat())
    if hi is not None and value > hi:
        raise Invalid("field.too_large", max=hi.isoformat())
    return value


@field_type("date", {"min", "max"}, expr_type="date", to_expr=dt.date.fromisoformat)
def _date_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    lo, hi = _bounds(f, dt.date.fromisoformat)

    def clean(value: Any) -> str:
        if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
            raise Invalid("field.date")
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise Invalid("field.date") from None
        return _within(day, lo, hi).isoformat()

    return clean


@field_type("datetime", {"min", "max"}, expr_type="date", to_expr=dt.datetime.fromisoformat)
def _datetime_field(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
    lo, hi = _bounds(f, dt.datetime.fromisoformat)

    def clean(value: Any) -> str:
        match = _DATETIME.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise Invalid("field.datetime")
        if match.group(1) is None:
            raise Invalid("field.datetime_zone")
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("field.datetime") from None
        return _within(moment, lo, hi).isoformat()

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
        allowed_set = choice_texts(f, ctx)
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
        if isinstance(value, bool) or not isinstance(value, int | str) or not _ASCII_ID.fullmatch(str(value)):
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


#: Without a max_size_mb of their own, file fields still refuse what no ticket needs.
DEFAULT_MAX_FILE_MB = 100
MAX_FILES = 100
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def file_reference(value: Any) -> dict[str, Any]:
    """A stored-file reference ``{"id", "name", "size", "mime"}`` in its stored shape (other keys dropped).

    Its metadata is *trusted*: references are made only by the upload endpoint, from what
    ``engine.files.Storage.put`` returned (size counted and mime sniffed from the bytes). Anything
    that lets clients hand in references of their own must rebuild them with ``Storage.info(id)``.
    """
    if not isinstance(value, Mapping):
        raise Invalid("field.file")
    file_id, name, size, mime = (value.get(k) for k in ("id", "name", "size", "mime"))
    if isinstance(size, float) and size.is_integer():
        size = int(size)
    if (
        not isinstance(file_id, str)
        or _FILE_ID.fullmatch(file_id) is None
        or not isinstance(name, str)
        or len(name) > 1024
        or not isinstance(mime, str)
        or len(mime) > 127
        or isinstance(size, bool)
        or not isinstance(size, int)
        or not 0 <= size < 2**53
    ):
        raise Invalid("field.file")
    return {"id": file_id, "name": clean_name(name), "size": size, "mime": mime}


def _files(image: bool) -> Callable:
    def factory(f: FieldDef, _ctx: Mapping[str, Any]) -> Cleaner:
        max_mb = f.get("max_size_mb") or DEFAULT_MAX_FILE_MB
        limit = int(max_mb * MIB)
        accept = tuple(f.get("accept") or ())
        kinds = [k for k in KIND_OF_MIME.values() if k.is_image or not image]
        shown = ", ".join(accept) if accept else ", ".join(k.extensions[0] for k in kinds)
        multiple = bool(f.get("multiple"))

        def one(value: Any) -> dict[str, Any]:
            ref = file_reference(value)
            name, mime = ref["name"], ref["mime"]
            if ref["size"] > limit:
                raise Invalid(
                    "field.file_too_large", max_mb=max_mb, name=name, size_mb=round(ref["size"] / MIB, 1)
                )
            if image and not is_image(mime):
                raise Invalid("field.not_image", name=name, mime=mime)
            if mime not in KIND_OF_MIME or (accept and not accepts(mime, accept)):
                raise Invalid("field.file_type", name=name, mime=mime, accept=shown)
            return ref

        def clean(value: Any) -> list[dict[str, Any]]:
            items = value if isinstance(value, list) else [value]
            if not multiple and len(items) > 1:
                raise Invalid("field.one_file")
            if len(items) > MAX_FILES:
                raise Invalid("field.too_many_files", max=MAX_FILES, count=len(items))
            return [one(v) for v in items]

        return clean

    return factory


field_type("attachment", {"multiple", "max_size_mb", "accept"}, expr_type="list")(_files(image=False))
field_type("image", {"multiple", "max_size_mb", "accept"}, expr_type="list")(_files(image=True))


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
