"""Organisation sync: bring a source's departments and people into Gongdan, all or nothing.

One run (:func:`sync`) reads the whole organisation from a source (engine.identity adapters:
DingTalk, WeCom, Feishu, LDAP) first, then applies it in ONE transaction: departments
(``Department.source/external_id``, the tree and the heads), users (``User.source`` and a
``UserIdentity`` so they sign in with the same provider), their department and manager. Nothing
synced touches roles or the admin flag set in Gongdan.

People the source no longer lists (or lists as left/disabled) are deactivated — signed out
everywhere — and their open tasks are handed on to their manager, else their department's head
(up the tree), else an admin, through the flow engine's transfer so each hand-over is an event
on the ticket. Guard: a run that would deactivate more than ``GUARD_PERCENT`` of the source's
users stops as ``held`` with nothing changed, until an admin confirms (``--confirm``).

Every run leaves an ``OrgSyncRun`` row with its counts (or why it failed / was held).

A change event (engine.org_events) goes through the same steps with :func:`apply_changes`: its
snapshot lists only the people and departments it concerns (``complete`` False), so nobody absent
from it is deactivated, and the guard does not apply (an event names its leavers one by one).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

import engine.identity.messages  # noqa: F401  (the words)
from engine import auth
from engine.config import Settings, load_settings
from engine.errors import ActionError, GongdanError, NotFoundError
from engine.i18n import Message, t
from engine.identity import open_provider
from engine.identity.base import OrgSnapshot, Sleeper
from engine.identity.signin import link_options, unique_username
from engine.jobs.queue import tick_handler
from engine.store.db import Database
from engine.store.models import Department, OrgSyncRun, Task, User, UserIdentity
from engine.store.types import utcnow

log = logging.getLogger("gongdan.org_sync")
D, U, UI, R, T = (m.__table__ for m in (Department, User, UserIdentity, OrgSyncRun, Task))

#: A run that would deactivate more than this share of the source's active users is held.
GUARD_PERCENT = 20
#: How many leavers a held run lists for the admin to check.
LEAVERS_SHOWN = 50
#: A run still "running" after this long is taken as crashed (another may start).
STALE_RUN = dt.timedelta(hours=2)
#: ``user_identities.provider`` of the id a source's change events name a person by, when it is not
#: the subject (DingTalk's userid): never used to sign in.
EVENT_ID_SUFFIX = ":event-id"


def event_id_provider(source: str) -> str:
    return source + EVENT_ID_SUFFIX


class SyncHeld(GongdanError):
    """The run would deactivate too many people; an admin must confirm it."""

    code = "org.held"
    http_status = 409


@dataclass
class SyncResult:
    run_id: int | None
    status: str  # done | held | failed | dry_run
    counts: dict[str, int] = field(default_factory=dict)
    leavers: list[str] = field(default_factory=list)
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "counts": self.counts,
            "leavers": self.leavers,
            "message": self.message,
        }


# ---------------------------------------------------------------------------- running a sync
def sync(
    settings: Settings,
    db: Database,
    source: str,
    *,
    actor: int | None = None,
    confirm: bool = False,
    dry_run: bool = False,
    sleeper: Sleeper | None = None,
) -> SyncResult:
    """One full sync of ``source``. ``confirm`` lets a run deactivate more than the guard allows;
    ``dry_run`` computes the counts and changes nothing (no run is recorded)."""
    adapter = open_provider(settings, db, source, purpose="sync", sleeper=sleeper)
    run_id = None if dry_run else _start_run(db, source, actor)
    try:
        snapshot = adapter.sync(_last_cursor(db, source))
        try:
            with db.write() as conn:
                result = _apply(settings, conn, source, snapshot, actor, confirm, dry_run, run_id)
                _end_run(conn, run_id, result, snapshot.cursor)
        except _Undone as undone:  # held, or a dry run: the transaction rolled back
            result = undone.result
            if result.status == "held":
                with db.write() as conn:
                    _end_run(conn, run_id, result, None)
    except GongdanError as exc:
        if run_id is not None:
            with db.write() as conn:
                _end_run(conn, run_id, SyncResult(run_id, "failed", message=_stored_message(exc)), None)
        raise
    except Exception:
        if run_id is not None:
            with db.write() as conn:
                failed = SyncResult(
                    run_id, "failed", message=json.dumps({"code": "error.internal", "params": {}})
                )
                _end_run(conn, run_id, failed, None)
        raise
    if result.status == "held":
        raise SyncHeld(**_held_params(result, source))
    return result


class _Undone(Exception):
    """Leaves the sync's transaction (rolling it back) with what the run would have done."""

    def __init__(self, result: SyncResult):
        super().__init__(result.status)
        self.result = result


