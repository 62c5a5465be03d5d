"""The Runtime: the one entry point for every change. One command = one database transaction.

submit/update/act/comment each validate (forms), write the record and its events (store),
move the flow (flows), let reactors queue effects (rules, webhooks → outbox), and commit.
After commit the outbox rows are handed to ``dispatch`` (the job queue) for delivery.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

import engine.attachments  # registers the reactor linking uploaded files to their tickets
import engine.reports  # registers the reactor keeping ticket metrics in each command
import engine.rules  # noqa: F401  (registers the rule engine's reactors and actions)
from engine.access import check_may_submit, load_principal
from engine.definitions.build import without_inline_secrets
from engine.definitions.diff import Change, diff
from engine.definitions.loader import Loaded, load_definition
from engine.errors import ActionError, ConflictError, FormError, NotFoundError, Problem
from engine.flows import sla, stepping
from engine.flows.commands import FlowCommands
from engine.forms.fields import FIELD_TYPES
from engine.forms.permissions import EVERYTHING, FieldAccess, needs_roles
from engine.forms.spec import Env, FormSpec, is_empty, unique_text
from engine.observability import timed_command
from engine.reactions import OUTBOX_MAX_ATTEMPTS, REACTORS, CommandContext, EmittedEvent, OutboxItem
from engine.rules import schedules
from engine.specs import AppSpec, TypeSpec, compile_app
from engine.store import fast
from engine.store.counters import next_value
from engine.store.db import Database
from engine.store.models import (
    App,
    AppVersion,
    Department,
    Event,
    FlowInstance,
    Outbox,
    Record,
    Role,
    RoleMember,
    RuleRun,
    Task,
    UniqueValue,
    User,
)
from engine.store.types import utcnow
from engine.timeline import is_requester

log = logging.getLogger("gongdan.runtime")
R, E, T, FI, OB, UV = (m.__table__ for m in (Record, Event, Task, FlowInstance, Outbox, UniqueValue))


# Statements on the hot path, built once (SQLAlchemy then only looks up their compiled form).
APP_ROW = select(App.id, App.current_version).where(App.key == bindparam("key"))
INSERT_RECORD = insert(R).returning(R.c.id)
INSERT_INSTANCE = insert(FI).returning(FI.c.id)
INSERT_TASK = insert(T).returning(T.c.id)
INSERT_EVENTS = insert(E)
#: Optimistic save of a record: the row version must be the one read; the changed columns come as
#: parameters named after them (SQLAlchemy adds them to the SET clause and caches one form per set).
SAVE_RECORD = (
    update(R)
    .where(R.c.id == bindparam("b_id"), R.c.row_version == bindparam("b_row_version"))
    .values(row_version=R.c.row_version + 1, event_seq=bindparam("b_event_seq"))
)
RECORD = select(R).where(R.c.id == bindparam("record_id"))
RECORD_FOR_UPDATE = RECORD.with_for_update()  # PostgreSQL: the row stays ours until commit
ROLE_KEYS = (
    select(Role.key)
    .join(RoleMember, RoleMember.role_id == Role.id)
    .where(RoleMember.user_id == bindparam("user_id"), Role.app_id == bindparam("app_id"))
)
USER_ROW = select(User.id, User.username, User.display_name, User.department_id, User.manager_id).where(
    User.id == bindparam("user_id")
)


@dataclass(frozen=True)
class Ticket:
    """A ticket as a command left it (the record row, read back without another query)."""

    id: int
    number: str
    app: str
    ticket_type: str
    app_version: int
    stage: str | None
    status: str
    data: dict[str, Any]
    row_version: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class CheckedInput:
    """A new ticket's data as the form cleaned it for one version of its app (Runtime.check_input)."""

    version: int
    clean: dict[str, Any]

    def for_version(self, version: int) -> dict[str, Any] | None:
        """The cleaned data if it was checked against ``version``, else None (check again)."""
        return self.clean if version == self.version else None


