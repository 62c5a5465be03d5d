"""A field's stored value as one spreadsheet cell (CSV/XLSX): a registry, one function per type.

Cells are what a person reading an export expects: option values as written, lists joined with
"; ", cascades as "a / b", files by name, money as an exact Decimal, booleans as 是/否 or yes/no.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.definitions.model import TicketTypeDef
from engine.i18n import current_lang, text_of

Cell = str | int | float | Decimal | bool | None
ToCell = Callable[[Any, str], Cell]

EXPORTERS: dict[str, ToCell] = {}


def exporter(*types: str) -> Callable[[ToCell], ToCell]:
    def deco(fn: ToCell) -> ToCell:
        for name in types:
            EXPORTERS[name] = fn
        return fn

    return deco


@exporter("text", "textarea", "email", "phone", "url", "select", "radio", "date", "datetime", "autonumber")
def _as_is(value: Any, lang: str) -> Cell:
    return value


@exporter("richtext")
def _plain_text(value: Any, lang: str) -> Cell:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(value))).strip()


@exporter("number", "rating", "formula")
def _number(value: Any, lang: str) -> Cell:
    if isinstance(value, str):  # a formula over money keeps exact text
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


@exporter("money")
def _money(value: Any, lang: str) -> Cell:
    return Decimal(str(value))


@exporter("checkbox")
def _yes_no(value: Any, lang: str) -> Cell:
    return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")


@exporter("multiselect", "user", "department", "link")
def _joined(value: Any, lang: str) -> Cell:
    return "; ".join(map(str, value)) if isinstance(value, list) else value


@exporter("cascade")
def _path(value: Any, lang: str) -> Cell:
    return " / ".join(map(str, value)) if isinstance(value, list) else value


@exporter("attachment", "image")
def _file_names(value: Any, lang: str) -> Cell:
    files = value if isinstance(value, list) else [value]
    return "; ".join(str(f.get("name") or f.get("id")) for f in files if isinstance(f, Mapping))


@exporter("subtable")
def _row_count(value: Any, lang: str) -> Cell:
    """A sub-table is its own sheet in an XLSX export; in the ticket's row it is its row count."""
    return len(value) if isinstance(value, list) else 0


def export_header(ticket_type: TicketTypeDef, lang: str | None = None) -> list[str]:
    return [text_of(f.label, lang) for f in ticket_type.form.fields]


def export_row(ticket_type: TicketTypeDef, data: Mapping[str, Any], lang: str | None = None) -> list[Cell]:
    """One ticket as cells in the order of its form (hidden fields are the caller's to drop)."""
    lang = current_lang(lang)
    return [
        None if data.get(f.key) is None else EXPORTERS[f.type](data[f.key], lang)
        for f in ticket_type.form.fields
    ]