def _held_params(result: SyncResult, source: str) -> dict[str, Any]:
    return {
        "leavers": result.counts.get("deactivated", 0),
        "total": result.counts.get("source_users_before", 0),
        "limit": GUARD_PERCENT,
        "source": source,
    }


def _stored_message(exc: GongdanError) -> str:
    """What a run row keeps of an error: its code and parameters (shown in the reader's language)."""
    params = {k: (v.render("en") if isinstance(v, Message) else v) for k, v in exc.params.items()}
    return json.dumps({"code": exc.code, "params": params}, ensure_ascii=False, default=str)


def run_message(row: Any, lang: str | None = None) -> str:
    """A run row's message in ``lang`` (held, failed) or ''."""
    if not row.get("message"):
        return ""
    try:
        data = json.loads(row["message"])
        return t(data["code"], lang, **data.get("params", {}))
    except (ValueError, KeyError, TypeError):
        return str(row["message"])


def _start_run(db: Database, source: str, actor: int | None) -> int:
    now = utcnow()
    with db.write() as conn:
        running = conn.execute(
            select(R.c.id).where(
                R.c.source == source, R.c.status == "running", R.c.started_at > now - STALE_RUN
            )
        ).first()
        if running is not None:
            raise GongdanError("org.running", source=source)
        return conn.execute(
            insert(R)
            .values(source=source, status="running", started_at=now, started_by=actor, counts={})
            .returning(R.c.id)
        ).scalar_one()


def _end_run(conn: Connection, run_id: int | None, result: SyncResult, cursor: str | None) -> None:
    counts = dict(result.counts)
    values: dict[str, Any] = {"status": result.status, "ended_at": utcnow(), "message": result.message}
    if result.leavers:
        values["counts"] = {**counts, "leavers": result.leavers}
    else:
        values["counts"] = counts
    if cursor is not None:
        values["cursor"] = cursor
    conn.execute(update(R).where(R.c.id == run_id).values(**values))


def _last_cursor(db: Database, source: str) -> str | None:
    with db.read() as conn:
        return conn.execute(
            select(R.c.cursor)
            .where(R.c.source == source, R.c.status == "done")
            .order_by(R.c.id.desc())
            .limit(1)
        ).scalar()


