"""Reports and dashboards over HTTP: run a report (by id or ad hoc), a dashboard with its global
filters, drill from a cell down to its tickets, and export either as CSV or XLSX.

Every answer is for the signed-in viewer (:func:`viewer_for`): their record scope narrows the tickets
counted (engine.access, applied by the report engine's query), fields hidden from them at some stages
are blank there, and a report reading a field hidden from them at every stage is refused (403).

Global filters are query parameters named after what they filter (docs/api.md): ``priority=P1``
(repeat for several values), ``created_at_from=2026-12-01`` / ``created_at_to=…`` / ``created_at_last=7d``
for times; the page's filter form sends the same parameters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, g, jsonify, request

import server.api.reports_messages  # noqa: F401  (registers the reports.* and dash.* texts)
from engine.definitions.schema import app_schema
from engine.errors import DefinitionError, GongdanError, InputError, NotFoundError, Problem
from engine.i18n import t, text_of
from engine.reports import export
from engine.reports.query import Viewer
from engine.reports.run import MAX_PAGE, ReportResult, Reports
from engine.reports.spec import (
    BOOL,
    BUCKETS,
    DATE,
    DEPARTMENT,
    LIST,
    NUMBER,
    TIME,
    TIMELIKE,
    USER,
    ReportSpec,
    Target,
    compile_filter,
    known_target,
    resolve,
)
from server.api.core import CURSOR_QUERY, LIMIT_QUERY, api, current, decode_cursor, encode_cursor, plain
from server.app import platform

TAG = "reports"
#: Nodes a ticket can wait at (its stage); a field hidden at all of them is hidden "everywhere".
STAGE_NODES = frozenset({"task", "approval", "timer", "subprocess"})
#: Query parameters that are never filters.
RESERVED = frozenset({"lang", "cell", "cursor", "limit", "format", "report"})
RANGE_SUFFIXES = ("_from", "_to", "_last")
CHUNK = 64 * 1024
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# ============================================================================ the viewer
def engine() -> Reports:
    """The report engine of this app (its compiled specs are kept between requests)."""
    found = current_app.extensions.get("gongdan_reports")
    if found is None:
        found = current_app.extensions["gongdan_reports"] = Reports(platform().runtime)
    return found


def hidden_everywhere(tspec: Any, roles: frozenset[str]) -> frozenset[str]:
    """Fields a viewer with ``roles`` may see at no stage of the ticket type's flow."""
    stages = [n for n in tspec.flow.nodes.values() if n.type in STAGE_NODES]
    if not stages:
        return frozenset()
    hidden = set(tspec.access(stages[0].id, roles).hidden())
    for node in stages[1:]:
        hidden &= tspec.access(node.id, roles).hidden()
    return frozenset(hidden)


def viewer_for(app_key: str, ticket_type: str) -> Viewer:
    """The signed-in caller as a report viewer of ``ticket_type``: scope, roles, hidden fields,
    zone, and the language of this request."""
    _app_spec, tspec = platform().runtime.type_spec(app_key, ticket_type)
    return _viewer(app_key, tspec)


def _viewer(app_key: str, tspec: Any) -> Viewer:
    principal = current()
    viewer = Viewer.of(principal, app_key)
    if principal.is_admin:
        return dataclasses.replace(viewer, lang=g.lang)
    return dataclasses.replace(viewer, hidden=hidden_everywhere(tspec, viewer.roles), lang=g.lang)


# ============================================================================ global filters
def filter_params(args: Any) -> list[tuple[str, str]]:
    """The (name, value) query parameters that are filters: not reserved, not empty. A NUL character,
    which no database text can hold, is a 400 naming the parameter (not a database error)."""
    found = [(k, v) for k, v in args.items(multi=True) if k not in RESERVED and v.strip() != ""]
    for name, value in found:
        if "\x00" in name or "\x00" in value:
            raise query_problem(name.replace("\x00", "\\u0000")[:100], "api.nul_character")
    return found


def _target(name: str, fields: Mapping[str, Any]) -> Target | None:
    """What ``name`` reads (a field, ticket column, metric or person's department), None if nothing."""
    return resolve(name, fields, ()) if known_target(name, fields) else None


