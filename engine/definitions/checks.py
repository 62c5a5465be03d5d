"""Cross-reference checks on schema-valid definition data: every name must point at something.

Each check is a small function over the plain data that yields (path, code, params); the
registry ``CHECKS`` runs them all so that a definition's problems are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Any, NamedTuple

import engine.definitions.flow_messages  # noqa: F401  (the flow checks' messages)
from engine.config import HOOK_PREFIX, SECRET_PLACEHOLDER
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


#: Checks that are rules for publishing, not conditions for running (no credential written in a
#: definition): a version stored before such a rule existed still loads and its tickets still run.
GATES: set[Check] = set()


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def gate(fn: Check) -> Check:
    """Register a publishing rule (see GATES): run on every new definition, skipped on stored ones."""
    GATES.add(fn)
    return check(fn)


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
def submitters_are_roles_of_the_app(data: Mapping[str, Any]) -> Iterator[Found]:
    roles = set(data.get("roles") or {})
    for tkey, tt in _types(data):
        named = (tt.get("submitters") or {}).get("roles") or ()
        for i, role in enumerate(named):
            if isinstance(role, str) and role not in roles:
                path = ("ticket_types", tkey, "submitters", "roles", i)
                yield path, "check.unknown_role", {"role": role, "known": ", ".join(sorted(roles))}


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
        for j, edge in enumerate(flow.get("edges") or ()):
            wanted = edge.get("requires") if isinstance(edge, Mapping) else None
            for k, fkey in enumerate(wanted if isinstance(wanted, list) else ()):
                if isinstance(fkey, str) and fkey not in fields:
                    yield (*base, "edges", j, "requires", k), "check.unknown_field", {"field": fkey}


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
    if isinstance(dispatch, Mapping):  # a team is a role: dispatch picks one of its members
        teams = dispatch.get("teams")
        named = [(("teams", k), v) for k, v in teams.items()] if isinstance(teams, Mapping) else []
        named += [(("default",), dispatch["default"])] if "default" in dispatch else []
        for where, team in named:
            if isinstance(team, str) and team not in roles:
                known = ", ".join(sorted(roles))
                yield (*path, "dispatch", *where), "check.unknown_role", {"role": team, "known": known}


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is not valid (``61 * * * *``), or None."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5:
        return f"5 fields expected (minute hour day month weekday), got {len(fields)}"
    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:
        return str(exc)[:200]
    return None


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
                changed = trigger.get("field_changed")
                if isinstance(changed, Mapping):
                    if changed["field"] not in fields:
                        yield (
                            (*rpath, "on", "field_changed", "field"),
                            "check.unknown_field",
                            {"field": changed["field"]},
                        )
                elif changed is not None and changed not in fields:
                    yield (*rpath, "on", "field_changed"), "check.unknown_field", {"field": changed}
                if "schedule" in trigger:
                    problem = cron_problem(str(trigger["schedule"]))
                    if problem:
                        yield (
                            (*rpath, "on", "schedule"),
                            "check.bad_cron",
                            {"cron": trigger["schedule"], "detail": problem},
                        )
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
    """Reports name existing targets of the right kinds (engine.reports.spec checks each member);
    dashboards name existing reports and offer filters on existing targets."""
    from engine.reports.spec import fields_of, known_target, report_problems

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
            for path, code, params in report_problems(report, fields_of(all_types[source])):
                yield (*base, "reports", i, *path), code, params
        fields = fields_of(tt)
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
                if not known_target(fkey, fields):
                    yield (*base, "dashboards", i, "filters", j), "check.unknown_field", {"field": fkey}


#: Columns every ticket has besides its form fields (usable in reports and filters).


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


def suggested_secret(text: Any, **params: Any) -> dict[str, Any]:
    """Message parameters naming the store a credential found under ``text`` belongs in: the
    ``hook.<name>`` secret and its ``GONGDAN_HOOK_<NAME>`` variable."""
    name = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:50] or "credential"
    return {"name": name, "env": f"{HOOK_PREFIX}{name.upper()}", **params}


@gate
def webhooks_sign_with_a_stored_secret(data: Mapping[str, Any]) -> Iterator[Found]:
    """A webhook names its signing secret (``secret_ref``), never holds it."""
    for i, hook in enumerate(data.get("webhooks") or ()):
        if "secret" in hook:
            yield ("webhooks", i, "secret"), "check.inline_secret", suggested_secret(hook["id"])


#: Request headers that carry credentials: a definition names their secret (``${secrets.name}``).
CREDENTIAL_HEADER = re.compile(r"authori[sz]ation|token|secret|api[-_]?key|passw|cookie|signature", re.I)


def _calls(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every ``call`` action anywhere in the definition (rules, escalations, reminders, nodes); the
    definition is plain data (dicts and lists), so the walk skips leaves by their exact type."""
    if type(value) is dict:
        if type(value.get("call")) is dict:
            yield (*path, "call"), value["call"]
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                yield from _calls(item, (*path, key))
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                yield from _calls(item, (*path, i))


