"""Dashboard pages: the dashboards of every app, one dashboard's grid of reports (ECharts charts,
KPI numbers with their trend, tables) under its global filters, and the drill-down ticket lists.

The numbers come from the reports API's functions (server.api.reports), so a page and the API never
disagree; charts get the engine's ECharts option through a data- attribute (static/dashboard.js draws
them and turns a click into the drill-down address of the clicked cell).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, request

from engine.errors import InputError, NotFoundError
from engine.forms.export import EXPORTERS
from engine.i18n import text_of
from server.api.reports import (
    cell_text,
    drill_page,
    filter_params,
    find_dashboard,
    hidden_everywhere,
    list_of_reports,
    run_dashboard,
    run_report,
)
from server.app import platform
from server.web import page, signed_in

bp = Blueprint("dashboards", __name__)

#: Key of a chart point: its dimension labels joined by this (never in a label).
SEP = "\u001f"
#: Relative periods a time filter offers.
PERIODS = ("7d", "30d", "13w", "12mo")
#: Field types short enough for a column of the drill-down list.
LISTED_TYPES = frozenset({"text", "select", "radio", "number", "money", "date", "datetime", "checkbox",
                          "rating", "cascade", "email", "phone", "autonumber"})  # fmt: skip
LISTED_FIELDS = 4
#: Fields that name a ticket, listed first.
TITLE_KEYS = ("title", "summary", "subject", "name")


# ---------------------------------------------------------------------------- addresses
def _query(pairs: list[tuple[str, Any]]) -> str:
    return urlencode([(k, v) for k, v in pairs if v is not None])


def drill_url(app: str, board: str, report: str, cell: str | None, filters: list[tuple[str, str]]) -> str:
    return f"/dashboards/{app}/{board}/drill?" + _query([("report", report), ("cell", cell), *filters])


def export_url(app: str, ticket_type: str, report: str, fmt: str, filters: list[tuple[str, str]],
               cell: str | None = None) -> str:  # fmt: skip
    tail = "/drill/export" if cell is not None else "/export"
    base = f"/api/v1/apps/{app}/ticket_types/{ticket_type}/reports/{report}{tail}?"
    return base + _query([("format", fmt), ("cell", cell), *filters])


# ---------------------------------------------------------------------------- view models
def number(value: Any, fmt: str = "number") -> str:
    """A measure as people read it: shares as percents, decimals to two places, thousands grouped."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        if fmt == "percent":
            return f"{value:.1%}"
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}"
        return f"{value:,.0f}"
    return str(value)


def _card(app: str, board: str, report: dict[str, Any], filters: list[tuple[str, str]]) -> dict[str, Any]:
    """What the template needs to draw one report: its kind, drill addresses, export links."""
    rid = report["id"]
    card: dict[str, Any] = {"id": rid, "name": report["name"]}
    if "error" in report:
        return {**card, "kind": "error", "error": report["error"]}
    ticket_type = report["ticket_type"]
    card["exports"] = {f: export_url(app, ticket_type, rid, f, filters) for f in ("csv", "xlsx")}
    columns = report["columns"]
    dims = [c for c in columns if c["role"] == "dimension"]
    rows = report["rows"]
    for row in rows:
        row["drill"] = drill_url(app, board, rid, row["cell"], filters)
    card.update(columns=columns, dims=dims, rows=rows, totals=report["totals"])
    chart = report["chart_type"]
    if chart == "kpi":
        measures = [c for c in columns if c["role"] == "measure"]
        kpi = report["kpi"] or {}
        values = rows[0]["values"] if rows else {}
        card["kpis"] = [
            {
                "label": m["label"],
                "value": number((kpi.get(m["name"]) or {}).get("value", values.get(m["name"])), m["format"]),
                "previous": number((kpi.get(m["name"]) or {}).get("previous"), m["format"]),
                "change": (kpi.get(m["name"]) or {}).get("change"),
                "has_trend": m["name"] in kpi,
            }
            for m in measures
        ]
        card["drill_all"] = drill_url(app, board, rid, "{}", filters)
        return {**card, "kind": "kpi"}
    if chart == "table":
        pivot = report["pivot"]
        if pivot:
            card["pivot"] = _pivot(app, board, rid, pivot, columns, dims, filters)
            return {**card, "kind": "pivot"}
        return {**card, "kind": "table"}
    points = {SEP.join(row["labels"][d["name"]] for d in dims): row["drill"] for row in rows}
    return {**card, "kind": "chart", "option": report["chart"], "points": points}


def _pivot(app: str, board: str, rid: str, pivot: dict[str, Any], columns: list[dict[str, Any]],
           dims: list[dict[str, Any]], filters: list[tuple[str, str]]) -> dict[str, Any]:  # fmt: skip
    """A cross table of the first measure: a drill address per cell."""
    across = next(
        d["name"] for d in dims if d["name"] not in (pivot["row_keys"][0] if pivot["row_keys"] else {})
    )
    measure = next(c for c in columns if c["role"] == "measure")
    grid = []
    for i, labels in enumerate(pivot["rows"]):
        cells = []
        for j, value in enumerate(pivot["values"][measure["name"]][i]):
            cell = cell_text({**pivot["row_keys"][i], across: pivot["column_keys"][j]})
            link = drill_url(app, board, rid, cell, filters) if value is not None else None
            cells.append({"value": number(value, measure["format"]), "drill": link})
        grid.append({"labels": labels, "cells": cells})
    return {"measure": measure["label"], "columns": pivot["columns"], "rows": grid,
            "heads": [d["label"] for d in dims if d["name"] != across]}  # fmt: skip


