"""The ticket list: filters, full-text search, sort and keyset pages — one SQL statement per page.

:func:`list_tickets` answers "which tickets may this person see, matching these filters", for the
API's ``GET /tickets``, the portal's "my tickets" and any other list of tickets. It costs one
lookup of the apps (and, with a search, their published versions) and ONE statement for the page,
whatever the page size; field visibility is then applied per row from the compiled specs, which
are cached per (app, version), so no row costs a query.

- Record scope: each app's :func:`engine.access.scope_clause`, OR-ed over the apps the list spans
  (a list across apps shows, per app, what the person may see in that app).
- Search (``q``): the ticket number and the text fields of each ticket type (text, textarea, rich
  text, email, phone, url, auto-number), case-insensitively, as plain data (LIKE wildcards in ``q``
  are escaped). A field hidden from the person at a ticket's stage is not searched in that ticket,
  so a search cannot reveal what the ticket page hides.
- Pages: keyset on (sort column, id); :attr:`TicketPage.after` is the position to pass back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, and_, exists, false, literal, or_, select, true

from engine.access import Principal, scope_clause
from engine.forms.permissions import HIDDEN
from engine.specs import AppSpec, TypeSpec
from engine.store.models import App, AppVersion, Record, Task, Watcher

R, A, AV, T, W = (m.__table__ for m in (Record, App, AppVersion, Task, Watcher))

#: Field types whose values are searched by ``q``.
TEXT_TYPES = frozenset({"text", "textarea", "richtext", "email", "phone", "url", "autonumber"})
SORTS = {"created_at": R.c.created_at, "updated_at": R.c.updated_at, "number": R.c.number}
MINE = ("submitted", "assigned", "watching")
COLUMNS = (
    "id", "number", "app_id", "ticket_type", "app_version", "stage", "status", "data", "row_version",
    "created_by", "created_at", "updated_at", "closed_at",
)  # fmt: skip
MAX_LIMIT = 200
MAX_Q = 200
#: Tasks a person "holds": open, or waiting for someone else's decision first.
LIVE = ("open", "waiting")


class SpecSource(Protocol):
    """Where compiled specs come from (the Runtime: compiled once, cached per app version)."""

    def spec_for(self, conn: Connection, app_id: int, version: int) -> AppSpec: ...


@dataclass(frozen=True)
class TicketQuery:
    """What to list. ``after`` is the keyset position of the last row of the previous page."""

    app: str | None = None
    ticket_type: str | None = None
    status: str | None = None
    stage: str | None = None
    mine: str | None = None  # submitted | assigned | watching
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    q: str | None = None
    sort: str = "created_at"  # created_at | updated_at | number
    descending: bool = True
    limit: int = 50
    after: tuple[Any, int] | None = None


@dataclass(frozen=True)
class TicketRow:
    """One ticket of a list, with only the fields the viewer may see."""

    id: int
    number: str
    app: str
    ticket_type: str
    app_version: int
    stage: str | None
    status: str
    data: dict[str, Any]
    row_version: int
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class TicketPage:
    items: list[TicketRow]
    #: (sort value, id) of the last row when there may be more, else None
    after: tuple[Any, int] | None


def list_tickets(conn: Connection, specs: SpecSource, principal: Principal, query: TicketQuery) -> TicketPage:
    """A page of the tickets ``principal`` may see that match ``query`` (see the module text)."""
    if query.sort not in SORTS:
        raise ValueError(f"unknown sort {query.sort!r}")
    limit = max(1, min(query.limit, MAX_LIMIT))
    apps = _apps(conn, query.app, with_versions=bool(query.q))
    if not apps:
        return TicketPage([], None)
    dialect = conn.dialect.name
    where: list[ColumnElement[bool]] = [_visible(principal, apps, dialect)]
    where += _filters(principal, query)
    if query.q:
        where.append(_search(conn, specs, principal, apps, query.q.strip()[:MAX_Q], query.ticket_type))
    column = SORTS[query.sort]
    if query.after is not None:
        value, last_id = query.after
        beyond = (
            (column < value, R.c.id < last_id) if query.descending else (column > value, R.c.id > last_id)
        )
        where.append(or_(beyond[0], and_(column == value, beyond[1])))
    order = (column.desc(), R.c.id.desc()) if query.descending else (column.asc(), R.c.id.asc())
    keys = {app_id: key for app_id, key, _versions in apps}
    rows = conn.execute(
        select(*(R.c[name] for name in COLUMNS)).where(*where).order_by(*order).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_row(conn, specs, principal, keys[r.app_id], r) for r in rows]
    after = None
    if more and rows:
        last = rows[-1]
        after = (getattr(last, query.sort), last.id)
    return TicketPage(items, after)


def visible_data(
    tspec: TypeSpec, principal: Principal, app_key: str, stage: str | None, data: Mapping
) -> dict:
    """``data`` without the fields hidden from ``principal`` at ``stage`` (no query: roles are known)."""
    return tspec.access(stage, principal.roles_in(app_key)).filter(data)


# ----------------------------------------------------------------------------- pieces of the statement
def _apps(conn: Connection, app: str | None, with_versions: bool) -> list[tuple[int, str, tuple[int, ...]]]:
    """(app id, key, published versions) of the apps the list spans — one lookup."""
    if with_versions:
        q = select(A.c.id, A.c.key, AV.c.version).join(AV, AV.c.app_id == A.c.id)
    else:
        q = select(A.c.id, A.c.key, A.c.current_version)
    if app is not None:
        q = q.where(A.c.key == app)
    found: dict[int, tuple[str, list[int]]] = {}
    for app_id, key, version in conn.execute(q):
        found.setdefault(app_id, (key, []))[1].append(version)
    return [(app_id, key, tuple(sorted(vs))) for app_id, (key, vs) in sorted(found.items())]


def _visible(
    principal: Principal, apps: Sequence[tuple[int, str, tuple[int, ...]]], dialect: str
) -> ColumnElement[bool]:
    """The record scope of every app of the list, OR-ed (apps where the person sees all: one IN)."""
    everything = [app_id for app_id, key, _ in apps if principal.scope_in(key) == "all"]
    parts: list[ColumnElement[bool]] = [R.c.app_id.in_(everything)] if everything else []
    parts += [
        and_(R.c.app_id == app_id, scope_clause(principal, key, R, dialect))
        for app_id, key, _ in apps
        if app_id not in everything
    ]
    return or_(*parts) if parts else false()


def _filters(principal: Principal, query: TicketQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if query.ticket_type is not None:
        out.append(R.c.ticket_type == query.ticket_type)
    if query.status is not None:
        out.append(R.c.status == query.status)
    if query.stage is not None:
        out.append(R.c.stage == query.stage)
    if query.created_from is not None:
        out.append(R.c.created_at >= query.created_from)
    if query.created_to is not None:
        out.append(R.c.created_at < query.created_to)
    uid = principal.user_id
    if query.mine == "submitted":
        out.append(R.c.created_by == uid)
    elif query.mine == "assigned":
        held = or_(T.c.assignee_id == uid, T.c.delegated_from == uid)
        out.append(exists(select(literal(1)).where(T.c.record_id == R.c.id, T.c.status.in_(LIVE), held)))
    elif query.mine == "watching":
        out.append(exists(select(literal(1)).where(W.c.record_id == R.c.id, W.c.user_id == uid)))
    elif query.mine is not None:
        raise ValueError(f"unknown mine {query.mine!r}")
    return out


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own characters in ``text`` taken literally (escape character ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(
    conn: Connection,
    specs: SpecSource,
    principal: Principal,
    apps: Sequence[tuple[int, str, tuple[int, ...]]],
    text: str,
    only_type: str | None,
) -> ColumnElement[bool]:
    """Number or a visible text field contains ``text``: one condition per group of (app, ticket
    type, versions) whose searchable fields and hidden stages are the same."""
    if not text:
        return true()
    pattern = like_pattern(text)
    number = R.c.number.ilike(pattern, escape="\\")
    groups: dict[tuple[int, str, tuple], list[int]] = {}
    for app_id, key, versions in apps:
        roles = principal.roles_in(key)
        for version in versions:
            spec = specs.spec_for(conn, app_id, version)
            for type_key, tspec in spec.types.items():
                if only_type is None or type_key == only_type:
                    groups.setdefault((app_id, type_key, _searchable(tspec, roles)), []).append(version)
    fields_match = []
    for (app_id, type_key, searchable), versions in groups.items():
        terms = [_field_term(field, hidden_at, pattern) for field, hidden_at in searchable]
        if terms:
            fields_match.append(
                and_(
                    R.c.app_id == app_id,
                    R.c.ticket_type == type_key,
                    R.c.app_version.in_(versions),
                    or_(*terms),
                )
            )
    return or_(number, *fields_match)


def _searchable(tspec: TypeSpec, roles: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each text field of the type with the stages where it is hidden from a person with ``roles``."""
    keys = [f.key for f in tspec.definition.form.fields if f.type in TEXT_TYPES]
    if not keys:
        return ()
    hidden: dict[str, list[str]] = {k: [] for k in keys}
    for stage in tspec.flow.nodes:
        levels = tspec.access(stage, roles).levels
        for k in keys:
            if levels.get(k) == HIDDEN:
                hidden[k].append(stage)
    return tuple((k, tuple(sorted(hidden[k]))) for k in keys)


def _field_term(field: str, hidden_at: tuple[str, ...], pattern: str) -> ColumnElement[bool]:
    match = R.c.data[field].as_string().ilike(pattern, escape="\\")
    if not hidden_at:
        return match
    # Closed tickets (no stage) hide nothing; elsewhere the field is searched where it is shown.
    return and_(match, or_(R.c.stage.is_(None), R.c.stage.not_in(hidden_at)))


def _row(conn: Connection, specs: SpecSource, principal: Principal, app_key: str, r: Any) -> TicketRow:
    tspec = specs.spec_for(conn, r.app_id, r.app_version).types.get(r.ticket_type)
    data = dict(r.data or {})
    data = visible_data(tspec, principal, app_key, r.stage, data) if tspec is not None else {}
    return TicketRow(
        r.id, r.number, app_key, r.ticket_type, r.app_version, r.stage, r.status, data, r.row_version,
        r.created_by, r.created_at, r.updated_at, r.closed_at,
    )  # fmt: skip


__all__ = [
    "MAX_LIMIT",
    "MINE",
    "SORTS",
    "TEXT_TYPES",
    "TicketPage",
    "TicketQuery",
    "TicketRow",
    "like_pattern",
    "list_tickets",
    "visible_data",
]
