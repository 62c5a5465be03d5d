"""What the portal lists: the ticket types one may submit, and my tickets with their titles and stages.

The portal's pages only render; the choices of what a ticket is called (its title field) and which
name a stage has in the version the ticket runs on live here, next to the specs they come from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.access import Principal, may_submit
from engine.listing import TicketQuery, list_tickets
from engine.specs import TypeSpec
from engine.store.models import App

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Runtime

#: Fields that name a ticket, in order of preference; else the first text field with a value.
TITLE_FIELDS = ("title", "summary", "subject", "name")
TITLE_TYPES = ("text", "email", "phone", "url", "autonumber", "textarea")


@dataclass(frozen=True)
class TicketType:
    app: str
    key: str
    name: Any  # i18n text
    description: Any


@dataclass(frozen=True)
class AppEntry:
    key: str
    name: Any
    description: Any
    types: tuple[TicketType, ...]


@dataclass(frozen=True)
class MyTicket:
    id: int
    number: str
    title: str
    type_name: Any
    stage_name: Any  # None once the ticket is closed
    status: str
    updated_at: dt.datetime


def catalog(runtime: Runtime, principal: Principal) -> list[AppEntry]:
    """The published apps and those of their ticket types ``principal`` may submit (a type's
    ``submitters``, the rule the Runtime's submit enforces); an app with none of them is left out."""
    out = []
    with runtime.db.read() as conn:
        rows = conn.execute(select(App.id, App.current_version).order_by(App.key)).all()
        for app_id, version in rows:
            spec = runtime.spec_for(conn, app_id, version)
            raw = spec.app.raw.get("ticket_types") or {}
            types = tuple(
                TicketType(spec.key, key, t.definition.name, (raw.get(key) or {}).get("description"))
                for key, t in spec.types.items()
                if may_submit(principal, spec.key, t.definition.submitters)
            )
            if types:
                out.append(AppEntry(spec.key, spec.app.name, spec.app.description, types))
    return out


def my_tickets(
    runtime: Runtime, principal: Principal, after: tuple[Any, int] | None, limit: int
) -> tuple[list[MyTicket], tuple[Any, int] | None]:
    """A page of the tickets ``principal`` submitted, the most recently changed first, and the
    position of the next page (None on the last)."""
    query = TicketQuery(mine="submitted", sort="updated_at", descending=True, limit=limit, after=after)
    with runtime.db.read() as conn:
        found = list_tickets(conn, runtime, principal, query)
        ids = dict(
            conn.execute(select(App.key, App.id).where(App.key.in_({i.app for i in found.items}))).all()
        )
        out = []
        for item in found.items:
            tspec = runtime.spec_for(conn, ids[item.app], item.app_version).types.get(item.ticket_type)
            out.append(
                MyTicket(
                    item.id,
                    item.number,
                    ticket_title(tspec, item.data),
                    tspec.definition.name if tspec is not None else item.ticket_type,
                    stage_name(tspec, item.stage),
                    item.status,
                    item.updated_at,
                )
            )
    return out, found.after


def ticket_title(tspec: TypeSpec | None, data: Mapping[str, Any]) -> str:
    """What a ticket is called: its title/summary/subject field, else its first filled text field."""
    if tspec is None:
        return ""
    fields = tspec.definition.form.fields
    keys = [k for k in TITLE_FIELDS if any(f.key == k for f in fields)]
    keys += [f.key for f in fields if f.type in TITLE_TYPES and f.key not in keys]
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def stage_name(tspec: TypeSpec | None, stage: str | None) -> Any:
    """The name of the node ``stage`` (an i18n text), None when there is no stage (closed)."""
    if tspec is None or stage is None:
        return None
    node = tspec.flow.nodes.get(stage)
    return node.name if node is not None else stage


__all__ = ["AppEntry", "MyTicket", "TicketType", "catalog", "my_tickets", "stage_name", "ticket_title"]
