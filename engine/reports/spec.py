"""ReportSpec: a report of an app definition compiled once — its targets, filters, dimensions, measures.

A *target* is anything a report reads per ticket: a form field (``priority``), a column every ticket
has (``created_at``, ``stage``, ``assignee``), a process metric (``metrics.resolution_hours``) or a
person's attribute (``assignee.department``). Compiling resolves every name once and checks it
(a time bucket needs a time, an average a number, a filter value the target's type); each problem
carries the path of the report member at fault. The same checks run when a definition is loaded.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DefinitionError, Problem

Found = tuple[tuple[str | int, ...], str, dict[str, Any]]

#: Kinds of targets: what can be grouped, aggregated and compared.
NUMBER, TEXT, TIME, DATE, BOOL, USER, DEPARTMENT, LIST, STAGE = (
    "number", "text", "time", "date", "bool", "user", "department", "list", "stage",
)  # fmt: skip
TIMELIKE = frozenset({TIME, DATE})

FIELD_KINDS = {
    "number": NUMBER, "money": NUMBER, "rating": NUMBER, "formula": NUMBER,
    "date": DATE, "datetime": TIME, "checkbox": BOOL,
    "user": USER, "department": DEPARTMENT,
    "multiselect": LIST, "cascade": LIST,
}  # fmt: skip
#: Field types a report cannot read (their values are files or rows, not one value).
UNREPORTABLE = frozenset({"subtable", "attachment", "image", "richtext"})

#: Columns every ticket has: name → (table, column, kind). ``m`` is ticket_metrics, ``r`` records.
BUILTINS: dict[str, tuple[str, str, str]] = {
    "number": ("r", "number", TEXT),
    "stage": ("r", "stage", STAGE),
    "status": ("m", "status", TEXT),
    "ticket_type": ("m", "ticket_type", TEXT),
    "created_at": ("m", "created_at", TIME),
    "updated_at": ("r", "updated_at", TIME),
    "closed_at": ("m", "closed_at", TIME),
    "created_by": ("m", "created_by", USER),
    "assignee": ("m", "owner_id", USER),
    "team": ("m", "team", TEXT),
}
#: Process metrics (``metrics.x``): name → (column or computed name, kind).
METRICS: dict[str, tuple[str, str]] = {
    "first_response_hours": ("first_response_hours", NUMBER),
    "first_response_business_hours": ("first_response_business_hours", NUMBER),
    "first_response_at": ("first_response_at", TIME),
    "resolution_hours": ("resolution_hours", NUMBER),
    "resolution_business_hours": ("resolution_business_hours", NUMBER),
    "waiting_hours": ("waiting_hours", NUMBER),
    "transfers": ("transfers", NUMBER),
    "returns": ("returns", NUMBER),
    "reopens": ("reopens", NUMBER),
    "response_breached": ("response_breached", BOOL),
    "resolution_breached": ("resolution_breached", BOOL),
    "sla_breached": ("sla_breached", BOOL),
    "sla_met": ("sla_met", BOOL),  # computed: not breached, where a clock ran
    "satisfaction": ("satisfaction", NUMBER),
    "age_hours": ("age_hours", NUMBER),  # computed: until closed, or until now
    "owner": ("owner_id", USER),
    "team": ("team", TEXT),
    "created_at": ("created_at", TIME),
    "closed_at": ("closed_at", TIME),
    "status": ("status", TEXT),
}
#: Attributes of a person a report can group by: ``assignee.department``.
USER_ATTRS = {"department": DEPARTMENT}

BUCKETS = ("hour", "day", "week", "month", "quarter", "year")
PARTS = {"weekday": "weekday", "hour": "hour_of_day"}  # weekday(created_at), hour(created_at)
AGGREGATES = ("count", "distinct", "sum", "avg", "min", "max", "median", "p90", "p95", "rate")
PERCENTILES = {"median": 0.5, "p90": 0.9, "p95": 0.95}
NUMERIC = frozenset({"sum", "avg", "median", "p90", "p95"})
ADDITIVE = frozenset({"count", "sum"})
OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "between", "contains", "last", "this",
       "previous", "empty", "not_empty")  # fmt: skip
RELATIVE = frozenset({"last", "this", "previous"})
PERIODS = ("day", "week", "month", "quarter", "year")
CHARTS = ("table", "kpi", "bar", "stacked", "line", "area", "pie", "funnel", "heatmap")
_LAST = re.compile(r"^\s*(\d+)\s*(h|d|w|mo|q|y)\s*$")
_CALL = re.compile(r"^\s*(\w+)\s*\(\s*([\w.]+)\s*(?:,\s*['\"](\w+)['\"]\s*)?\)\s*$")
_CONDITION = re.compile(r"^\s*([\w.]+)\s*(==|!=|>=|<=|>|<|=| in | not in )\s*(.+?)\s*$")
_CONDITION_OPS = {"==": "eq", "=": "eq", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le",
                  " in ": "in", " not in ": "not_in"}  # fmt: skip


@dataclass(frozen=True)
class FieldInfo:
    """What reports need of a form field, from a loaded definition or raw definition data alike."""

    key: str
    type: str
    label: Mapping[str, str]
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Target:
    name: str  # as written: priority, metrics.resolution_hours, assignee.department
    kind: str
    source: str  # field | builtin | metric | user_attr
    key: str  # the field key, column or metric name
    field: FieldInfo | None = None
    guard: str | None = None  # the form field whose visibility governs this target (masking)
    via: Target | None = None  # the person whose attribute this is (user_attr)


@dataclass(frozen=True)
class Dimension:
    name: str
    target: Target
    part: str | None = None  # a time bucket (month, …) or a part (weekday, hour_of_day)


@dataclass(frozen=True)
class Condition:
    target: Target
    op: str
    value: Any = None


@dataclass(frozen=True)
class Measure:
    name: str
    agg: str
    target: Target | None = None  # None: count of tickets
    condition: Condition | None = None  # rate of a condition

    @property
    def additive(self) -> bool:
        return self.agg in ADDITIVE or (self.agg == "count" and self.target is None)


@dataclass(frozen=True)
class ReportSpec:
    id: str
    name: Mapping[str, str]
    ticket_type: str
    filters: tuple[Condition, ...]
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    chart: str = "table"
    top: int | None = None
    others: bool = False
    sort: tuple[tuple[str, bool], ...] = ()  # (name, descending)
    pivot: str | None = None
    running_total: tuple[str, ...] = ()
    compare: bool = False  # period over period
    path: str = ""
    fields: Mapping[str, FieldInfo] = field(default_factory=dict)

    def dimension(self, name: str) -> Dimension:
        return next(d for d in self.dimensions if d.name == name)

    def measure(self, name: str) -> Measure:
        return next(m for m in self.measures if m.name == name)

    @property
    def time_dimension(self) -> Dimension | None:
        return next((d for d in self.dimensions if d.part in BUCKETS), None)

    def targets(self) -> Iterator[Target]:
        """Every target the report reads (for permissions)."""
        for c in self.filters:
            yield c.target
        for d in self.dimensions:
            yield d.target
        for m in self.measures:
            if m.target is not None:
                yield m.target
            if m.condition is not None:
                yield m.condition.target


class _Bad(Exception):
    def __init__(self, path: tuple[str | int, ...], code: str, **params: Any):
        super().__init__(code)
        self.found: Found = (path, code, params)


# ----------------------------------------------------------------------------- targets
def fields_of(tt: Any) -> dict[str, FieldInfo]:
    """Form fields of a ticket type (a TicketTypeDef or its raw definition data), by key — and by the
    key a field was ``renamed_from``, so reports written before a rename keep working."""
    if hasattr(tt, "form") and hasattr(tt.form, "fields"):
        infos = [FieldInfo(f.key, f.type, dict(f.label), dict(f.options)) for f in tt.form.fields]
    else:
        infos = []
        for section in (tt.get("form") or {}).get("sections") or ():
            for f in section.get("fields") or () if isinstance(section, Mapping) else ():
                if (
                    isinstance(f, Mapping)
                    and isinstance(f.get("key"), str)
                    and isinstance(f.get("type"), str)
                ):
                    label = f.get("label")
                    if not isinstance(label, Mapping):
                        label = {"zh": str(label or f["key"]), "en": str(label or f["key"])}
                    options = {k: v for k, v in f.items() if k not in ("key", "type", "label")}
                    infos.append(FieldInfo(f["key"], f["type"], label, options))
    out = {f.key: f for f in infos}
    for f in infos:
        old = f.options.get("renamed_from")
        if isinstance(old, str) and old not in out:
            out[old] = f
    return out


def satisfaction_key(fields: Mapping[str, FieldInfo]) -> str | None:
    for key in ("rating", "satisfaction"):
        if key in fields and fields[key].type in ("rating", "number"):
            return key
    return next((f.key for f in fields.values() if f.type == "rating"), None)


def resolve(name: str, fields: Mapping[str, FieldInfo], path: tuple[str | int, ...]) -> Target:
    """The target ``name`` stands for, or a problem at ``path``."""
    name = name.strip()
    if name in fields:
        f = fields[name]
        if f.type in UNREPORTABLE:
            raise _Bad(path, "report.field_not_reportable", field=name, type=f.type)
        return Target(name, FIELD_KINDS.get(f.type, TEXT), "field", f.key, f, guard=f.key)
    if name in BUILTINS:
        return Target(name, BUILTINS[name][2], "builtin", name)
    head, _, rest = name.partition(".")
    if head == "metrics" and rest in METRICS:
        kind = METRICS[rest][1]
        guard = satisfaction_key(fields) if rest == "satisfaction" else None
        return Target(name, kind, "metric", rest, guard=guard)
    if rest in USER_ATTRS and head:
        try:
            person = resolve(head, fields, path)
        except _Bad:
            person = None
        if person is not None and person.kind == USER:
            return Target(name, USER_ATTRS[rest], "user_attr", rest, guard=person.guard, via=person)
    if "." not in name:
        raise _Bad(path, "check.unknown_field", field=name)
    known = ", ".join([*(f"metrics.{m}" for m in METRICS), *(f"assignee.{a}" for a in USER_ATTRS)])
    raise _Bad(path, "report.unknown_target", name=name, known=known)


def known_target(name: str, fields: Mapping[str, FieldInfo]) -> bool:
    """Whether a report can read ``name`` (a field, ticket column, metric or person's attribute)."""
    try:
        resolve(name, fields, ())
    except _Bad:
        return False
    return True


# ----------------------------------------------------------------------------- members
def _dimension(raw: Any, fields: Mapping[str, FieldInfo], path: tuple[str | int, ...]) -> Dimension:
    if isinstance(raw, str):
        alias, expr = raw, raw
    else:
        alias, expr = next(iter(raw.items()))
        expr = str(expr)
    call = _CALL.match(expr)
    if call is None:
        return Dimension(alias, resolve(expr, fields, path))
    fn, arg, unit = call.groups()
    target = resolve(arg, fields, path)
    if fn == "bucket":
        if unit not in BUCKETS:
            raise _Bad(path, "report.unknown_bucket", unit=unit or "", known=", ".join(BUCKETS))
        part = unit
    elif fn in PARTS:
        part = PARTS[fn]
    else:
        raise _Bad(path, "report.unknown_function", name=fn, known="bucket, weekday, hour")
    if target.kind not in TIMELIKE or ((part == "hour_of_day" or part == "hour") and target.kind == DATE):
        raise _Bad(path, "report.bucket_not_time", name=arg, kind=target.kind)
    return Dimension(alias, target, part)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("'\"")


def _measure(raw: Any, fields: Mapping[str, FieldInfo], path: tuple[str | int, ...]) -> Measure:
    if raw == "count":
        return Measure("count", "count")
    alias = raw.get("as")
    aggs = [k for k in raw if k != "as"]
    if len(aggs) != 1 or aggs[0] not in AGGREGATES:
        raise _Bad(path, "report.measure_shape", known=", ".join(AGGREGATES))
    agg = aggs[0]
    text = str(raw[agg])
    condition = None
    cond = _CONDITION.match(text) if agg == "rate" else None
    if cond is not None:
        target = resolve(cond.group(1), fields, path)
        op = _CONDITION_OPS[cond.group(2)]
        condition = _condition(target, op, _literal(cond.group(3)), path)
    else:
        target = resolve(text, fields, path)
        if agg == "rate" and target.kind != BOOL:
            raise _Bad(path, "report.rate_not_bool", name=text, kind=target.kind)
    if agg in NUMERIC and target.kind != NUMBER:
        raise _Bad(path, "report.measure_not_numeric", agg=agg, name=text, kind=target.kind)
    if agg in ("min", "max") and target.kind not in (NUMBER, TIME, DATE):
        raise _Bad(path, "report.measure_not_numeric", agg=agg, name=text, kind=target.kind)
    slug = re.sub(r"\W+", "_", target.name.removeprefix("metrics.")).strip("_")
    name = alias or f"{agg}_{slug}"
    if condition is not None:
        return Measure(name, agg, None, condition)
    return Measure(name, agg, target)


def _time_value(value: Any, path: tuple[str | int, ...], target: Target) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime | dt.date):
        return value
    try:
        if isinstance(value, str) and len(value.strip()) == 10:
            return dt.date.fromisoformat(value.strip())
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(
            path, "report.filter_value_type", name=target.name, kind=target.kind, value=value
        ) from None
    return moment


