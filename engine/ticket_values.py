"""Cells into field values: one converter per field type (a registry), and the lookups they need.

Dates incl. ``2026年11月3日`` and ``2026/11/3 14:05`` (without a zone: in the sheet's zone), numbers
with thousands separators and currency signs, options by value or by label in any language, yes/no
words, people by username, name, mobile or email, departments by name. A converter raises
:class:`ConvertError` (a message code and its parameters) for a cell it cannot read; the form engine
then validates the row (engine/ticket_import.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from engine.definitions.model import FieldDef
from engine.forms.fields import option_values
from engine.sheets import cell_text as _text
from engine.store.models import Department, User

TRUE_WORDS = frozenset({"是", "true", "yes", "y", "1", "√", "✓", "对", "有", "checked"})
FALSE_WORDS = frozenset({"否", "false", "no", "n", "0", "×", "✗", "无", "没有", "unchecked"})
LIST_SPLIT = re.compile(r"\s*[,，;；、|]\s*")


class ConvertError(Exception):
    """A cell a converter cannot turn into the field's value: ``code`` and ``params`` say why."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code, self.params = code, params


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_TIME = re.compile(
    r"(?:[ T]+|\s*)(\d{1,2})\s*[:：时点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.(\d{1,6}))?)?\s*[秒分]?"
)
_ZONE = re.compile(r"\s*(Z|[+-]\d{2}:?\d{2})$")


def parse_day(value: Any) -> dt.date:
    """2026-11-03, 2026/11/3, 2026.11.3, 2026年11月3日, or a date cell."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    match = _DATE.fullmatch(text) or _DATE.match(text)
    if match is None or (match.end() != len(text) and not _TIME.fullmatch(text[match.end() :])):
        raise ConvertError("import.not_date", value=text[:60])
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ConvertError("import.not_date", value=text[:60]) from None


def parse_moment(value: Any, tz: dt.tzinfo) -> dt.datetime:
    """A moment, aware: a date-time cell, ISO text, ``2026/11/3 14:05``, ``2026年11月3日 14时05分``;
    without a zone it is in ``tz``; a bare date is its midnight."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = _text(value)
        zone = _ZONE.search(text)
        body = text[: zone.start()] if zone else text
        match = _DATE.match(body)
        if match is None:
            raise ConvertError("import.not_datetime", value=text[:60])
        rest = body[match.end() :]
        clock = _TIME.fullmatch(rest) if rest.strip() else None
        if rest.strip() and clock is None:
            raise ConvertError("import.not_datetime", value=text[:60])
        try:
            parts = [int(g) for g in match.groups()]
            if clock is not None:
                h, m, s, frac = clock.groups()
                parts += [int(h), int(m), int(s or 0), int((frac or "0").ljust(6, "0"))]
            moment = dt.datetime(*parts)  # type: ignore[arg-type]
        except ValueError:
            raise ConvertError("import.not_datetime", value=text[:60]) from None
        if zone:
            raw = zone.group(1)
            offset = dt.UTC if raw == "Z" else _offset(raw)
            moment = moment.replace(tzinfo=offset)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(dt.UTC)