@dataclass(frozen=True)
class PublishResult:
    app: str
    version: int
    published: bool  # False when the definition equals the running version, or on a dry run
    changes: list[Change]
    previous: int | None

    @property
    def unchanged(self) -> bool:
        """The definition equals the running version: nothing to publish."""
        return self.previous == self.version


_SHARED: weakref.WeakKeyDictionary[Database, Runtime] = weakref.WeakKeyDictionary()


class Runtime(FlowCommands):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], dt.datetime] = utcnow,
        dispatch: Callable[[list[int]], None] | None = None,
    ):
        self.db = db
        self.clock = clock
        self.dispatch = dispatch
        self._specs: dict[tuple[int, int], AppSpec] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_database(cls, db: Database) -> Runtime:
        """One shared Runtime per database in a worker process (its compiled specs are kept)."""
        runtime = _SHARED.get(db)
        if runtime is None:
            runtime = _SHARED.setdefault(db, cls(db))
        return runtime

    # ------------------------------------------------------------------ apps and versions
    def publish(
        self, source: Loaded | Any, actor: int | None = None, note: str | None = None, dry_run: bool = False
    ) -> PublishResult:
        """Publish a definition as version N+1 of its app, all or nothing; unchanged → nothing new."""
        loaded = source if isinstance(source, Loaded) else load_definition(source)
        key = loaded.app.key
        with self.db.write() as conn:
            row = conn.execute(select(App.id, App.current_version).where(App.key == key)).first()
            previous = None
            if row is not None:
                app_id, previous = row
                old = conn.execute(
                    select(AppVersion.definition, AppVersion.checksum).where(
                        AppVersion.app_id == app_id, AppVersion.version == previous
                    )
                ).one()
                changes = diff(old.definition, loaded.data)
                if old.checksum == loaded.checksum or not changes:  # e.g. only 120.0 written as 120
                    return PublishResult(key, previous, False, [], previous)
            else:
                changes = diff({}, loaded.data)
            version = (previous or 0) + 1
            if dry_run:
                conn.rollback()
                return PublishResult(key, version, False, changes, previous)
            now = self.clock()
            name = dict(loaded.app.name)
            if row is None:
                app_id = conn.execute(
                    insert(App).values(
                        key=key, name=name, current_version=version, created_at=now, updated_at=now
                    )
                ).inserted_primary_key[0]
            else:
                conn.execute(
                    update(App)
                    .where(App.id == app_id)
                    .values(current_version=version, name=name, updated_at=now)
                )
            conn.execute(
                insert(AppVersion).values(
                    app_id=app_id,
                    version=version,
                    definition=loaded.data,
                    checksum=loaded.checksum,
                    published_at=now,
                    published_by=actor,
                    note=note,
                )
            )
            self._sync_roles(conn, app_id, loaded)
            spec = compile_app(loaded.app)
            schedules.sync(conn, spec, now)
        with self._lock:
            self._specs[(app_id, version)] = spec
        return PublishResult(key, version, True, changes, previous)

    def _sync_roles(self, conn: Connection, app_id: int, loaded: Loaded) -> None:
        existing = set(conn.execute(select(Role.key).where(Role.app_id == app_id)).scalars())
        for rkey, name in loaded.app.roles.items():
            scope = loaded.app.role_scopes.get(rkey, "own")
            if rkey in existing:
                conn.execute(
                    update(Role)
                    .where(Role.app_id == app_id, Role.key == rkey)
                    .values(name=dict(name), scope=scope)
                )
            else:
                conn.execute(insert(Role).values(app_id=app_id, key=rkey, name=dict(name), scope=scope))

    def definition(self, app_key: str, version: int | None = None) -> tuple[int, dict[str, Any]]:
        """The stored definition of ``app_key`` (the running version unless one is named)."""
        with self.db.read() as conn:
            app_id, current = self._app_row(conn, app_key)
            version = version or current
            data = conn.execute(
                select(AppVersion.definition).where(
                    AppVersion.app_id == app_id, AppVersion.version == version
                )
            ).scalar()
        if data is None:
            raise NotFoundError(what="version", ident=f"{app_key}@{version}")
        return version, without_inline_secrets(data)

    def versions(self, app_key: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            app_id, current = self._app_row(conn, app_key)
            rows = conn.execute(
                select(AppVersion.version, AppVersion.published_at, AppVersion.checksum, AppVersion.note)
                .where(AppVersion.app_id == app_id)
                .order_by(AppVersion.version)
            ).all()
        return [dict(r._mapping, running=r.version == current) for r in rows]

    def apps(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(App.key, App.name, App.current_version).order_by(App.key)).all()
        return [dict(r._mapping) for r in rows]

    def type_spec(self, app_key: str, ticket_type: str) -> tuple[AppSpec, TypeSpec]:
        """The compiled running version of an app and one of its ticket types (for forms and pages)."""
        with self.db.read() as conn:
            app_id, version = self._app_row(conn, app_key)
            spec = self.spec_for(conn, app_id, version)
        tspec = _ticket_type(spec, ticket_type)
        return spec, tspec

    def _app_row(self, conn: Connection, app_key: str) -> tuple[int, int]:
        result = fast.execute(conn, APP_ROW, {"key": app_key})
        row = result.fetchone()
        result.close()
        if row is None:
            raise NotFoundError("runtime.unknown_app", app=app_key)
        return row[0], row[1]

    def spec_for(self, conn: Connection, app_id: int, version: int) -> AppSpec:
        """The compiled spec of one app version; compiled once per process and cached."""
        cached = self._specs.get((app_id, version))
        if cached is not None:
            return cached
        data = conn.execute(
            select(AppVersion.definition).where(AppVersion.app_id == app_id, AppVersion.version == version)
        ).scalar_one()
        spec = compile_app(load_definition(data, stored=True).app)
        with self._lock:
            self._specs[(app_id, version)] = spec
        return spec

    def spec_of(self, app_key: str, version: int) -> AppSpec:
        """The compiled spec of ``app_key`` at ``version``: from the cache when a command of this
        process compiled it (no query), else read."""
        for (_, cached_version), spec in list(self._specs.items()):
            if cached_version == version and spec.key == app_key:
                return spec
        with self.db.read() as conn:
            app_id, _ = self._app_row(conn, app_key)
            return self.spec_for(conn, app_id, version)

    # ------------------------------------------------------------------ commands
    def submit(
        self, app_key: str, ticket_type: str, data: Mapping[str, Any], actor: int | None = None
    ) -> Ticket:
        """Create a ticket: validate, number it, start its flow, append its events — or write nothing."""
        with timed_command("submit"):
            now = self.clock()
            checked = self.check_input(app_key, ticket_type, data, actor, now)
            with self.db.write() as conn:
                app_id, version = self._app_row(conn, app_key)
                spec = self.spec_for(conn, app_id, version)
                tspec = _ticket_type(spec, ticket_type)
                ticket, outbox = self._create_ticket(
                    conn, app_id, version, spec, tspec, data, actor, now, checked=checked.for_version(version)
                )
        self._after_commit(outbox)
        return ticket

    def check_input(
        self, app_key: str, ticket_type: str, data: Mapping[str, Any], actor: int | None, now: dt.datetime
    ) -> CheckedInput:
        """The form's validation of a new ticket's ``data`` as ``actor`` at ``now``, done in a read
        transaction before the write one: on SQLite writers take turns, and this is a third of a
        submit's work (the user, the field permissions of the start node, the form, references).
        A version published in between is noticed by the write (``CheckedInput.for_version``),
        which then checks again in its own transaction."""
        with self.db.read() as conn:
            app_id, version = self._app_row(conn, app_key)
            spec = self.spec_for(conn, app_id, version)
            tspec = _ticket_type(spec, ticket_type)
            check_may_submit(conn, spec.app, tspec.definition, actor)  # the type's `submitters`
            return CheckedInput(version, self._checked(conn, app_id, spec.key, tspec, data, actor, now))

    def _create(self, *args: Any, **kwargs: Any) -> tuple[int, list[int]]:
        """Write a new ticket and start its flow in ``conn``: (record id, outbox ids)."""
        ticket, outbox = self._create_ticket(*args, **kwargs)
        return ticket.id, outbox

    def _create_ticket(
        self,
        conn: Connection,
        app_id: int,
        version: int,
        spec: AppSpec,
        tspec: TypeSpec,
        data: Mapping[str, Any],
        actor: int | None,
        now: dt.datetime,
        parent: tuple[int, str] | None = None,
        events: Iterable[tuple[str, dict[str, Any]]] = (),
        checked: Mapping[str, Any] | None = None,
    ) -> tuple[Ticket, list[int]]:
        """Write a new ticket and start its flow in ``conn``: (the ticket, outbox ids). ``checked`` is
        ``data`` as :meth:`check_input` cleaned it for this version, else it is checked here."""
        app_key, ticket_type = spec.key, tspec.key
        clean = (
            dict(checked)
            if checked is not None
            else self._checked(conn, app_id, app_key, tspec, data, actor, now)
        )
        for key, pattern in tspec.autonumbers:
            counter = f"{app_key}:{ticket_type}:{key}:{pattern.period(now)}"
            clean[key] = pattern.render(now, self._next_seq(conn, counter))
        number = tspec.number.render(
            now, self._next_seq(conn, f"{app_key}:{ticket_type}:{tspec.number.period(now)}")
        )
        row = {
            "app_id": app_id,
            "app_version": version,
            "ticket_type": ticket_type,
            "number": number,
            "stage": None,
            "status": "open",
            "data": clean,
            "created_by": actor,
            "created_at": now,
            "updated_by": actor,
            "updated_at": now,
            "closed_at": None,
            "row_version": 0,
            "event_seq": 0,
        }
        record_id = fast.scalar(conn, INSERT_RECORD, row)
        self._claim_unique(conn, app_id, tspec, record_id, clean, tspec.unique_keys)
        instance = {
            "record_id": record_id,
            "app_version": version,
            "status": "running",
            "tokens": [],
            "state": {},
            "parent_instance_id": parent[0] if parent else None,
            "parent_node": parent[1] if parent else None,
            "started_at": now,
        }
        instance_id = fast.scalar(conn, INSERT_INSTANCE, instance)
        rec = SimpleNamespace(id=record_id, **row)  # as written: no need to read it back
        inst = SimpleNamespace(id=instance_id, **instance)
        work = self._flow_work(conn, rec, actor, now, inst, fresh=True)
        work.events.append(("created", {"data": clean, **({"parent_node": parent[1]} if parent else {})}))
        work.events.extend(events)  # e.g. message_received, for the rules that start from a message
        work.apply(stepping.start(tspec.flow, work.hooks()))
        return self._commit_work(conn, work, rec)

    def _checked(
        self,
        conn: Connection,
        app_id: int,
        app_key: str,
        tspec: TypeSpec,
        data: Mapping[str, Any],
        actor: int | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """``data`` validated by the form with ``actor``'s field permissions at the start node."""
        env = Env(
            self._user(conn, actor, app_id, tspec.form), now, {"app": app_key, "ticket_type": tspec.key}
        )
        access = self._access(conn, tspec, tspec.flow.start, actor, app_id)
        clean = tspec.form.validate(data, env=env, locked=access.locked())
        self._check_references(conn, tspec, clean)
        return clean

    def update(
        self,
        record_id: int,
        data: Mapping[str, Any],
        actor: int | None = None,
        expected_version: int | None = None,
    ) -> Ticket:
        """Change some fields; ``expected_version`` (the row version the caller saw) guards lost updates."""

        def run(conn: Connection, work: Any, rec: Any) -> None:
            if expected_version is not None and expected_version != rec.row_version:
                raise ConflictError(number=rec.number, expected=expected_version, actual=rec.row_version)
            self._form_input(conn, work, rec, data, rec.stage if rec.status == "open" else None)

        return self._on_record(record_id, actor, "update", run, allow_finished=True)

    def comment(self, record_id: int, body: str, actor: int | None = None, internal: bool = False) -> Ticket:
        """Add a comment to the ticket's conversation; an agent's comment is a response (SLA). An
        ``internal`` note is for the app's staff only (engine.timeline): only staff write one, and it
        answers no customer, so it is no response."""
        body = (body or "").strip()
        if not body:
            raise ActionError("comment.empty")

        def run(conn: Connection, work: Any, rec: Any) -> None:
            if internal:
                check_internal_author(conn, actor, work.ticket.app_key)
            work.events.append(("comment_added", {"body": body, **({"internal": True} if internal else {})}))
            if actor is not None and actor != rec.created_by and not internal:
                for node_id in work.instance.tokens:
                    sla.responded(work, node_id)

        return self._on_record(record_id, actor, "comment", run, allow_finished=True)

    def upgrade(
        self,
        record_id: int,
        to_version: int | None = None,
        data: Mapping[str, Any] | None = None,
        actor: int | None = None,
    ) -> Ticket:
        """Move a running ticket to a newer version of its app (the running one by default).

        Fields declared ``renamed_from`` carry their values over, fields the new version dropped
        are left behind (the events still hold them), and the result must satisfy the new form:
        ``data`` supplies what the new version newly requires. The ticket's stage must exist in
        the new flow. All or nothing, recorded as a ``version_changed`` event.
        """
        with self.db.write() as conn:
            rec = self._record(conn, record_id)
            app_key = conn.execute(select(App.key).where(App.id == rec.app_id)).scalar_one()
            target = to_version or self._app_row(conn, app_key)[1]
            if target == rec.app_version:
                return self._ticket(conn, rec, self.spec_for(conn, rec.app_id, target))
            spec = self.spec_for(conn, rec.app_id, target)
            tspec = _ticket_type(spec, rec.ticket_type)
            inst = conn.execute(select(FI.c.id, FI.c.tokens).where(FI.c.record_id == rec.id)).first()
            missing = [node for node in (inst.tokens if inst else []) if node not in tspec.flow.nodes]
            if missing:
                raise ActionError("runtime.stage_missing", stage=", ".join(missing), version=target)
            fields = {f.key: f for f in tspec.definition.form.fields}
            renames = {f.get("renamed_from"): f.key for f in fields.values() if f.get("renamed_from")}
            moved = {renames.get(k, k): v for k, v in rec.data.items()}
            typed_in = {
                k for k, f in fields.items() if not (f.get("readonly") or FIELD_TYPES[f.type].computed)
            }
            kept = {k: v for k, v in moved.items() if k in typed_in}
            now = self.clock()
            clean = tspec.form.validate(
                {**kept, **(data or {})}, env=self._env(conn, rec, actor, tspec.form, now)
            )
            carried = {k: v for k, v in moved.items() if k in fields and k not in clean}  # read-only values
            new_data = {**carried, **clean}
            for old, new in renames.items():
                conn.execute(update(UV).where(UV.c.record_id == rec.id, UV.c.field == old).values(field=new))
            change = {
                "from": rec.app_version,
                "to": target,
                "renamed": {o: n for o, n in renames.items() if o in rec.data},
                "dropped": sorted(k for k in moved if k not in fields),
            }
            emitted = self._append_events(
                conn, rec.id, rec.event_seq, [("version_changed", change)], actor, now
            )
            self._save_record(
                conn,
                rec,
                {"data": new_data, "app_version": target, "updated_by": actor, "updated_at": now},
                emitted,
            )
            if inst is not None:
                conn.execute(update(FI).where(FI.c.id == inst.id).values(app_version=target))
            ticket = self._ticket(conn, self._record(conn, rec.id), spec)
        return ticket

    # ------------------------------------------------------------------ reads
    def ticket(self, record_id: int, viewer: int | None = None) -> Ticket:
        """The ticket; for a ``viewer``, without the fields hidden from them at its current stage."""
        with self.db.read() as conn:
            rec = self._record(conn, record_id)
            spec = self.spec_for(conn, rec.app_id, rec.app_version)
            ticket = self._ticket(conn, rec, spec)
            if viewer is None:
                return ticket
            access = self._access(conn, spec.types[rec.ticket_type], rec.stage, viewer, rec.app_id)
        return dataclasses.replace(ticket, data=access.filter(ticket.data))

    def events(self, record_id: int, viewer: int | None = None) -> list[dict[str, Any]]:
        """The ticket's history; for a ``viewer``, hidden fields' values are left out of it."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(E.c.seq, E.c.type, E.c.actor_id, E.c.at, E.c.payload)
                .where(E.c.record_id == record_id)
                .order_by(E.c.seq)
            ).all()
            hidden: frozenset[str] = frozenset()
            if viewer is not None and rows:
                rec = self._record(conn, record_id)
                tspec = self.spec_for(conn, rec.app_id, rec.app_version).types[rec.ticket_type]
                hidden = self._access(conn, tspec, rec.stage, viewer, rec.app_id).hidden()
        events = [dict(r._mapping) for r in rows]
        return (
            [e for e in (_without(event, hidden) for event in events) if e is not None] if hidden else events
        )

    def rule_runs(
        self,
        record_id: int | None = None,
        rule: tuple[str, str, str] | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """The rule log of a ticket, or of one rule ``(app, ticket type, rule name)``; newest last,
        ``limit`` rows, older pages with ``before`` (an id of the page shown)."""
        RRT = RuleRun.__table__
        q = select(RRT).order_by(RRT.c.id.desc()).limit(min(limit, 1000))
        if record_id is not None:
            q = q.where(RRT.c.record_id == record_id)
        if rule is not None:
            with self.db.read() as conn:
                app_id = self._app_row(conn, rule[0])[0]
            q = q.where(RRT.c.app_id == app_id, RRT.c.ticket_type == rule[1], RRT.c.rule == rule[2])
        if before is not None:
            q = q.where(RRT.c.id < before)
        with self.db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        return rows[::-1]

    def tasks(self, record_id: int, status: str | None = "open") -> list[dict[str, Any]]:
        with self.db.read() as conn:
            q = select(T).where(T.c.record_id == record_id).order_by(T.c.id)
            if status:
                q = q.where(T.c.status == status)
            return [dict(r._mapping) for r in conn.execute(q)]

    # ------------------------------------------------------------------ internals
    def _next_seq(self, conn: Connection, key: str) -> int:
        """The next number of a counter, atomically (an upsert that holds the row lock)."""
        return next_value(conn, key)

    def _record(self, conn: Connection, record_id: int) -> Any:
        """The ticket's row; on PostgreSQL locked for the command (commands on one ticket take
        turns), but not in a read transaction, where a lock would make readers wait for writers."""
        lock = conn.dialect.name == "postgresql" and not conn.get_execution_options().get("readonly")
        q = RECORD_FOR_UPDATE if lock else RECORD
        rec = conn.execute(q, {"record_id": record_id}).first()
        if rec is None:
            raise NotFoundError(what="ticket", ident=record_id)
        return rec

    def _check_references(
        self,
        conn: Connection,
        tspec: TypeSpec,
        values: Mapping[str, Any],
        changed: Iterable[str] | None = None,
    ) -> None:
        """Users, departments and linked tickets named in ``values`` must exist (and links be of the
        named app and type); otherwise the command is refused with every missing one."""
        keys = set(values) if changed is None else set(changed)
        problems = []
        for f in tspec.definition.form.fields:
            if (
                f.key not in keys
                or f.type not in ("user", "department", "link")
                or is_empty(values.get(f.key))
            ):
                continue
            wanted = {int(v) for v in (values[f.key] if isinstance(values[f.key], list) else [values[f.key]])}
            if f.type == "user":
                query = select(User.id).where(User.id.in_(wanted), User.is_active.is_(True))
            elif f.type == "department":
                query = select(Department.id).where(Department.id.in_(wanted))
            else:
                target = f.get("target") or {}
                query = (
                    select(R.c.id)
                    .join(App, App.id == R.c.app_id)
                    .where(
                        R.c.id.in_(wanted),
                        App.key == target.get("app"),
                        R.c.ticket_type == target.get("ticket_type"),
                    )
                )
            missing = wanted - set(conn.execute(query).scalars())
            if missing:
                shown = ", ".join(map(str, sorted(missing)))
                problems.append(Problem(f.key, "form.reference_missing", {"field": f.key, "ids": shown}))
        if problems:
            raise FormError(problems=problems, count=len(problems))

    def _claim_unique(
        self,
        conn: Connection,
        app_id: int,
        tspec: TypeSpec,
        record_id: int,
        data: Mapping[str, Any],
        keys: tuple[str, ...],
        changed: list[str] | None = None,
    ) -> None:
        """Claim the values of unique fields for this ticket, or refuse the whole command."""
        if changed is not None:
            keys = tuple(k for k in keys if k in changed)
        if not keys:
            return
        if changed is not None:
            conn.execute(delete(UV).where(UV.c.record_id == record_id, UV.c.field.in_(keys)))
        claims, problems = [], []
        for key in keys:
            if is_empty(data.get(key)):
                continue
            value = unique_text(data[key])
            holder = conn.execute(
                select(UV.c.record_id).where(
                    UV.c.app_id == app_id,
                    UV.c.ticket_type == tspec.key,
                    UV.c.field == key,
                    UV.c.value == value,
                )
            ).scalar()
            if holder is not None and holder != record_id:
                problems.append(Problem(key, "form.not_unique", {"field": key}))
            claims.append(
                {
                    "app_id": app_id,
                    "ticket_type": tspec.key,
                    "field": key,
                    "value": value,
                    "record_id": record_id,
                }
            )
        if problems:
            raise FormError(problems=problems, count=len(problems))
        if claims:
            try:
                conn.execute(insert(UV), claims)
            except IntegrityError:  # another ticket claimed it in between (PostgreSQL)
                found = [Problem(c["field"], "form.not_unique", {"field": c["field"]}) for c in claims]
                raise FormError(problems=found, count=len(found)) from None

    def _access(
        self, conn: Connection, tspec: TypeSpec, stage: str | None, actor: int | None, app_id: int
    ) -> FieldAccess:
        """Field levels for ``actor`` at ``stage``; the system itself (no actor) may do everything."""
        if actor is None:
            return EVERYTHING
        permissions = tspec.node_permissions(stage)
        roles = self._roles(conn, actor, app_id) if needs_roles(permissions) else ()
        return tspec.access(stage, roles)

    def _roles(self, conn: Connection, actor: int, app_id: int) -> list[str]:
        result = fast.execute(conn, ROLE_KEYS, {"user_id": actor, "app_id": app_id})
        keys = [row[0] for row in result.fetchall()]
        result.close()
        return keys

    def _user(self, conn: Connection, actor: int | None, app_id: int, form: FormSpec) -> dict[str, Any]:
        """What ``user`` means in this app's expressions; loaded only when the form reads it."""
        if actor is None or not form.uses_user:
            return {"id": actor}
        row = conn.execute(USER_ROW, {"user_id": actor}).first()
        if row is None:
            return {"id": actor}
        roles = self._roles(conn, actor, app_id)
        return {
            "id": row.id,
            "username": row.username,
            "name": row.display_name,
            "department": row.department_id,
            "manager": row.manager_id,
            "roles": sorted(roles),
        }

    def _env(self, conn: Connection, rec: Any, actor: int | None, form: FormSpec, now: dt.datetime) -> Env:
        ticket = {
            "id": rec.id,
            "number": rec.number,
            "stage": rec.stage,
            "status": rec.status,
            "created_at": rec.created_at,
            "updated_at": rec.updated_at,
            "created_by": rec.created_by,
            "ticket_type": rec.ticket_type,
        }
        return Env(self._user(conn, actor, rec.app_id, form), now, ticket)

    def _ticket(self, conn: Connection, rec: Any, spec: AppSpec) -> Ticket:
        return Ticket(
            rec.id, rec.number, spec.key, rec.ticket_type, rec.app_version, rec.stage, rec.status,
            rec.data, rec.row_version, rec.created_at, rec.updated_at,
        )  # fmt: skip

    def _save_record(
        self, conn: Connection, rec: Any, values: dict[str, Any], emitted: list[EmittedEvent]
    ) -> None:
        params = {"b_id": rec.id, "b_row_version": rec.row_version, "b_event_seq": emitted[-1].seq, **values}
        if fast.rowcount(conn, SAVE_RECORD, params) != 1:
            actual = conn.execute(select(R.c.row_version).where(R.c.id == rec.id)).scalar()
            raise ConflictError(number=rec.number, expected=rec.row_version, actual=actual)

    def _append_events(
        self,
        conn: Connection,
        record_id: int,
        last_seq: int,
        events: list[tuple[str, dict[str, Any]]],
        actor: int | None,
        at: dt.datetime,
    ) -> list[EmittedEvent]:
        emitted = [EmittedEvent(last_seq + i, kind, payload) for i, (kind, payload) in enumerate(events, 1)]
        fast.execute_many(
            conn,
            INSERT_EVENTS,
            [
                {
                    "record_id": record_id,
                    "seq": e.seq,
                    "type": e.type,
                    "actor_id": actor,
                    "at": at,
                    "payload": e.payload,
                }
                for e in emitted
            ],
        )
        return emitted

    def _react(
        self,
        conn: Connection,
        spec: AppSpec,
        record_id: int,
        number: str,
        ticket_type: str,
        data: dict[str, Any],
        actor: int | None,
        now: dt.datetime,
        emitted: list[EmittedEvent],
        queued: list[OutboxItem] | None = None,
        app_id: int | None = None,
    ) -> list[int]:
        cmd = CommandContext(
            conn, spec, record_id, number, ticket_type, data, actor, now, emitted, list(queued or ()), app_id
        )
        for fn in REACTORS:
            fn(cmd)
        if not cmd.outbox:
            return []
        rows = [
            {
                "idempotency_key": item.idempotency_key,
                "record_id": record_id,
                "channel": item.channel,
                "payload": item.payload,
                "status": "pending",
                "attempts": 0,
                "max_attempts": OUTBOX_MAX_ATTEMPTS,
                "next_attempt_at": now,
                "created_at": now,
            }
            for item in cmd.outbox
        ]
        return list(conn.execute(insert(OB).returning(OB.c.id, sort_by_parameter_order=True), rows).scalars())

    def _after_commit(self, outbox_ids: list[int]) -> None:
        if outbox_ids and self.dispatch is not None:
            try:
                self.dispatch(outbox_ids)
            except Exception:
                log.warning("outbox dispatch failed; the sweep will pick it up", exc_info=True)


def _ticket_type(spec: AppSpec, ticket_type: str) -> TypeSpec:
    tspec = spec.types.get(ticket_type)
    if tspec is None:
        known = ", ".join(spec.types)
        raise NotFoundError("runtime.unknown_ticket_type", app=spec.key, ticket_type=ticket_type, known=known)
    return tspec


def _without(event: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any] | None:
    """An event as a viewer may see it: hidden fields' values removed (a change of one: dropped)."""
    payload = event["payload"]
    if event["type"] == "field_changed":
        return None if payload.get("field") in hidden else event
    if isinstance(payload.get("data"), dict):
        data = {k: v for k, v in payload["data"].items() if k not in hidden}
        return {**event, "payload": {**payload, "data": data}}
    if isinstance(payload.get("fields"), list):
        return {**event, "payload": {**payload, "fields": [f for f in payload["fields"] if f not in hidden]}}
    return event


def check_internal_author(conn: Connection, actor: int | None, app_key: str) -> None:
    """Only the app's staff (a role in it) and admins write internal notes (the system may too);
    anyone else is told so at the field ``internal``."""
    if actor is None:
        return
    principal = load_principal(conn, actor)
    if principal is None or is_requester(principal, app_key):
        raise FormError(problems=[Problem("internal", "comment.internal_staff_only")], count=1)


def count_records(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(R)).scalar_one()


__all__ = ["PublishResult", "Runtime", "Ticket"]
