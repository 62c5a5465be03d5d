"""Where a ticket type's definition uses a field: expressions, node permissions, assignees,
dispatch, SLA, rule triggers and actions, reports, dashboards, notification templates, inbound
mappings and scenario tests — each use with the path a person can find it by.

The designer refuses to delete or rename a field while anything still uses it (engine/designer.py);
this module only finds the uses. Each finder is registered in ``FINDERS`` and yields
``(path, how, names)``: where, what kind of use (a ``designer.use.<how>`` message), which names the
spot mentions.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from engine.definitions.checks import _assignees, _expressions
from engine.definitions.source import format_path
from engine.expressions import ExprError, parse

Path = tuple[str | int, ...]
Spot = tuple[Path, str, frozenset[str]]
Finder = Callable[[Mapping[str, Any], str, Mapping[str, Any]], Iterator[Spot]]
FINDERS: list[Finder] = []

TEMPLATE_FIELD = re.compile(r"\bfields\.([A-Za-z_]\w*)")
WORD = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)")


def finder(fn: Finder) -> Finder:
    FINDERS.append(fn)
    return fn


def expression_names(source: Any) -> frozenset[str]:
    """The names an expression reads (``old.x`` counts as ``x``); a guess by words if it does not parse."""
    if not isinstance(source, str):
        return frozenset()
    try:
        tree, _, _ = parse(source)
    except ExprError:
        return frozenset(WORD.findall(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "old":
            names.add(node.attr)
    return frozenset(names)


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


@finder
def in_expressions(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    for path, source, _want, _extra in _expressions(tt):
        yield ("ticket_types", tkey, *path), "expression", expression_names(source)


@finder
def in_flow(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    flow = tt.get("flow") if isinstance(tt.get("flow"), Mapping) else {}
    for i, node in enumerate(flow.get("nodes") or ()):
        if not isinstance(node, Mapping):
            continue
        npath = ("ticket_types", tkey, "flow", "nodes", i)
        for fkey in node.get("permissions") or {}:
            yield (*npath, "permissions", fkey), "permission", frozenset({fkey})
        for apath, a in _assignees(node):
            if isinstance(a, Mapping) and isinstance(a.get("field"), str):
                yield (*npath, *apath, "field"), "assignee", frozenset({a["field"]})
            dispatch = a.get("dispatch") if isinstance(a, Mapping) else None
            if isinstance(dispatch, Mapping) and isinstance(dispatch.get("field"), str):
                yield (*npath, *apath, "dispatch", "field"), "dispatch", frozenset({dispatch["field"]})
        by = (node.get("sla") or {}).get("by") if isinstance(node.get("sla"), Mapping) else None
        if isinstance(by, str):
            yield (*npath, "sla", "by"), "sla", frozenset({by})
        until = (node.get("wait") or {}).get("until") if isinstance(node.get("wait"), Mapping) else None
        if isinstance(until, str):
            yield (*npath, "wait", "until"), "expression", frozenset({until})


def _action_spots(path: Path, action: Mapping[str, Any]) -> Iterator[Spot]:
    for kind in ("set", "map"):
        for fkey in action.get(kind) or {}:
            yield (*path, kind, fkey), "action", frozenset({fkey})
    assign = action.get("assign")
    if isinstance(assign, Mapping) and isinstance(assign.get("field"), str):
        yield (*path, "assign", "field"), "assignee", frozenset({assign["field"]})
    call = action.get("call")
    if isinstance(call, Mapping):
        for spath, text in _strings(call.get("query") or {}, (*path, "call", "query")):
            yield spath, "expression", expression_names(text)


@finder
def in_rules(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    for i, rule in enumerate(tt.get("rules") or ()):
        if not isinstance(rule, Mapping):
            continue
        rpath = ("ticket_types", tkey, "rules", i)
        trigger = rule.get("on")
        changed = trigger.get("field_changed") if isinstance(trigger, Mapping) else None
        if isinstance(changed, Mapping) and isinstance(changed.get("field"), str):
            yield (*rpath, "on", "field_changed", "field"), "trigger", frozenset({changed["field"]})
        elif isinstance(changed, str):
            yield (*rpath, "on", "field_changed"), "trigger", frozenset({changed})
        for j, action in enumerate(rule.get("do") or ()):
            if isinstance(action, Mapping):
                yield from _action_spots((*rpath, "do", j), action)
    flow = tt.get("flow") if isinstance(tt.get("flow"), Mapping) else {}
    for i, step in enumerate(flow.get("escalation") or ()):
        for j, action in enumerate((step or {}).get("do") or ()):
            if isinstance(action, Mapping):
                yield from _action_spots(("ticket_types", tkey, "flow", "escalation", i, "do", j), action)


@finder
def in_reports(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    for i, report in enumerate(tt.get("reports") or ()):
        if not isinstance(report, Mapping):
            continue
        rpath = ("ticket_types", tkey, "reports", i)
        for part in ("dimensions", "measures"):
            for j, item in enumerate(report.get(part) or ()):
                values = item.values() if isinstance(item, Mapping) else [item]
                names = frozenset().union(*(expression_names(v) for v in values))
                yield (*rpath, part, j), "report", names
        for j, flt in enumerate(report.get("filters") or ()):
            if isinstance(flt, Mapping):
                yield (*rpath, "filters", j, "field"), "report", expression_names(flt.get("field"))
    for i, board in enumerate(tt.get("dashboards") or ()):
        for j, name in enumerate((board or {}).get("filters") or ()):
            if isinstance(name, str):
                yield ("ticket_types", tkey, "dashboards", i, "filters", j), "dashboard", frozenset({name})


@finder
def in_app(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    """App-wide parts: notification templates (``fields.x``) and inbound mappings of this type."""
    for path, text in _strings(data.get("templates") or {}, ("templates",)):
        found = frozenset(TEMPLATE_FIELD.findall(text))
        if found:
            yield path, "template", found
    for i, entry in enumerate(data.get("inbound") or ()):
        if isinstance(entry, Mapping) and entry.get("ticket_type") == tkey:
            for fkey in entry.get("fields") or {}:
                yield ("inbound", i, "fields", fkey), "inbound", frozenset({fkey})


@finder
def in_tests(data: Mapping[str, Any], tkey: str, tt: Mapping[str, Any]) -> Iterator[Spot]:
    for i, test in enumerate(tt.get("tests") or ()):
        if not isinstance(test, Mapping):
            continue
        tpath = ("ticket_types", tkey, "tests", i)
        for fkey in test.get("submit") or {}:
            yield (*tpath, "submit", fkey), "test", frozenset({fkey})
        for j, step in enumerate(test.get("steps") or ()):
            for fkey in (step or {}).get("data") or {}:
                yield (*tpath, "steps", j, "data", fkey), "test", frozenset({fkey})


def field_uses(data: Mapping[str, Any], tkey: str, keys: Iterable[str]) -> list[tuple[str, str, str]]:
    """Every use of the fields ``keys`` of ticket type ``tkey`` in ``data``: (field, path, how)."""
    wanted = set(keys)
    tt = (data.get("ticket_types") or {}).get(tkey)
    if not wanted or not isinstance(tt, Mapping):
        return []
    out: list[tuple[str, str, str]] = []
    for find in FINDERS:
        for path, how, names in find(data, tkey, tt):
            out.extend((key, format_path(path), how) for key in sorted(names & wanted))
    return out
