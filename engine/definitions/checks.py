"""Cross-reference checks on schema-valid definition data: every name must point at something.

Each check is a small function over the plain data that yields (path, code, params); the
registry ``CHECKS`` runs them all so that a definition's problems are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engine.definitions.source import format_path
from engine.expressions import NameInfo, check_expression
from engine.forms.fields import COMMON_OPTIONS, FIELD_TYPES
from engine.forms.names import form_names

Found = tuple[tuple[str | int, ...], str, dict[str, Any]]
Check = Callable[[Mapping[str, Any]], Iterator[Found]]
CHECKS: list[Check] = []

NUMBER_TOKEN = re.compile(r"\{([^{}]*)\}")
NUMBER_TOKENS = re.compile(r"yyyy|yyyyMM|yyyyMMdd|seq:(?:[1-9]|10)")
ASSIGNEE_KINDS = (
    "user",
    "role",
    "department",
    "department_members",
    "field",
    "submitter",
    "manager_of",
    "expr",
    "dispatch",
)
ACTION_KEYS = (
    "set", "assign", "notify", "call", "create", "comment", "escalate", "watch", "flow", "todo", "webhook",
)  # fmt: skip


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def _types(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield from (data.get("ticket_types") or {}).items()


def _field_entries(tt: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every well-formed field of a ticket type (misshapen ones are the schema's to report)."""
    sections = (tt.get("form") or {}).get("sections") or ()
    for si, section in enumerate(sections if isinstance(sections, list) else ()):
        fields = section.get("fields") if isinstance(section, Mapping) else None
        for fi, f in enumerate(fields if isinstance(fields, list) else ()):
            if isinstance(f, Mapping) and isinstance(f.get("key"), str) and isinstance(f.get("type"), str):
                yield ("form", "sections", si, "fields", fi), f


def field_map(tt: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["key"]: f for _, f in _field_entries(tt)}


@check
def duplicate_field_keys(data: Mapping[str, Any]) -> Iterator[Found]:
    for tkey, tt in _types(data):
        seen: dict[str, str] = {}
        for path, f in _field_entries(tt):
            full = ("ticket_types", tkey, *path)
            if f["key"] in seen:
                yield (*full, "key"), "check.duplicate_field", {"key": f["key"], "first": seen[f["key"]]}
            else:
                seen[f["key"]] = format_path(full)
            yield from _duplicate_subfields(full, f)


def _duplicate_subfields(path: tuple[str | int, ...], f: Mapping[str, Any]) -> Iterator[Found]:
    seen: set[str] = set()
    for i, sub in enumerate(f.get("fields") or ()):
        if sub["key"] in seen:
            yield (*path, "fields", i, "key"), "check.duplicate_field", {"key": sub["key"], "first": f["key"]}
        seen.add(sub["key"])


def _field_options(
    path: tuple[str | int, ...], f: Mapping[str, Any], data: Mapping[str, Any]
) -> Iterator[Found]:
    ftype = FIELD_TYPES.get(f["type"])
    if ftype is None:  # the schema's enum reports it; stay quiet here
        return
    given = {k for k in f if k not in ("key", "type", "label")}
    known = set().union(*(t.options for t in FIELD_TYPES.values()), {"fields"})
    misplaced = (
        (given & known) - COMMON_OPTIONS - ftype.options - ({"fields"} if f["type"] == "subtable" else set())
    )
    # Keys no field type knows are the schema's to report ("unknown key"); here only misplaced ones.
    for opt in sorted(misplaced):
        yield (*path, opt), "check.option_not_for_type", {"option": opt, "type": f["type"]}
    for group in ftype.required_options:
        if not given & group:
            yield path, "check.option_missing", {"options": " / ".join(sorted(group)), "type": f["type"]}
    source = f.get("options_from")
    if source and source not in (data.get("option_sets") or {}):
        yield (*path, "options_from"), "check.unknown_option_set", {"name": source}
    for i, sub in enumerate(f.get("fields") or ()):
        yield from _field_options((*path, "fields", i), sub, data)
    lo, hi = f.get("min_length"), f.get("max_length")
    if lo is not None and hi is not None and lo > hi:
        yield (*path, "min_length"), "check.min_above_max", {"min": lo, "max": hi}
    lo, hi = f.get("min"), f.get("max")
    if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
        yield (*path, "min"), "check.min_above_max", {"min": lo, "max": hi}
    if f.get("pattern"):
        try:
            re.compile(f["pattern"])
        except re.error as exc:
            yield (*path, "pattern"), "check.bad_regex", {"reason": str(exc)}


