"""Tickets of one type out to XLSX in the shape the import reads back (engine/ticket_import.py).

The columns are a mapping's (``{header: target}``), by default every importable field under its
label plus the special columns (ticket number, created/closed at, stage, status, submitter). Values
are written the way the import converts them: option labels, usernames, dates as text, sub-tables
as JSON, the ticket number as the ticket's ``external_ref`` (or its own number) — so importing an
export finds every ticket again and creates nothing new. Rows are streamed (openpyxl write-only),
a page of tickets at a time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.forms.fields import option_values
from engine.i18n import t, text_of
from engine.store.models import App, Department, Record, Task, User
from engine.ticket_import import DEFAULT_TZ, SPECIAL, mapping_columns, targets

R, T = Record.__table__, Task.__table__
PAGE = 1000
SHEET_TITLE_LIMIT = 31


def default_columns(tspec: Any, lang: str) -> dict[str, str]:
    """{header: target}: the ticket number first, then the fields, then when/where/who."""
    out: dict[str, str] = {}
    found = targets(tspec)
    order = ["_number", *(k for k in found if k not in SPECIAL), *(k for k in SPECIAL if k != "_number")]
    for key in order:
        header = text_of(found[key].label, lang) or key
        out[header if header not in out else f"{header} ({key})"] = key
    return out


class _Cells:
    """Turns stored values into the text the import reads back."""

    def __init__(self, conn: Any, spec: Any, tspec: Any, lang: str, tz: dt.tzinfo):
        self.lang, self.tz, self.spec, self.tspec = lang, tz, spec, tspec
        self.users = dict(conn.execute(select(User.id, User.username)).all())
        self.departments = dict(conn.execute(select(Department.id, Department.name)).all())
        self.fields = {f.key: f for f in tspec.definition.form.fields}
        self.stages = {n.id: text_of(dict(n.name), lang) or n.id for n in tspec.definition.flow.nodes}
        self._labels: dict[str, dict[str, str]] = {}
        self.holders: dict[int, list[int]] = {}  # record id -> who holds its open tasks (this page)

    def load_holders(self, conn: Any, record_ids: list[int]) -> None:
        """The people holding the open tasks of one page of tickets, in one query: the import's
        ``_assignee`` column (several names for a countersign), so a round trip keeps who works on it."""
        self.holders = {}
        rows = conn.execute(
            select(T.c.record_id, T.c.assignee_id)
            .where(T.c.record_id.in_(record_ids), T.c.status == "open", T.c.assignee_id.is_not(None))
            .order_by(T.c.record_id, T.c.id)
        )
        for record_id, user_id in rows:
            held = self.holders.setdefault(record_id, [])
            if user_id not in held:
                held.append(user_id)

    def label(self, key: str, value: Any) -> str:
        labels = self._labels.get(key)
        if labels is None:
            labels = {}
            for option in option_values(self.fields[key], {"option_sets": self.spec.app.option_sets}):
                if isinstance(option, Mapping):
                    labels[str(option.get("value"))] = text_of(option.get("label"), self.lang) or str(
                        option.get("value")
                    )
                else:
                    labels[str(option)] = str(option)
            self._labels[key] = labels
        return labels.get(str(value), str(value))

    def moment(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(self.tz)
        return local.strftime("%Y-%m-%d %H:%M:%S.%f" if local.microsecond else "%Y-%m-%d %H:%M:%S")

    def special(self, key: str, rec: Any) -> Any:
        if key == "_number":
            return rec.external_ref or rec.number
        if key == "_created_at":
            return self.moment(rec.created_at)
        if key == "_closed_at":
            return self.moment(rec.closed_at)
        if key == "_stage":
            return self.stages.get(rec.stage, rec.stage) if rec.stage else ""
        if key == "_status":
            return t(f"import.status.{rec.status}", self.lang)
        if key == "_created_by":
            return self.users.get(rec.created_by, "") if rec.created_by else ""
        if key == "_assignee":
            return ", ".join(self.users.get(u, str(u)) for u in self.holders.get(rec.id, ()))
        return ""

    def field(self, key: str, value: Any) -> Any:
        if value is None or value == "" or value == []:
            return ""
        f = self.fields[key]
        many = isinstance(value, list)
        if f.type in ("select", "radio", "multiselect"):
            return ", ".join(self.label(key, v) for v in value) if many else self.label(key, value)
        if f.type == "cascade":
            return "/".join(map(str, value))
        if f.type == "user":
            names = [self.users.get(int(v), str(v)) for v in (value if many else [value])]
            return ", ".join(names)
        if f.type == "department":
            names = [self.departments.get(int(v), str(v)) for v in (value if many else [value])]
            return ", ".join(names)
        if f.type == "checkbox":
            return ("是" if value else "否") if self.lang == "zh" else ("yes" if value else "no")
        if f.type == "subtable" or isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value


def export_xlsx(
    runtime: Any,
    app_key: str,
    ticket_type: str,
    out: str | Path | IO[bytes],
    mapping: Mapping[str, Any] | None = None,
    lang: str = "zh",
    tz: str = DEFAULT_TZ,
) -> int:
    """Write the tickets of ``app_key``/``ticket_type`` to ``out``; returns how many."""
    from openpyxl import Workbook

    spec, tspec = runtime.type_spec(app_key, ticket_type)
    columns = mapping_columns(mapping) or default_columns(tspec, lang)
    book = Workbook(write_only=True)
    title = text_of(dict(tspec.definition.name), lang)[:SHEET_TITLE_LIMIT]
    sheet = book.create_sheet(title=title or ticket_type)
    sheet.append(list(columns))
    count, last = 0, 0
    with runtime.db.read() as conn:
        app_id = conn.execute(select(App.id).where(App.key == app_key)).scalar_one()
        cells = _Cells(conn, spec, tspec, lang, ZoneInfo(tz))
        while True:
            page = conn.execute(
                select(R)
                .where(R.c.app_id == app_id, R.c.ticket_type == ticket_type, R.c.id > last)
                .order_by(R.c.id)
                .limit(PAGE)
            ).all()
            if not page:
                break
            if "_assignee" in columns.values():
                cells.load_holders(conn, [rec.id for rec in page])
            for rec in page:
                row = []
                for target in columns.values():
                    if target in SPECIAL:
                        row.append(cells.special(target, rec))
                    elif target in cells.fields:
                        row.append(cells.field(target, (rec.data or {}).get(target)))
                    else:
                        row.append("")
                sheet.append(row)
            count += len(page)
            last = page[-1].id
    book.save(out)
    return count


__all__ = ["default_columns", "export_xlsx"]
