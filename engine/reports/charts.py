"""Chart types, as a registry: each turns a report result into an ECharts ``option`` (plain JSON data).

The web layer hands the option to ``echarts.setOption`` unchanged; a table is drawn as HTML from the
result's rows, so its option only names the columns. Series are the report's measures, or, with a
second dimension, one series per value of it (bar, stacked, line, area).

Measures of different kinds never share a y axis (:func:`unit_of`): counts and amounts, hours, and
shares (drawn as percents, 0–100). A chart has at most two value axes — the kind of its first
measure on the left, the next kind on the right; a measure of a third kind is left off the plot (the
dashboard shows every measure in the table under it). An axis of whole counts ticks in whole steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.i18n import t

if TYPE_CHECKING:  # pragma: no cover
    from engine.reports.run import ReportResult
    from engine.reports.spec import Measure

ChartFn = Callable[["ReportResult", "str | None"], dict[str, Any]]
CHARTS: dict[str, ChartFn] = {}

#: The kinds of measures a value axis holds one of: counts and amounts, hours, shares (0–1).
AMOUNT, HOURS, SHARE = "amount", "hours", "share"
#: Process metrics that count things: their sums (and extremes) are whole numbers.
COUNT_METRICS = frozenset({"transfers", "returns", "reopens"})


def chart(*names: str) -> Callable[[ChartFn], ChartFn]:
    def deco(fn: ChartFn) -> ChartFn:
        for name in names:
            CHARTS[name] = fn
        return fn

    return deco


def option(result: ReportResult, lang: str | None = None) -> dict[str, Any]:
    return CHARTS[result.spec.chart](result, lang)


def _label(result: ReportResult, row: Any, dim: int) -> str:
    return row.labels[result.spec.dimensions[dim].name]


def _measure_names(result: ReportResult) -> list[str]:
    return [m.name for m in result.spec.measures]


def _title(result: ReportResult, lang: str | None) -> dict[str, Any]:
    from engine.i18n import text_of

    return {"text": text_of(result.spec.name, lang)}


@chart("table")
def _table(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return {"title": _title(result, lang), "dataset": {"dimensions": [c.name for c in result.columns]}}


def _categories(result: ReportResult) -> list[str]:
    return list(dict.fromkeys(_label(result, r, 0) for r in result.rows)) if result.spec.dimensions else [""]


def _series_by_second(result: ReportResult, kind: str, stack: bool, area: bool) -> list[dict[str, Any]]:
    cats = _categories(result)
    measure = result.spec.measures[0].name
    groups: dict[str, dict[str, Any]] = {}
    for r in result.rows:
        groups.setdefault(_label(result, r, 1), {})[_label(result, r, 0)] = r.values[measure]
    out = []
    for name, by_cat in groups.items():
        s: dict[str, Any] = {"name": name, "type": kind, "data": [by_cat.get(c) for c in cats]}
        if stack:
            s["stack"] = "total"
        if area:
            s["areaStyle"] = {}
        out.append(s)
    return out


def unit_of(measure: Measure) -> str:
    """What a measure's numbers are: a share (a rate, 0–1), hours (an aggregate of an ``*_hours``
    metric) or a count or amount (everything else: counts, sums, averages of scores and money)."""
    if measure.agg == "rate":
        return SHARE
    target = measure.target
    timed = target is not None and target.source == "metric" and target.key.endswith("_hours")
    return HOURS if timed and measure.agg not in ("count", "distinct") else AMOUNT


def _whole(measure: Measure) -> bool:
    """Whether a measure only takes whole numbers (its axis then ticks 0, 1, 2 … never 0.5)."""
    if measure.agg in ("count", "distinct"):
        return True
    target = measure.target
    return (
        measure.agg in ("sum", "min", "max")
        and target is not None
        and target.source == "metric"
        and target.key in COUNT_METRICS
    )


def _percent(value: Any) -> Any:
    return round(value * 100, 1) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _value_axis(unit: str, whole: bool, lang: str | None) -> dict[str, Any]:
    axis: dict[str, Any] = {"type": "value"}
    if unit == SHARE:
        axis.update(name="%", min=0, max=100, axisLabel={"formatter": "{value}%"})
    elif unit == HOURS:
        axis["name"] = t("report.axis_hours", lang)
    if whole:
        axis["minInterval"] = 1
    return axis


def _cartesian(
    result: ReportResult, lang: str | None, kind: str, stack: bool = False, area: bool = False
) -> dict[str, Any]:
    cats = _categories(result)
    measures = list(result.spec.measures)
    if len(result.spec.dimensions) >= 2:  # one series per value of the second dimension: one measure
        measures = measures[:1]
        series = _series_by_second(result, kind, stack, area)
    else:
        series = []
        for m in measures:
            s: dict[str, Any] = {
                "name": m.name,
                "type": kind,
                "data": [r.values[m.name] for r in result.rows],
            }
            if stack:
                s["stack"] = "total"
            if area:
                s["areaStyle"] = {}
            series.append(s)
    pairs = (
        [(s, measures[0]) for s in series]
        if len(result.spec.dimensions) >= 2
        else list(zip(series, measures, strict=True))
    )
    units = list(dict.fromkeys(unit_of(m) for m in measures))[:2]  # one kind an axis, two at most
    series = []
    for s, m in pairs:
        unit = unit_of(m)
        if unit not in units:
            continue  # a third kind: in the table under the chart, not on an axis of another kind
        if unit == SHARE:
            s["data"] = [_percent(v) for v in s["data"]]
        if units.index(unit):
            s["yAxisIndex"] = 1
            if stack:
                s["stack"] = "total1"  # only like is stacked on like
        series.append(s)
    axes = [_value_axis(unit, all(_whole(m) for m in measures if unit_of(m) == unit), lang) for unit in units]
    return {
        "title": _title(result, lang),
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [s["name"] for s in series]},
        "xAxis": {"type": "category", "data": cats},
        "yAxis": axes[0] if len(axes) == 1 else axes,
        "series": series,
    }


@chart("bar")
def _bar(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return _cartesian(result, lang, "bar")


@chart("stacked")
def _stacked(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return _cartesian(result, lang, "bar", stack=True)


@chart("line")
def _line(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return _cartesian(result, lang, "line")


@chart("area")
def _area(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return _cartesian(result, lang, "line", stack=True, area=True)


def _pairs(result: ReportResult) -> list[dict[str, Any]]:
    measure = result.spec.measures[0].name
    return [{"name": _label(result, r, 0), "value": r.values[measure]} for r in result.rows]


@chart("pie")
def _pie(result: ReportResult, lang: str | None) -> dict[str, Any]:
    return {
        "title": _title(result, lang),
        "tooltip": {"trigger": "item"},
        "legend": {"orient": "vertical", "left": "left"},
        "series": [{"type": "pie", "radius": "60%", "data": _pairs(result)}],
    }


@chart("funnel")
def _funnel(result: ReportResult, lang: str | None) -> dict[str, Any]:
    data = sorted(_pairs(result), key=lambda p: -(p["value"] or 0))
    return {
        "title": _title(result, lang),
        "tooltip": {"trigger": "item"},
        "series": [{"type": "funnel", "sort": "descending", "data": data}],
    }


@chart("heatmap")
def _heatmap(result: ReportResult, lang: str | None) -> dict[str, Any]:
    """Two dimensions on the axes (weekday × hour: the first on y, the second on x)."""
    measure = result.spec.measures[0].name
    ys = list(dict.fromkeys(_label(result, r, 0) for r in result.rows))
    xs = list(dict.fromkeys(_label(result, r, 1) for r in result.rows))
    dims = result.spec.dimensions
    if dims[1].part == "hour_of_day":
        xs = [f"{h:02d}" for h in range(24)]
    if dims[0].part == "weekday":
        from engine.reports.labels import WEEKDAYS

        ys = list(WEEKDAYS["en" if lang == "en" else "zh"])
    data = [
        [xs.index(_label(result, r, 1)), ys.index(_label(result, r, 0)), r.values[measure]]
        for r in result.rows
        if _label(result, r, 1) in xs and _label(result, r, 0) in ys
    ]
    values = [d[2] for d in data if d[2] is not None]
    return {
        "title": _title(result, lang),
        "tooltip": {"position": "top"},
        "xAxis": {"type": "category", "data": xs, "splitArea": {"show": True}},
        "yAxis": {"type": "category", "data": ys, "splitArea": {"show": True}},
        "visualMap": {"min": min(values, default=0), "max": max(values, default=0), "calculable": True,
                      "orient": "horizontal", "left": "center", "bottom": 0},
        "series": [{"type": "heatmap", "data": data, "label": {"show": True}}],
    }  # fmt: skip


@chart("kpi")
def _kpi(result: ReportResult, lang: str | None) -> dict[str, Any]:
    """One big number (the first measure) with its change against the previous period when asked."""
    measure = result.spec.measures[0].name
    kpi = result.kpi or {}
    value = (
        kpi.get(measure, {}).get("value")
        if kpi
        else (result.rows[0].values[measure] if result.rows else None)
    )
    change = kpi.get(measure, {}).get("change") if kpi else None
    sub = "" if change is None else t("report.change", lang, change=f"{change:+.1%}")
    return {
        "title": {**_title(result, lang), "left": "center"},
        "graphic": [
            {"type": "text", "left": "center", "top": "middle",
             "style": {"text": _number(value), "fontSize": 48, "fontWeight": "bold"}},
            {"type": "text", "left": "center", "top": "70%", "style": {"text": sub, "fontSize": 16}},
        ],
    }  # fmt: skip


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


__all__ = ["CHARTS", "chart", "option"]
