"""Frozen dataclasses for a loaded app definition. Built only from schema-valid data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Values freeze and thaw hand back as they are, told by exact type before the (slower) ABC check.
_LEAVES = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """Deep-freeze plain data: dicts become read-only mappings, lists become tuples."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists again (for JSON/YAML out)."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


Text = Mapping[str, str]


def text(value: Any) -> Text:
    """Normalise an i18n text: a plain string counts for both languages."""
    if value is None:
        return MappingProxyType({})
    if isinstance(value, str):
        return MappingProxyType({"zh": value, "en": value})
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class FieldDef:
    key: str
    type: str
    label: Text
    options: Mapping[str, Any]  # every other property of the field, as written
    fields: tuple[FieldDef, ...] = ()  # sub-table columns

    @property
    def required(self) -> bool:
        return bool(self.options.get("required"))

    def get(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass(frozen=True)
class SectionDef:
    id: str | None
    title: Text
    columns: int
    tab: Text | None
    fields: tuple[FieldDef, ...]


@dataclass(frozen=True)
class FormDef:
    sections: tuple[SectionDef, ...]

    @property
    def fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for s in self.sections for f in s.fields)


@dataclass(frozen=True)
class NodeDef:
    id: str
    type: str
    name: Text
    options: Mapping[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass(frozen=True)
class EdgeDef:
    source: str
    target: str
    action: str | None = None
    condition: str | None = None
    default: bool = False
    #: Fields that must hold a value for a person to take this edge (its action): checked on acting.
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowDef:
    nodes: tuple[NodeDef, ...]
    edges: tuple[EdgeDef, ...]
    returns: Mapping[str, tuple[str, ...]]
    escalation: tuple[Mapping[str, Any], ...]
    reopen_to: str | None = None

    def node(self, node_id: str) -> NodeDef:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


@dataclass(frozen=True)
class TicketTypeDef:
    key: str
    name: Text
    number: str
    form: FormDef
    flow: FlowDef
    rules: tuple[Mapping[str, Any], ...]
    reports: tuple[Mapping[str, Any], ...]
    dashboards: tuple[Mapping[str, Any], ...]
    tests: tuple[Mapping[str, Any], ...]
    #: Who may submit one: ``{roles: [role keys of the app], staff: bool}`` (staff:
    #: anyone in a department or with a role in any app); None = anyone signed in.
    submitters: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WebhookDef:
    id: str
    url: str
    events: tuple[str, ...]
    ticket_types: tuple[str, ...]
    #: The name of its signing secret in the write-only store (engine.channel_settings ``hook.<name>``),
    #: read by the worker at delivery time; the definition itself never holds the secret.
    secret_ref: str | None


@dataclass(frozen=True)
class AppDef:
    """A whole app: what the engines compile into specs. ``raw`` is the definition as written."""

    key: str
    name: Text
    description: Text
    settings: Mapping[str, Any]
    roles: Mapping[str, Text]
    option_sets: Mapping[str, tuple[Any, ...]]
    webhooks: tuple[WebhookDef, ...]
    ticket_types: Mapping[str, TicketTypeDef]
    raw: Mapping[str, Any]
    #: Notification templates by name, as written (see engine.rules.templates).
    templates: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: role key → which tickets its members see: own, department or all
    role_scopes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def ticket_type(self, key: str) -> TicketTypeDef:
        return self.ticket_types[key]
