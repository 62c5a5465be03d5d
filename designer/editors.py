"""The flow designer, the rule editor and the report builder: three pages of the designer.

Each page is the shared designer layout (designer/pages.py ``show``) plus a script that edits the
draft through the draft API. What a page offers — node types, assignee kinds, approval modes,
triggers, actions, channels, charts, aggregates — is read here from the engines' registries and
the app-definition schema and handed to the script as a JSON data attribute (no inline script),
so a node type, action or chart added to an engine shows up in the designer without a change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from string import Formatter
from typing import Any

from flask import g

import designer.editor_messages  # noqa: F401  (the editors' words)
from designer import bp
from designer.editor_messages import WORDS
from designer.pages import designer_page, show
from engine.definitions.checks import PEOPLE_NODES
from engine.definitions.schema import app_schema
from engine.flows.assignees import STRATEGIES
from engine.flows.stepping import NODE_TYPES
from engine.i18n import known, t
from engine.jobs.channels import CHANNELS
from engine.reports import spec as report_spec
from engine.reports.charts import CHARTS
from engine.rules.actions import ACTIONS
from engine.rules.inbound import CHANNELS as INBOUND_CHANNELS

#: How each node type looks and which panel sections it shows; a type not listed is a box with
#: the basic sections. The order is the palette's.
NODE_LOOK: dict[str, dict[str, Any]] = {
    "start": {"shape": "circle", "sections": ["basics", "permissions", "connections", "advanced"]},
    "task": {
        "shape": "rect",
        "sections": ["basics", "assignee", "sla", "permissions", "returns", "connections", "advanced"],
    },
    "approval": {
        "shape": "rect",
        "sections": ["basics", "approvers", "sla", "permissions", "returns", "connections", "advanced"],
        "defaults": {"mode": "countersign"},
    },
    "exclusive": {"shape": "diamond"},
    "inclusive": {"shape": "diamond"},
    "parallel": {"shape": "diamond"},
    "join": {"shape": "diamond"},
    "auto": {"shape": "rect", "sections": ["basics", "actions", "connections", "advanced"]},
    "timer": {
        "shape": "circle",
        "sections": ["basics", "wait", "connections", "advanced"],
        "defaults": {"wait": {"duration": "1d"}},
    },
    "subprocess": {"shape": "rect", "sections": ["basics", "subprocess", "connections", "advanced"]},
    "end": {"shape": "circle", "sections": ["basics", "advanced"]},
}
BASIC_SECTIONS = ["basics", "connections", "advanced"]

#: How the value of each assignee kind is entered (editor_kit.js ASSIGNEE_VALUES); others: text.
ASSIGNEE_INPUTS = {
    "role": "role",
    "field": "field",
    "submitter": "yes",
    "manager_of": "choice",
    "expr": "expr",
    "dispatch": "object",
}
#: Templates every app may name in a notification without defining them (docs/channels.md).
BUILTIN_TEMPLATES = ("sla_warning", "sla_breached", "reminder", "due_soon", "alert")
#: Triggers with an argument that the editor offers (the schema's trigger object's keys).
_TIME_KINDS = (report_spec.TIME, report_spec.DATE)


def label(registry: str, name: str, lang: str | None) -> str:
    """The shown label of a registry entry, else its name."""
    code = f"designer.label.{registry}.{name}"
    return t(code, lang) if known(code) else name


def _both(registry: str, name: str) -> dict[str, str]:
    return {lang: label(registry, name, lang) for lang in ("zh", "en")}


def _ordered(names: Iterable[str], preferred: Iterable[str]) -> list[str]:
    """Registry names in the preferred order first, then any others as registered."""
    names = list(dict.fromkeys(names))
    first = [n for n in preferred if n in names]
    return first + [n for n in names if n not in first]


def _defs() -> Mapping[str, Any]:
    return app_schema()["$defs"]


def assignee_kinds(lang: str | None) -> list[dict[str, Any]]:
    choices = _defs()["assignee"]["properties"]["manager_of"].get("enum", [])
    out = []
    for kind in STRATEGIES:
        entry: dict[str, Any] = {
            "kind": kind,
            "label": label("assignee", kind, lang),
            "input": ASSIGNEE_INPUTS.get(kind, "text"),
        }
        if entry["input"] == "choice":
            entry["choices"] = list(choices)
        out.append(entry)
    return out


def flow_palette(lang: str | None) -> dict[str, Any]:
    """Node types (the stepping registry), assignee kinds (the strategies registry), approval modes
    and access levels (the schema) for the flow designer, plus the rule editor's actions and
    channels (escalation steps and auto nodes run actions)."""
    node = _defs()["node"]["properties"]
    types = []
    for name in _ordered(NODE_TYPES, NODE_LOOK):
        look = NODE_LOOK.get(name, {})
        types.append(
            {
                "type": name,
                "label": label("node", name, lang),
                "name": _both("node", name),
                "hint": label("node_hint", name, lang) if known(f"designer.label.node_hint.{name}") else "",
                "shape": look.get("shape", "rect"),
                "sections": look.get("sections", BASIC_SECTIONS),
                "defaults": look.get("defaults", {}),
                "people": name in PEOPLE_NODES,
            }
        )
    rules = rules_palette(lang)
    return {
        # what escalation steps and auto nodes do: the rule editor's action forms (editor_kit.js)
        **{k: rules[k] for k in ("actions", "channels", "methods", "builtin_templates")},
        "node_types": types,
        "assignee_kinds": assignee_kinds(lang),
        "approval_modes": [
            {
                "value": m,
                "label": t(f"designer.w.flow.mode_{m}", lang) if known(f"designer.w.flow.mode_{m}") else m,
            }
            for m in node["mode"]["enum"]
        ],
        "access_levels": list(_defs()["access_level"]["enum"]),
    }


def rules_palette(lang: str | None) -> dict[str, Any]:
    """Trigger events and argument kinds (the schema), actions (the actions registry), channels
    (the outbound and inbound channel registries) for the rule editor."""
    trigger = _defs()["trigger"]["oneOf"]
    events = next(b["enum"] for b in trigger if "enum" in b)
    kinds = next(list(b["properties"]) for b in trigger if "properties" in b)
    methods = _defs()["action"]["properties"]["call"]["properties"]["method"]["enum"]
    return {
        "events": list(events),
        "trigger_kinds": kinds,
        "actions": [{"kind": k, "label": label("action", k, lang)} for k in ACTIONS],
        "channels": [c for c in CHANNELS if c != "admin"],
        "inbound_channels": [{"value": c, "label": label("channel", c, lang)} for c in INBOUND_CHANNELS],
        "assignee_kinds": assignee_kinds(lang),
        "methods": list(methods),
        "builtin_templates": list(BUILTIN_TEMPLATES),
    }


def reports_palette(lang: str | None) -> dict[str, Any]:
    """Charts (the chart registry), aggregates, operators, buckets, built-in columns and process
    metrics (the report engine) for the report builder."""
    return {
        "charts": list(CHARTS),
        "aggregates": list(report_spec.AGGREGATES),
        "ops": list(report_spec.OPS),
        "buckets": list(report_spec.BUCKETS),
        "parts": list(report_spec.PARTS),
        "periods": list(report_spec.PERIODS),
        "field_kinds": dict(report_spec.FIELD_KINDS),
        "unreportable": sorted(report_spec.UNREPORTABLE),
        "builtins": [
            {"name": name, "kind": kind, "label": label("target", name, lang)}
            for name, (_table, _column, kind) in report_spec.BUILTINS.items()
        ],
        "metrics": [
            {"name": f"metrics.{name}", "kind": kind, "label": label("target", f"metrics.{name}", lang)}
            for name, (_column, kind) in report_spec.METRICS.items()
            if f"metrics.{name}"
            not in ("metrics.created_at", "metrics.closed_at", "metrics.status", "metrics.team")
        ],
    }


def editor_words(lang: str | None) -> dict[str, str]:
    """Every word the editors' scripts show, with the labels of registry entries they name by key."""
    words = {key: _unfilled(f"designer.w.{key}", texts, lang) for key, texts in WORDS.items()}
    dynamic = {
        "rules.event_": ("event", _defs()["trigger"]["oneOf"][0].get("enum", ())),
        "rules.channel_": ("channel", [*CHANNELS, *INBOUND_CHANNELS]),
        "rep.chart_": ("chart", CHARTS),
        "rep.agg_": ("agg", report_spec.AGGREGATES),
        "rep.op_": ("op", report_spec.OPS),
        "rep.bucket_": ("bucket", report_spec.BUCKETS),
        "rep.part_": ("part", report_spec.PARTS),
    }
    for prefix, (registry, names) in dynamic.items():
        for name in names:
            words[prefix + name] = label(registry, name, lang)
    return words


def _unfilled(code: str, texts: tuple[str, str], lang: str | None) -> str:
    """The message with its ``{placeholders}`` kept, for the script to fill in."""
    names = {name for text in texts for _, name, _, _ in Formatter().parse(text) if name}
    return t(code, lang, **{name: "{" + name + "}" for name in names})


def _page(template: str, key: str, tab: str, ticket_type: str, palette: dict[str, Any]) -> Any:
    return show(
        template,
        key,
        tab,
        ticket_type,
        palette=palette,
        editor_words=editor_words(g.lang),
        page_title=label("page", f"{tab}_title", g.lang),
    )


@bp.get("/<key>/flow/<ticket_type>")
@designer_page
def flow(key: str, ticket_type: str) -> Any:
    return _page("designer/flow.html", key, "flow", ticket_type, flow_palette(g.lang))


@bp.get("/<key>/rules/<ticket_type>")
@designer_page
def rules(key: str, ticket_type: str) -> Any:
    return _page("designer/rules.html", key, "rules", ticket_type, rules_palette(g.lang))


@bp.get("/<key>/reports/<ticket_type>")
@designer_page
def reports(key: str, ticket_type: str) -> Any:
    return _page("designer/reports.html", key, "reports", ticket_type, reports_palette(g.lang))