def _scalar(target: Target, value: Any, path: tuple[str | int, ...]) -> Any:
    kind = target.kind
    wrong = _Bad(path, "report.filter_value_type", name=target.name, kind=kind, value=value)
    if kind == NUMBER or kind in (USER, DEPARTMENT):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise wrong
        try:
            number = float(value)
        except ValueError:
            raise wrong from None
        return int(number) if kind != NUMBER or number == int(number) else number
    if kind in TIMELIKE:
        return _time_value(value, path, target)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(value, list | dict):
        raise wrong
    return value


def _condition(target: Target, op: str, value: Any, path: tuple[str | int, ...]) -> Condition:
    vpath = (*path, "value")
    if op in RELATIVE:
        if target.kind not in TIMELIKE:
            raise _Bad(path, "report.relative_not_time", name=target.name, kind=target.kind)
        if op == "last":
            found = _LAST.match(str(value))
            if found is None:
                raise _Bad(vpath, "report.bad_duration", value=value)
            return Condition(target, op, (int(found.group(1)), found.group(2)))
        if value not in PERIODS:
            raise _Bad(vpath, "report.bad_period", value=value, known=", ".join(PERIODS))
        return Condition(target, op, value)
    if op in ("empty", "not_empty"):
        return Condition(target, op)
    if op in ("in", "not_in"):
        if not isinstance(value, list | tuple) or not value:
            raise _Bad(vpath, "report.filter_needs_list", op=op)
        return Condition(target, op, tuple(_scalar(target, v, vpath) for v in value))
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _Bad(vpath, "report.filter_needs_pair")
        return Condition(target, op, tuple(_scalar(target, v, vpath) for v in value))
    if op == "contains":
        if target.kind not in (TEXT, LIST) or not isinstance(value, str):
            raise _Bad(vpath, "report.filter_value_type", name=target.name, kind=target.kind, value=value)
        return Condition(target, op, value)
    if op not in OPS:
        raise _Bad((*path, "op"), "report.unknown_op", op=op, known=", ".join(OPS))
    if value is None:
        raise _Bad(vpath, "report.filter_value_type", name=target.name, kind=target.kind, value=value)
    return Condition(target, op, _scalar(target, value, vpath))


