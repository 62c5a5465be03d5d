"""What the ticket page shows one viewer: the ticket, who holds it now and what the viewer may do.

:func:`ticket_view` gathers, in a constant number of queries, everything a person's view of one
ticket needs besides the form itself: the open tasks with the actions each offers this viewer
(claim, the edges' actions, return, transfer, add a signer), the SLA clocks still running, the
watchers, the records linked to it (parent and child processes, records its rules created) and
the names of everyone mentioned anywhere on the page, and the timeline as this viewer reads it
(:mod:`engine.timeline`: a customer's story, or every event for staff). A ticket the viewer may not see is a
:class:`~engine.errors.NotFoundError`, exactly like a ticket that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, or_, select

from engine.access import Principal, can_see, pool_keys, scope_clause
from engine.errors import NotFoundError
from engine.flows import stepping
from engine.flows.ticket_actions import action_label
from engine.forms.permissions import EDITABLE, HIDDEN, READONLY, FieldAccess
from engine.i18n import text_of
from engine.specs import AppSpec, TypeSpec
from engine.store.models import App, Department, FlowInstance, Record, SlaClock, Task, User, Watcher
from engine.timeline import Entry, Folded, is_requester, timeline

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Runtime, Ticket

R, A, T, FI, SC, U, D, W = (
    m.__table__ for m in (Record, App, Task, FlowInstance, SlaClock, User, Department, Watcher)
)
LIVE = ("open", "waiting")
#: Actions with a name of their own in the catalogue; an edge's action is named by its edge.
GENERIC_ACTIONS = ("complete", "approve", "reject", "done")


def shown_actions(flow: Any, node_id: str) -> list[str]:
    """The buttons of a task: its flow actions, without the generic complete/approve when every way
    out of the node has a name of its own (the engine still accepts it; a second button would only
    repeat the named one)."""
    keys = stepping.available_actions(flow, node_id)
    if all(e.action for e in flow.outgoing[node_id]):
        keys = [k for k in keys if k not in ("complete", "approve")] or keys
    return keys


@dataclass(frozen=True)
class Choice:
    """One thing to choose (an action, a node to return to): its key and its label."""

    key: str
    label: Any  # an i18n text ({zh, en}) or a message code's key


@dataclass(frozen=True)
class TaskView:
    id: int
    node_id: str
    node_name: Any
    kind: str
    status: str
    assignee_id: int | None
    delegated_from: int | None
    pool: Mapping[str, Any]
    due_at: dt.datetime | None
    title: Any = None  # a todo's title
    holds: bool = False  # the viewer may act on it now
    may_claim: bool = False
    actions: tuple[Choice, ...] = ()
    returns: tuple[Choice, ...] = ()
    add_signer: bool = False
    release: bool = False


@dataclass(frozen=True)
class Link:
    id: int
    number: str
    app: str
    ticket_type: str
    type_name: Any
    status: str
    relation: str  # parent | child | created


@dataclass(frozen=True)
class Clock:
    node_id: str
    node_name: Any
    target: str  # response | resolution
    status: str  # running | paused
    due_at: dt.datetime | None
    state: str  # on_track | warning | breached | paused


@dataclass
class TicketView:
    ticket: Ticket  # without the fields hidden from the viewer
    spec: AppSpec
    tspec: TypeSpec
    submitter: int | None
    tokens: list[str]
    visited: list[str]
    tasks: list[TaskView]
    clocks: list[Clock]
    watchers: list[int]
    links: list[Link]
    access: FieldAccess  # the viewer's field levels on the form as shown now
    editing: TaskView | None  # the task whose fields the viewer fills in, if any
    events: list[dict[str, Any]] = field(default_factory=list)
    #: the events this viewer's timeline shows, credited (engine.timeline)
    timeline: list[Entry | Folded] = field(default_factory=list)
    users: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (username, display name)
    departments: dict[int, str] = field(default_factory=dict)

    @property
    def stage_name(self) -> Any:
        node = self.tspec.flow.nodes.get(self.ticket.stage or "")
        return node.name if node is not None else None


def ticket_view(runtime: Runtime, principal: Principal, record_id: int) -> TicketView:
    """The viewer's view of ticket ``record_id`` (404 when they may not see it)."""
    with runtime.db.read() as conn:
        if not can_see(conn, principal, record_id):
            raise NotFoundError(what="ticket", ident=record_id)
    ticket = runtime.ticket(record_id, viewer=principal.user_id)
    events = runtime.events(record_id, viewer=principal.user_id)
    with runtime.db.read() as conn:
        row = conn.execute(
            select(R.c.app_id, R.c.app_version, R.c.created_by).where(R.c.id == record_id)
        ).one()
        spec = runtime.spec_for(conn, row.app_id, row.app_version)
        tspec = spec.types[ticket.ticket_type]
        instance = conn.execute(
            select(FI.c.id, FI.c.tokens, FI.c.parent_instance_id).where(FI.c.record_id == record_id)
        ).first()
        tasks = _tasks(conn, principal, spec, tspec, record_id)
        clocks = _clocks(conn, tspec, record_id)
        followers = list(
            conn.execute(
                select(W.c.user_id).where(W.c.record_id == record_id).order_by(W.c.added_at, W.c.user_id)
            ).scalars()
        )
        links = _links(conn, principal, runtime, record_id, instance, events)
        roles = principal.roles_in(spec.key)
        editing = next((t for t in tasks if t.holds and t.status == "open" and t.kind != "todo"), None)
        access = _access(tspec, ticket.stage, roles, editing)
        view = TicketView(
            ticket=ticket,
            spec=spec,
            tspec=tspec,
            submitter=row.created_by,
            tokens=list(instance.tokens or []) if instance is not None else [],
            visited=_visited(events),
            tasks=tasks,
            clocks=clocks,
            watchers=followers,
            links=links,
            access=access,
            editing=editing,
            events=events,
            timeline=timeline(events, requester=is_requester(principal, spec.key)),
        )
        view.users = user_names(conn, _people(view))
        view.departments = _departments(conn, tasks)
    return view


