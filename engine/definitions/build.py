"""Schema-valid plain data → frozen AppDef."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.definitions.model import (
    AppDef,
    EdgeDef,
    FieldDef,
    FlowDef,
    FormDef,
    NodeDef,
    SectionDef,
    TicketTypeDef,
    WebhookDef,
    freeze,
    text,
)
from engine.flows.templates import STANDARD_LIFECYCLE


def _field(raw: Mapping[str, Any]) -> FieldDef:
    options = {k: v for k, v in raw.items() if k not in ("key", "type", "label", "fields")}
    return FieldDef(
        key=raw["key"],
        type=raw["type"],
        label=text(raw.get("label") or raw["key"]),
        options=freeze(options),
        fields=tuple(_field(f) for f in raw.get("fields", ())),
    )


def _form(raw: Mapping[str, Any]) -> FormDef:
    return FormDef(
        tuple(
            SectionDef(
                id=s.get("id"),
                title=text(s.get("title")),
                columns=s.get("columns", 1),
                tab=text(s["tab"]) if s.get("tab") else None,
                fields=tuple(_field(f) for f in s["fields"]),
            )
            for s in raw["sections"]
        )
    )


def edge_of(raw: Any) -> EdgeDef:
    if isinstance(raw, list | tuple):
        return EdgeDef(raw[0], raw[1])
    return EdgeDef(
        raw["from"],
        raw["to"],
        raw.get("action"),
        raw.get("if"),
        bool(raw.get("default")),
        tuple(raw.get("requires") or ()),
    )


def build_flow(raw: Mapping[str, Any] | None) -> FlowDef:
    """A flow as written (or the standard lifecycle when none is) → its frozen FlowDef."""
    raw = raw or STANDARD_LIFECYCLE
    nodes = tuple(
        NodeDef(
            id=n["id"],
            type=n["type"],
            name=text(n.get("name") or n["id"]),
            options=freeze({k: v for k, v in n.items() if k not in ("id", "type", "name")}),
        )
        for n in raw["nodes"]
    )
    return FlowDef(
        nodes=nodes,
        edges=tuple(edge_of(e) for e in raw["edges"]),
        returns=MappingProxyType({k: tuple(v) for k, v in (raw.get("returns") or {}).items()}),
        escalation=freeze(raw.get("escalation") or []),
        reopen_to=raw.get("reopen_to"),
    )


def default_number(type_key: str) -> str:
    return type_key.upper().replace("_", "-") + "-{seq:6}"


def build_app(data: Mapping[str, Any]) -> AppDef:
    types = {
        key: TicketTypeDef(
            key=key,
            name=text(tt["name"]),
            number=tt.get("number") or default_number(key),
            form=_form(tt["form"]),
            flow=build_flow(tt.get("flow")),
            rules=freeze(tt.get("rules") or []),
            reports=freeze(tt.get("reports") or []),
            dashboards=freeze(tt.get("dashboards") or []),
            tests=freeze(tt.get("tests") or []),
            submitters=freeze(tt["submitters"]) if tt.get("submitters") else None,
        )
        for key, tt in data["ticket_types"].items()
    }
    return AppDef(
        key=data["app"],
        name=text(data["name"]),
        description=text(data.get("description")),
        settings=freeze(data.get("settings") or {}),
        roles=MappingProxyType({k: text(role_name(v)) for k, v in (data.get("roles") or {}).items()}),
        role_scopes=MappingProxyType(
            {k: v.get("scope", "own") if "name" in v else "own" for k, v in _role_objects(data)}
        ),
        option_sets=freeze(data.get("option_sets") or {}),
        webhooks=tuple(
            WebhookDef(
                id=w["id"],
                url=w["url"],
                events=tuple(w["events"]),
                ticket_types=tuple(w.get("ticket_types") or ()),
                # a version stored before secrets left definitions names hook.<id>: never sent unsigned
                secret_ref=w.get("secret_ref") or (w["id"] if "secret" in w else None),
            )
            for w in data.get("webhooks") or ()
        ),
        ticket_types=MappingProxyType(types),
        raw=freeze({k: v for k, v in data.items() if k != "version"}),
        templates=freeze(data.get("templates") or {}),
    )


def without_inline_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """A definition stored before secrets left definitions, as it reads now: each webhook's inline
    ``secret`` replaced by ``secret_ref: <id>`` (what build_app assumes for it), so exports, diffs and
    a rollback to that version never carry the old secret. Other definitions are returned as they are."""
    hooks = data.get("webhooks")
    if not isinstance(hooks, list) or not any(isinstance(h, dict) and "secret" in h for h in hooks):
        return data
    fixed = []
    for hook in hooks:
        if isinstance(hook, dict) and "secret" in hook:
            hook = {k: v for k, v in hook.items() if k != "secret"}
            hook.setdefault("secret_ref", hook.get("id"))
        fixed.append(hook)
    return {**data, "webhooks": fixed}


def role_name(value: Any) -> Any:
    """A role's name: the value itself, or its ``name`` when the role also says its scope."""
    return value["name"] if isinstance(value, dict) and "name" in value else value


def _role_objects(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(k, v if isinstance(v, dict) else {}) for k, v in (data.get("roles") or {}).items()]