def _offset(raw: str) -> dt.timezone:
    digits = raw[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt.timezone(delta if raw[0] == "+" else -delta)


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ConvertError("import.not_number", value=str(value))
    if isinstance(value, int | float):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    text = _text(value)
    cleaned = re.sub(r"[,，\s¥￥$€元]", "", text)
    try:
        number = float(cleaned)
    except ValueError:
        raise ConvertError("import.not_number", value=text[:60]) from None
    return int(number) if number.is_integer() and "." not in cleaned else number


# =============================================================================== lookups
class Directory:
    """Users and departments by every name a sheet may use for them (loaded once per run)."""

    def __init__(self, conn: Connection):
        self.users: dict[str, set[int]] = {}
        rows = conn.execute(
            select(User.id, User.username, User.display_name, User.phone, User.email).where(
                User.is_active.is_(True)
            )
        )
        for uid, username, name, phone, email in rows:
            for key in (username, name, email, _digits(phone)):
                if key:
                    self.users.setdefault(str(key).strip().lower(), set()).add(uid)
        self.usernames = {
            uid: username for uid, username in conn.execute(select(User.id, User.username)).all()
        }
        self.departments: dict[str, set[int]] = {}
        for did, name in conn.execute(select(Department.id, Department.name)):
            self.departments.setdefault(name.strip().lower(), set()).add(did)

    def user(self, value: Any) -> int:
        text = _text(value)
        key = text.lower()
        found = self.users.get(key) or self.users.get(_digits(text) or "\0")
        if not found:
            raise ConvertError("import.no_user", value=text[:60])
        if len(found) > 1:
            by_username = [u for u in found if self.usernames.get(u, "").lower() == key]
            if len(by_username) == 1:
                return by_username[0]
            raise ConvertError("import.ambiguous_user", value=text[:60], count=len(found))
        return next(iter(found))

    def department(self, value: Any) -> int:
        text = _text(value)
        if text.isdigit():
            return int(text)
        found = self.departments.get(text.lower())
        if not found or len(found) > 1:
            raise ConvertError("import.no_department", value=text[:60])
        return next(iter(found))


def _digits(phone: Any) -> str | None:
    """A mobile number as digits only, without China's +86."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", str(phone))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) >= 5 else None


# =============================================================================== converters
@dataclass
class Context:
    """What converters need besides the cell: the directory, option tables, the sheet's time zone."""

    directory: Directory
    option_sets: Mapping[str, Any]
    tz: dt.tzinfo
    _options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options(self, f: FieldDef) -> dict[str, Any]:
        """Every way to name each option (its value, its labels), lower-case → the value."""
        found = self._options.get(f.key)
        if found is None:
            found = {}
            for option in option_values(f, {"option_sets": self.option_sets}):
                _name_option(found, option)
            self._options[f.key] = found
        return found


def _name_option(table: dict[str, Any], option: Any) -> Any:
    value = option.get("value") if isinstance(option, Mapping) else option
    names = [value]
    if isinstance(option, Mapping):
        label = option.get("label")
        names += list(label.values()) if isinstance(label, Mapping) else [label]
    for name in names:
        if name is not None:
            table.setdefault(str(name).strip().lower(), value)
    return value


Converter = Callable[[Any, FieldDef, Context], Any]
CONVERTERS: dict[str, Converter] = {}


def converter(*types: str) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for name in types:
            CONVERTERS[name] = fn
        return fn

    return register


@converter("text", "textarea", "email", "url", "phone", "richtext")
def _to_text(value: Any, f: FieldDef, ctx: Context) -> str:
    return _text(value)


@converter("number", "money", "rating")
def _to_number(value: Any, f: FieldDef, ctx: Context) -> int | float:
    return _number(value)


@converter("date")
def _to_date(value: Any, f: FieldDef, ctx: Context) -> str:
    return parse_day(value).isoformat()


@converter("datetime")
def _to_datetime(value: Any, f: FieldDef, ctx: Context) -> str:
    return parse_moment(value, ctx.tz).astimezone(ctx.tz).isoformat()


@converter("checkbox")
def _to_bool(value: Any, f: FieldDef, ctx: Context) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ConvertError("import.not_boolean", value=text[:60])


def _option(value: Any, f: FieldDef, ctx: Context) -> Any:
    table = ctx.options(f)
    text = _text(value)
    found = table.get(text.lower())
    if found is None:
        shown = ", ".join(sorted({str(v) for v in table.values()})[:12])
        raise ConvertError("import.not_option", value=text[:60], options=shown)
    return found


@converter("select", "radio")
def _to_option(value: Any, f: FieldDef, ctx: Context) -> Any:
    return _option(value, f, ctx)


@converter("multiselect")
def _to_options(value: Any, f: FieldDef, ctx: Context) -> list[Any]:
    return [_option(part, f, ctx) for part in LIST_SPLIT.split(_text(value)) if part]


@converter("cascade")
def _to_path(value: Any, f: FieldDef, ctx: Context) -> list[Any]:
    level = option_values(f, {"option_sets": ctx.option_sets})
    path = []
    for step in re.split(r"\s*[/>／]\s*", _text(value)):
        table: dict[str, Any] = {}
        by_value = {}
        for option in level:
            by_value[_name_option(table, option)] = option
        chosen = table.get(step.lower())
        if chosen is None:
            shown = ", ".join(sorted(str(v) for v in by_value)[:12])
            raise ConvertError("import.not_option", value=step[:60], options=shown)
        path.append(chosen)
        option = by_value[chosen]
        level = option.get("children", ()) if isinstance(option, Mapping) else ()
    return path


@converter("user")
def _to_user(value: Any, f: FieldDef, ctx: Context) -> Any:
    if f.get("multiple"):
        return [ctx.directory.user(p) for p in LIST_SPLIT.split(_text(value)) if p]
    return ctx.directory.user(value)


@converter("department")
def _to_department(value: Any, f: FieldDef, ctx: Context) -> Any:
    if f.get("multiple"):
        return [ctx.directory.department(p) for p in LIST_SPLIT.split(_text(value)) if p]
    return ctx.directory.department(value)


@converter("link")
def _to_link(value: Any, f: FieldDef, ctx: Context) -> Any:
    return int(_number(value))


@converter("subtable")
def _to_rows(value: Any, f: FieldDef, ctx: Context) -> Any:
    try:
        rows = json.loads(_text(value))
    except ValueError:
        raise ConvertError("import.not_rows") from None
    if not isinstance(rows, list):
        raise ConvertError("import.not_rows")
    return rows


def convert(value: Any, f: FieldDef, ctx: Context) -> Any:
    """The value of field ``f`` a cell stands for (its type's converter; text for any other type)."""
    return CONVERTERS.get(f.type, _to_text)(value, f, ctx)


__all__ = [
    "CONVERTERS",
    "Context",
    "ConvertError",
    "Directory",
    "convert",
    "converter",
    "parse_day",
    "parse_moment",
]
