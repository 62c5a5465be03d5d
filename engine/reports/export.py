"""Exports of a report's table and of a drill-down ticket list, as CSV or XLSX, streamed.

CSV is UTF-8 with a BOM (Excel then reads Chinese correctly) and text cells starting with
= + - @ (or a tab/return) are prefixed with ' so a spreadsheet never runs them as formulas.
XLSX is written by openpyxl's write-only mode: typed cells (numbers, dates, text), rows streamed
to a temporary file, never the whole list in memory. Field cells use the form engine's exporters.

A report's measures read as the report page shows them (decimals to two places, shares as percents
to one). CSV has no cell formats, so its numbers are rounded to those digits (``3.6%``, ``0.04``);
XLSX keeps the full value under a number format showing the same digits, so sums and averages a
spreadsheet user computes from the cells stay exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from engine.errors import InputError
from engine.forms.export import EXPORTERS
from engine.i18n import current_lang, t, text_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Measure:
    """A report's number and how the report reads it: ``percent`` (a share 0–1) or ``number``."""

    value: int | float | Decimal
    kind: str = "number"

    def _plain(self) -> int | float:
        return float(self.value) if isinstance(self.value, Decimal) else self.value

    def _whole(self) -> bool:
        value = self._plain()
        return isinstance(value, int) or value.is_integer()

    def shown(self) -> str:
        """The digits the report shows, without thousands separators (a spreadsheet reads a number)."""
        value = self._plain()
        if self.kind == "percent":
            return f"{value:.1%}"
        return f"{value:.0f}" if self._whole() else f"{value:.2f}"

    def number_format(self) -> str:
        """The XLSX number format showing the same digits as the report."""
        if self.kind == "percent":
            return "0.0%"
        return "#,##0" if self._whole() else "#,##0.00"


def report_rows(
    columns: Iterable[Any], rows: Iterable[list[Any]], labels: Mapping[str, str], kinds: Mapping[str, str]
) -> Iterator[list[Any]]:
    """A report's table for a file: the header named for people (``labels``), then each row with its
    measure values as :class:`Measure` of their column's kind (``kinds``: name → percent | number)."""
    columns = list(columns)
    yield [labels.get(c.name, c.name) for c in columns]
    wrap = [kinds.get(c.name, "number") if c.role != "dimension" else None for c in columns]
    for row in rows:
        yield [
            Measure(v, kind)
            if kind and isinstance(v, int | float | Decimal) and not isinstance(v, bool)
            else v
            for v, kind in zip(row, wrap, strict=True)
        ]


def safe_text(value: str) -> str:
    """Text that a spreadsheet shows as text, never evaluates."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(rows: Iterable[list[Any]], out: BinaryIO) -> None:
    out.write("\ufeff".encode())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            ["" if v is None else safe_text(v) if isinstance(v, str) else _csv_value(v) for v in row]
        )
        out.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()


def _csv_value(value: Any) -> Any:
    if isinstance(value, Measure):
        return value.shown()
    if isinstance(value, bool):
        return t("report.yes" if value else "report.no")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def write_xlsx(rows: Iterable[list[Any]], out: BinaryIO, sheet: str = "report") -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet[:31] or "report")
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=_xlsx_value(value))
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text, even when it starts with =
            elif isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(value, Measure):
                cell.number_format = value.number_format()
            cells.append(cell)
        ws.append(cells)
    book.save(out)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Measure):
        value = value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, list | dict):
        return str(value)
    return value


WRITERS: dict[str, Callable[[Iterable[list[Any]], BinaryIO], None]] = {"csv": write_csv, "xlsx": write_xlsx}


def write(fmt: str, rows: Iterable[list[Any]], out: BinaryIO) -> None:
    writer = WRITERS.get(fmt)
    if writer is None:
        raise InputError(problems=[], code="report.unknown_export", format=fmt, known=", ".join(FORMATS))
    writer(rows, out)


def ticket_rows(
    pages: Iterable[list[dict[str, Any]]],
    tt: Any,
    hidden: frozenset[str],
    zone: str,
    lang: str | None = None,
) -> Iterator[list[Any]]:
    """Drill-down tickets as rows: number, stage, status, times, then every field the viewer may see.

    A field hidden at a ticket's stage arrives without its value (the run layer removed it) and
    is an empty cell; fields hidden from the viewer everywhere are not columns at all.
    """
    lang = current_lang(lang)
    fields = [f for f in tt.form.fields if f.key not in hidden]
    head = ["number", "stage", "status", "created_at", "closed_at"]
    yield [t(f"report.column.{h}", lang) for h in head] + [text_of(f.label, lang) for f in fields]
    tz = ZoneInfo(zone)
    nodes = {n.id: n for n in tt.flow.nodes}
    for page in pages:
        for ticket in page:
            stage = ticket.get("stage")
            data: Mapping[str, Any] = ticket.get("data") or {}
            yield [
                ticket["number"],
                text_of(nodes[stage].name, lang) if stage in nodes else stage,
                t(f"report.status.{ticket['status']}", lang),
                _local(ticket.get("created_at"), tz),
                _local(ticket.get("closed_at"), tz),
                *(None if data.get(f.key) is None else EXPORTERS[f.type](data[f.key], lang) for f in fields),
            ]


def _local(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None


__all__ = [
    "FORMATS",
    "Measure",
    "report_rows",
    "safe_text",
    "ticket_rows",
    "write",
    "write_csv",
    "write_xlsx",
]
