"""Tickets as a signed-in person reads and changes them (the API and the pages share these).

Each function takes the :class:`engine.access.Principal` and answers as if the tickets the person
may not see did not exist (NotFoundError), so ids cannot be probed; hidden fields are left out of
every read. Commands go through the Runtime, one transaction each:

- :func:`submit` with an idempotency key: the key is kept with the ticket in ``inbound_messages``
  (channel ``api:<user id>``) in the creating transaction, so a retried request gets the first
  ticket instead of a second one, even when both arrive at once;
- :func:`update` for the people who may edit (admin, a holder of an open task, the submitter
  while the ticket is open), guarded by the row version the client saw;
- :func:`comment` with attachments (file ids of the person's uploads) and ``@username`` mentions;
- :func:`watch` / :func:`unwatch`.

Files put into a ticket are checked and linked by :mod:`engine.attachments` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

import engine.attachments as attachments
from engine.access import Principal, can_see, pool_keys
from engine.auth import ForbiddenError
from engine.errors import ActionError, FormError, NotFoundError, Problem
from engine.flows import sla
from engine.flows.stepping import available_actions
from engine.flows.ticket_actions import may_cancel, may_close
from engine.i18n import register
from engine.listing import TicketRow, visible_data
from engine.reports.asof import TicketAsOf, ticket_as_of
from engine.store.models import App, Event, InboundMessage, Record, Task, User, Watcher

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Runtime, Ticket

R, A, T, W, U, E, IM = (m.__table__ for m in (Record, App, Task, Watcher, User, Event, InboundMessage))
LIVE = ("open", "waiting")
TASK_COLUMNS = (
    "id", "node_id", "kind", "status", "assignee_id", "delegated_from", "pool_key", "candidates", "due_at",
)  # fmt: skip
MENTION = re.compile(r"(?<![\w@])@([\w.\-]{1,64})")
MAX_MENTIONS = 20
MAX_WATCHERS = 500
MAX_IDEMPOTENCY_KEY = 255

register(
    {
        "ticket.update_forbidden": {
            "zh": "您不能修改工单 {number}:只有管理员、当前处理人,或在工单未关闭时的提交人可以修改。",
            "en": "You cannot change ticket {number}: only an admin, a person holding one of its open tasks, "
            "or its submitter while it is open may.",
        },
        "ticket.watch_others_forbidden": {
            "zh": "只有该应用的处理人员可以替他人关注工单;您只能关注或取消关注自己。",
            "en": "Only the app's staff may add or remove other people as watchers; you can watch or unwatch "
            "yourself.",
        },
        "ticket.unknown_user": {
            "zh": "用户 {id} 不存在或已停用。",
            "en": "User {id} does not exist or is inactive.",
        },
    }
)


# ----------------------------------------------------------------------------- reads
@dataclass(frozen=True)
class TicketView:
    """A ticket as one person sees it: visible fields, open tasks, what they may do now."""

    ticket: TicketRow
    tasks: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    watching: bool


def _visible_record(conn: Connection, principal: Principal, record_id: int) -> Any:
    """The record row with its app key; NotFoundError unless ``principal`` may see it."""
    if not can_see(conn, principal, record_id):
        raise NotFoundError(what="ticket", ident=record_id)
    return conn.execute(
        select(R, A.c.key.label("app_key")).join(A, A.c.id == R.c.app_id).where(R.c.id == record_id)
    ).one()


def _row(runtime: Runtime, conn: Connection, principal: Principal, rec: Any) -> TicketRow:
    tspec = runtime.spec_for(conn, rec.app_id, rec.app_version).types[rec.ticket_type]
    return TicketRow(
        rec.id, rec.number, rec.app_key, rec.ticket_type, rec.app_version, rec.stage, rec.status,
        visible_data(tspec, principal, rec.app_key, rec.stage, rec.data or {}), rec.row_version,
        rec.created_by, rec.created_at, rec.updated_at, rec.closed_at,
    )  # fmt: skip


def ticket_row(runtime: Runtime, principal: Principal, record_id: int) -> TicketRow:
    """The ticket with the fields ``principal`` may see; NotFoundError if they may not see it."""
    with runtime.db.read() as conn:
        return _row(runtime, conn, principal, _visible_record(conn, principal, record_id))


def ticket_view(runtime: Runtime, principal: Principal, record_id: int) -> TicketView:
    """The ticket, its open tasks and the actions ``principal`` may take now."""
    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        row = _row(runtime, conn, principal, rec)
        tasks = conn.execute(
            select(*(T.c[name] for name in TASK_COLUMNS))
            .where(T.c.record_id == record_id, T.c.status.in_(LIVE))
            .order_by(T.c.id)
        ).all()
        watching = (
            conn.execute(
                select(W.c.user_id).where(W.c.record_id == record_id, W.c.user_id == principal.user_id)
            ).first()
            is not None
        )
        flow = runtime.spec_for(conn, rec.app_id, rec.app_version).types[rec.ticket_type].flow
    shown = [
        {
            "id": t.id,
            "node": t.node_id,
            "kind": t.kind,
            "status": t.status,
            "assignee": t.assignee_id,
            "pool": t.pool_key,
            "due_at": t.due_at,
        }
        for t in tasks
    ]
    return TicketView(row, shown, _actions(principal, rec, flow, tasks, watching), watching)


def _actions(
    principal: Principal, rec: Any, flow: Any, tasks: list[Any], watching: bool
) -> list[dict[str, Any]]:
    uid, admin = principal.user_id, principal.is_admin
    out: list[dict[str, Any]] = []
    keys = set(pool_keys(principal, rec.app_key))
    holds_any = False
    for t in tasks:
        if t.status != "open":
            continue
        holder = uid in (t.assignee_id, t.delegated_from)
        holds_any = holds_any or holder
        if t.assignee_id is None and (
            t.pool_key in keys or (t.pool_key == "users" and uid in ((t.candidates or {}).get("users") or ()))
        ):
            out.append({"action": "claim", "task_id": t.id})
        if not (holder or admin):
            continue
        node = flow.nodes.get(t.node_id)
        if node is None:  # a todo beside the flow
            names = ["complete"]
        else:
            names = available_actions(flow, t.node_id)
            names += ["return"] if flow.returns.get(t.node_id) else []
            names += ["transfer", "delegate"] + (["add_signer"] if node.type == "approval" else [])
        out += [{"action": name, "task_id": t.id} for name in names]
    is_open = rec.status == "open"
    ticket_level = ["comment", "unwatch" if watching else "watch"]
    if admin or holds_any or (is_open and rec.created_by == uid):
        ticket_level.append("update")
    if is_open and may_cancel(flow, tasks, uid, rec.created_by, admin):
        ticket_level.append("cancel")
    if is_open and may_close(flow, tasks, uid, rec.created_by, admin):
        ticket_level.append("close")
    if rec.status == "closed" and (admin or rec.created_by == uid):
        ticket_level.append("reopen")
    return out + [{"action": name, "task_id": None} for name in ticket_level]


def may_update(conn: Connection, principal: Principal, rec: Any) -> bool:
    """Admin, a holder of an open task on the ticket, or its submitter while it is open."""
    if principal.is_admin or (rec.status == "open" and rec.created_by == principal.user_id):
        return True
    uid = principal.user_id
    held = conn.execute(
        select(T.c.id)
        .where(
            T.c.record_id == rec.id,
            T.c.status == "open",
            or_(T.c.assignee_id == uid, T.c.delegated_from == uid),
        )
        .limit(1)
    ).first()
    return held is not None


def events_page(
    runtime: Runtime, principal: Principal, record_id: int, after_seq: int = 0, limit: int = 100
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the ticket's history (oldest first) without what is hidden from ``principal``;
    with the ``seq`` to continue after, or None at the end. A requester (the customer) reads their
    ticket's story as the ticket page tells it (engine.timeline), not the machinery, so a page may
    hold fewer than ``limit`` events and still have a next one."""
    from engine.runtime import _without
    from engine.timeline import is_requester, shown_to_requester

    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        tspec = runtime.spec_for(conn, rec.app_id, rec.app_version).types[rec.ticket_type]
        hidden = tspec.access(rec.stage, principal.roles_in(rec.app_key)).hidden()
        rows = conn.execute(
            select(E.c.seq, E.c.type, E.c.actor_id, E.c.at, E.c.payload)
            .where(E.c.record_id == record_id, E.c.seq > after_seq)
            .order_by(E.c.seq)
            .limit(limit + 1)
        ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    events = [dict(r._mapping) for r in rows]
    if is_requester(principal, rec.app_key):
        events = [e for e in events if shown_to_requester(e)]
    if hidden:
        events = [e for e in (_without(event, hidden) for event in events) if e is not None]
    return events, (rows[-1].seq if more else None)


def as_of(runtime: Runtime, principal: Principal, record_id: int, moment: dt.datetime) -> TicketAsOf:
    """The ticket as it stood at ``moment``, without the fields hidden from ``principal`` then or now."""
    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        state = ticket_as_of(conn, record_id, moment)
        tspec = runtime.spec_for(conn, rec.app_id, rec.app_version).types[rec.ticket_type]
    roles = principal.roles_in(rec.app_key)
    hidden = tspec.access(rec.stage, roles).hidden() | tspec.access(state.stage, roles).hidden()
    state.data = {k: v for k, v in state.data.items() if k not in hidden}
    return state


# ----------------------------------------------------------------------------- commands
def idempotency_channel(principal: Principal) -> str:
    return f"api:{principal.user_id}"


def submit(
    runtime: Runtime,
    principal: Principal,
    app_key: str,
    ticket_type: str,
    data: Any,
    idempotency_key: str | None = None,
) -> tuple[int, Ticket | None]:
    """Create a ticket as ``principal``: (its id, the Ticket) — or (the first ticket's id, None) when
    ``idempotency_key`` was already used by this person."""
    if idempotency_key is None:
        ticket = runtime.submit(app_key, ticket_type, data, actor=principal.user_id)
        return ticket.id, ticket
    from engine.runtime import _ticket_type

    channel = idempotency_channel(principal)
    with runtime.db.read() as conn:
        known = _keyed(conn, channel, idempotency_key)
    if known is not None:  # a retry: the first answer stands, even if the form changed since
        return known, None
    now = runtime.clock()
    checked = runtime.check_input(app_key, ticket_type, data, principal.user_id, now)
    # Like engine.rules.inbound.receive, this shares the Runtime's transaction through its internals
    # until submit offers a hook (extra rows written before commit).
    try:
        with runtime.db.write() as conn:
            known = _keyed(conn, channel, idempotency_key)
            if known is not None:
                return known, None
            app_id, version = runtime._app_row(conn, app_key)
            spec = runtime.spec_for(conn, app_id, version)
            ticket, outbox = runtime._create_ticket(
                conn,
                app_id,
                version,
                spec,
                _ticket_type(spec, ticket_type),
                data,
                principal.user_id,
                now,
                checked=checked.for_version(version),
            )
            conn.execute(
                insert(IM).values(
                    channel=channel, message_id=idempotency_key, record_id=ticket.id, received_at=now
                )
            )
    except IntegrityError:  # the same request, sent twice at once: the other one committed first
        with runtime.db.read() as conn:
            known = _keyed(conn, channel, idempotency_key)
        if known is None:
            raise
        return known, None
    runtime._after_commit(outbox)
    return ticket.id, ticket


def _keyed(conn: Connection, channel: str, key: str) -> int | None:
    return conn.execute(
        select(IM.c.record_id).where(IM.c.channel == channel, IM.c.message_id == key)
    ).scalar()


def update(
    runtime: Runtime, principal: Principal, record_id: int, data: Any, expected_version: int | None
) -> Ticket:
    """Change fields as ``principal`` (field permissions are the engine's); ConflictError when the
    ticket's row version is no longer ``expected_version``."""
    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        if not may_update(conn, principal, rec):
            raise ForbiddenError("ticket.update_forbidden", number=rec.number)
    return runtime.update(record_id, data, actor=principal.user_id, expected_version=expected_version)


def mentioned(conn: Connection, body: str) -> list[int]:
    """The active users named as ``@username`` in ``body``, in order of first mention."""
    names = list(dict.fromkeys(m.rstrip(".-") for m in MENTION.findall(body)))[:MAX_MENTIONS]
    if not names:
        return []
    found = dict(
        conn.execute(select(U.c.username, U.c.id).where(U.c.username.in_(names), U.c.is_active)).all()
    )
    return [found[n] for n in names if n in found]


def may_add_others(principal: Principal, app_key: str) -> bool:
    """Staff of the app (any role in it) and admins may add or remove other people as watchers."""
    return principal.is_admin or bool(principal.roles_in(app_key))


def comment(
    runtime: Runtime,
    principal: Principal,
    record_id: int,
    body: str,
    files: list[str] | None = None,
    internal: bool = False,
) -> tuple[Ticket, dict[str, Any]]:
    """Add a comment with attachments (ids of the person's uploads) and @mentions: the mentions are
    kept in the event; staff mentioning people also adds them as watchers. An ``internal`` note is
    read by the app's staff only and written by them only (Runtime.comment). (The ticket, the
    event's payload.)"""
    from engine.runtime import check_internal_author

    body = (body or "").strip()
    if not body:
        raise ActionError("comment.empty")
    actor = principal.user_id
    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        mentions = mentioned(conn, body)
        known = attachments.attachments_by_id(conn, list(dict.fromkeys(files or ())))
    problems = [
        Problem(f"attachments[{i}]", "attachment.not_yours", {"id": str(fid)[:64]})
        for i, fid in enumerate(files or ())
        if not attachments.usable(known.get(fid), actor, record_id)
    ]
    if problems:
        raise FormError(problems=problems, count=len(problems))
    refs = [known[fid].reference() for fid in dict.fromkeys(files or ())]
    add = [u for u in mentions if u != actor] if may_add_others(principal, rec.app_key) else []

    payload: dict[str, Any] = {"body": body}
    if internal:
        payload["internal"] = True
    if mentions:
        payload["mentions"] = mentions
    if refs:
        payload["attachments"] = refs

    def run(conn: Connection, work: Any, rec: Any) -> None:
        if internal:
            check_internal_author(conn, actor, work.ticket.app_key)
        work.events.append(("comment_added", payload))
        if rec.created_by != actor and not internal:  # a response (SLA), as in Runtime.comment
            for node_id in work.instance.tokens:
                sla.responded(work, node_id)
        _add_watchers(conn, work, rec.id, add)

    return runtime._on_record(record_id, actor, "comment", run, allow_finished=True), payload


def watchers(runtime: Runtime, principal: Principal, record_id: int) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        _visible_record(conn, principal, record_id)
        rows = conn.execute(
            select(U.c.id, U.c.username, U.c.display_name, W.c.added_at)
            .join(U, U.c.id == W.c.user_id)
            .where(W.c.record_id == record_id)
            .order_by(W.c.added_at, U.c.id)
            .limit(MAX_WATCHERS)
        ).all()
    return [dict(r._mapping) for r in rows]


def watch(runtime: Runtime, principal: Principal, record_id: int, user: int | None = None) -> bool:
    """Make ``user`` (default: the principal) a watcher; False if they already were."""
    return _change_watcher(runtime, principal, record_id, user, adding=True)


def unwatch(runtime: Runtime, principal: Principal, record_id: int, user: int | None = None) -> bool:
    """Stop ``user`` (default: the principal) watching; False if they were not."""
    return _change_watcher(runtime, principal, record_id, user, adding=False)


def _change_watcher(
    runtime: Runtime, principal: Principal, record_id: int, user: int | None, adding: bool
) -> bool:
    target = principal.user_id if user is None else user
    with runtime.db.read() as conn:
        rec = _visible_record(conn, principal, record_id)
        if target != principal.user_id:
            if not may_add_others(principal, rec.app_key):
                raise ForbiddenError("ticket.watch_others_forbidden")
            active = conn.execute(select(U.c.id).where(U.c.id == target, U.c.is_active)).first()
            if adding and active is None:
                problem = Problem("user_id", "ticket.unknown_user", {"id": target})
                raise FormError(problems=[problem], count=1)
    changed: list[bool] = []

    def run(conn: Connection, work: Any, rec: Any) -> None:
        if adding:
            changed.append(_add_watchers(conn, work, rec.id, [target]))
            return
        gone = conn.execute(delete(W).where(and_(W.c.record_id == rec.id, W.c.user_id == target)))
        if gone.rowcount:
            work.events.append(("watchers_removed", {"users": [target]}))
            changed.append(True)

    runtime._on_record(record_id, principal.user_id, "watch", run, allow_finished=True)
    return bool(changed and changed[0])


def _add_watchers(conn: Connection, work: Any, record_id: int, users: list[int]) -> bool:
    if not users:
        return False
    have = set(
        conn.execute(select(W.c.user_id).where(W.c.record_id == record_id, W.c.user_id.in_(users))).scalars()
    )
    new = [u for u in dict.fromkeys(users) if u not in have]
    if new:
        conn.execute(insert(W), [{"record_id": record_id, "user_id": u, "added_at": work.now} for u in new])
        work.events.append(("watchers_added", {"users": new}))
    return bool(new)


__all__ = [
    "TicketView",
    "as_of",
    "comment",
    "events_page",
    "idempotency_channel",
    "may_add_others",
    "may_update",
    "mentioned",
    "submit",
    "ticket_row",
    "ticket_view",
    "unwatch",
    "update",
    "watch",
    "watchers",
]
