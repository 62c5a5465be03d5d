"""A ReportSpec as one SQL statement: FROM ticket_metrics (joined to records and people only when a
target needs them), WHERE its filters, the viewer's scope and field masks, GROUP BY its dimensions.

:class:`Build` turns targets into column expressions for one query; every query of a report (the
aggregate, the top-N ranking, a drill-down page, its count) is made by the same methods, so a
drill-down selects exactly the tickets a cell counted; a top-N report selects its tickets once, as a
CTE both its ranking and its groups read (:class:`Rows`). Field permissions apply here, in one place:
a field hidden from the viewer at a stage is NULL for the tickets in that stage (:meth:`Build.masked`),
and the viewer's record scope is one WHERE clause (:meth:`Build.scope`).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Float,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from engine.reports import sql
from engine.reports.spec import (
    BOOL,
    DATE,
    LIST,
    NUMBER,
    PERCENTILES,
    TEXT,
    TIMELIKE,
    Condition,
    Dimension,
    Measure,
    ReportSpec,
    Target,
)
from engine.store.models import App, Record, TicketMetrics, User

TM, R, U, A = (m.__table__ for m in (TicketMetrics, Record, User, App))
#: The aliases every query reads metrics and records by. One pair for all: each sub-query (a CTE) is
#: its own scope in SQL, and making an alias's columns costs more than running a small report.
METRICS_ALIAS, RECORDS_ALIAS = TM.alias("m"), R.alias("r")
METRICS_ALIAS.c, RECORDS_ALIAS.c  # noqa: B018  (made once, at import, not by concurrent first readers)
DEFAULT_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Viewer:
    """Who looks at a report: their roles (field permissions per stage), fields hidden from them
    everywhere (a report using one is refused), their time zone and language."""

    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    timezone: str | None = None
    lang: str | None = None
    #: the signed-in user (engine.access.Principal) whose record scope applies; None: every ticket
    principal: Any = None

    @classmethod
    def of(cls, principal: Any, app_key: str, hidden: frozenset[str] = frozenset()) -> Viewer:
        """The report viewer for a signed-in ``principal`` looking at ``app_key``'s reports."""
        return cls(
            user_id=principal.user_id,
            roles=principal.roles_in(app_key),
            hidden=hidden,
            timezone=principal.tz,
            lang=principal.lang,
            principal=principal,
        )


@dataclass(frozen=True)
class Rows:
    """The report's tickets computed once (a CTE): a column per target (masked already) and per
    condition a measure or the period split tests; the statement's other parts read it, not the tables."""

    table: FromClause
    targets: Mapping[str, str]  # target name → column
    conditions: Mapping[int, str]  # id() of a Condition → column


