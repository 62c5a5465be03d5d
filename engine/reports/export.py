"""Exports of a report's table and of a drill-down ticket list, as CSV or XLSX, streamed.

CSV is UTF-8 with a BOM (Excel then reads Chinese correctly) and text cells starting with
= + - @ (or a tab/return) are prefixed with ' so a spreadsheet never runs them as formulas.
XLSX is written by openpyxl's write-only mode: typed cells (numbers, dates, text), rows streamed
to a temporary file, never the whole list in memory. Field cells use the form engine's exporters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from engine.errors import InputError
from engine.forms.export import EXPORTERS
from engine.i18n import current_lang, t, text_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")


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
            cells.append(cell)
        ws.append(cells)
    book.save(out)


def _xlsx_value(value: Any) -> Any:
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


__all__ = ["FORMATS", "safe_text", "ticket_rows", "write", "write_csv", "write_xlsx"]
