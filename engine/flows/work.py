"""The flow's work inside one command: tasks, approvals, timers and SLA clocks, in its transaction.

A :class:`FlowWork` is made by the Runtime for one command on one ticket. Stepping (pure) says
which nodes were left and entered; ``apply`` turns that into rows — cancelled and opened tasks,
approval groups, timers, SLA clocks — and events. The Runtime then writes the record, the events
and the outbox, and commits.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

import engine.flows.messages  # noqa: F401  (registers the flow's messages)
from engine.definitions.model import NodeDef, thaw
from engine.errors import ActionError, ConflictError, FormError
from engine.flows import sla, stepping
from engine.flows.assignees import AssignContext, Assignment, can_claim, pool_members, resolve
from engine.flows.spec import PEOPLE
from engine.forms.spec import Env
from engine.reactions import OutboxItem
from engine.rules.actions import run_actions
from engine.specs import AppSpec, TypeSpec
from engine.store import fast
from engine.store.models import FlowInstance, Task, Timer, Watcher

T, FI, TM, W = (m.__table__ for m in (Task, FlowInstance, Timer, Watcher))
TODO_ACTIONS = ("done",)
LIVE = ("open", "waiting")
INSERT_TASK = insert(T).returning(T.c.id)
INSERT_TIMER = insert(TM)
TASK = select(T).where(T.c.id == bindparam("task_id"))
#: The live tasks of one node of an instance (cancelled when a token leaves it).
LIVE_TASKS = select(T.c.id).where(
    T.c.instance_id == bindparam("instance_id"), T.c.node_id == bindparam("node_id"), T.c.status.in_(LIVE)
)
#: Close an open task, exactly once (its id as ``b_id``; the columns set come as parameters).
CLOSE_TASK = update(T).where(T.c.id == bindparam("b_id"), T.c.status == "open")
#: The assignee of the instance's newest task that has one (the ``current`` of assignee specs).
CURRENT_ASSIGNEE = (
    select(T.c.assignee_id)
    .where(T.c.instance_id == bindparam("instance_id"), T.c.assignee_id.is_not(None))
    .order_by(T.c.id.desc())
    .limit(1)
)


@dataclass
class Ticketing:
    """The ticket a command works on, as the flow needs it."""

    record_id: int
    number: str
    app_id: int
    app_key: str
    ticket_type: str
    data: dict[str, Any]
    submitter: int | None
    status: str = "open"
    channel: str | None = None


@dataclass
class FlowState:
    id: int
    tokens: list[str]
    state: dict[str, Any]
    status: str = "running"
    parent_instance_id: int | None = None
    parent_node: str | None = None


@dataclass
class FlowWork:
    conn: Connection
    spec: AppSpec
    tspec: TypeSpec
    ticket: Ticketing
    instance: FlowState
    actor: int | None
    now: dt.datetime
    env: Callable[[], Env]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)  # rows already written by nested commands
    changed: list[str] = field(default_factory=list)  # fields changed by the flow itself (auto steps)
    finished: bool = False
    start_child: Callable[[FlowWork, NodeDef], int] | None = None
    create_linked: Callable[[FlowWork, str, str, dict[str, Any]], int] | None = None
    settled: set[str] = field(default_factory=set)  # nodes left whose work is known to be all done
    original: dict[str, Any] = field(default_factory=dict)  # the data before this command (``old.``)
    version: int = 0
    closed_said: bool = False
    base_seq: int = 0  # the ticket's last event seq before this command
    rules_seen: int = 0  # events before this index have met the rules
    event_depths: dict[int, int] = field(default_factory=dict)  # how many rules deep an event was made
    fresh: bool = False  # the ticket is created by this command: no rows of it existed before
    sla_paused: bool = False  # this command paused an SLA clock
    _ctx: dict[str, Any] | None = None
    #: The current assignee when known without a query: (user,) — kept only for a fresh ticket, whose
    #: tasks are all made in this command; None means "ask the database".
    _assignee: tuple[int | None] | None = None

    def __post_init__(self) -> None:
        if self.fresh:
            self._assignee = (None,)

    # ------------------------------------------------------------------ expressions
    def context(self) -> dict[str, Any]:
        """What branch conditions and actions see: every field typed, ``user``, ``ticket``, ``now``."""
        if self._ctx is None:
            ctx = self.tspec.form.typed(self.ticket.data)
            env = self.env()
            ctx["user"] = dict(env.user)
            ctx["ticket"] = {**dict(env.ticket), "number": self.ticket.number, "stage": self.stage}
            ctx["now"] = self.now
            ctx["today"] = self.now.date()
            self._ctx = ctx
        return self._ctx

    def hooks(self) -> stepping.Hooks:
        return stepping.Hooks(context=self.context, auto=self._auto)

    def _auto(self, node: NodeDef) -> None:
        run_actions(self, node.get("actions"), {"node": node.id})

    @property
    def stage(self) -> str | None:
        tokens = self.instance.tokens
        return next(
            (t for t in tokens if self.tspec.flow.nodes[t].type in PEOPLE), tokens[0] if tokens else None
        )

    # ------------------------------------------------------------------ moving the flow
    def apply(self, walk: stepping.Walk) -> None:
        """Write what a walk did: cancel the work of nodes left, open the work of nodes entered."""
        flow = self.tspec.flow
        self.events += walk.events
        self.instance.tokens = walk.tokens
        self.instance.state = walk.state
        paused = any(flow.nodes[t].get("sla_paused") for t in walk.tokens)
        for node_id in walk.left:
            self.cancel_node(node_id)
            sla.leave(self, node_id, pause=paused and not flow.nodes[node_id].get("sla_paused"))
        for node_id in walk.waiting:
            node = flow.nodes[node_id]
            visits = self.instance.state.setdefault("visits", {})
            visits[node_id] = visits.get(node_id, 0) + 1
            OPENERS[node.type](self, node)
        sla.settle(self, paused)
        if walk.finished:
            self.instance.status = "ended"
            self.finished = True
            sla.close_all(self)
        self._ctx = None

    def cancel_node(self, node_id: str, keep: int | None = None) -> None:
        """Cancel the live tasks and pending timers of ``node_id`` (a token left it)."""
        node = self.tspec.flow.nodes[node_id]
        if node.type == "timer" or node.get("reminders"):
            self.conn.execute(
                update(TM)
                .where(
                    TM.c.record_id == self.ticket.record_id,
                    TM.c.node_id == node_id,
                    TM.c.status == "pending",
                    TM.c.kind.in_(("node", "reminder")),
                )
                .values(status="cancelled")
            )
        if node_id in self.settled or node.type not in PEOPLE:
            return
        rows = self.conn.execute(LIVE_TASKS, {"instance_id": self.instance.id, "node_id": node_id}).scalars()
        cancelled = [tid for tid in rows if tid != keep]
        if cancelled:
            self.conn.execute(
                update(T).where(T.c.id.in_(cancelled)).values(status="cancelled", completed_at=self.now)
            )
            self.events += [("task_cancelled", {"task": tid, "node": node_id}) for tid in cancelled]

    # ------------------------------------------------------------------ opening work
    def assign_context(self) -> AssignContext:
        return AssignContext(
            conn=self.conn,
            app_id=self.ticket.app_id,
            app_key=self.ticket.app_key,
            ticket_type=self.ticket.ticket_type,
            data=self.ticket.data,
            submitter=self.ticket.submitter,
            assignee=self._current_assignee(),
            channel=self.ticket.channel,
            expr_context=self.context,
        )

    def _current_assignee(self) -> int | None:
        if self._assignee is not None:
            return self._assignee[0]
        return self.conn.execute(CURRENT_ASSIGNEE, {"instance_id": self.instance.id}).scalar()

    def _task_added(self, user: int | None) -> None:
        """A task of this instance was inserted (the newest): it is the current one if it has a holder."""
        if self._assignee is not None and user is not None:
            self._assignee = (user,)

    def resolve(self, spec: Mapping[str, Any] | None) -> Assignment:
        if not spec:
            return Assignment(users=(), pool={})
        return resolve(self.assign_context(), thaw(spec))

    def open_people(self, node: NodeDef) -> None:
        mode = (node.get("mode") or "single") if node.type == "approval" else None
        specs = list(node.get("assignees") or ([node.get("assignee")] if node.get("assignee") else [None]))
        group = f"{node.id}#{self.instance.state['visits'][node.id]}"
        seats: list[tuple[int | None, dict[str, Any], Assignment]] = []
        if mode in (None, "single"):
            found = self.resolve(specs[0])
            seats.append((*_seat(found), found))
        else:
            seen: set[int] = set()
            for spec in specs:
                found = self.resolve(spec)
                if found.users:
                    seats += [(u, {}, found) for u in found.users if not (u in seen or seen.add(u))]
                else:
                    seats.append((None, dict(found.pool), found))
        for position, (user, pool, found) in enumerate(seats):
            status = "waiting" if mode == "sequential" and position > 0 else "open"
            self.add_task(node, user, pool, status, group, position, team=found.team)
            if found.problem:
                self.events.append(
                    (
                        "assignment_problem",
                        {"node": node.id, "code": found.problem, "params": dict(found.params)},
                    )
                )
        if mode is not None:
            self.events.append(
                ("approval_started", {"node": node.id, "mode": mode, "group": group, "signers": len(seats)})
            )
        reminders = node.get("reminders") or ()
        self.add_timers(
            [
                ("reminder", node.id, sla.due_after(self, node, r["after"], self.now), {"reminder": i}, {})
                for i, r in enumerate(reminders)
            ]
        )
        sla.enter(self, node)

    def add_task(
        self,
        node: NodeDef,
        user: int | None,
        pool: Mapping[str, Any],
        status: str,
        group: str | None,
        position: int,
        team: str | None = None,
        waits_for: int | None = None,
    ) -> int:
        task_id = fast.scalar(
            self.conn,
            INSERT_TASK,
            {
                "instance_id": self.instance.id,
                "record_id": self.ticket.record_id,
                "node_id": node.id,
                "status": status,
                "assignee_id": user,
                "candidates": dict(pool),
                "pool_key": pool_key(pool),
                "created_at": self.now,
                "kind": node.type,
                "group_key": group,
                "position": position,
                "waits_for": waits_for,
            },
        )
        self._task_added(user)
        payload: dict[str, Any] = {"task": task_id, "node": node.id, "assignee": user, "status": status}
        if pool:
            payload["pool"] = dict(pool)
        if team:
            payload["team"] = team
        self.events.append(("task_created", payload))
        return task_id

    def open_timer(self, node: NodeDef) -> None:
        wait = node.get("wait") or {}
        if "until" in wait:
            value = self.context().get(wait["until"])
            due = _as_moment(value)
            if due is None:
                self.events.append(("flow_warning", {"node": node.id, "code": "flow.timer_field_empty"}))
                due = self.now
        else:
            due = sla.due_after(self, node, wait.get("duration", "0m"), self.now)
        self.add_timer("node", node.id, due, {})
        self.events.append(("timer_set", {"node": node.id, "due_at": due.isoformat()}))

    def open_subprocess(self, node: NodeDef) -> None:
        if self.start_child is None:
            raise ActionError(
                "flow.subprocess_failed", node=node.id, ticket_type=node.get("ticket_type"), detail="-"
            )
        child = self.start_child(self, node)
        self.events.append(("subprocess_started", {"node": node.id, "child": child}))

    def add_timer(
        self, kind: str, node_id: str | None, due: dt.datetime, payload: dict[str, Any], **ids: Any
    ) -> None:
        self.add_timers([(kind, node_id, due, payload, ids)])

    def add_timers(
        self, timers: list[tuple[str, str | None, dt.datetime, dict[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Insert pending timers, in order, in one statement: (kind, node, due, payload, ids)."""
        if not timers:
            return
        rows = [
            {
                "record_id": self.ticket.record_id,
                "instance_id": self.instance.id,
                "kind": kind,
                "node_id": node_id,
                "clock_id": ids.get("clock_id"),
                "task_id": ids.get("task_id"),
                "due_at": due,
                "status": "pending",
                "payload": payload,
                "created_at": self.now,
            }
            for kind, node_id, due, payload, ids in timers
        ]
        fast.execute_many(self.conn, INSERT_TIMER, rows)

    # ------------------------------------------------------------------ people acting
    def task(self, task_id: int) -> Any:
        row = self.conn.execute(TASK, {"task_id": task_id}).first()
        return row

    def ensure_may_act(self, task: Any, action: str, is_admin: bool) -> None:
        """Only a current assignee (or an admin, or the system) acts; pool members claim by acting."""
        if task.status == "waiting":
            raise ActionError("flow.task_waiting", task=task.id)
        if task.status != "open":
            raise ActionError("flow.task_done", task=task.id, status=task.status)
        if self.actor is None or is_admin:
            return
        if task.assignee_id is None:
            if not self.may_claim(task):
                raise ActionError("flow.not_claimable", task=task.id, pool=pool_text(task.candidates))
            self.claim(task)
            return
        if self.actor not in (task.assignee_id, task.delegated_from):
            raise ActionError("flow.not_assignee", task=task.id, action=action)

    def may_claim(self, task: Any) -> bool:
        pool = task.candidates or {}
        if "users" in pool:
            return self.actor in pool["users"]
        return bool(pool) and can_claim(self.conn, self.ticket.app_id, pool, self.actor)

    def claim(self, task: Any) -> None:
        done = self.conn.execute(
            update(T)
            .where(T.c.id == task.id, T.c.status == "open", T.c.assignee_id.is_(None))
            .values(assignee_id=self.actor, claimed_at=self.now)
        )
        self._assignee = None  # an older task got a holder: ask the database from now on
        if done.rowcount != 1:
            raise ConflictError("flow.task_taken", task=task.id)
        self.events.append(("task_claimed", {"task": task.id, "node": task.node_id, "assignee": self.actor}))
        sla.responded(self, task.node_id)

    def close_task(self, task: Any, outcome: str, comment: str | None) -> None:
        """Mark ``task`` done — exactly once, whoever races for it (the other gets a conflict)."""
        done = self.conn.execute(
            CLOSE_TASK,
            {
                "b_id": task.id,
                "status": "done",
                "outcome": outcome,
                "completed_at": self.now,
                "completed_by": self.actor,
            },
        )
        if done.rowcount != 1:
            raise ConflictError("flow.task_taken", task=task.id)
        payload: dict[str, Any] = {"task": task.id, "node": task.node_id, "action": outcome}
        if comment:
            payload["comment"] = comment
        if task.delegated_from and self.actor == task.assignee_id:
            payload["on_behalf_of"] = task.delegated_from
        self.events.append(("task_completed", payload))
        sla.responded(self, task.node_id)

    def finish_task(self, task: Any, action: str, comment: str | None = None) -> None:
        """The assignee finished ``task`` with ``action``; approvals decide by their mode first."""
        if task.kind == "todo":  # a todo stands beside the flow: finishing it moves nothing
            if action not in TODO_ACTIONS:
                raise ActionError("flow.unknown_action", action=action, known=", ".join(TODO_ACTIONS))
            self.close_task(task, action, comment)
            return
        flow = self.tspec.flow
        node = flow.nodes[task.node_id]
        known = stepping.available_actions(flow, node.id)
        if action not in known:
            raise ActionError("flow.unknown_action", action=action, known=", ".join(known))
        self.close_task(task, action, comment)
        if node.type == "approval" and action in ("approve", "reject"):
            decision = self.decide(task, action)
            if decision is None:
                return
            action = decision
        else:
            self.settled.add(node.id)  # a task node has one task a visit: nothing else to cancel
        walk = stepping.complete(
            flow, self.instance.tokens, node.id, action, self.hooks(), self.instance.state
        )
        self.apply(walk)

    def decide(self, task: Any, decision: str) -> str | None:
        """An approver decided: does the group (by its mode) now approve, reject, or wait for more?"""
        node = self.tspec.flow.nodes[task.node_id]
        mode = node.get("mode") or "single"
        rows = self.conn.execute(
            select(T.c.id, T.c.status, T.c.outcome, T.c.position, T.c.waits_for)
            .where(T.c.instance_id == task.instance_id, T.c.group_key == task.group_key)
            .order_by(T.c.position, T.c.id)
        ).all()
        counted = [r for r in rows if r.status != "cancelled"]
        approvals = sum(1 for r in counted if r.outcome == "approve")
        rejections = sum(1 for r in counted if r.outcome == "reject")
        live = [r for r in counted if r.status in LIVE]
        result: str | None
        if mode in ("single", "or_sign"):
            result = decision
        elif mode == "percentage":
            threshold = float(node.get("threshold") or 1)
            needed = math.ceil(threshold * len(counted) - 1e-9) if threshold <= 1 else int(threshold)
            needed = max(1, min(needed, len(counted)))
            if approvals >= needed:
                result = "approve"
            elif rejections > len(counted) - needed:
                result = "reject"
            else:
                result = None
        elif decision == "reject":
            result = "reject"  # countersign and sequential: one rejection rejects
        else:
            result = None if live else "approve"
        if result is None:
            self._wake(task, live, sequential=mode == "sequential")
            return None
        self.settled.add(node.id)  # the live ones are cancelled right here
        for r in live:
            self.conn.execute(
                update(T).where(T.c.id == r.id).values(status="cancelled", completed_at=self.now)
            )
            self.events.append(("task_cancelled", {"task": r.id, "node": node.id}))
        self.events.append(
            ("approval_decided", {"node": node.id, "group": task.group_key, "outcome": result, "mode": mode,
                                  "approvals": approvals, "rejections": rejections})
        )  # fmt: skip
        return result

    def _wake(self, decided: Any, live: list[Any], sequential: bool) -> None:
        """Open waiting tasks whose turn has come: those waiting for ``decided``, or the next in line."""
        waiting = [r for r in live if r.status == "waiting"]
        wake = [r for r in waiting if r.waits_for == decided.id]
        if not wake and sequential and not any(r.status == "open" for r in live):
            wake = [next((r for r in waiting if r.waits_for is None), None)]
        for r in (w for w in wake if w is not None):
            self.conn.execute(update(T).where(T.c.id == r.id).values(status="open", waits_for=None))
            self.events.append(("task_opened", {"task": r.id, "node": decided.node_id}))

    # ------------------------------------------------------------------ effects of actions
    def set_fields(self, values: Mapping[str, Any], rule: str | None = None) -> None:
        """Fields set by automation (``rule``: the rule's name, kept in the events for the timeline)."""
        clean = self.tspec.form.validate(
            dict(values), partial=True, current=self.ticket.data, env=self.env(), system=True
        )
        for key, value in clean.items():
            old = self.ticket.data.get(key)
            if old != value:
                change = {"field": key, "old": old, "new": value, "by": "flow"}
                self.events.append(("field_changed", {**change, "rule": rule} if rule else change))
                self.ticket.data[key] = value
                self.changed.append(key)
        self._ctx = None

    def reassign(self, spec: Mapping[str, Any], node: str | None = None) -> None:
        """Give the open tasks of ``node`` (default: every current stage) to someone else."""
        nodes = [node] if node else list(self.instance.tokens)
        found = self.resolve(spec)
        user, pool = _seat(found)
        rows = self.conn.execute(
            select(T.c.id, T.c.node_id, T.c.assignee_id).where(
                T.c.instance_id == self.instance.id, T.c.node_id.in_(nodes), T.c.status.in_(LIVE)
            )
        ).all()
        if rows:
            self._assignee = None  # older tasks change holders: ask the database from now on
        for r in rows:
            self.conn.execute(
                update(T)
                .where(T.c.id == r.id)
                .values(assignee_id=user, candidates=pool, pool_key=pool_key(pool), delegated_from=None)
            )
            payload = {"task": r.id, "node": r.node_id, "from": r.assignee_id, "to": user}
            if pool:
                payload["pool"] = pool
            if found.team:
                payload["team"] = found.team
            self.events.append(("task_reassigned", payload))

    def add_watchers(self, spec: Mapping[str, Any]) -> None:
        found = self.resolve(spec)
        users = list(found.users) or pool_members(self.conn, self.ticket.app_id, found.pool)
        have = set(
            self.conn.execute(select(W.c.user_id).where(W.c.record_id == self.ticket.record_id)).scalars()
        )
        new = [u for u in dict.fromkeys(users) if u not in have]
        if new:
            self.conn.execute(
                insert(W),
                [{"record_id": self.ticket.record_id, "user_id": u, "added_at": self.now} for u in new],
            )
            self.events.append(("watchers_added", {"users": new}))

    def add_todo(self, spec: Mapping[str, Any], title: Any, due: Any = None) -> None:
        """A todo for someone beside the flow (e.g. ask the customer to rate the service)."""
        found = self.resolve(spec)
        user, pool = _seat(found)
        due_at = sla.due_after(self, None, due, self.now) if due else None
        task_id = fast.scalar(
            self.conn,
            INSERT_TASK,
            {
                "instance_id": self.instance.id,
                "record_id": self.ticket.record_id,
                "node_id": "todo",
                "status": "open",
                "assignee_id": user,
                "candidates": {**pool, "title": thaw(title)},
                "pool_key": pool_key(pool),
                "created_at": self.now,
                "due_at": due_at,
                "kind": "todo",
                "position": 0,
            },
        )
        self._task_added(user)
        self.events.append(("todo_created", {"task": task_id, "assignee": user, "title": thaw(title)}))
        if due_at is not None:  # still open then: a task_overdue event the rules see
            self.add_timer("overdue", "todo", due_at, {}, task_id=task_id)

    def perform(self, action: str, node: str | None = None) -> None:
        """A flow action done by the system: close, cancel, return to ``node``, or an edge's action."""
        flow = self.tspec.flow
        if action in ("close", "cancel"):
            walk = stepping.Walk(tokens=list(self.instance.tokens), state=self.instance.state)
            status = "closed" if action == "close" else "cancelled"
            self.apply(stepping.finish(walk, self.stage or "end", status))
            self.ticket.status = status
            self.events.append((f"ticket_{status}", {"by": "rule"}))
            return
        if action == "return" and node:
            tokens = list(self.instance.tokens)
            self.apply(stepping.jump(flow, tokens, tokens, node, self.hooks(), self.instance.state))
            return
        rows = self.conn.execute(
            select(T).where(T.c.instance_id == self.instance.id, T.c.status == "open", T.c.kind != "todo")
        ).all()
        for task in rows:
            if action in stepping.available_actions(flow, task.node_id):
                self.finish_task(task, action)
                return
        raise ActionError("flow.unknown_action", action=action, known="-")

    def notify(self, value: dict[str, Any], origin: Mapping[str, Any]) -> None:
        """Queue a notification (rendered now, sent by the outbox after commit)."""
        from engine.rules.notify import build_notifications

        items = build_notifications(self, value, origin)
        self.outbox.extend(items)
        self.events.append(
            (
                "notification_queued",
                {"channel": value.get("channel"), "to": value.get("to"), "count": len(items), **origin},
            )
        )


def _as_moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return None


def _seat(found: Assignment) -> tuple[int | None, dict[str, Any]]:
    """One task's holder: the one person found, else the pool that may claim it (several people
    named become a ``users`` pool)."""
    if len(found.users) == 1:
        return found.users[0], {}
    return None, dict(found.pool) or ({"users": list(found.users)} if found.users else {})


def pool_key(pool: Mapping[str, Any] | None) -> str | None:
    """The text the team queue finds a pool task by: ``role:KEY``, ``department:ID`` or ``users``."""
    if not pool:
        return None
    if isinstance(pool.get("role"), str):
        return f"role:{pool['role']}"
    if pool.get("department") is not None:
        return f"department:{pool['department']}"
    return "users" if pool.get("users") else None


def pool_text(pool: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (pool or {}).items()) or "-"


OPENERS: dict[str, Callable[[FlowWork, NodeDef], None]] = {
    "task": FlowWork.open_people,
    "approval": FlowWork.open_people,
    "timer": FlowWork.open_timer,
    "subprocess": FlowWork.open_subprocess,
}

__all__ = ["FlowState", "FlowWork", "FormError", "Ticketing"]