@dataclass
class Build:
    """Column expressions of one query over one ticket type, for one viewer at one moment; over
    :class:`Rows` when given (its targets and conditions are then columns of those rows)."""

    dialect: str
    spec: ReportSpec
    app_key: str
    tspec: Any  # engine.specs.TypeSpec
    viewer: Viewer | None
    now: dt.datetime
    zone: str
    rows: Rows | None = None
    m: FromClause = field(init=False)
    r: FromClause = field(init=False)
    needs_record: bool = field(default=False, init=False)
    people: dict[str, FromClause] = field(default_factory=dict, init=False)
    _joins: list[tuple[FromClause, ColumnElement[Any]]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.m = METRICS_ALIAS
        self.r = RECORDS_ALIAS

    # ------------------------------------------------------------------ targets
    def target(self, t: Target) -> ColumnElement[Any]:
        if self.rows is not None:
            return self.rows.table.c[self.rows.targets[t.name]]
        return self.masked(t, self._raw(t))

    def _raw(self, t: Target) -> ColumnElement[Any]:
        m, r = self.m.c, self.r.c
        if t.source == "field":
            self.needs_record = True
            return sql.json_value(self.dialect, r.data, t.key, t.kind)
        if t.source == "builtin":
            from engine.reports.spec import BUILTINS

            table, column, _kind = BUILTINS[t.name]
            if table == "r":
                self.needs_record = True
                return r[column]
            return m[column]
        if t.source == "metric":
            if t.key == "age_hours":
                until = func.coalesce(m.closed_at, sql.moment(self.now))
                return sql.hours_between(self.dialect, m.created_at, until)
            if t.key == "sla_met":
                return not_(m.sla_breached)
            from engine.reports.spec import METRICS

            return m[METRICS[t.key][0]]
        assert t.via is not None  # a person's attribute: their department
        person = self.target(t.via)
        alias = self.people.get(t.via.name)
        if alias is None:
            alias = self.people[t.via.name] = U.alias(f"u{len(self.people)}")
            self._joins.append((alias, alias.c.id == person))
        return alias.c.department_id

    def masked(self, t: Target, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """``expr``, or NULL for tickets at a stage where the viewer may not see ``t``'s field."""
        if self.viewer is None or t.guard is None:
            return expr
        stages = hidden_stages(self.tspec, self.viewer.roles, t.guard)
        if not stages:
            return expr
        self.needs_record = True
        return case((self.r.c.stage.in_(stages), null()), else_=expr)

    # ------------------------------------------------------------------ filters
    def condition(self, c: Condition) -> ColumnElement[Any]:
        if self.rows is not None:
            return self.rows.table.c[self.rows.conditions[id(c)]]
        x = self.target(c.target)
        kind = c.target.kind
        if c.op in sql_relative:
            start, end = window(c.op, c.value, self.now, self.zone)
            return and_(x >= self._bound(start, kind), x < self._bound(end, kind))
        if c.op == "empty":
            return or_(x.is_(None), x == "") if kind == TEXT else x.is_(None)
        if c.op == "not_empty":
            return and_(x.is_not(None), x != "") if kind == TEXT else x.is_not(None)
        if c.op == "contains":
            if kind == LIST:
                return self._list_contains(c.target, c.value)
            return x.contains(c.value, autoescape=True)
        if kind in TIMELIKE:
            return self._time_condition(x, kind, c.op, c.value)
        values = c.value
        if c.op == "in":
            return x.in_(values)
        if c.op == "not_in":
            return x.not_in(values)
        if c.op == "between":
            return and_(x >= values[0], x <= values[1])
        if kind == BOOL and c.op in ("eq", "ne"):
            return x if (c.value == (c.op == "eq")) else not_(x)
        return _COMPARE[c.op](x, values)

    def _bound(self, at: dt.datetime, kind: str) -> Any:
        return literal(at.date(), Date()) if kind == DATE else sql.moment(at)

    def _time_condition(self, x: ColumnElement[Any], kind: str, op: str, value: Any) -> ColumnElement[Any]:
        """Compare a time with a moment (exact) or a day (the whole day in the viewer's zone)."""

        def span(v: Any) -> tuple[dt.datetime, dt.datetime | None]:
            if isinstance(v, dt.datetime):
                return (v if v.tzinfo else v.replace(tzinfo=ZoneInfo(self.zone))), None
            start = dt.datetime.combine(v, dt.time(), ZoneInfo(self.zone))
            return start, shift(start, "day", 1)

        def b(at: dt.datetime) -> Any:
            return self._bound(at, kind)

        if op == "in":
            return or_(*(self._time_condition(x, kind, "eq", v) for v in value))
        if op == "not_in":
            return not_(self._time_condition(x, kind, "in", value))
        if op == "ne":
            return not_(self._time_condition(x, kind, "eq", value))
        if op == "between":
            first, (last, last_end) = span(value[0])[0], span(value[1])
            return and_(x >= b(first), x < b(last_end) if last_end else x <= b(last))
        lo, hi = span(value)
        if op == "eq":
            return x == b(lo) if hi is None else and_(x >= b(lo), x < b(hi))
        if op == "gt":
            return x > b(lo) if hi is None else x >= b(hi)
        if op == "le":
            return x <= b(lo) if hi is None else x < b(hi)
        return x >= b(lo) if op == "ge" else x < b(lo)

    def _list_contains(self, t: Target, value: Any) -> ColumnElement[Any]:
        self.needs_record = True
        data = self.r.c.data
        if self.dialect == "postgresql":
            import json

            from sqlalchemy.dialects.postgresql import JSONB

            return self.masked(t, data.op("->")(t.key)).op("@>")(cast(json.dumps([value]), JSONB))
        each = func.json_each(data, f"$.{t.key}").table_valued("value")
        found = exists(select(literal(1)).select_from(each).where(each.c.value == value))
        return self.masked(t, case((found, 1), else_=0)) == 1

    def scope(self) -> ColumnElement[Any]:
        """The tickets the viewer may see at all: their record scope (engine.access), one condition."""
        from engine.access import scope_clause

        principal = self.viewer.principal if self.viewer is not None else None
        if principal is None or principal.scope_in(self.app_key) == "all":
            return true()
        self.needs_record = True
        return scope_clause(principal, self.app_key, self.r, self.dialect)

    # ------------------------------------------------------------------ dimensions and measures
    def dimension(self, d: Dimension) -> ColumnElement[Any]:
        x = self.target(d.target)
        if d.part is None:
            return x
        return sql.bucket(self.dialect, x, d.target.kind, d.part, self.zone)

    def measure(self, ms: Measure) -> ColumnElement[Any]:
        if ms.condition is not None:
            hit = self.condition(ms.condition)
            return cast(func.avg(case((hit, 1.0), else_=0.0)), Float())
        if ms.target is None:
            return func.count()
        x = self.target(ms.target)
        if ms.agg == "count":
            return func.count(x)
        if ms.agg == "distinct":
            return func.count(distinct(x))
        if ms.agg == "rate":
            return cast(func.avg(case((x.is_(None), null()), (x, 1.0), else_=0.0)), Float())
        if ms.agg in PERCENTILES:
            return cast(sql.percentile(self.dialect, cast(x, Float()), PERCENTILES[ms.agg]), Float())
        if ms.agg in ("min", "max"):
            return getattr(func, ms.agg)(x)
        return cast(getattr(func, ms.agg)(cast(x, Float()) if ms.agg == "avg" else x), Float())

    # ------------------------------------------------------------------ the query frame
    def where(self, extra: Sequence[Condition] = ()) -> list[ColumnElement[Any]]:
        if self.rows is not None:
            return []  # the rows are the filtered tickets already
        app_id = select(A.c.id).where(A.c.key == self.app_key).scalar_subquery()
        clauses = [self.m.c.app_id == app_id, self.m.c.ticket_type == self.spec.ticket_type, self.scope()]
        clauses += [self.condition(c) for c in (*self.spec.filters, *extra)]
        return clauses

    def source(self) -> FromClause:
        """The FROM clause: metrics, plus records and people only when a target read them.

        Records are joined on their app and type too (the metrics' own): the planner then reads only
        that type's records, from ``ix_records_app_type_stage`` when the stage is all it needs.
        """
        if self.rows is not None:
            return self.rows.table
        frm: FromClause = self.m
        if self.needs_record:
            m, r = self.m.c, self.r.c
            on = and_(r.id == m.record_id, r.app_id == m.app_id, r.ticket_type == m.ticket_type)
            frm = frm.join(self.r, on)
        for alias, on in self._joins:
            frm = frm.outerjoin(alias, on)
        return frm


#: A function returning a fresh Build (its own joins and flags) for each sub-query of a statement.
BuildFactory = Any
sql_relative = frozenset({"last", "this", "previous"})
_COMPARE = {
    "eq": lambda x, v: x == v,
    "ne": lambda x, v: x != v,
    "gt": lambda x, v: x > v,
    "ge": lambda x, v: x >= v,
    "lt": lambda x, v: x < v,
    "le": lambda x, v: x <= v,
}


def hidden_stages(tspec: Any, roles: frozenset[str], key: str) -> tuple[str, ...]:
    """The stages at which field ``key`` is hidden from a viewer with ``roles``."""
    return tuple(node for node in tspec.flow.nodes if key in tspec.access(node, roles).hidden())


# ----------------------------------------------------------------------------- relative dates
def _months(at: dt.datetime, n: int) -> dt.datetime:
    month = at.month - 1 + n
    year, month = at.year + month // 12, month % 12 + 1
    day = min(at.day, _calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def period_start(at: dt.datetime, period: str) -> dt.datetime:
    """The start of the ``period`` (day, week, month, quarter, year) holding local time ``at``."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def shift(at: dt.datetime, period: str, n: int) -> dt.datetime:
    """Local time ``at`` moved by ``n`` periods."""
    if period == "day":
        return _wall(at, dt.timedelta(days=n))
    if period == "week":
        return _wall(at, dt.timedelta(weeks=n))
    months = {"month": 1, "quarter": 3, "year": 12}[period] * n
    return _months(at, months)


def _wall(at: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """Wall-clock arithmetic in ``at``'s zone (a day is a day across a DST change)."""
    zone = at.tzinfo
    return (at.replace(tzinfo=None) + delta).replace(tzinfo=zone)


_LAST_UNITS = {"h": None, "d": "day", "w": "week", "mo": "month", "q": "quarter", "y": "year"}
#: "The last 7 days" includes this very moment: its window ends just after now.
_NOW_INCLUDED = dt.timedelta(microseconds=1)


def _last_start(value: Any, now: dt.datetime, zone: str) -> dt.datetime:
    n, unit = value
    if unit == "h":
        return now - dt.timedelta(hours=n)
    return shift(now.astimezone(ZoneInfo(zone)), _LAST_UNITS[unit], -n)


def window(op: str, value: Any, now: dt.datetime, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a relative date filter at ``now`` in ``zone``: last 7d, this month, last quarter."""
    if op == "last":
        return _last_start(value, now, zone), now + _NOW_INCLUDED
    start = period_start(now.astimezone(ZoneInfo(zone)), value)
    if op == "this":
        return start, shift(start, value, 1)
    return shift(start, value, -1), start


def previous_window(op: str, value: Any, now: dt.datetime, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The window just before :func:`window`'s (for period-over-period change)."""
    start, _end = window(op, value, now, zone)
    if op == "last":
        return start - (now - start), start
    return shift(start, value, -1), start


# ----------------------------------------------------------------------------- statements
def aggregate(
    builds: BuildFactory, extra: Sequence[Condition], period: Condition | None, max_groups: int
) -> Select[Any]:
    """The report's one statement: dimensions and measures grouped, top-N and others, sorted."""
    b = builds()
    spec = b.spec
    if spec.top and spec.dimensions:
        # The top-N ranking and the report read the same tickets: select them once.
        rows = _rows(builds, extra, period)
        builds = _over(builds, rows)
        b = builds()
    keys = [b.dimension(d) for d in spec.dimensions]
    where = b.where(extra)
    other_flag: ColumnElement[Any] | None = None
    if spec.top and keys:
        in_top = _in_top(builds, extra, keys[0])
        if spec.others:
            other_flag = case((in_top, 0), else_=1)
            keys[0] = case((in_top, keys[0]), else_=null())
        else:
            where.append(in_top)
    period_key = None
    if period is not None:
        period_key = case((b.condition(period), literal("current")), else_=literal("previous"))
    columns = [k.label(f"d{i}") for i, k in enumerate(keys)]
    columns += [b.measure(ms).label(f"m{i}") for i, ms in enumerate(spec.measures)]
    columns.append((other_flag if other_flag is not None else literal(0)).label("others"))
    columns.append((period_key if period_key is not None else literal("current")).label("period"))
    # Grouped by the output names: an expression with bound values (a bucket's format, a zone's
    # offsets) is then written once, and PostgreSQL need not match two copies of it.
    group = [*(["others"] if other_flag is not None else []), *(f"d{i}" for i in range(len(keys)))]
    group += ["period"] if period_key is not None else []
    stmt = select(*columns).select_from(b.source()).where(*where)
    if group:
        stmt = stmt.group_by(*_group_keys(b, group))
    order: list[Any] = []
    if other_flag is not None:
        order.append(columns[-2].asc())
    names = {d.name: columns[i] for i, d in enumerate(spec.dimensions)}
    names.update({ms.name: columns[len(keys) + i] for i, ms in enumerate(spec.measures)})
    for name, desc in spec.sort:
        order.append(names[name].desc().nulls_last() if desc else names[name].asc().nulls_last())
    order += [c.asc().nulls_last() for c in columns[: len(keys)]]
    if order:
        stmt = stmt.order_by(*order)
    return stmt.limit(max_groups + 1)


def _rows(builds: BuildFactory, extra: Sequence[Condition], period: Condition | None) -> Rows:
    """The report's tickets as a CTE: its filters applied, each target and measure condition a column."""
    b = builds()
    spec = b.spec
    targets: dict[str, ColumnElement[Any]] = {}
    for t in [*(d.target for d in spec.dimensions), *(ms.target for ms in spec.measures if ms.target)]:
        targets.setdefault(t.name, b.target(t))
    tests = [ms.condition for ms in spec.measures if ms.condition is not None]
    tests += [period] if period is not None else []
    conditions = {id(c): b.condition(c) for c in tests}
    where = b.where(extra)
    names = {name: f"t{i}" for i, name in enumerate(targets)}
    tested = {key: f"c{i}" for i, key in enumerate(conditions)}
    columns = [x.label(names[n]) for n, x in targets.items()]
    columns += [x.label(tested[k]) for k, x in conditions.items()]
    table = select(*columns).select_from(b.source()).where(*where).cte("report_rows")
    return Rows(table, names, tested)


def _over(builds: BuildFactory, rows: Rows) -> BuildFactory:
    """A build factory whose builds read ``rows``."""
    return lambda: replace(builds(), rows=rows)


def _group_keys(b: Build, group: Sequence[str]) -> list[ColumnElement[Any]]:
    """GROUP BY terms: the output names, or on SQLite one key holding them all.

    SQLite groups by sorting every row, and its sorter compares a record's first key quickly but
    unpacks the whole record whenever two first keys tie — as they do for most pairs of rows when
    the first dimension has a few values (teams, priorities). ``json_array(d0, d1, …)`` is one key
    per group that tells text, integers and NULL apart (``["a","bc"]`` is not ``["ab","c"]``), so
    grouping by it gives the same groups for less sorting. Real numbers print with 15 digits there,
    so a report with a number dimension keeps the plain GROUP BY.
    """
    keys = [literal_column(g) for g in group]
    if b.dialect != "sqlite" or len(keys) < 2:
        return keys
    if any(d.part is None and d.target.kind == NUMBER for d in b.spec.dimensions):
        return keys
    return [func.json_array(*keys)]


def _in_top(builds: BuildFactory, extra: Sequence[Condition], key: ColumnElement[Any]) -> ColumnElement[Any]:
    """Whether a ticket's first dimension is among the top N (by the first sorted measure, or count)."""
    b = builds()
    spec = b.spec
    first = b.dimension(spec.dimensions[0])
    rank_measure, desc = next(
        ((spec.measure(n), d) for n, d in spec.sort if any(ms.name == n for ms in spec.measures)),
        (Measure("count", "count"), True),
    )
    rank = b.measure(rank_measure)
    where = b.where(extra)  # first: the record scope or a field filter may join records to the source
    ranked = (
        select(first.label("k"))
        .select_from(b.source())
        .where(*where)
        .group_by(first)
        .order_by(rank.desc().nulls_last() if desc else rank.asc().nulls_last(), first.asc().nulls_last())
        .limit(spec.top)
        .cte("top_keys")
    )
    has_null = exists(select(literal(1)).select_from(ranked).where(ranked.c.k.is_(None)))
    listed = select(ranked.c.k).where(ranked.c.k.is_not(None))
    return or_(and_(key.is_not(None), key.in_(listed)), and_(key.is_(None), has_null))


def cell_filter(
    b: Build, builds: BuildFactory, extra: Sequence[Condition], cell: Mapping[str, Any]
) -> list[ColumnElement[Any]]:
    """WHERE clauses selecting exactly the tickets of one cell of the report (the same filters, each
    named dimension equal to the cell's key, ``others`` for the rows the top-N folded together)."""
    spec = b.spec
    clauses = b.where(extra)
    if spec.top and spec.dimensions:
        in_top = _in_top(builds, extra, b.dimension(spec.dimensions[0]))
        if cell.get("__others"):
            clauses.append(not_(in_top))
        else:
            clauses.append(in_top)
    for i, d in enumerate(spec.dimensions):
        if d.name not in cell or (i == 0 and cell.get("__others")):
            continue
        x = b.dimension(d)
        value = cell[d.name]
        clauses.append(x.is_(None) if value is None else x == value)
    return clauses


__all__ = ["Build", "Viewer", "aggregate", "cell_filter", "hidden_stages", "previous_window", "window"]