@gate
def call_credentials_are_references(data: Mapping[str, Any]) -> Iterator[Found]:
    """A credential header of a ``call`` holds ``${secrets.name}``, never the credential itself: a
    definition is exported, versioned and diffed (docs/app-format.md)."""
    for path, call in _calls(data, ()):
        for header, value in (call.get("headers") or {}).items():
            if CREDENTIAL_HEADER.search(str(header)) and not SECRET_PLACEHOLDER.search(str(value)):
                yield (
                    (*path, "headers", header),
                    "check.inline_header_secret",
                    suggested_secret(header, header=header),
                )


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
        if isinstance(rule.get("if"), str):  # a rule's condition also sees the event that fired it
            yield ("rules", i, "if"), rule["if"], "bool", {"event": NameInfo()}
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


# --- flow graphs ------------------------------------------------------------------------------------
# Each flow is indexed once into a FlowGraph and every flow rule reads that. Whole-graph rules
# (reachability, dead ends, joins, the order of returns) run only on a well-formed graph — unique ids,
# one start, an end, no dangling edge — since the checks above report those and a broken graph would
# only echo them. Every analysis is a linear walk of nodes + edges (dominators: near-linear); checking
# that a return goes back walks back from its source only until its targets are found.

NODE_TYPES = frozenset(
    {
        "start",
        "end",
        "task",
        "approval",
        "exclusive",
        "parallel",
        "join",
        "inclusive",
        "auto",
        "timer",
        "subprocess",
    }
)
PEOPLE_NODES = frozenset({"task", "approval"})
GATEWAYS = frozenset({"exclusive", "inclusive"})  # they choose branches by each edge's `if`
#: Nodes that send a token down exactly one edge: by a condition, or by the action a person takes.
ONE_WAY_NODES = frozenset({"exclusive", "task", "approval"})
SIGNING_MODES = frozenset({"countersign", "or_sign", "sequential", "percentage"})
GROUP_KINDS = ("role", "department_members")  # an assignee naming several people
ONE_PERSON_KINDS = ("user", "submitter", "manager_of", "department")  # department: its head
#: Node keys that mean something on one node type only.
KEY_OWNERS = {
    "mode": "approval",
    "assignees": "approval",
    "threshold": "approval",
    "on_reject": "approval",
    "wait": "timer",
    "actions": "auto",
    "ticket_type": "subprocess",
}
#: What a node type cannot work without: its key and the message saying so.
NODE_NEEDS = {
    "timer": ("wait", "check.flow.timer_needs_wait"),
    "auto": ("actions", "check.flow.auto_needs_actions"),
    "subprocess": ("ticket_type", "check.flow.subprocess_needs_type"),
}

Path = tuple[str | int, ...]


class FlowEdge(NamedTuple):
    index: int  # position in the flow's `edges`
    source: str
    target: str
    options: Mapping[str, Any]  # the edge object's keys (action, if, default, name); empty for a pair