# ---------------------------------------------------------------------------- pages
@bp.get("/dashboards")
@signed_in
def index():
    """The dashboards of every app."""
    apps = []
    for app in platform().runtime.apps():
        boards = list_of_reports(app["key"])["dashboards"]
        if boards:
            apps.append({"key": app["key"], "name": text_of(app["name"], g.lang), "dashboards": boards})
    return page("pages/dashboards.html", apps=apps)


@bp.get("/dashboards/<app>/<board>")
@signed_in
def dashboard(app: str, board: str):
    """A dashboard's grid under its global filters; a wrong filter is shown, the grid unfiltered."""
    filters = filter_params(request.args)
    problems: list[Any] = []
    try:
        data = run_dashboard(app, board, filters)
    except InputError as exc:
        problems = [p.as_dict(g.lang) for p in exc.problems] or [{"path": "", "message": exc.message(g.lang)}]
        filters = []
        data = run_dashboard(app, board, filters)
    cards = [_card(app, board, r, filters) for r in data["reports"]]
    chosen: dict[str, list[str]] = {}
    for k, v in filters:
        chosen.setdefault(k, []).append(v)
    return page(
        "pages/dashboard.html",
        board=data,
        cards=cards,
        chosen=chosen,
        periods=PERIODS,
        problems=problems,
        number=number,
        sep=SEP,
    )


@bp.get("/dashboards/<app>/<board>/drill")
@signed_in
def drill(app: str, board: str):
    """The tickets one number, bar, point or cell of a dashboard's report counts, page by page."""
    ticket_type, definition = find_dashboard(app, board)
    report_id = request.args.get("report", "")
    if report_id not in definition["reports"]:
        raise NotFoundError("report.unknown_report", id=report_id, known=", ".join(definition["reports"]))
    cell = request.args.get("cell") or "{}"
    filters = filter_params(request.args)
    found = drill_page(app, ticket_type, report_id, cell, filters, request.args.get("cursor"), 50)
    report = run_report(
        app, ticket_type, report_id, filters, list(definition.get("filters") or ()), totals=False
    )
    described = _describe(report, cell)
    fields = _listed_fields(app, ticket_type)
    lang = g.lang
    for item in found["items"]:
        item["shown"] = [_shown(f, item["data"].get(f.key), lang) for f in fields]
    base = [("report", report_id), ("cell", cell), *filters]
    return page(
        "pages/dashboard_drill.html",
        app=app,
        board=board,
        board_name=text_of(definition.get("name") or board, lang),
        back=f"/dashboards/{app}/{board}?" + _query(filters),
        report=report,
        described=described,
        found=found,
        fields=[text_of(f.label, lang) for f in fields],
        next_url=(f"/dashboards/{app}/{board}/drill?" + _query([*base, ("cursor", found["next_cursor"])]))
        if found["next_cursor"]
        else None,
        first_url=(f"/dashboards/{app}/{board}/drill?" + _query(base))
        if request.args.get("cursor")
        else None,
        exports={f: export_url(app, ticket_type, report_id, f, filters, cell) for f in ("csv", "xlsx")},
    )


def _describe(report: dict[str, Any], cell: str) -> list[tuple[str, str]]:
    """The clicked cell as (column label, value label) pairs, from the report row it came from."""
    dims = {c["name"]: c["label"] for c in report["columns"] if c["role"] == "dimension"}
    row = next((r for r in report["rows"] if r["cell"] == cell), None)
    if row is None:
        try:
            raw = json.loads(cell)
        except ValueError:
            raw = {}
        keys = raw if isinstance(raw, dict) else {}
        return [(dims.get(k, k), str(v)) for k, v in keys.items() if not k.startswith("__")]
    return [(dims[name], row["labels"][name]) for name in dims if name in row["labels"]]


def _listed_fields(app: str, ticket_type: str) -> list[Any]:
    """A few short fields the viewer may see somewhere: its title, then indexed, then required ones."""
    _spec, tspec = platform().runtime.type_spec(app, ticket_type)
    principal = g.principal
    hidden = frozenset() if principal.is_admin else hidden_everywhere(tspec, principal.roles_in(app))
    fields = [f for f in tspec.definition.form.fields if f.type in LISTED_TYPES and f.key not in hidden]
    titles = [f for f in fields if f.key in TITLE_KEYS]
    indexed = [f for f in fields if f.get("index") and f not in titles]
    required = [f for f in fields if f.get("required") and f not in titles and f not in indexed]
    return [*titles, *indexed, *required][:LISTED_FIELDS]


def _shown(field: Any, value: Any, lang: str) -> str:
    """A field's value as text: option labels for choices, the form engine's export otherwise."""
    if value is None or value == "":
        return ""
    options = field.options.get("options") if isinstance(field.options, Mapping) else None
    if options and not isinstance(value, list):
        for o in options:
            if isinstance(o, Mapping) and str(o.get("value")) == str(value):
                return text_of(o.get("label") or value, lang)
    shown = EXPORTERS[field.type](value, lang)
    return "" if shown is None else str(shown)
