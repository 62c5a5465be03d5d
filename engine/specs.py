"""AppSpec: an app version compiled once — forms, flows and numbering of every ticket type."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from engine.definitions.model import AppDef, TicketTypeDef
from engine.flows.spec import FlowSpec, compile_flow
from engine.forms.permissions import READONLY, FieldAccess, access_at
from engine.forms.spec import FormSpec, compile_fields
from engine.rules.engine import EMPTY, RuleSet, compile_rules

_TOKEN = re.compile(r"\{(yyyyMMdd|yyyyMM|yyyy|seq:(\d+))\}")


@dataclass(frozen=True)
class NumberFormat:
    """A ticket-number pattern such as ``TS-{yyyyMM}-{seq:4}``; the sequence restarts per period."""

    pattern: str

    def period(self, at: dt.datetime) -> str:
        for token, fmt in (("{yyyyMMdd}", "%Y%m%d"), ("{yyyyMM}", "%Y%m"), ("{yyyy}", "%Y")):
            if token in self.pattern:
                return at.strftime(fmt)
        return ""

    def render(self, at: dt.datetime, seq: int) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(2):
                return str(seq).zfill(int(m.group(2)))
            return at.strftime({"yyyyMMdd": "%Y%m%d", "yyyyMM": "%Y%m", "yyyy": "%Y"}[m.group(1)])

        return _TOKEN.sub(sub, self.pattern)


@dataclass(frozen=True)
class TypeSpec:
    key: str
    definition: TicketTypeDef
    form: FormSpec
    flow: FlowSpec
    number: NumberFormat
    autonumbers: tuple[tuple[str, NumberFormat], ...] = ()  # auto-number fields and their patterns
    unique_keys: tuple[str, ...] = ()  # fields whose values must be unique within the ticket type
    rules: RuleSet = EMPTY  # the automation rules, indexed by trigger

    def node_permissions(self, stage: str | None) -> Mapping[str, Any]:
        """The permissions of a stage; a closed ticket (no stage) is read-only unless its end says more."""
        if stage is None or stage not in self.flow.nodes:
            return {"*": READONLY}
        return self.flow.nodes[stage].get("permissions") or {}

    def access(self, stage: str | None, roles: Iterable[str] = ()) -> FieldAccess:
        """Which fields a person with ``roles`` may edit, only read, or not see at ``stage``."""
        fields = self.definition.form.fields
        return access_at(
            [f.key for f in fields],
            [f.key for f in fields if f.get("readonly")],
            self.node_permissions(stage),
            roles,
            stage,
        )


@dataclass(frozen=True)
class AppSpec:
    app: AppDef
    types: Mapping[str, TypeSpec]

    @property
    def key(self) -> str:
        return self.app.key


def compile_app(app: AppDef) -> AppSpec:
    ctx = {"option_sets": app.option_sets, "settings": app.settings}
    types = {
        key: TypeSpec(
            key=key,
            definition=tt,
            form=FormSpec(key, compile_fields(tt.form.fields, ctx)),
            flow=compile_flow(tt.flow),
            number=NumberFormat(tt.number),
            autonumbers=tuple(
                (f.key, NumberFormat(f.get("format") or "{seq:6}"))
                for f in tt.form.fields
                if f.type == "autonumber"
            ),
            unique_keys=tuple(f.key for f in tt.form.fields if f.get("unique")),
            rules=compile_rules(tt.rules),
        )
        for key, tt in app.ticket_types.items()
    }
    return AppSpec(app=app, types=MappingProxyType(types))