def _edge_ends(edge: Any) -> tuple[str, str] | None:
    if isinstance(edge, Mapping):
        edge = [edge.get("from"), edge.get("to")]
    if isinstance(edge, list) and len(edge) == 2 and isinstance(edge[0], str) and isinstance(edge[1], str):
        return edge[0], edge[1]
    return None


def _closure(roots: list[str], adjacency: Mapping[str, list[str]]) -> set[str]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        for nxt in adjacency[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def strongly_connected(nodes: list[str], moves: Mapping[str, list[str]]) -> list[list[str]]:
    """The strongly connected components among ``nodes`` (Tarjan's algorithm, without recursion)."""
    inside = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(moves[root]))]
        while work:
            node, todo = work[-1]
            for nxt in todo:
                if nxt not in inside:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(moves[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    components.append(component)
    return components


def immediate_dominators(root: str, moves: Mapping[str, list[str]]) -> dict[str, str]:
    """Each node reachable from ``root`` (but root) → its immediate dominator (Lengauer–Tarjan, iterative)."""
    order, number, parent = [root], {root: 0}, [0]
    work = [(0, iter(moves[root]))]
    while work:
        at, todo = work[-1]
        for nxt in todo:
            if nxt not in number:
                number[nxt] = len(order)
                order.append(nxt)
                parent.append(at)
                work.append((number[nxt], iter(moves[nxt])))
                break
        else:
            work.pop()
    size = len(order)
    preds: list[list[int]] = [[] for _ in range(size)]
    for v, node in enumerate(order):
        for nxt in moves[node]:
            preds[number[nxt]].append(v)
    semi, label, idom = list(range(size)), list(range(size)), [0] * size
    ancestor = [-1] * size
    bucket: list[list[int]] = [[] for _ in range(size)]

    def evaluate(v: int) -> int:
        if ancestor[v] < 0:
            return v
        path, u = [], v
        while ancestor[ancestor[u]] >= 0:  # path compression, from the top of the forest down
            path.append(u)
            u = ancestor[u]
        for u in reversed(path):
            a = ancestor[u]
            if semi[label[a]] < semi[label[u]]:
                label[u] = label[a]
            ancestor[u] = ancestor[a]
        return label[v]

    for w in range(size - 1, 0, -1):
        for v in preds[w]:
            semi[w] = min(semi[w], semi[evaluate(v)])
        bucket[semi[w]].append(w)
        ancestor[w] = p = parent[w]
        for v in bucket[p]:
            u = evaluate(v)
            idom[v] = u if semi[u] < semi[v] else p
        bucket[p] = []
    for w in range(1, size):
        if idom[w] != semi[w]:
            idom[w] = idom[idom[w]]
    return {order[w]: order[idom[w]] for w in range(1, size)}


@dataclass(frozen=True)
class DominatorTree:
    """Who every path from the start must pass: ``parent`` is each node's immediate dominator."""

    parent: Mapping[str, str]
    enter: Mapping[str, int]  # preorder clock of a walk over the tree
    leave: Mapping[str, int]

    @classmethod
    def of(cls, root: str, moves: Mapping[str, list[str]]) -> DominatorTree:
        parent = immediate_dominators(root, moves)
        children: dict[str, list[str]] = {}
        for node, dom in parent.items():
            children.setdefault(dom, []).append(node)
        enter: dict[str, int] = {}
        leave: dict[str, int] = {}
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                leave[node] = len(enter) + len(leave)
                continue
            enter[node] = len(enter) + len(leave)
            stack.append((node, True))
            stack.extend((child, False) for child in children.get(node, ()))
        return cls(parent, enter, leave)

    def dominates(self, a: str, b: str) -> bool:
        return self.enter[a] <= self.enter[b] and self.leave[b] <= self.leave[a]

    def nearest_common(self, a: str, b: str) -> str:
        """The last node every path to ``a`` and to ``b`` passes: where their ways part."""
        while not self.dominates(a, b):
            a = self.parent[a]
        return a


class FlowGraph:
    """One flow's nodes and edges indexed for its checks; what reaches what is worked out on first use."""

    def __init__(self, base: Path, ticket_type: str, flow: Mapping[str, Any], fields: Mapping[str, Any]):
        self.base, self.ticket_type, self.flow, self.fields = base, ticket_type, flow, fields
        self.nodes: dict[str, Mapping[str, Any]] = {}
        self.position: dict[str, int] = {}
        self.kind: dict[str, str] = {}  # node id → its type
        well_formed = True
        nodes, edges = flow.get("nodes"), flow.get("edges")
        for i, node in enumerate(nodes if isinstance(nodes, list) else ()):
            nid = node.get("id") if isinstance(node, Mapping) else None
            kind = node.get("type") if isinstance(nid, str) else None
            if not isinstance(kind, str) or kind not in NODE_TYPES or nid in self.nodes:
                well_formed = False  # misshapen or a duplicate: reported by the schema / duplicate_node
                continue
            self.nodes[nid], self.position[nid], self.kind[nid] = node, i, kind
        self.out: dict[str, list[FlowEdge]] = {nid: [] for nid in self.nodes}
        self.into: dict[str, list[FlowEdge]] = {nid: [] for nid in self.nodes}
        self.edges: list[FlowEdge] = []
        for i, raw in enumerate(edges if isinstance(edges, list) else ()):
            ends = _edge_ends(raw)
            if ends is None or ends[0] not in self.nodes or ends[1] not in self.nodes:
                well_formed = False
                continue
            edge = FlowEdge(i, ends[0], ends[1], raw if isinstance(raw, Mapping) else {})
            self.edges.append(edge)
            self.out[edge.source].append(edge)
            self.into[edge.target].append(edge)
        starts = [nid for nid in self.nodes if self.kind[nid] == "start"]
        self.start = starts[0] if len(starts) == 1 else ""
        self.whole = well_formed and bool(self.start) and any(self.kind[n] == "end" for n in self.nodes)

    def node_path(self, node_id: str) -> Path:
        return (*self.base, "nodes", self.position[node_id])

    def edge_path(self, edge: FlowEdge) -> Path:
        return (*self.base, "edges", edge.index)

    def rejections(self) -> Iterator[tuple[str, str]]:
        """(node, where rejecting it goes: a node id or "end") where reject is an action of its own."""
        for nid, node in self.nodes.items():
            rejectable = self.kind[nid] == "approval" or node.get("on_reject")
            if rejectable and not any(e.options.get("action") == "reject" for e in self.out[nid]):
                target = node.get("on_reject")
                yield nid, target if isinstance(target, str) and target in self.nodes else "end"

    @cached_property
    def moves(self) -> dict[str, list[str]]:
        """Where a token can go from each node: along its edges (none leave an end) or by a rejection."""
        moves = {
            nid: [] if self.kind[nid] == "end" else [e.target for e in self.out[nid]] for nid in self.nodes
        }
        for nid, target in self.rejections():
            if target in self.nodes:
                moves[nid].append(target)
        return moves

    @cached_property
    def comes_from(self) -> dict[str, list[str]]:
        back: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for nid, targets in self.moves.items():
            for target in targets:
                back[target].append(nid)
        return back

    @cached_property
    def reachable(self) -> set[str]:
        return _closure([self.start], self.moves)

    @cached_property
    def finishing(self) -> set[str]:
        """Nodes from which a token can reach an end (a rejection that ends the flow counts)."""
        exits = [n for n in self.nodes if self.kind[n] == "end"]
        exits += [n for n, target in self.rejections() if target == "end" or self.kind[target] == "end"]
        return _closure(exits, self.comes_from)

    @cached_property
    def dominators(self) -> DominatorTree:
        return DominatorTree.of(self.start, self.moves)

    def earlier(self, node_id: str, wanted: set[str]) -> set[str]:
        """Which of ``wanted`` a token can pass before reaching ``node_id`` (stops once all are found)."""
        wanted = wanted & self.reachable
        found: set[str] = set()
        seen: set[str] = set()
        stack = list(self.comes_from[node_id])
        while stack and len(found) < len(wanted):
            nid = stack.pop()
            if nid not in seen:
                seen.add(nid)
                if nid in wanted:
                    found.add(nid)
                stack.extend(self.comes_from[nid])
        return found


FlowRule = Callable[[FlowGraph], Iterator[Found]]
FLOW_RULES: list[tuple[FlowRule, bool]] = []


def flow_rule(*, whole_graph: bool = False) -> Callable[[FlowRule], FlowRule]:
    """Register a rule over one flow; a ``whole_graph`` one only runs on a well-formed graph."""

    def register(fn: FlowRule) -> FlowRule:
        FLOW_RULES.append((fn, whole_graph))
        return fn

    return register


@check
def flows_are_sound(data: Mapping[str, Any]) -> Iterator[Found]:
    """Every flow rule over each ticket type's flow graph, built once per flow."""
    for tkey, tt in _types(data):
        flow = _flow(tt) if isinstance(tt, Mapping) else None
        if not isinstance(flow, Mapping):
            continue
        graph = FlowGraph(("ticket_types", tkey, "flow"), tkey, flow, field_map(tt))
        for rule, whole_graph in FLOW_RULES:
            if graph.whole or not whole_graph:
                yield from rule(graph)


@flow_rule(whole_graph=True)
def nodes_are_reachable(graph: FlowGraph) -> Iterator[Found]:
    for nid in graph.nodes:
        if nid not in graph.reachable:
            yield graph.node_path(nid), "check.flow.unreachable", {"id": nid, "start": graph.start}


@flow_rule(whole_graph=True)
def nodes_have_a_way_out(graph: FlowGraph) -> Iterator[Found]:
    for nid in graph.nodes:
        if not graph.out[nid] and graph.kind[nid] != "end":
            yield graph.node_path(nid), "check.flow.no_outgoing", {"id": nid, "type": graph.kind[nid]}


@flow_rule(whole_graph=True)
def nodes_reach_an_end(graph: FlowGraph) -> Iterator[Found]:
    """A node that cannot reach an end: a loop with no exit is named as one; a node without edges is left
    to ``nodes_have_a_way_out``; every other stuck node leads into one of those."""
    stuck = [n for n in graph.nodes if n in graph.reachable and n not in graph.finishing]
    moves = graph.moves  # every move of a stuck node leads to a stuck node
    components = strongly_connected(stuck, moves)
    component_of = {nid: k for k, component in enumerate(components) for nid in component}
    for k, component in enumerate(components):
        loops = len(component) > 1 or component[0] in moves[component[0]]
        leaves = any(component_of[nxt] != k for nid in component for nxt in moves[nid])
        if loops and not leaves:
            ordered = sorted(component, key=graph.position.__getitem__)
            yield graph.node_path(ordered[0]), "check.flow.loop_no_exit", {"nodes": ", ".join(ordered)}
        elif leaves:
            for nid in component:
                yield graph.node_path(nid), "check.flow.cannot_reach_end", {"id": nid}


@flow_rule()
def conditions_decide_at_gateways(graph: FlowGraph) -> Iterator[Found]:
    """A gateway has an `if` on every edge but its one default; no other node has either."""
    for nid, outs in graph.out.items():
        kind = graph.kind[nid]
        if kind in GATEWAYS:
            defaults = [e for e in outs if e.options.get("default") is True]
            if not defaults and len(outs) > 1:
                yield graph.node_path(nid), "check.flow.gateway_no_default", {"id": nid, "type": kind}
            for edge in defaults[1:]:
                yield (
                    (*graph.edge_path(edge), "default"),
                    "check.flow.gateway_many_defaults",
                    {"id": nid, "first": defaults[0].target},
                )
            for edge in outs:  # a gateway only follows an edge whose condition holds, or its default
                if edge.options.get("default") is not True and not edge.options.get("if"):
                    yield (
                        graph.edge_path(edge),
                        "check.flow.branch_needs_condition",
                        {"id": nid, "to": edge.target},
                    )
            continue
        for edge in outs:
            for key in ("if", "default"):
                if edge.options.get(key) in (None, False):
                    continue
                code = (
                    "check.flow.parallel_branch_condition"
                    if kind == "parallel"
                    else f"check.flow.{key}_off_gateway"
                )
                yield (*graph.edge_path(edge), key), code, {"id": nid, "type": kind, "key": key}


@flow_rule(whole_graph=True)
def joins_can_complete(graph: FlowGraph) -> Iterator[Found]:
    """A join waits for all its incoming edges: none may need the join itself first, and no two may be
    alternatives — ways that part at a node taking one edge only (an exclusive gateway, a person's action)."""
    joins = [n for n in graph.nodes if graph.kind[n] == "join" and n in graph.reachable]
    if not joins:
        return
    tree = graph.dominators
    for join in joins:
        sources = [
            e.source
            for e in graph.into[join]
            if e.source in graph.reachable and graph.kind[e.source] != "end"
        ]
        looping = next((s for s in sources if tree.dominates(join, s)), None)
        if looping is not None:
            yield graph.node_path(join), "check.flow.join_waits_for_itself", {"id": join, "source": looping}
            continue
        # The places where any two ways part are those of neighbours in the tree's preorder.
        sources.sort(key=tree.enter.__getitem__)
        for a, b in pairwise(sources):
            split = tree.nearest_common(a, b)
            if graph.kind[split] in ONE_WAY_NODES:
                yield (
                    graph.node_path(join),
                    "check.flow.join_never_completes",
                    {"id": join, "split": split, "type": graph.kind[split], "branches": f"{a}, {b}"},
                )
                break


@flow_rule()
def start_and_end_edges(graph: FlowGraph) -> Iterator[Found]:
    for edge in graph.edges:
        if graph.kind[edge.target] == "start":
            yield (
                graph.edge_path(edge),
                "check.flow.start_has_incoming",
                {"id": edge.target, "from": edge.source},
            )
        if graph.kind[edge.source] == "end":
            yield graph.edge_path(edge), "check.flow.end_has_outgoing", {"id": edge.source, "to": edge.target}


@flow_rule()
def actions_are_for_people(graph: FlowGraph) -> Iterator[Found]:
    """An edge's action is what a person does at a task or approval: once per node, and nowhere else;
    so are the fields an edge ``requires`` before a person takes it."""
    for nid, outs in graph.out.items():
        kind, seen = graph.kind[nid], set()
        for edge in outs:
            if edge.options.get("requires") and kind not in PEOPLE_NODES:
                where = (*graph.edge_path(edge), "requires")
                yield where, "check.flow.requires_off_task", {"id": nid, "type": kind}
            action = edge.options.get("action")
            if not action or not isinstance(action, str):
                continue
            where = (*graph.edge_path(edge), "action")
            if kind not in PEOPLE_NODES:
                yield where, "check.flow.action_off_task", {"id": nid, "type": kind, "action": action}
            elif action in seen:
                yield where, "check.flow.duplicate_action", {"id": nid, "action": action}
            seen.add(action)


@flow_rule()
def node_keys_fit_type(graph: FlowGraph) -> Iterator[Found]:
    for nid, node in graph.nodes.items():
        kind, path = graph.kind[nid], graph.node_path(nid)
        for key, owner in KEY_OWNERS.items():
            if key in node and kind != owner:
                yield (
                    (*path, key),
                    "check.flow.key_not_for_node",
                    {"key": key, "id": nid, "type": kind, "owner": owner},
                )
        if kind in NODE_NEEDS and not node.get(NODE_NEEDS[kind][0]):
            yield path, NODE_NEEDS[kind][1], {"id": nid}
        if kind == "subprocess" and node.get("ticket_type") == graph.ticket_type:
            yield (
                (*path, "ticket_type"),
                "check.flow.subprocess_recursive",
                {"id": nid, "name": graph.ticket_type},
            )
        if kind == "approval":
            yield from _approval_problems(path, nid, node, graph.fields)


def _assignee_kind(a: Any) -> str | None:
    return next((k for k in ASSIGNEE_KINDS if k in a), None) if isinstance(a, Mapping) else None


def _one_person(a: Any, fields: Mapping[str, Any]) -> bool:
    kind = _assignee_kind(a)
    if kind == "field":
        return isinstance(a["field"], str) and not (fields.get(a["field"]) or {}).get("multiple")
    return kind in ONE_PERSON_KINDS


def _approval_problems(
    path: Path, nid: str, node: Mapping[str, Any], fields: Mapping[str, Any]
) -> Iterator[Found]:
    mode = node.get("mode") if isinstance(node.get("mode"), str) else "single"
    listed = node.get("assignees") if isinstance(node.get("assignees"), list) else []
    if mode in SIGNING_MODES and not listed and _assignee_kind(node.get("assignee")) not in GROUP_KINDS:
        yield path, "check.flow.approval_needs_assignees", {"id": nid, "mode": mode}
    threshold = node.get("threshold")
    if mode == "percentage" and threshold is None:
        yield path, "check.flow.percentage_needs_threshold", {"id": nid}
    elif threshold is not None and mode != "percentage":
        yield (*path, "threshold"), "check.flow.threshold_not_percentage", {"id": nid, "mode": mode}
    elif (
        isinstance(threshold, int | float)
        and threshold > len(listed) >= 1  # a count (> 1) of approvers more than there can be
        and threshold > 1
        and all(_one_person(a, fields) for a in listed)
    ):
        yield (
            (*path, "threshold"),
            "check.flow.threshold_above_assignees",
            {"id": nid, "threshold": threshold, "count": len(listed)},
        )


@flow_rule()
def returns_and_reopen_go_to_people(graph: FlowGraph) -> Iterator[Found]:
    """退回 goes from a person's step back to an earlier person's step; reopening goes to a person's step."""
    returns = graph.flow.get("returns")
    for source, targets in (returns if isinstance(returns, Mapping) else {}).items():
        where = (*graph.base, "returns", source)
        if source in graph.nodes and graph.kind[source] not in PEOPLE_NODES:
            yield where, "check.flow.return_from_not_task", {"id": source, "type": graph.kind[source]}
        targets = targets if isinstance(targets, list) else []
        known = {t for t in targets if isinstance(t, str) and t in graph.nodes}
        earlier = graph.earlier(source, known) if graph.whole and source in graph.nodes else known
        for j, target in enumerate(targets):
            if target not in known:
                continue  # misshapen or unknown: the schema or flow_graph_references names it
            if graph.kind[target] not in PEOPLE_NODES:
                yield (*where, j), "check.flow.return_to_not_task", {"id": target, "type": graph.kind[target]}
            elif target not in earlier:
                yield (*where, j), "check.flow.return_not_before", {"source": source, "target": target}
    target = graph.flow.get("reopen_to")
    if isinstance(target, str):
        where = (*graph.base, "reopen_to")
        if target not in graph.nodes:
            yield where, "check.unknown_node", {"id": target, "known": ", ".join(sorted(graph.nodes))}
        elif graph.kind[target] not in PEOPLE_NODES:
            yield where, "check.flow.reopen_not_task", {"id": target, "type": graph.kind[target]}


def run_checks(data: Mapping[str, Any], stored: bool = False) -> list[Found]:
    found: list[Found] = []
    for fn in CHECKS:
        if not (stored and fn in GATES):
            found.extend(fn(data))
    return found


from engine.definitions import inbound_checks as _inbound_checks  # noqa: E402, F401  (registers them)
from engine.definitions import secret_checks as _secret_checks  # noqa: E402, F401  (credential checks)
from engine.definitions import template_checks  # noqa: E402, F401  (registers the template checks)