def parse_filters(
    params: Iterable[tuple[str, str]], fields: Mapping[str, Any], offered: list[str] | None = None
) -> list[dict[str, Any]]:
    """Query parameters as report filters ``{field, op, value}``, each checked against the report's
    fields (and the dashboard's offered filters) with the parameter's name as the problem's path."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for name, value in params:
        grouped.setdefault(_split(name, fields), []).append(value.strip())
    out: list[dict[str, Any]] = []
    for (field, suffix), values in grouped.items():
        param = field + suffix
        target = _target(field, fields)
        if target is None:
            raise query_problem(param, "reports.unknown_filter", param=param)
        if offered is not None and field not in offered:
            known = ", ".join(offered) or "-"
            raise query_problem(param, "reports.filter_not_offered", param=param, field=field, known=known)
        if suffix and target.kind not in TIMELIKE:
            raise query_problem(param, "reports.range_not_time", param=param, name=field)
        raw = _raw_filters(field, suffix, target, values)
        for one in raw:
            try:
                compile_filter(one, fields, (param,))
            except DefinitionError as exc:
                raise InputError(
                    "api.query_invalid", problems=exc.problems, count=len(exc.problems)
                ) from None
        out += raw
    return out


def query_problem(path: str, code: str, **params: Any) -> InputError:
    """A 400 naming the query parameter at fault."""
    return InputError("api.query_invalid", problems=[Problem(path, code, params)], count=1)


def _split(name: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    if _target(name, fields) is not None:
        return name, ""
    for suffix in RANGE_SUFFIXES:
        if name.endswith(suffix) and _target(name[: -len(suffix)], fields) is not None:
            return name[: -len(suffix)], suffix
    return name, ""


def _raw_filters(field: str, suffix: str, target: Target, values: list[str]) -> list[dict[str, Any]]:
    if suffix == "_from":
        return [{"field": field, "op": "ge", "value": values[-1]}]
    if suffix == "_to":
        return [{"field": field, "op": "le", "value": values[-1]}]
    if suffix == "_last":
        return [{"field": field, "op": "last", "value": values[-1]}]
    if target.kind == LIST:  # a cascade or multi-select holding each value
        return [{"field": field, "op": "contains", "value": v} for v in values]
    typed: list[Any] = values
    if target.kind == BOOL:
        typed = [_bool(v) for v in values]
    if len(typed) == 1:
        return [{"field": field, "op": "eq", "value": typed[0]}]
    return [{"field": field, "op": "in", "value": typed}]


def _bool(value: str) -> Any:
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
        value.lower(), value
    )


# ============================================================================ labels
def target_label(target: Target, lang: str) -> str:
    if target.source == "field" and target.field is not None:
        return text_of(target.field.label, lang)
    if target.source == "builtin":
        return t(f"reports.builtin.{target.name}", lang)
    if target.source == "metric":
        return t(f"reports.metric.{target.key}", lang)
    if target.via is not None:
        return t("reports.department_of", lang, x=target_label(target.via, lang))
    return target.name


def column_labels(spec: ReportSpec, lang: str) -> dict[str, str]:
    """A person's name for each column of the report: dimensions, measures and derived columns."""
    labels: dict[str, str] = {}
    for d in spec.dimensions:
        base = target_label(d.target, lang)
        labels[d.name] = (
            t("reports.part", lang, x=base, part=t(f"reports.part.{d.part}", lang)) if d.part else base
        )
    for m in spec.measures:
        if m.target is None and m.condition is None:
            text = t("reports.count", lang)
        elif m.condition is not None:
            c = m.condition
            shown = c.value if not isinstance(c.value, tuple) else ", ".join(map(str, c.value))
            what = f"{target_label(c.target, lang)} {_OPS.get(c.op, c.op)} {shown}"
            text = t("reports.agg.rate", lang, x=what)
        else:
            assert m.target is not None
            text = t(f"reports.agg.{m.agg}", lang, x=target_label(m.target, lang))
        labels[m.name] = text
        for derived in ("previous", "change", "running"):
            labels[f"{m.name}_{derived}"] = t(f"reports.derived.{derived}", lang, x=text)
    return {k: v[:1].upper() + v[1:] for k, v in labels.items()}


def column_formats(spec: ReportSpec) -> dict[str, str]:
    """How each measure column reads: a share (percent) or a number; changes are percents."""
    out = {}
    for m in spec.measures:
        out[m.name] = out[f"{m.name}_previous"] = "percent" if m.agg == "rate" else "number"
        out[f"{m.name}_running"] = "number"
        out[f"{m.name}_change"] = "percent"
    return out