# ---------------------------------------------------------------------------- the plan
class _Apply:
    """Applies one snapshot inside the caller's transaction, counting what it does."""

    def __init__(self, settings: Settings, conn: Connection, source: str, actor: int | None):
        self.settings, self.conn, self.source, self.actor = settings, conn, source, actor
        self.counts: dict[str, int] = {
            "departments_created": 0,
            "departments_updated": 0,
            "created": 0,
            "updated": 0,
            "moved": 0,
            "deactivated": 0,
            "reactivated": 0,
            "tasks_handed_on": 0,
            "tasks_unassigned": 0,
        }
        self.dept_of: dict[str, int] = {}  # external id → department id
        self.user_of: dict[str, int] = {}  # subject → user id

    def merge(self, snapshot: OrgSnapshot) -> None:
        """Departments, then people, then who manages and heads what."""
        self.departments(snapshot)
        self.users(snapshot)
        self.managers_and_heads(snapshot)

    # ------------------------------------------------------------------ departments
    def departments(self, snapshot: OrgSnapshot) -> None:
        conn, source = self.conn, self.source
        existing = {
            r.external_id: r
            for r in conn.execute(
                select(D.c.id, D.c.name, D.c.parent_id, D.c.external_id).where(D.c.source == source)
            )
        }
        if not snapshot.complete:  # a change list: the rest of the tree is what we have
            self.dept_of.update({ext: r.id for ext, r in existing.items()})
        by_id = {d.external_id: d for d in snapshot.departments}
        order = _top_down(snapshot, source)
        for ext in order:
            d = by_id[ext]
            parent = self.dept_of.get(d.parent_id) if d.parent_id else None
            row = existing.get(ext)
            name = self._free_name(d.name[:100], parent, row.id if row else None, adoptable=row is None)
            if row is None:
                adopted = conn.execute(
                    select(D.c.id).where(
                        D.c.source.is_(None), D.c.name == name, D.c.parent_id.is_not_distinct_from(parent)
                    )
                ).scalar()
                if adopted is not None:  # a department made here by hand becomes the synced one
                    conn.execute(update(D).where(D.c.id == adopted).values(source=source, external_id=ext))
                    self.dept_of[ext] = adopted
                    self.counts["departments_updated"] += 1
                    continue
                self.dept_of[ext] = conn.execute(
                    insert(D)
                    .values(name=name, parent_id=parent, source=source, external_id=ext)
                    .returning(D.c.id)
                ).scalar_one()
                self.counts["departments_created"] += 1
                continue
            self.dept_of[ext] = row.id
            if (row.name, row.parent_id) != (name, parent):
                conn.execute(update(D).where(D.c.id == row.id).values(name=name, parent_id=parent))
                self.counts["departments_updated"] += 1

    def _free_name(self, name: str, parent: int | None, own: int | None, adoptable: bool) -> str:
        """``name`` unless another department under ``parent`` has it (one made by hand may be
        adopted by a new synced department), else ``name (2)``, ``name (3)`` ..."""
        taken = self.conn.execute(
            select(D.c.id, D.c.source).where(D.c.name == name, D.c.parent_id.is_not_distinct_from(parent))
        ).first()
        if taken is None or taken.id == own or (adoptable and taken.source is None):
            return name
        n = 2
        while self.conn.execute(
            select(D.c.id).where(D.c.name == f"{name} ({n})", D.c.parent_id.is_not_distinct_from(parent))
        ).first():
            n += 1
        return f"{name} ({n})"

    # ------------------------------------------------------------------ users
    def users(self, snapshot: OrgSnapshot) -> None:
        conn, source = self.conn, self.source
        linked = dict(conn.execute(select(UI.c.subject, UI.c.user_id).where(UI.c.provider == source)).all())
        if not snapshot.complete:  # managers and heads not in a change list are looked up
            self.user_of.update(linked)
        match, _ = link_options(self.settings)
        for person in snapshot.users:
            uid = linked.get(person.subject) or self._adopt(person, match, set(linked.values()))
            department = next((self.dept_of[d] for d in person.department_ids if d in self.dept_of), None)
            values = {
                "display_name": person.name[:100],
                "email": (person.email or None) and person.email[:254],
                "phone": (person.mobile or None) and person.mobile[:32],
                "department_id": department,
                "source": source,
            }
            if uid is None:
                if not person.active:
                    continue  # someone who left before we ever saw them
                uid = conn.execute(
                    insert(U)
                    .values(
                        username=unique_username(conn, person.username, f"{source}-{person.subject}"),
                        password_hash=None,
                        created_at=utcnow(),
                        is_admin=False,
                        is_active=True,
                        lang="zh",
                        **values,
                    )
                    .returning(U.c.id)
                ).scalar_one()
                self.counts["created"] += 1
            else:
                old = conn.execute(
                    select(
                        U.c.display_name, U.c.email, U.c.phone, U.c.department_id, U.c.source, U.c.is_active
                    ).where(U.c.id == uid)
                ).one()
                changed = {k: v for k, v in values.items() if getattr(old, k) != v}
                if changed:
                    conn.execute(update(U).where(U.c.id == uid).values(**changed))
                    self.counts["updated"] += 1
                    if "department_id" in changed and old.department_id is not None:
                        self.counts["moved"] += 1
                if person.active and not old.is_active and old.source == source:
                    conn.execute(update(U).where(U.c.id == uid).values(is_active=True))
                    self.counts["reactivated"] += 1
            if person.subject not in linked:
                conn.execute(
                    insert(UI).values(
                        user_id=uid, provider=source, subject=person.subject, created_at=utcnow()
                    )
                )
            if person.event_id and person.event_id != person.subject:
                self._keep_event_id(uid, person.event_id)
            self.user_of[person.subject] = uid

    def _keep_event_id(self, uid: int, event_id: str) -> None:
        """Remember the id change events name this person by (see EVENT_ID_SUFFIX)."""
        provider = event_id_provider(self.source)
        known = self.conn.execute(
            select(UI.c.id, UI.c.user_id).where(UI.c.provider == provider, UI.c.subject == event_id[:191])
        ).first()
        if known is None:
            self.conn.execute(
                insert(UI).values(user_id=uid, provider=provider, subject=event_id[:191], created_at=utcnow())
            )
        elif known.user_id != uid:
            self.conn.execute(update(UI).where(UI.c.id == known.id).values(user_id=uid))

    def _adopt(self, person: Any, match: set[str], taken: set[int]) -> int | None:
        """An existing user (not linked to this source yet) with the same e-mail / mobile, when
        GONGDAN_SSO_MATCH allows matching."""
        for key, column, value in (
            ("email", func.lower(U.c.email), (person.email or "").lower()),
            ("mobile", U.c.phone, person.mobile or ""),
        ):
            if key in match and value:
                rows = self.conn.execute(select(U.c.id).where(column == value)).scalars().all()
                if len(rows) == 1 and rows[0] not in taken and rows[0] not in self.user_of.values():
                    return rows[0]
        return None

    def managers_and_heads(self, snapshot: OrgSnapshot) -> None:
        for person in snapshot.users:
            uid = self.user_of.get(person.subject)
            if uid is None:
                continue
            manager = self.user_of.get(person.manager) if person.manager else None
            if manager == uid:
                manager = None
            self.conn.execute(
                update(U)
                .where(U.c.id == uid, U.c.manager_id.is_distinct_from(manager))
                .values(manager_id=manager)
            )
        for d in snapshot.departments:
            head = self.user_of.get(d.head) if d.head else None
            dept = self.dept_of.get(d.external_id)
            if dept is not None:
                self.conn.execute(
                    update(D).where(D.c.id == dept, D.c.head_id.is_distinct_from(head)).values(head_id=head)
                )

    # ------------------------------------------------------------------ leavers
    def leavers(self, snapshot: OrgSnapshot) -> list[Any]:
        """Active users of this source the snapshot no longer lists as active."""
        staying = {u.subject for u in snapshot.users if u.active}
        rows = self.conn.execute(
            select(U.c.id, U.c.username, UI.c.subject)
            .select_from(U.outerjoin(UI, (UI.c.user_id == U.c.id) & (UI.c.provider == self.source)))
            .where(U.c.source == self.source, U.c.is_active.is_(True))
        ).all()
        if not snapshot.complete:
            listed_gone = {u.subject for u in snapshot.users if not u.active} | set(snapshot.gone)
            return [r for r in rows if r.subject in listed_gone]
        return [r for r in rows if r.subject not in staying]

    def deactivate(self, leavers: list[Any], runtime: Any) -> None:
        conn = self.conn
        for r in leavers:
            conn.execute(update(U).where(U.c.id == r.id).values(is_active=False))
            auth.end_sessions(conn, r.id)
            auth.audit(
                conn,
                self.actor,
                "user.deactivated_by_sync",
                f"user:{r.id}",
                {"username": r.username, "source": self.source},
            )
            self.counts["deactivated"] += 1
        for r in leavers:
            self._hand_on(r, runtime)

    def _hand_on(self, leaver: Any, runtime: Any) -> None:
        tasks = (
            self.conn.execute(
                select(T.c.id).where(T.c.assignee_id == leaver.id, T.c.status == "open").order_by(T.c.id)
            )
            .scalars()
            .all()
        )
        if not tasks:
            return
        to = self._successor(leaver.id)
        if to is None:
            self.counts["tasks_unassigned"] += len(tasks)
            log.warning(
                "org sync %s: nobody takes over the %d tasks of %s", self.source, len(tasks), leaver.username
            )
            return
        to_name = self.conn.execute(select(U.c.display_name).where(U.c.id == to)).scalar()
        comment = t("org.handed_on", None, user=leaver.username, to=to_name)
        for task_id in tasks:
            try:
                runtime.transfer(task_id, to, actor=None, comment=comment)
            except (ActionError, NotFoundError) as exc:
                self.counts["tasks_unassigned"] += 1
                log.warning("org sync %s: task %s not handed on: %s", self.source, task_id, exc.message("en"))
            else:
                self.counts["tasks_handed_on"] += 1

    def _successor(self, user_id: int) -> int | None:
        """The leaver's manager, else the head of their department or one above, else an admin —
        whoever is active (after this run) and not the leaver."""
        conn = self.conn
        row = conn.execute(select(U.c.manager_id, U.c.department_id).where(U.c.id == user_id)).one()
        candidates: list[int | None] = [row.manager_id]
        dept, seen = row.department_id, set()
        while dept is not None and dept not in seen:
            seen.add(dept)
            d = conn.execute(select(D.c.head_id, D.c.parent_id).where(D.c.id == dept)).one()
            candidates.append(d.head_id)
            dept = d.parent_id
        candidates.append(self.actor)
        for candidate in candidates:
            if candidate is not None and candidate != user_id and _active(conn, candidate):
                return candidate
        return conn.execute(
            select(U.c.id)
            .where(U.c.is_admin.is_(True), U.c.is_active.is_(True), U.c.id != user_id)
            .order_by(U.c.id)
            .limit(1)
        ).scalar()

    def remove_departments(self, external_ids: list[str]) -> None:
        """Departments the source deleted: removed when nobody (active or not) and no department is
        in them; otherwise kept as they are, like a full sync keeps a department it no longer lists.
        People are never deleted."""
        for ext in external_ids:
            dept = self.conn.execute(
                select(D.c.id).where(D.c.source == self.source, D.c.external_id == ext)
            ).scalar()
            if dept is None:
                continue
            used = self.conn.execute(select(U.c.id).where(U.c.department_id == dept).limit(1)).first()
            used = used or self.conn.execute(select(D.c.id).where(D.c.parent_id == dept).limit(1)).first()
            if used is not None:
                self.counts["departments_kept"] = self.counts.get("departments_kept", 0) + 1
                continue
            self.conn.execute(delete(D).where(D.c.id == dept))
            self.counts["departments_removed"] = self.counts.get("departments_removed", 0) + 1


