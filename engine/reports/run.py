"""Running reports: one SQL statement per report under a time limit, then the small work on its
groups (labels, running totals, period-over-period change, pivot, chart), and drill-down pages.

Only aggregated rows (at most ``max_groups``) and pages of a drill-down list (at most ``MAX_PAGE``
tickets) ever reach Python.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, BinaryIO

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError

from engine.errors import DefinitionError, GongdanError, InputError, NotFoundError
from engine.i18n import t, text_of
from engine.reports import charts, export, sql
from engine.reports.labels import Labeler
from engine.reports.query import Build, Viewer, aggregate, cell_filter, previous_window, window
from engine.reports.spec import (
    BUCKETS,
    RELATIVE,
    TIMELIKE,
    Condition,
    ReportSpec,
    compile_filter,
    compile_report,
    fields_of,
)

DEFAULT_TIMEOUT_S = 30.0
MAX_GROUPS = 10_000
MAX_PAGE = 500
DEFAULT_ZONE = "Asia/Shanghai"


class ReportError(GongdanError):
    """A report that cannot be answered as asked (too slow, too many groups): narrow it."""

    code = "report.failed"
    http_status = 422


class ReportForbidden(GongdanError):
    """A report reads a field its viewer may not see."""

    code = "report.field_hidden"
    http_status = 403


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    role: str  # dimension | measure | derived


@dataclass
class Row:
    key: dict[str, Any]  # raw key per dimension (what a drill-down filters on)
    labels: dict[str, str]
    values: dict[str, Any]
    others: bool = False

    def cell(self) -> dict[str, Any]:
        """The drill-down cell of this row."""
        return {**self.key, **({"__others": True} if self.others else {})}


@dataclass
class ReportResult:
    spec: ReportSpec
    columns: list[Column]
    rows: list[Row]
    kpi: dict[str, dict[str, Any]] | None = None
    pivot: dict[str, Any] | None = None
    chart: dict[str, Any] = field(default_factory=dict)

    def table(self) -> Iterator[list[Any]]:
        """Header then one list per row: dimension labels, then measure (and derived) values."""
        yield [c.label for c in self.columns]
        for r in self.rows:
            yield [r.labels[c.name] if c.role == "dimension" else r.values.get(c.name) for c in self.columns]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "columns": [c.__dict__ for c in self.columns],
            "rows": [
                {"key": r.key, "labels": r.labels, "values": r.values, "others": r.others} for r in self.rows
            ],
            "kpi": self.kpi,
            "pivot": self.pivot,
            "chart": self.chart,
        }


@dataclass
class DrillPage:
    tickets: list[dict[str, Any]]
    next_after: int | None  # pass as ``after`` for the next page (keyset on the ticket id)


@dataclass
class DashboardResult:
    id: str
    name: str
    reports: list[ReportResult]
    filters: list[str]


class Reports:
    """The report engine's entry point, over a Runtime (its database, clock and compiled specs)."""

    def __init__(
        self,
        runtime: Any,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_groups: int = MAX_GROUPS,
    ):
        self.runtime = runtime
        self.db = runtime.db
        self.timeout_s = timeout_s
        self.max_groups = max_groups
        self._specs: dict[tuple[int, str, str], tuple[weakref.ref[Any], ReportSpec]] = {}

    # ------------------------------------------------------------------ specs
    def _app(self, conn: Connection, app_key: str) -> Any:
        app_id, version = self.runtime._app_row(conn, app_key)
        return self.runtime.spec_for(conn, app_id, version)

    def spec(self, app_spec: Any, ticket_type: str, report: str | Mapping[str, Any]) -> ReportSpec:
        """A report of the app's running version (compiled once per version), or an ad-hoc one."""
        tt = app_spec.app.ticket_types.get(ticket_type)
        if tt is None:
            known = ", ".join(app_spec.app.ticket_types)
            raise NotFoundError(
                "runtime.unknown_ticket_type", app=app_spec.key, ticket_type=ticket_type, known=known
            )
        if not isinstance(report, str):
            return self._compile(app_spec, ticket_type, report, ("report",))
        key = (id(app_spec), ticket_type, report)
        cached = self._specs.get(key)
        if cached is not None and cached[0]() is app_spec:
            return cached[1]
        for i, raw in enumerate(tt.reports):
            if raw["id"] == report:
                spec = self._compile(app_spec, ticket_type, raw, ("ticket_types", ticket_type, "reports", i))
                self._specs[key] = (weakref.ref(app_spec), spec)
                return spec
        known = ", ".join(r["id"] for r in tt.reports)
        raise NotFoundError("report.unknown_report", id=report, known=known or "-")

    def _compile(
        self, app_spec: Any, ticket_type: str, raw: Mapping[str, Any], base: tuple[Any, ...]
    ) -> ReportSpec:
        source = raw.get("source") or ticket_type
        if source not in app_spec.types:
            known = ", ".join(app_spec.types)
            raise NotFoundError(
                "runtime.unknown_ticket_type", app=app_spec.key, ticket_type=source, known=known
            )
        return compile_report(raw, fields_of(app_spec.app.ticket_types[source]), ticket_type, base)

    def _filters(self, spec: ReportSpec, filters: Sequence[Mapping[str, Any]]) -> list[Condition]:
        out = []
        for i, raw in enumerate(filters):
            try:
                out.append(compile_filter(raw, spec.fields, ("filters", i)))
            except DefinitionError as exc:
                raise InputError(problems=exc.problems) from None
        return out

    # ------------------------------------------------------------------ running
    def run(
        self,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> ReportResult:
        """Run one report (by id, or an ad-hoc definition) for ``viewer`` with extra ``filters``."""
        with self.db.read() as conn:
            app_spec = self._app(conn, app_key)
            spec = self.spec(app_spec, ticket_type, report)
            return self._run(conn, app_spec, spec, viewer, self._filters(spec, filters))

    def _zone(self, app_spec: Any, viewer: Viewer | None) -> str:
        zone = (viewer.timezone if viewer else None) or app_spec.app.settings.get("timezone") or DEFAULT_ZONE
        return str(zone)

    def _builder(
        self, conn: Connection, app_spec: Any, spec: ReportSpec, viewer: Viewer | None, now: dt.datetime
    ):
        tspec = app_spec.types[spec.ticket_type]
        zone = self._zone(app_spec, viewer)
        dialect = conn.dialect.name

        def build() -> Build:
            return Build(dialect, spec, app_spec.key, tspec, viewer, now, zone)

        return build

    def _guard(self, spec: ReportSpec, extra: Sequence[Condition], viewer: Viewer | None) -> None:
        if viewer is None or not viewer.hidden:
            return
        for target in [*spec.targets(), *(c.target for c in extra)]:
            people = target.via.guard if target.via is not None else None
            for key in (target.guard, people):
                if key is not None and key in viewer.hidden:
                    raise ReportForbidden(field=key, report=spec.id, path=spec.path)

    def _run(
        self, conn: Connection, app_spec: Any, spec: ReportSpec, viewer: Viewer | None, extra: list[Condition]
    ) -> ReportResult:
        self._guard(spec, extra, viewer)
        now = self.runtime.clock()
        lang = viewer.lang if viewer else None
        period = None
        shown = spec
        if spec.compare and spec.time_dimension is None:
            spec, extra, period = self._periods(spec, extra, now, self._zone(app_spec, viewer))
        builds = self._builder(conn, app_spec, spec, viewer, now)
        stmt = aggregate(builds, extra, period, self.max_groups)
        rows = self._execute(conn, stmt, spec)
        if len(rows) > self.max_groups:
            raise ReportError("report.too_many_groups", max=self.max_groups, report=spec.id)
        result = self._result(conn, app_spec, shown, rows, lang)
        if period is not None:
            _kpi(result)
        elif spec.compare:
            _change(result)
        if spec.running_total:
            _running(result)
        if spec.pivot:
            result.pivot = _pivot(result)
        result.chart = charts.option(result, lang)
        return result

    def _periods(
        self, spec: ReportSpec, extra: list[Condition], now: dt.datetime, zone: str
    ) -> tuple[ReportSpec, list[Condition], Condition]:
        """Widen the report's relative date filter to the window before it too, and mark the two."""
        found = next(
            (c for c in reversed([*spec.filters, *extra]) if c.op in RELATIVE and c.target.kind in TIMELIKE),
            None,
        )
        if found is None:
            raise ReportError("report.compare_needs_period", report=spec.id)
        start, end = window(found.op, found.value, now, zone)
        before, _ = previous_window(found.op, found.value, now, zone)
        widened = Condition(
            found.target, "between", (before, end - dt.timedelta(microseconds=1))
        )  # [before, end)
        spec = replace(spec, filters=tuple(c for c in spec.filters if c is not found))
        rest = [c for c in extra if c is not found]
        return spec, [*rest, widened], Condition(found.target, "ge", start)

    def _execute(self, conn: Connection, stmt: Any, spec: ReportSpec) -> list[Any]:
        try:
            with sql.bounded(conn, self.timeout_s):
                return list(conn.execute(stmt).all())
        except DBAPIError as exc:
            if sql.is_timeout(exc):
                raise ReportError("report.too_slow", seconds=self.timeout_s, report=spec.id) from None
            raise

    def _result(
        self, conn: Connection, app_spec: Any, spec: ReportSpec, rows: list[Any], lang: str | None
    ) -> ReportResult:
        labeler = Labeler(conn, app_spec.app, app_spec.types[spec.ticket_type], lang)
        dims, measures = spec.dimensions, spec.measures
        labels = [labeler.labels(d, (r[i] for r in rows)) for i, d in enumerate(dims)]
        none, others = t("report.none", lang), t("report.others", lang)
        out = []
        for r in rows:
            is_other = bool(r.others)
            key = {d.name: r[i] for i, d in enumerate(dims)}
            shown = {
                d.name: (
                    others
                    if is_other and i == 0
                    else (labels[i].get(r[i], none) if r[i] is not None else none)
                )
                for i, d in enumerate(dims)
            }
            values = {m.name: _plain(r[len(dims) + i]) for i, m in enumerate(measures)}
            if r.period != "current":
                values["__previous"] = True
            out.append(Row(key, shown, values, is_other))
        columns = [Column(d.name, d.name, "dimension") for d in dims]
        columns += [Column(m.name, m.name, "measure") for m in measures]
        return ReportResult(spec, columns, out)

    # ------------------------------------------------------------------ dashboards
    def dashboard(
        self,
        app_key: str,
        ticket_type: str,
        dashboard_id: str,
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> DashboardResult:
        """Every report of a dashboard, each with the dashboard's global ``filters`` applied."""
        with self.db.read() as conn:
            app_spec = self._app(conn, app_key)
            tt = app_spec.app.ticket_types.get(ticket_type)
            board = next((d for d in (tt.dashboards if tt else ()) if d["id"] == dashboard_id), None)
            if board is None:
                raise NotFoundError("report.unknown_dashboard", id=dashboard_id)
            offered = list(board.get("filters") or ())
            for i, raw in enumerate(filters):
                if raw.get("field") not in offered:
                    raise InputError(
                        problems=[],
                        code="report.filter_not_offered",
                        field=raw.get("field"),
                        path=f"filters[{i}]",
                        known=", ".join(offered),
                    )
            results = []
            for rid in board["reports"]:
                spec = self.spec(app_spec, ticket_type, rid)
                results.append(self._run(conn, app_spec, spec, viewer, self._filters(spec, filters)))
        return DashboardResult(
            dashboard_id,
            text_of(board.get("name") or dashboard_id, viewer.lang if viewer else None),
            results,
            offered,
        )

    # ------------------------------------------------------------------ drill-down
    def drill(
        self,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        cell: Mapping[str, Any],
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
        after: int | None = None,
        limit: int = 50,
    ) -> DrillPage:
        """One page of exactly the tickets a cell of the report counted, oldest id first."""
        limit = max(1, min(int(limit), MAX_PAGE))
        from engine.store.models import Record

        with self.db.read() as conn:
            app_spec, spec, b, where = self._cell(conn, app_key, ticket_type, report, cell, viewer, filters)
            r = Record.__table__.alias("rr")
            ids = select(b.m.c.record_id).select_from(b.source()).where(*where)
            if after is not None:
                ids = ids.where(b.m.c.record_id > after)
            ids = ids.order_by(b.m.c.record_id).limit(limit).subquery()
            stmt = (
                select(r.c.id, r.c.number, r.c.stage, r.c.status, r.c.created_at, r.c.closed_at, r.c.data)
                .join(ids, ids.c.record_id == r.c.id)
                .order_by(r.c.id)
            )
            rows = self._execute(conn, stmt, spec)
            tspec = app_spec.types[spec.ticket_type]
            tickets = [_visible(dict(row._mapping), tspec, viewer) for row in rows]
        return DrillPage(tickets, tickets[-1]["id"] if len(tickets) == limit else None)

    def drill_count(
        self,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        cell: Mapping[str, Any],
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> int:
        """How many tickets the drill-down of ``cell`` lists."""
        with self.db.read() as conn:
            _app_spec, spec, b, where = self._cell(conn, app_key, ticket_type, report, cell, viewer, filters)
            stmt = select(func.count()).select_from(b.source()).where(*where)
            return int(self._execute(conn, stmt, spec)[0][0])

    def _cell(
        self,
        conn: Connection,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        cell: Mapping[str, Any],
        viewer: Viewer | None,
        filters: Sequence[Mapping[str, Any]],
    ) -> tuple[Any, ReportSpec, Build, list[Any]]:
        """The spec, a Build and the WHERE clauses of one cell's tickets."""
        app_spec = self._app(conn, app_key)
        spec = self.spec(app_spec, ticket_type, report)
        extra = self._filters(spec, filters)
        self._guard(spec, extra, viewer)
        unknown = [k for k in cell if k != "__others" and k not in [d.name for d in spec.dimensions]]
        if unknown:
            known = ", ".join(d.name for d in spec.dimensions)
            raise InputError(problems=[], code="report.bad_cell", name=", ".join(unknown), known=known or "-")
        builds = self._builder(conn, app_spec, spec, viewer, self.runtime.clock())
        b = builds()
        where = cell_filter(b, builds, extra, cell)
        b.needs_record = True  # the list shows the tickets' fields
        return app_spec, spec, b, where

    # ------------------------------------------------------------------ exports
    def export_report(
        self,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        fmt: str,
        out: BinaryIO,
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> ReportResult:
        """Write the report's table (labels and numbers) to ``out`` as CSV or XLSX."""
        result = self.run(app_key, ticket_type, report, viewer, filters)
        export.write(fmt, result.table(), out)
        return result

    def export_tickets(
        self,
        app_key: str,
        ticket_type: str,
        report: str | Mapping[str, Any],
        cell: Mapping[str, Any],
        fmt: str,
        out: BinaryIO,
        viewer: Viewer | None = None,
        filters: Sequence[Mapping[str, Any]] = (),
        page: int = MAX_PAGE,
    ) -> None:
        """Write the drill-down list of ``cell`` to ``out``, fetched page by page (bounded memory)."""

        def pages() -> Iterator[list[dict[str, Any]]]:
            after = None
            while True:
                found = self.drill(app_key, ticket_type, report, cell, viewer, filters, after, page)
                yield found.tickets
                if found.next_after is None:
                    return
                after = found.next_after

        with self.db.read() as conn:
            app_spec = self._app(conn, app_key)
        spec = self.spec(app_spec, ticket_type, report)
        tt = app_spec.app.ticket_types[spec.ticket_type]
        hidden = viewer.hidden if viewer else frozenset()
        lang = viewer.lang if viewer else None
        rows = export.ticket_rows(pages(), tt, hidden, self._zone(app_spec, viewer), lang)
        export.write(fmt, rows, out)


def _visible(ticket: dict[str, Any], tspec: Any, viewer: Viewer | None) -> dict[str, Any]:
    """A ticket of a drill-down list without the fields its viewer may not see at its stage."""
    if viewer is None:
        return ticket
    stage = ticket["stage"] if ticket["status"] == "open" else None
    data = tspec.access(stage, viewer.roles).filter(ticket["data"] or {})
    return {**ticket, "data": {k: v for k, v in data.items() if k not in viewer.hidden}}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


# ----------------------------------------------------------------------------- derived columns
def _others_key(result: ReportResult, row: Row, skip: str) -> tuple[Any, ...]:
    return tuple((row.others, row.key[d.name]) for d in result.spec.dimensions if d.name != skip)


def _running(result: ReportResult) -> None:
    """Cumulative totals along the time dimension (else the first), within the other dimensions."""
    spec = result.spec
    along = spec.time_dimension or (spec.dimensions[0] if spec.dimensions else None)
    totals: dict[tuple[Any, ...], dict[str, float]] = {}
    ordered = (
        sorted(result.rows, key=lambda r: (r.key[along.name] is None, str(r.key[along.name])))
        if along
        else result.rows
    )
    for row in ordered:
        group = _others_key(result, row, along.name if along else "")
        sums = totals.setdefault(group, {})
        for name in spec.running_total:
            sums[name] = sums.get(name, 0) + (row.values.get(name) or 0)
            row.values[f"{name}_running"] = sums[name]
    result.columns += [Column(f"{n}_running", f"{n}_running", "derived") for n in spec.running_total]


def previous_bucket(label: str, part: str) -> str | None:
    """The bucket before ``label`` (``2026-12`` → ``2026-11``, ``2026-Q1`` → ``2025-Q4`` …)."""
    try:
        if part == "year":
            return str(int(label) - 1)
        if part == "quarter":
            year, q = int(label[:4]), int(label[-1])
            return f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}"
        if part == "month":
            year, month = int(label[:4]), int(label[5:7])
            return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
        if part in ("day", "week"):
            day = dt.date.fromisoformat(label) - dt.timedelta(days=1 if part == "day" else 7)
            return day.isoformat()
        if part == "hour":
            at = dt.datetime.strptime(label, "%Y-%m-%d %H:00") - dt.timedelta(hours=1)
            return at.strftime("%Y-%m-%d %H:00")
    except ValueError:
        return None
    return None


def _ratio(value: Any, previous: Any) -> float | None:
    if value is None or previous in (None, 0):
        return None
    return (value - previous) / abs(previous)


def _numeric(result: ReportResult) -> list[str]:
    return [m.name for m in result.spec.measures]


def _change(result: ReportResult) -> None:
    """Period-over-period: each row against the previous bucket of its time dimension."""
    spec = result.spec
    along = spec.time_dimension
    assert along is not None and along.part in BUCKETS
    index = {(_others_key(result, r, along.name), r.key[along.name]): r for r in result.rows}
    for row in result.rows:
        label = row.key[along.name]
        before = (
            index.get((_others_key(result, row, along.name), previous_bucket(str(label), along.part)))
            if label
            else None
        )
        for name in _numeric(result):
            previous = before.values.get(name) if before else None
            row.values[f"{name}_previous"] = previous
            row.values[f"{name}_change"] = _ratio(row.values.get(name), previous)
    for name in _numeric(result):
        result.columns += [Column(f"{name}_previous", f"{name}_previous", "derived"),
                           Column(f"{name}_change", f"{name}_change", "derived")]  # fmt: skip


def _kpi(result: ReportResult) -> None:
    """Split the current and previous window's rows: the rows are the current ones, with change."""
    current = [r for r in result.rows if "__previous" not in r.values]
    previous = {tuple(r.key.items()): r for r in result.rows if r.values.pop("__previous", False)}
    kpi = {}
    for row in current:
        before = previous.get(tuple(row.key.items()))
        for name in _numeric(result):
            prev = before.values.get(name) if before else None
            row.values[f"{name}_previous"] = prev
            row.values[f"{name}_change"] = _ratio(row.values.get(name), prev)
            if not row.key:
                kpi[name] = {
                    "value": row.values.get(name),
                    "previous": prev,
                    "change": row.values[f"{name}_change"],
                }
    if not current and not result.spec.dimensions:
        for name in _numeric(result):
            prev = next(iter(previous.values())).values.get(name) if previous else None
            kpi[name] = {"value": None, "previous": prev, "change": None}
    result.rows = current
    result.kpi = kpi or None
    for name in _numeric(result):
        result.columns += [Column(f"{name}_previous", f"{name}_previous", "derived"),
                           Column(f"{name}_change", f"{name}_change", "derived")]  # fmt: skip


def _pivot(result: ReportResult) -> dict[str, Any]:
    """The pivot dimension's values spread into columns: rows × columns per measure."""
    spec = result.spec
    across = spec.pivot
    down = [d.name for d in spec.dimensions if d.name != across]
    row_keys: dict[tuple[Any, ...], list[str]] = {}
    col_keys: dict[Any, str] = {}
    cells: dict[tuple[tuple[Any, ...], Any], Row] = {}
    for r in result.rows:
        rk = tuple(r.key[n] for n in down)
        row_keys.setdefault(rk, [r.labels[n] for n in down])
        col_keys.setdefault(r.key[across], r.labels[across])
        cells[(rk, r.key[across])] = r
    col_keys = dict(sorted(col_keys.items(), key=lambda kv: (kv[0] is None, str(kv[0]))))
    values = {
        m.name: [
            [cells[(rk, ck)].values.get(m.name) if (rk, ck) in cells else None for ck in col_keys]
            for rk in row_keys
        ]
        for m in spec.measures
    }
    return {
        "rows": list(row_keys.values()),
        "row_keys": [dict(zip(down, rk, strict=True)) for rk in row_keys],
        "columns": list(col_keys.values()),
        "column_keys": list(col_keys),
        "values": values,
    }


__all__ = ["DrillPage", "ReportError", "ReportForbidden", "ReportResult", "Reports", "Row", "Viewer"]