def compile_filter(
    raw: Mapping[str, Any], fields: Mapping[str, FieldInfo], path: tuple[str | int, ...]
) -> Condition:
    """One filter ``{field, op, value}``; raises DefinitionError with its path when it is wrong."""
    try:
        if not isinstance(raw, Mapping) or "field" not in raw:
            raise _Bad(path, "report.filter_shape")
        target = resolve(str(raw["field"]), fields, (*path, "field"))
        return _condition(target, str(raw.get("op", "eq")), raw.get("value"), path)
    except _Bad as bad:
        raise _definition_error([bad.found]) from None


def _definition_error(found: list[Found]) -> DefinitionError:
    problems = [Problem(_dotted(p), code, params) for p, code, params in found]
    return DefinitionError(problems=problems, count=len(problems))


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


# ----------------------------------------------------------------------------- reports
def report_problems(raw: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> Iterator[Found]:
    """Every problem of one report definition, each with a path relative to the report."""
    _spec, found = _compile(raw, fields, "", ())
    yield from found


def compile_report(
    raw: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    ticket_type: str,
    base: tuple[str | int, ...] = (),
) -> ReportSpec:
    spec, found = _compile(raw, fields, ticket_type, base)
    if found:
        raise _definition_error([((*base, *p), c, params) for p, c, params in found])
    assert spec is not None
    return spec


def _compile(
    raw: Mapping[str, Any], fields: Mapping[str, FieldInfo], ticket_type: str, base: tuple[str | int, ...]
) -> tuple[ReportSpec | None, list[Found]]:
    found: list[Found] = []
    filters, dims, measures = [], [], []
    for i, f in enumerate(raw.get("filters") or ()):
        try:
            if not isinstance(f, Mapping) or "field" not in f:
                raise _Bad(("filters", i), "report.filter_shape")
            target = resolve(str(f["field"]), fields, ("filters", i, "field"))
            filters.append(_condition(target, str(f.get("op", "eq")), f.get("value"), ("filters", i)))
        except _Bad as bad:
            found.append(bad.found)
    for i, d in enumerate(raw.get("dimensions") or ()):
        try:
            dims.append(_dimension(d, fields, ("dimensions", i)))
        except _Bad as bad:
            found.append(bad.found)
    for i, m in enumerate(raw.get("measures") or ("count",)):
        try:
            measures.append(_measure(m, fields, ("measures", i)))
        except _Bad as bad:
            found.append(bad.found)
    names = [d.name for d in dims] + [m.name for m in measures]
    for i, name in enumerate(names):
        if name in names[:i]:
            where = ("dimensions", i) if i < len(dims) else ("measures", i - len(dims))
            found.append((where, "report.duplicate_name", {"name": name}))
    sort = []
    for i, key in enumerate(raw.get("sort") or ()):
        desc = key.startswith("-")
        if key.lstrip("-") not in names:
            found.append(
                (("sort", i), "report.unknown_column", {"name": key.lstrip("-"), "known": ", ".join(names)})
            )
        sort.append((key.lstrip("-"), desc))
    pivot = raw.get("pivot")
    if pivot is not None and pivot not in [d.name for d in dims]:
        found.append(
            (("pivot",), "report.unknown_column", {"name": pivot, "known": ", ".join(d.name for d in dims)})
        )
    running = tuple(raw.get("running_total") or ())
    for i, name in enumerate(running):
        m = next((m for m in measures if m.name == name), None)
        if m is None:
            found.append(
                (("running_total", i), "report.unknown_column", {"name": name, "known": ", ".join(names)})
            )
        elif not m.additive:
            found.append((("running_total", i), "report.running_not_additive", {"name": name}))
    chart = raw.get("chart") or "table"
    found += _chart_problems(chart, dims, raw)
    if found:
        return None, found
    spec = ReportSpec(
        id=raw.get("id", ""),
        name=raw.get("name") or {"zh": raw.get("id", ""), "en": raw.get("id", "")},
        ticket_type=raw.get("source") or ticket_type,
        filters=tuple(filters),
        dimensions=tuple(dims),
        measures=tuple(measures),
        chart=chart,
        top=raw.get("top"),
        others=bool(raw.get("others")),
        sort=tuple(sort),
        pivot=pivot,
        running_total=running,
        compare=bool(raw.get("compare")),
        path=_dotted(base),
        fields=fields,
    )
    return spec, []


def _chart_problems(chart: str, dims: list[Dimension], raw: Mapping[str, Any]) -> list[Found]:
    if chart == "heatmap" and len(dims) != 2:
        return [(("chart",), "report.chart_dimensions", {"chart": chart, "count": 2, "given": len(dims)})]
    if chart in ("pie", "funnel") and len(dims) != 1:
        return [(("chart",), "report.chart_dimensions", {"chart": chart, "count": 1, "given": len(dims)})]
    if chart == "kpi" and dims:
        return [(("chart",), "report.chart_dimensions", {"chart": chart, "count": 0, "given": len(dims)})]
    return []


__all__ = [
    "BUCKETS",
    "Condition",
    "Dimension",
    "FieldInfo",
    "Measure",
    "ReportSpec",
    "Target",
    "compile_filter",
    "compile_report",
    "fields_of",
    "known_target",
    "report_problems",
    "resolve",
]