_OPS = {"eq": "=", "ne": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤", "in": "∈", "not_in": "∉"}


# ============================================================================ JSON of results


def cell_text(cell: Mapping[str, Any]) -> str:
    """A row's drill-down cell as the ``cell`` query parameter."""
    return json.dumps(plain(dict(cell)), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def result_json(result: ReportResult, lang: str, totals: dict[str, Any] | None) -> dict[str, Any]:
    spec = result.spec
    labels = column_labels(spec, lang)
    formats = column_formats(spec)
    chart = _chart_named(result.chart, labels)
    return {
        "id": spec.id,
        "name": text_of(spec.name, lang),
        "ticket_type": spec.ticket_type,
        "chart_type": spec.chart,
        "columns": [
            {
                "name": c.name,
                "label": labels.get(c.name, c.name),
                "role": c.role,
                "format": formats.get(c.name, "text"),
            }
            for c in result.columns
        ],
        "rows": [
            {
                "key": plain(r.key),
                "labels": dict(r.labels),
                "values": {k: plain(v) for k, v in r.values.items() if not k.startswith("__")},
                "others": r.others,
                "cell": cell_text(r.cell()),
            }
            for r in result.rows
        ],
        "totals": totals,
        "kpi": _kpi(result),
        "pivot": plain(result.pivot) if result.pivot else None,
        "chart": chart,
    }


def _kpi(result: ReportResult) -> dict[str, Any] | None:
    """A KPI's numbers; a count over no ticket at all is 0 (the engine has no row to give)."""
    if not result.kpi:
        return None
    kpi = plain(result.kpi)
    for m in result.spec.measures:
        counts = m.agg in ("count", "distinct") and m.condition is None
        if counts and m.name in kpi and kpi[m.name]["value"] is None:
            kpi[m.name]["value"] = 0
            previous = kpi[m.name]["previous"]
            kpi[m.name]["change"] = -1.0 if previous else None
    return kpi


def _chart_named(option: dict[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """The engine's ECharts option with measures' series named for people (legend alike)."""
    option = dict(option)
    if isinstance(option.get("series"), list):
        option["series"] = [
            {**s, "name": labels.get(s["name"], s["name"])} if isinstance(s.get("name"), str) else s
            for s in option["series"]
        ]
    legend = option.get("legend")
    if isinstance(legend, dict) and isinstance(legend.get("data"), list):
        option["legend"] = {
            **legend,
            "data": [labels.get(n, n) if isinstance(n, str) else n for n in legend["data"]],
        }
    return plain(option)


# ============================================================================ running
def _definition(app_spec: Any, ticket_type: str, report: str | Mapping[str, Any]) -> dict[str, Any]:
    """The raw definition of a report (by id, of the app's running version) or the ad-hoc one."""
    if not isinstance(report, str):
        return dict(report)
    return next(dict(raw) for raw in app_spec.app.ticket_types[ticket_type].reports if raw["id"] == report)


def compiled(app_key: str, ticket_type: str, report: str | Mapping[str, Any]) -> ReportSpec:
    """The report's compiled spec (404 for an unknown app, ticket type or report)."""
    return prepared(app_key, ticket_type, report)[1]


def prepared(
    app_key: str, ticket_type: str, report: str | Mapping[str, Any]
) -> tuple[Any, ReportSpec, Viewer]:
    """(app spec, report spec, the caller as its viewer): what every report request starts from."""
    app_spec, _tspec = platform().runtime.type_spec(app_key, ticket_type)
    spec = engine().spec(app_spec, ticket_type, report)
    return app_spec, spec, _viewer(app_key, app_spec.types[spec.ticket_type])


def run_report(
    app_key: str,
    ticket_type: str,
    report: str | Mapping[str, Any],
    params: Iterable[tuple[str, str]] = (),
    offered: list[str] | None = None,
    extra: list[dict[str, Any]] | None = None,
    totals: bool = True,
) -> dict[str, Any]:
    """One report for the caller as JSON: its rows, columns, totals (unless not wanted) and chart."""
    app_spec, spec, viewer = prepared(app_key, ticket_type, report)
    filters = [*(extra or []), *parse_filters(params, spec.fields, offered)]
    reports = engine()
    result = reports.run(app_key, ticket_type, report, viewer, filters)
    summed = None
    if totals and spec.dimensions:
        raw = _definition(app_spec, ticket_type, report)
        whole = {k: raw[k] for k in ("id", "name", "source", "filters", "measures") if k in raw}
        overall = reports.run(app_key, ticket_type, whole, viewer, filters)
        summed = {k: plain(v) for k, v in (overall.rows[0].values if overall.rows else {}).items()}
    elif totals and result.rows:
        summed = {m.name: plain(result.rows[0].values.get(m.name)) for m in spec.measures}
    return result_json(result, viewer.lang or g.lang, summed)


def find_dashboard(app_key: str, dashboard_id: str) -> tuple[str, dict[str, Any]]:
    """(ticket type, definition) of an app's dashboard."""
    app_spec, _ = _app(app_key)
    known = []
    for tt_key, tt in app_spec.app.ticket_types.items():
        for board in tt.dashboards:
            known.append(board["id"])
            if board["id"] == dashboard_id:
                return tt_key, dict(board)
    raise NotFoundError(
        "reports.unknown_dashboard", app=app_key, id=dashboard_id, known=", ".join(known) or "-"
    )


def _app(app_key: str) -> tuple[Any, int]:
    runtime = platform().runtime
    with runtime.db.read() as conn:
        app_id, version = runtime._app_row(conn, app_key)
        return runtime.spec_for(conn, app_id, version), version


def filter_choices(app_key: str, ticket_type: str, names: Iterable[str], lang: str) -> list[dict[str, Any]]:
    """What a filter form offers for each of a dashboard's global filters."""
    app_spec, tspec = platform().runtime.type_spec(app_key, ticket_type)
    from engine.reports.spec import fields_of

    fields = fields_of(app_spec.app.ticket_types[ticket_type])
    out = []
    for name in names:
        target = _target(name, fields)
        if target is None:
            continue
        kind = "time" if target.kind in TIMELIKE else ("bool" if target.kind == BOOL else "choice")
        options = _options(app_spec, tspec, target, lang)
        if kind == "choice" and not options:
            kind = "number" if target.kind in (NUMBER, USER, DEPARTMENT) else "text"
        out.append(
            {"field": name, "label": _cap(target_label(target, lang)), "kind": kind, "options": options}
        )
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _options(app_spec: Any, tspec: Any, target: Target, lang: str) -> list[dict[str, str]]:
    if target.name == "team":
        return [{"value": k, "label": text_of(v, lang)} for k, v in app_spec.app.roles.items()]
    if target.name == "status":
        return [{"value": s, "label": t(f"report.status.{s}", lang)} for s in ("open", "closed", "cancelled")]
    if target.name == "stage":
        return [
            {"value": n.id, "label": text_of(n.name, lang)}
            for n in tspec.flow.nodes.values()
            if n.type in STAGE_NODES
        ]
    if target.field is None:
        return []
    opts = target.field.options
    source = opts.get("options") or app_spec.app.option_sets.get(opts.get("options_from") or "", ())
    out = []
    for o in source or ():
        if isinstance(o, Mapping):
            out.append(
                {"value": str(o.get("value")), "label": text_of(o.get("label") or o.get("value"), lang)}
            )
        else:
            out.append({"value": str(o), "label": str(o)})
    return out


def run_dashboard(app_key: str, dashboard_id: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    """Every report of a dashboard with its global filters; a report the caller may not see answers
    with its error in its place, the others still show."""
    ticket_type, board = find_dashboard(app_key, dashboard_id)
    lang = g.lang
    offered = list(board.get("filters") or ())
    reports: list[dict[str, Any]] = []
    for rid in board["reports"]:
        try:
            reports.append(run_report(app_key, ticket_type, rid, params, offered))
        except GongdanError as exc:
            if isinstance(exc, InputError | NotFoundError):
                raise
            name = text_of(compiled(app_key, ticket_type, rid).name, lang)
            reports.append({"id": rid, "name": name, "error": exc.as_dict(lang)})
    return {
        "id": dashboard_id,
        "app": app_key,
        "ticket_type": ticket_type,
        "name": text_of(board.get("name") or dashboard_id, lang),
        "columns": int(board.get("columns") or 2),
        "filters": filter_choices(app_key, ticket_type, offered, lang),
        "reports": reports,
    }


def list_of_reports(app_key: str) -> dict[str, Any]:
    app_spec, _ = _app(app_key)
    lang = g.lang
    out_reports, out_boards = [], []
    for tt_key, tt in app_spec.app.ticket_types.items():
        refused = hidden_everywhere(app_spec.types[tt_key], Viewer.of(current(), app_key).roles)
        for raw in tt.reports:
            spec = engine().spec(app_spec, tt_key, raw["id"])
            reads = {
                g_
                for target in spec.targets()
                for g_ in (target.guard, target.via and target.via.guard)
                if g_
            }
            if reads & refused and not current().is_admin:
                continue
            out_reports.append(
                {
                    "id": spec.id,
                    "name": text_of(spec.name, lang),
                    "ticket_type": tt_key,
                    "chart": spec.chart,
                    "dimensions": [d.name for d in spec.dimensions],
                    "measures": [m.name for m in spec.measures],
                }
            )
        for board in tt.dashboards:
            out_boards.append(
                {
                    "id": board["id"],
                    "name": text_of(board.get("name") or board["id"], lang),
                    "ticket_type": tt_key,
                    "reports": list(board["reports"]),
                    "filters": list(board.get("filters") or ()),
                    "columns": int(board.get("columns") or 2),
                }
            )
    return {
        "app": app_key,
        "name": text_of(app_spec.app.name, lang),
        "reports": out_reports,
        "dashboards": out_boards,
    }


# ============================================================================ drill-down
def parse_cell(spec: ReportSpec, text: str | None) -> dict[str, Any]:
    """The ``cell`` parameter as the engine's cell, each key of its dimension's type."""
    if not text:
        return {}
    try:
        cell = json.loads(text)
    except ValueError:
        cell = None
    if not isinstance(cell, dict):
        raise query_problem("cell", "reports.bad_cell")
    out: dict[str, Any] = {}
    dims = {d.name: d for d in spec.dimensions}
    for name, value in cell.items():
        if name == "__others":
            if value is not True:
                raise _bad_value(name, value, "true")
            out[name] = True
            continue
        d = dims.get(name)
        if d is None or value is None:
            out[name] = value  # unknown names: the engine says which are known
            continue
        out[name] = _typed_key(name, value, d.target.kind, d.part)
    return out


def _typed_key(name: str, value: Any, kind: str, part: str | None) -> Any:
    if part in BUCKETS:
        if isinstance(value, str):
            return value
        raise _bad_value(name, value, "text")
    if part is not None or kind in (USER, DEPARTMENT):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _bad_value(name, value, "integer")
    if kind == NUMBER:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise _bad_value(name, value, "number")
    if kind == BOOL:
        if isinstance(value, bool):
            return value
        raise _bad_value(name, value, "boolean")
    if kind in (TIME, DATE):
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise _bad_value(name, value, kind) from None
        return parsed.date() if kind == DATE else parsed
    if isinstance(value, str):
        return value
    raise _bad_value(name, value, "text")


def _bad_value(name: str, value: Any, kind: str) -> InputError:
    shown = json.dumps(value, ensure_ascii=False)[:80]
    return query_problem(f"cell.{name}", "reports.bad_cell_value", name=name, value=shown, kind=kind)


def drill_page(
    app_key: str,
    ticket_type: str,
    report_id: str,
    cell_param: str | None,
    params: list[tuple[str, str]],
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """One page of the tickets a report's cell counted, with their number, stage and visible fields."""
    app_spec, spec, viewer = prepared(app_key, ticket_type, report_id)
    cell = parse_cell(spec, cell_param)
    filters = parse_filters(params, spec.fields)
    after = decode_cursor(cursor)
    if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
        raise InputError("api.bad_cursor")
    reports = engine()
    found = reports.drill(app_key, ticket_type, report_id, cell, viewer, filters, after, min(limit, MAX_PAGE))
    count = reports.drill_count(app_key, ticket_type, report_id, cell, viewer, filters)
    nodes = app_spec.types[spec.ticket_type].flow.nodes
    lang = viewer.lang or g.lang
    items = [
        {
            "id": tk["id"],
            "number": tk["number"],
            "stage": tk["stage"],
            "stage_name": text_of(nodes[tk["stage"]].name, lang) if tk["stage"] in nodes else None,
            "status": tk["status"],
            "status_name": t(f"report.status.{tk['status']}", lang),
            "created_at": plain(tk["created_at"]),
            "closed_at": plain(tk["closed_at"]),
            "data": plain(tk["data"] or {}),
        }
        for tk in found.tickets
    ]
    return {
        "count": count,
        "items": items,
        "next_cursor": encode_cursor(found.next_after) if found.next_after is not None else None,
    }


# ============================================================================ downloads
def download(name: str, fmt: str, write: Any) -> Response:
    """``write(out)`` spooled to a temporary file (bounded memory), then streamed in chunks, with a
    Content-Disposition naming the file in UTF-8 (RFC 6266/5987). Errors come before any byte."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  (closed by the stream)
    try:
        write(spool)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(CHUNK):
                yield block
        finally:
            spool.close()

    filename = f"{name}.{fmt}"
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
    response = Response(chunks(), content_type=MEDIA[fmt])  # as is: mimetype= would add a charset again
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"
    return response


def _file_name(spec: ReportSpec, lang: str, suffix: str = "") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    base = text_of(spec.name, lang) or spec.id
    return "".join(c for c in f"{base}{suffix}-{stamp}" if c not in '\\/:*?"<>|\r\n\t')


# ============================================================================ schemas
SCALAR = {"type": ["string", "number", "boolean", "null"]}
COLUMN = {
    "type": "object",
    "required": ["name", "label", "role", "format"],
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "role": {"type": "string", "enum": ["dimension", "measure", "derived"]},
        "format": {
            "type": "string",
            "enum": ["text", "number", "percent"],
            "description": "percent: a share 0–1",
        },
    },
}
ROW = {
    "type": "object",
    "required": ["key", "labels", "values", "others", "cell"],
    "properties": {
        "key": {"type": "object", "additionalProperties": SCALAR},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "values": {"type": "object", "additionalProperties": SCALAR},
        "others": {"type": "boolean"},
        "cell": {"type": "string", "description": "Pass as ?cell= to the drill-down of this row."},
    },
}
REPORT_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "ticket_type", "chart_type", "columns", "rows", "totals", "kpi", "pivot",
                 "chart"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "ticket_type": {"type": "string"},
        "chart_type": {"type": "string", "enum": ["table", "kpi", "bar", "stacked", "line", "area", "pie",
                                                  "funnel", "heatmap"]},
        "columns": {"type": "array", "items": COLUMN},
        "rows": {"type": "array", "items": ROW},
        "totals": {
            "description": "Each measure over all tickets the report's filters select (no grouping).",
            "type": ["object", "null"],
            "additionalProperties": SCALAR,
        },
        "kpi": {
            "type": ["object", "null"],
            "additionalProperties": {
                "type": "object",
                "required": ["value", "previous", "change"],
                "properties": {"value": SCALAR, "previous": SCALAR, "change": {"type": ["number", "null"]}},
            },
        },
        "pivot": {
            "type": ["object", "null"],
            "required": ["rows", "row_keys", "columns", "column_keys", "values"],
            "properties": {
                "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                "row_keys": {"type": "array", "items": {"type": "object", "additionalProperties": SCALAR}},
                "columns": {"type": "array", "items": {"type": "string"}},
                "column_keys": {"type": "array", "items": SCALAR},
                "values": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "array", "items": SCALAR}},
                },
            },
        },
        "chart": {"type": "object", "description": "An ECharts option: pass it to setOption as is."},
    },
}  # fmt: skip
REFUSED_REPORT = {
    "type": "object",
    "required": ["id", "name", "error"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message", "problems"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "problems": {"type": "array"},
            },
        },
    },
}
FILTER_CHOICE = {
    "type": "object",
    "required": ["field", "label", "kind", "options"],
    "properties": {
        "field": {"type": "string"},
        "label": {"type": "string"},
        "kind": {"type": "string", "enum": ["time", "bool", "choice", "number", "text"]},
        "options": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["value", "label"],
                "properties": {"value": {"type": "string"}, "label": {"type": "string"}},
            },
        },
    },
}
DASHBOARD = {
    "type": "object",
    "required": ["id", "app", "ticket_type", "name", "columns", "filters", "reports"],
    "properties": {
        "id": {"type": "string"},
        "app": {"type": "string"},
        "ticket_type": {"type": "string"},
        "name": {"type": "string"},
        "columns": {"type": "integer", "minimum": 1},
        "filters": {"type": "array", "items": FILTER_CHOICE},
        "reports": {"type": "array", "items": {"anyOf": [REPORT_RESULT, REFUSED_REPORT]}},
    },
}
REPORT_LIST = {
    "type": "object",
    "required": ["app", "name", "reports", "dashboards"],
    "properties": {
        "app": {"type": "string"},
        "name": {"type": "string"},
        "reports": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "ticket_type", "chart", "dimensions", "measures"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "ticket_type": {"type": "string"},
                    "chart": {"type": "string"},
                    "dimensions": {"type": "array", "items": {"type": "string"}},
                    "measures": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "dashboards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "ticket_type", "reports", "filters", "columns"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "ticket_type": {"type": "string"},
                    "reports": {"type": "array", "items": {"type": "string"}},
                    "filters": {"type": "array", "items": {"type": "string"}},
                    "columns": {"type": "integer"},
                },
            },
        },
    },
}
DRILL = {
    "type": "object",
    "required": ["count", "items", "next_cursor"],
    "properties": {
        "count": {"type": "integer", "minimum": 0, "description": "How many tickets the cell counts in all."},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "number", "stage", "stage_name", "status", "status_name", "created_at",
                             "closed_at", "data"],
                "properties": {
                    "id": {"type": "integer"},
                    "number": {"type": "string"},
                    "stage": {"type": ["string", "null"]},
                    "stage_name": {"type": ["string", "null"]},
                    "status": {"type": "string"},
                    "status_name": {"type": "string"},
                    "created_at": {"type": "string"},
                    "closed_at": {"type": ["string", "null"]},
                    "data": {"type": "object", "description": "The fields the caller may see at its stage."},
                },
            },
        },
        "next_cursor": {"type": ["string", "null"]},
    },
}  # fmt: skip


def _inline(schema: Any, defs: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``schema`` with its ``#/$defs/…`` references replaced by the definitions (for OpenAPI)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.rsplit("/", 1)[1]
            if name in seen:
                return {}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**_inline(defs[name], defs, (*seen, name)), **_inline(rest, defs, seen)}
        return {k: _inline(v, defs, seen) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs, seen) for v in schema]
    return schema


def _adhoc_body() -> dict[str, Any]:
    defs = app_schema()["$defs"]
    report = _inline(defs["report"], defs)
    report["required"] = ["measures"]  # an ad-hoc report needs no id
    return {
        "type": "object",
        "required": ["report"],
        "properties": {
            "report": report,
            "filters": {"type": "array", "items": _inline(defs["report_filter"], defs), "maxItems": 50},
        },
        "additionalProperties": False,
    }


ADHOC_BODY = _adhoc_body()
FILTER_QUERY = {
    "created_at_from": {"type": "string", "description": "Tickets created on or after this day (or moment)."},
    "created_at_to": {
        "type": "string",
        "description": "Tickets created up to the end of this day (or moment).",
    },
    "created_at_last": {
        "type": "string",
        "description": "Tickets created in the last 24h, 7d, 4w, 3mo, 2q or 1y.",
    },
}
FILTERS_DOC = (
    " Global filters are query parameters named after what they filter: `priority=P1` (repeat for several "
    "values), `<time>_from` / `<time>_to` (a day or moment) and `<time>_last` (7d, 4w, 3mo …) for times."
)
FORMAT_QUERY = {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"}
CELL_QUERY = {
    "type": "string",
    "maxLength": 4000,
    "description": "A row's cell (JSON), as the report gave it.",
}
REPORT_PATH = "/apps/<key>/ticket_types/<ticket_type>/reports/<report_id>"


# ============================================================================ endpoints
@api(
    "GET",
    "/apps/<key>/reports",
    summary="The reports and dashboards of an app",
    tag=TAG,
    errors=(404,),
    response=REPORT_LIST,
)
def app_reports(key: str):
    """The app's reports the caller may run (none reads a field hidden from them) and its dashboards."""
    return jsonify(list_of_reports(key))


@api(
    "GET",
    REPORT_PATH,
    summary="Run a report",
    tag=TAG,
    query=FILTER_QUERY,
    errors=(400, 404, 422),
    response=REPORT_RESULT,
    description="Rows, columns, totals and the chart's ECharts option, counted over the tickets the caller "
    "may see." + FILTERS_DOC,
)
def run_one(key: str, ticket_type: str, report_id: str, q: dict[str, Any]):
    return jsonify(run_report(key, ticket_type, report_id, filter_params(request.args)))


@api(
    "POST",
    "/apps/<key>/ticket_types/<ticket_type>/reports/run",
    summary="Run an ad-hoc report definition",
    tag=TAG,
    body=ADHOC_BODY,
    errors=(400, 404, 415, 422),
    response=REPORT_RESULT,
    description="The body holds a report definition (as in an app definition) and optional filters; "
    "every problem is answered (422) with its path in the body. For the report builder.",
)
def run_adhoc(key: str, ticket_type: str, data: dict[str, Any]):
    from server.api.tickets import refuse_nul  # NUL in a spec: a 422 with its path, not a database error

    data = refuse_nul(data)
    report = {"id": "adhoc", **data["report"]}
    return jsonify(run_report(key, ticket_type, report, extra=list(data.get("filters") or ())))


@api(
    "GET",
    "/apps/<key>/dashboards/<dashboard_id>",
    summary="A dashboard: all its reports with the global filters applied",
    tag=TAG,
    query=FILTER_QUERY,
    errors=(400, 404),
    response=DASHBOARD,
    description="Each report as GET …/reports/<id> answers it; a report the caller may not run answers "
    "with its error in its place." + FILTERS_DOC + " Only the dashboard's offered filters are accepted.",
)
def dashboard(key: str, dashboard_id: str, q: dict[str, Any]):
    return jsonify(run_dashboard(key, dashboard_id, filter_params(request.args)))


@api(
    "GET",
    REPORT_PATH + "/drill",
    summary="Drill down: the tickets a cell of a report counts",
    tag=TAG,
    query={**FILTER_QUERY, "cell": CELL_QUERY, "cursor": CURSOR_QUERY, "limit": LIMIT_QUERY},
    errors=(400, 404, 422),
    response=DRILL,
    description="`cell` is a row's cell as the report gave it (none: all the report's tickets); pass the "
    "same global filters as the report. `count` equals the cell's number." + FILTERS_DOC,
)
def drill(key: str, ticket_type: str, report_id: str, q: dict[str, Any]):
    params = filter_params(request.args)
    return jsonify(
        drill_page(key, ticket_type, report_id, q.get("cell"), params, q.get("cursor"), q["limit"])
    )


@api(
    "GET",
    REPORT_PATH + "/export",
    summary="Export a report's table as CSV or XLSX",
    tag=TAG,
    query={**FILTER_QUERY, "format": FORMAT_QUERY},
    errors=(400, 404, 422),
    produces=(MEDIA["csv"].split(";")[0], MEDIA["xlsx"]),
    description="CSV is UTF-8 with a BOM; text that a spreadsheet could run as a formula is escaped; "
    "numbers are rounded as the report shows them (shares as percents, e.g. `3.6%`). "
    "XLSX cells are typed: full values under number formats showing the same digits." + FILTERS_DOC,
)
def export_report(key: str, ticket_type: str, report_id: str, q: dict[str, Any]):
    _app_spec, spec, viewer = prepared(key, ticket_type, report_id)
    filters = parse_filters(filter_params(request.args), spec.fields)
    fmt = q["format"]
    labels = column_labels(spec, g.lang)
    reports = engine()

    def write(out: Any) -> None:
        result = reports.run(key, ticket_type, report_id, viewer, filters)
        rows = result.table()
        next(rows)  # the header: report_rows names the columns for people
        export.write(fmt, export.report_rows(result.columns, rows, labels, column_formats(spec)), out)

    return download(_file_name(spec, g.lang), fmt, write)


@api(
    "GET",
    REPORT_PATH + "/drill/export",
    summary="Export the tickets of a report's cell as CSV or XLSX",
    tag=TAG,
    query={**FILTER_QUERY, "cell": CELL_QUERY, "format": FORMAT_QUERY},
    errors=(400, 404, 422),
    produces=(MEDIA["csv"].split(";")[0], MEDIA["xlsx"]),
    description="The drill-down list, every page of it, with the fields the caller may see." + FILTERS_DOC,
)
def export_drill(key: str, ticket_type: str, report_id: str, q: dict[str, Any]):
    _app_spec, spec, viewer = prepared(key, ticket_type, report_id)
    cell = parse_cell(spec, q.get("cell"))
    filters = parse_filters(filter_params(request.args), spec.fields)
    fmt = q["format"]
    reports = engine()

    def write(out: Any) -> None:
        reports.export_tickets(key, ticket_type, report_id, cell, fmt, out, viewer, filters)

    return download(_file_name(spec, g.lang, "-tickets"), fmt, write)


__all__ = [
    "cell_text",
    "column_labels",
    "drill_page",
    "filter_params",
    "find_dashboard",
    "list_of_reports",
    "run_dashboard",
    "run_report",
    "viewer_for",
]