@check
def field_options_fit_type(data: Mapping[str, Any]) -> Iterator[Found]:
    for tkey, tt in _types(data):
        for path, f in _field_entries(tt):
            yield from _field_options(("ticket_types", tkey, *path), f, data)


def _number_problems(path: tuple[str | int, ...], pattern: str) -> Iterator[Found]:
    tokens = NUMBER_TOKEN.findall(pattern)
    bad = [tok for tok in tokens if not NUMBER_TOKENS.fullmatch(tok)]
    if bad:
        yield path, "check.number_token", {"token": bad[0]}
    elif not any(tok.startswith("seq:") for tok in tokens):
        yield path, "check.number_needs_seq", {}


@check
def number_patterns(data: Mapping[str, Any]) -> Iterator[Found]:
    """Ticket numbers and auto-number fields use the same tokens and need a sequence."""
    for tkey, tt in _types(data):
        if isinstance(tt.get("number"), str):
            yield from _number_problems(("ticket_types", tkey, "number"), tt["number"])
        for path, f in _field_entries(tt):
            if f["type"] == "autonumber" and isinstance(f.get("format"), str):
                yield from _number_problems(("ticket_types", tkey, *path, "format"), f["format"])


def _flow(tt: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return tt.get("flow")


@check
def flow_graph_references(data: Mapping[str, Any]) -> Iterator[Found]:
    for tkey, tt in _types(data):
        flow = _flow(tt)
        if not flow:
            continue
        base = ("ticket_types", tkey, "flow")
        ids: set[str] = set()
        for i, node in enumerate(flow["nodes"]):
            if node["id"] in ids:
                yield (*base, "nodes", i, "id"), "check.duplicate_node", {"id": node["id"]}
            ids.add(node["id"])
        starts = [n for n in flow["nodes"] if n["type"] == "start"]
        if len(starts) != 1:
            yield (*base, "nodes"), "check.one_start", {"count": len(starts)}
        if not any(n["type"] == "end" for n in flow["nodes"]):
            yield (*base, "nodes"), "check.no_end", {}
        for i, edge in enumerate(flow["edges"]):
            ends = edge if isinstance(edge, list) else [edge["from"], edge["to"]]
            for side, name, node_id in ((0, "from", ends[0]), (1, "to", ends[1])):
                if node_id not in ids:
                    where = (*base, "edges", i, side if isinstance(edge, list) else name)
                    yield where, "check.unknown_node", {"id": node_id, "known": ", ".join(sorted(ids))}
        for src, targets in (flow.get("returns") or {}).items():
            for j, node_id in enumerate([src, *targets]):
                if node_id not in ids:
                    where = (*base, "returns", src) if j == 0 else (*base, "returns", src, j - 1)
                    yield where, "check.unknown_node", {"id": node_id, "known": ", ".join(sorted(ids))}
        for i, node in enumerate(flow["nodes"]):
            target = node.get("on_reject")
            if target and target != "end" and target not in ids:
                yield (
                    (*base, "nodes", i, "on_reject"),
                    "check.unknown_node",
                    {
                        "id": target,
                        "known": ", ".join(sorted(ids)),
                    },
                )


def _assignees(node: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    if node.get("assignee"):
        yield ("assignee",), node["assignee"]
    for i, a in enumerate(node.get("assignees") or ()):
        yield ("assignees", i), a


@check
def flow_names_existing_fields_and_roles(data: Mapping[str, Any]) -> Iterator[Found]:
    roles = set(data.get("roles") or {})
    for tkey, tt in _types(data):
        flow = _flow(tt)
        if not flow:
            continue
        fields = field_map(tt)
        base = ("ticket_types", tkey, "flow")
        for i, node in enumerate(flow["nodes"]):
            npath = (*base, "nodes", i)
            for fkey in node.get("permissions") or {}:
                if fkey != "*" and fkey not in fields:
                    yield (*npath, "permissions", fkey), "check.unknown_field", {"field": fkey}
            for apath, a in _assignees(node):
                yield from _assignee_refs((*npath, *apath), a, fields, roles)
            sla_by = (node.get("sla") or {}).get("by")
            if sla_by and sla_by not in fields:
                yield (*npath, "sla", "by"), "check.unknown_field", {"field": sla_by}
            until = (node.get("wait") or {}).get("until")
            if until and until not in fields:
                yield (*npath, "wait", "until"), "check.unknown_field", {"field": until}
            sub = node.get("ticket_type")
            if sub and sub not in (data.get("ticket_types") or {}):
                yield (*npath, "ticket_type"), "check.unknown_ticket_type", {"name": sub}


def _assignee_refs(
    path: tuple[str | int, ...], a: Mapping[str, Any], fields: Mapping[str, Any], roles: set[str]
) -> Iterator[Found]:
    kinds = [k for k in ASSIGNEE_KINDS if k in a]
    if len(kinds) != 1:
        yield path, "check.assignee_one_kind", {"kinds": ", ".join(ASSIGNEE_KINDS)}
        return
    if "role" in a and a["role"] not in roles:
        yield (*path, "role"), "check.unknown_role", {"role": a["role"], "known": ", ".join(sorted(roles))}
    if "field" in a:
        f = fields.get(a["field"])
        if f is None:
            yield (*path, "field"), "check.unknown_field", {"field": a["field"]}
        elif f["type"] != "user":
            yield (*path, "field"), "check.assignee_field_not_user", {"field": a["field"], "type": f["type"]}
    dispatch = a.get("dispatch")
    if dispatch and dispatch.get("field") and dispatch["field"] not in fields:
        yield (*path, "dispatch", "field"), "check.unknown_field", {"field": dispatch["field"]}


@check
def rules_name_existing_things(data: Mapping[str, Any]) -> Iterator[Found]:
    roles = set(data.get("roles") or {})
    for tkey, tt in _types(data):
        fields = field_map(tt)
        nodes = {n["id"] for n in (_flow(tt) or {}).get("nodes", ())} or None
        for i, rule in enumerate(tt.get("rules") or ()):
            rpath = ("ticket_types", tkey, "rules", i)
            trigger = rule["on"]
            if isinstance(trigger, Mapping):
                for kind in ("field_changed",):
                    if kind in trigger and trigger[kind] not in fields:
                        yield (*rpath, "on", kind), "check.unknown_field", {"field": trigger[kind]}
                for kind in ("stage_entered", "stage_left"):
                    if kind in trigger and nodes is not None and trigger[kind] not in nodes:
                        yield (
                            (*rpath, "on", kind),
                            "check.unknown_node",
                            {
                                "id": trigger[kind],
                                "known": ", ".join(sorted(nodes)),
                            },
                        )
            for j, action in enumerate(rule["do"]):
                yield from _action_refs((*rpath, "do", j), action, fields, roles)
        for i, step in enumerate((_flow(tt) or {}).get("escalation") or ()):
            for j, action in enumerate(step["do"]):
                yield from _action_refs(
                    ("ticket_types", tkey, "flow", "escalation", i, "do", j), action, fields, roles
                )


def _action_refs(
    path: tuple[str | int, ...], action: Mapping[str, Any], fields: Mapping[str, Any], roles: set[str]
) -> Iterator[Found]:
    kinds = [k for k in ACTION_KEYS if k in action]
    if len(kinds) != 1:
        yield path, "check.action_one_kind", {"kinds": ", ".join(ACTION_KEYS)}
        return
    if "map" in action and "call" not in action:
        yield (*path, "map"), "check.map_needs_call", {}
    for target in (action.get("set") or {}, action.get("map") or {}):
        for fkey in target:
            if fkey not in fields:
                yield (
                    (*path, "set" if target is action.get("set") else "map", fkey),
                    "check.unknown_field",
                    {"field": fkey},
                )
    if isinstance(action.get("assign"), Mapping):
        yield from _assignee_refs((*path, "assign"), action["assign"], fields, roles)


@check
def reports_and_dashboards(data: Mapping[str, Any]) -> Iterator[Found]:
    all_types = data.get("ticket_types") or {}
    for tkey, tt in _types(data):
        base = ("ticket_types", tkey)
        report_ids: set[str] = set()
        for i, report in enumerate(tt.get("reports") or ()):
            if report["id"] in report_ids:
                yield (*base, "reports", i, "id"), "check.duplicate_report", {"id": report["id"]}
            report_ids.add(report["id"])
            source = report.get("source", tkey)
            if source not in all_types:
                yield (*base, "reports", i, "source"), "check.unknown_ticket_type", {"name": source}
                continue
            fields = field_map(all_types[source])
            for j, dim in enumerate(report.get("dimensions") or ()):
                if isinstance(dim, str) and dim not in fields and dim not in REPORT_BUILTINS:
                    yield (*base, "reports", i, "dimensions", j), "check.unknown_field", {"field": dim}
            for j, flt in enumerate(report.get("filters") or ()):
                if flt["field"] not in fields and flt["field"] not in REPORT_BUILTINS:
                    yield (
                        (*base, "reports", i, "filters", j, "field"),
                        "check.unknown_field",
                        {"field": flt["field"]},
                    )
        fields = field_map(tt)
        for i, board in enumerate(tt.get("dashboards") or ()):
            for j, rid in enumerate(board["reports"]):
                if rid not in report_ids:
                    yield (
                        (*base, "dashboards", i, "reports", j),
                        "check.unknown_report",
                        {
                            "id": rid,
                            "known": ", ".join(sorted(report_ids)),
                        },
                    )
            for j, fkey in enumerate(board.get("filters") or ()):
                if fkey not in fields and fkey not in REPORT_BUILTINS:
                    yield (*base, "dashboards", i, "filters", j), "check.unknown_field", {"field": fkey}


#: Columns every ticket has besides its form fields (usable in reports and filters).
REPORT_BUILTINS = frozenset(
    {
        "number",
        "stage",
        "status",
        "created_at",
        "updated_at",
        "closed_at",
        "created_by",
        "assignee",
        "ticket_type",
    }
)


@check
def webhooks_name_existing_types(data: Mapping[str, Any]) -> Iterator[Found]:
    types = data.get("ticket_types") or {}
    ids: set[str] = set()
    for i, hook in enumerate(data.get("webhooks") or ()):
        if hook["id"] in ids:
            yield ("webhooks", i, "id"), "check.duplicate_webhook", {"id": hook["id"]}
        ids.add(hook["id"])
        for j, tkey in enumerate(hook.get("ticket_types") or ()):
            if tkey not in types:
                yield ("webhooks", i, "ticket_types", j), "check.unknown_ticket_type", {"name": tkey}


def _expressions(tt: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, str | None, dict]]:
    """Every expression of a ticket type: (path, source, wanted type, extra names)."""
    for path, f in _field_entries(tt):
        for key in ("visible_if", "required_if", "readonly_if"):
            if isinstance(f.get(key), str):
                yield (*path, key), f[key], "bool", {}
        if f.get("type") == "formula" and isinstance(f.get("expr"), str):
            yield (*path, "expr"), f["expr"], None, {}
        for i, option in enumerate(f.get("options") or ()):
            if isinstance(option, Mapping) and isinstance(option.get("visible_if"), str):
                yield (*path, "options", i, "visible_if"), option["visible_if"], "bool", {}
        for i, rule in enumerate(f.get("checks") or ()):
            if isinstance(rule, Mapping) and isinstance(rule.get("must"), str):
                yield (*path, "checks", i, "must"), rule["must"], "bool", {}
    flow = _flow(tt) or {}
    for i, edge in enumerate(flow.get("edges") or ()):
        if isinstance(edge, Mapping) and isinstance(edge.get("if"), str):
            yield ("flow", "edges", i, "if"), edge["if"], "bool", {}
    for i, node in enumerate(flow.get("nodes") or ()):
        for apath, a in _assignees(node):
            if isinstance(a, Mapping) and isinstance(a.get("expr"), str):
                yield ("flow", "nodes", i, *apath, "expr"), a["expr"], None, {}
    for i, rule in enumerate(tt.get("rules") or ()):
        if isinstance(rule.get("if"), str):
            yield ("rules", i, "if"), rule["if"], "bool", {}
        for j, action in enumerate(rule.get("do") or ()):
            if isinstance(action.get("if"), str):
                yield ("rules", i, "do", j, "if"), action["if"], "bool", {}
            for key, extra in (("set", {}), ("map", {"response": NameInfo()})):
                for fkey, source in (action.get(key) or {}).items():
                    if isinstance(source, str):
                        yield ("rules", i, "do", j, key, fkey), source, None, extra


@check
def expressions_are_sound(data: Mapping[str, Any]) -> Iterator[Found]:
    """Syntax, names, functions and visible type mismatches of every expression, with its column."""
    option_sets = data.get("option_sets") or {}
    for tkey, tt in _types(data):
        fields = [f for _, f in _field_entries(tt)]
        names = form_names(fields, option_sets, data.get("settings") or {})
        for path, source, want, extra in _expressions(tt):
            scope = {**names, **extra} if extra else names
            for finding in check_expression(source, scope, want=want):
                yield (
                    ("ticket_types", tkey, *path),
                    finding.code,
                    {
                        **finding.params,
                        "source": source,
                        "column": finding.column,
                    },
                )


def run_checks(data: Mapping[str, Any]) -> list[Found]:
    found: list[Found] = []
    for fn in CHECKS:
        found.extend(fn(data))
    return found