def ticket_type_spec(runtime: Runtime, record_id: int) -> TypeSpec:
    """The compiled ticket type of the version ticket ``record_id`` runs on (visibility is the caller's)."""
    with runtime.db.read() as conn:
        row = conn.execute(
            select(R.c.app_id, R.c.app_version, R.c.ticket_type).where(R.c.id == record_id)
        ).first()
        if row is None:
            raise NotFoundError(what="ticket", ident=record_id)
        return runtime.spec_for(conn, row.app_id, row.app_version).types[row.ticket_type]


def _visited(events: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(e["payload"].get("node") for e in events if e["type"] == "stage_entered"))


def user_names(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(username, display name) of each user id (one query)."""
    wanted = sorted({int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)})
    if not wanted:
        return {}
    rows = conn.execute(select(U.c.id, U.c.username, U.c.display_name).where(U.c.id.in_(wanted)))
    return {r.id: (r.username, r.display_name) for r in rows}


def _tasks(
    conn: Connection, principal: Principal, spec: AppSpec, tspec: TypeSpec, record_id: int
) -> list[TaskView]:
    rows = conn.execute(
        select(T).where(T.c.record_id == record_id, T.c.status.in_(LIVE)).order_by(T.c.id)
    ).all()
    me, admin = principal.user_id, principal.is_admin
    keys = set(pool_keys(principal, spec.key))
    flow = tspec.flow
    out = []
    for r in rows:
        pool = r.candidates or {}
        node = flow.nodes.get(r.node_id)
        holder = me in (r.assignee_id, r.delegated_from)
        claimable = r.assignee_id is None and (
            admin or (r.pool_key in keys) or (isinstance(pool.get("users"), list) and me in pool["users"])
        )
        holds = r.status == "open" and (holder or (admin and r.assignee_id is not None))
        actions: tuple[Choice, ...] = ()
        returns: tuple[Choice, ...] = ()
        if holds:
            if r.kind == "todo":
                keys_ = ["done"]
            elif node is not None:
                keys_ = shown_actions(flow, r.node_id)
            else:
                keys_ = []
            actions = tuple(Choice(a, action_label(spec, tspec, r.node_id, a)) for a in keys_)
            returns = tuple(
                Choice(n, flow.nodes[n].name) for n in flow.returns.get(r.node_id, ()) if n in flow.nodes
            )
        out.append(
            TaskView(
                id=r.id,
                node_id=r.node_id,
                node_name=node.name if node is not None else r.node_id,
                kind=r.kind,
                status=r.status,
                assignee_id=r.assignee_id,
                delegated_from=r.delegated_from,
                pool={k: v for k, v in pool.items() if k != "title"},
                due_at=r.due_at,
                title=pool.get("title"),
                holds=holds,
                may_claim=claimable and r.status == "open",
                actions=actions,
                returns=returns,
                add_signer=holds and node is not None and node.type == "approval",
                release=holds and bool(r.pool_key) and r.assignee_id is not None,
            )
        )
    return out


def _access(
    tspec: TypeSpec, stage: str | None, roles: Iterable[str], editing: TaskView | None
) -> FieldAccess:
    """The form as this viewer gets it: hidden as at the ticket's stage; editable only where the task
    they hold allows it; everything else read-only."""
    shown = tspec.access(stage, roles)
    work = tspec.access(editing.node_id, roles) if editing is not None else None
    levels: dict[str, str] = {}
    for f in tspec.definition.form.fields:
        if shown.level(f.key) == HIDDEN:
            levels[f.key] = HIDDEN
        elif work is None or work.level(f.key) != EDITABLE:
            levels[f.key] = READONLY
    return FieldAccess(levels, stage)


def _clocks(conn: Connection, tspec: TypeSpec, record_id: int) -> list[Clock]:
    rows = conn.execute(
        select(SC.c.node_id, SC.c.target, SC.c.status, SC.c.due_at, SC.c.breached, SC.c.levels)
        .where(SC.c.record_id == record_id, SC.c.status.in_(("running", "paused")))
        .order_by(SC.c.id)
    ).all()
    out = []
    for r in rows:
        levels = [int(x) for x in (r.levels or []) if isinstance(x, int | float)]
        if r.breached:
            state = "breached"
        elif r.status == "paused":
            state = "paused"
        elif levels:
            state = "warning"
        else:
            state = "on_track"
        node = tspec.flow.nodes.get(r.node_id)
        out.append(Clock(r.node_id, node.name if node else r.node_id, r.target, r.status, r.due_at, state))
    return out


def _links(
    conn: Connection,
    principal: Principal,
    runtime: Runtime,
    record_id: int,
    instance: Any,
    events: list[dict[str, Any]],
) -> list[Link]:
    """Parent and child processes and the records this ticket's rules created — those the viewer
    may see (one query for the candidates, one for their scopes)."""
    wanted: dict[int, str] = {}
    if instance is not None:
        if instance.parent_instance_id is not None:
            parent = conn.execute(
                select(FI.c.record_id).where(FI.c.id == instance.parent_instance_id)
            ).scalar()
            if parent is not None:
                wanted[parent] = "parent"
        children = select(FI.c.record_id).where(FI.c.parent_instance_id == instance.id)
        for child in conn.execute(children).scalars():
            wanted.setdefault(child, "child")
    for e in events:
        if e["type"] == "record_created" and isinstance(e["payload"].get("id"), int):
            wanted.setdefault(e["payload"]["id"], "created")
    wanted.pop(record_id, None)
    if not wanted:
        return []
    rows = conn.execute(
        select(R.c.id, R.c.number, R.c.ticket_type, R.c.status, R.c.app_id, R.c.app_version, A.c.key)
        .select_from(R.join(A, A.c.id == R.c.app_id))
        .where(R.c.id.in_(list(wanted)))
    ).all()
    apps = {r.key for r in rows}
    dialect = conn.dialect.name
    visible = set(
        conn.execute(
            select(R.c.id)
            .select_from(R.join(A, A.c.id == R.c.app_id))
            .where(
                R.c.id.in_([r.id for r in rows]),
                or_(*(and_(A.c.key == app, scope_clause(principal, app, R, dialect)) for app in apps)),
            )
        ).scalars()
    )
    out = []
    for r in sorted(rows, key=lambda r: r.id):
        if r.id not in visible:
            continue
        spec = runtime.spec_for(conn, r.app_id, r.app_version)
        tspec = spec.types.get(r.ticket_type)
        name = tspec.definition.name if tspec is not None else r.ticket_type
        out.append(Link(r.id, r.number, r.key, r.ticket_type, name, r.status, wanted[r.id]))
    return out


def _people(view: TicketView) -> set[int]:
    """Every user id the page names: submitter, task holders, watchers, actors, user fields."""
    ids: set[Any] = {view.submitter, *view.watchers}
    for t in view.tasks:
        ids.update((t.assignee_id, t.delegated_from))
        ids.update(t.pool.get("users") or ())
    for e in view.events:
        ids.add(e["actor_id"])
        p = e["payload"]
        for key in ("assignee", "from", "to", "signer", "by", "user", "on_behalf_of"):
            ids.add(p.get(key))
        ids.update(p.get("users") or ())
        ids.update(p.get("mentions") or ())
        if e["type"] == "field_changed":
            ids.update(_as_list(p.get("old")) + _as_list(p.get("new")))
    for f in view.tspec.definition.form.fields:
        if f.type == "user":
            ids.update(_as_list(view.ticket.data.get(f.key)))
    return {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _departments(conn: Connection, tasks: list[TaskView]) -> dict[int, str]:
    ids = {t.pool.get("department") for t in tasks}
    wanted = [i for i in ids if isinstance(i, int)]
    if not wanted:
        return {}
    return {r.id: r.name for r in conn.execute(select(D.c.id, D.c.name).where(D.c.id.in_(wanted)))}


def pool_label(pool: Mapping[str, Any], spec: AppSpec, departments: Mapping[int, str], lang: str) -> str:
    """A task's pool as people call it: the role's name, the department's name, or "N people"."""
    if isinstance(pool.get("role"), str):
        return text_of(spec.app.roles.get(pool["role"]), lang) or pool["role"]
    if pool.get("department") is not None:
        return departments.get(pool["department"], str(pool["department"]))
    return ""


__all__ = [
    "Choice",
    "Clock",
    "Link",
    "TaskView",
    "TicketView",
    "action_label",
    "pool_label",
    "ticket_type_spec",
    "ticket_view",
]