def _active(conn: Connection, user_id: int) -> bool:
    return bool(conn.execute(select(U.c.is_active).where(U.c.id == user_id)).scalar())


def _top_down(snapshot: OrgSnapshot, source: str) -> list[str]:
    """The snapshot's department ids, parents before children; a loop is an error."""
    by_id = {d.external_id: d for d in snapshot.departments}
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(ident: str) -> None:
        path = []
        while ident in by_id and state.get(ident) != 2:
            if state.get(ident) == 1:
                raise GongdanError("org.cycle", source=source, ident=ident[:80])
            state[ident] = 1
            path.append(ident)
            parent = by_id[ident].parent_id
            if parent is None or parent not in by_id:
                break
            ident = parent
        for p in reversed(path):
            state[p] = 2
            order.append(p)

    for d in snapshot.departments:
        visit(d.external_id)
    return order


class _Joined:
    """The sync's own transaction seen as a Database, so the Runtime's transfer (its own command,
    with its events) runs inside it — in a savepoint, so one refused transfer undoes only itself."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.dialect = conn.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn

    read = write


def _apply(
    settings: Settings,
    conn: Connection,
    source: str,
    snapshot: OrgSnapshot,
    actor: int | None,
    confirm: bool,
    dry_run: bool,
    run_id: int | None,
) -> SyncResult:
    from engine.runtime import Runtime

    work = _Apply(settings, conn, source, actor)
    before = conn.execute(
        select(func.count()).select_from(U).where(U.c.source == source, U.c.is_active.is_(True))
    ).scalar_one()
    work.counts["source_users_before"] = before
    work.counts["source_users"] = len(snapshot.users)
    work.merge(snapshot)
    leavers = work.leavers(snapshot)
    names = [r.username for r in leavers][:LEAVERS_SHOWN]
    if before and len(leavers) * 100 > before * GUARD_PERCENT and not confirm:
        counts = {
            "deactivated": len(leavers),
            "source_users_before": before,
            "source_users": len(snapshot.users),
        }
        held = SyncResult(run_id, "held", counts, names)
        held.message = json.dumps(
            {"code": "org.held", "params": _held_params(held, source)}, ensure_ascii=False
        )
        raise _Undone(held)  # nothing of this run stays
    work.deactivate(leavers, Runtime(_Joined(conn)))  # type: ignore[arg-type]
    if dry_run:
        raise _Undone(SyncResult(None, "dry_run", work.counts, names))
    if confirm:
        conn.execute(update(R).where(R.c.source == source, R.c.status == "held").values(status="confirmed"))
    auth.audit(conn, actor, "org.synced", f"org:{source}", {"run": run_id, "confirm": confirm, **work.counts})
    return SyncResult(run_id, "done", work.counts, names)


def apply_changes(
    settings: Settings, conn: Connection, source: str, snapshot: OrgSnapshot, actor: int | None = None
) -> dict[str, int]:
    """Apply a change list (one event's people and departments, ``complete`` False) inside the
    caller's transaction with the full sync's rules; what it did, counted."""
    from engine.runtime import Runtime

    work = _Apply(settings, conn, source, actor)
    work.merge(snapshot)
    work.deactivate(work.leavers(snapshot), Runtime(_Joined(conn)))  # type: ignore[arg-type]
    work.remove_departments(snapshot.gone_departments)
    return work.counts


def report_lines(result: SyncResult, lang: str | None = None) -> list[str]:
    """What the CLI prints of a run: its counts and, for a dry run, who would be deactivated."""
    lines = [t("org.dry_run" if result.status == "dry_run" else "org.done", lang, **result.counts)]
    if result.leavers:
        lines.append(t("org.leavers", lang, names=", ".join(result.leavers)))
    return lines


# ---------------------------------------------------------------------------- reading runs
def runs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    """The newest sync runs, every source."""
    with db.read() as conn:
        rows = conn.execute(select(R).order_by(R.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


# ---------------------------------------------------------------------------- the schedule
def schedule(settings: Settings) -> dict[str, int]:
    """GONGDAN_ORG_SYNC="dingtalk:60,ldap:1440": source → minutes between runs."""
    out: dict[str, int] = {}
    for part in (settings.identity_value("GONGDAN_ORG_SYNC") or "").split(","):
        name, _, minutes = part.strip().partition(":")
        if name and minutes.strip().isdigit() and int(minutes) > 0:
            out[name.strip().lower()] = int(minutes)
    return out


def due_sources(db: Database, settings: Settings, now: dt.datetime) -> list[str]:
    """The scheduled sources whose last run is older than their interval (a held run waits for an
    admin; a failed one is tried again at the next interval)."""
    due = []
    with db.read() as conn:
        for source, minutes in schedule(settings).items():
            last = conn.execute(
                select(R.c.status, R.c.started_at)
                .where(R.c.source == source)
                .order_by(R.c.id.desc())
                .limit(1)
            ).first()
            if last is not None and last.status == "held":
                continue
            if last is None or last.started_at + dt.timedelta(minutes=minutes) <= now:
                due.append(source)
    return due


@tick_handler
def scheduled_sync(db: Database, now: dt.datetime) -> int:
    """The worker's tick: run every scheduled org sync that is due; one failing does not stop the rest."""
    settings = load_settings()
    done = 0
    for source in due_sources(db, settings, now):
        try:
            sync(settings, db, source)
            done += 1
        except GongdanError as exc:
            log.warning("org sync %s: %s", source, exc.message("en"))
    return done
