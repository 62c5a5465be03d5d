"""The Runtime's flow commands: act on tasks, claim, transfer, add signers, return, withdraw,
close, reopen, cancel, and fire due timers. Each is one transaction, like every Runtime command.

Kept apart from engine/runtime.py so the Runtime stays readable; :class:`FlowCommands` is a base
of the Runtime and uses its helpers (records, events, reactions).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update

from engine.errors import ActionError, FormError, GongdanError, NotFoundError, Problem
from engine.flows import sla, stepping
from engine.flows.ticket_actions import action_label, may_cancel, may_close, may_hand_on, withdraw_refusal
from engine.flows.work import TASK, FlowState, FlowWork, Ticketing, pool_text
from engine.i18n import Localized, Message
from engine.observability import timed_command
from engine.reactions import OUTBOX_MAX_ATTEMPTS
from engine.rules import schedules
from engine.rules.engine import rule_context, run_rule_actions, run_rules
from engine.store import fast
from engine.store.models import FlowInstance, Task, Timer, User

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Ticket

log = logging.getLogger("gongdan.flows")
T, FI, TM = (m.__table__ for m in (Task, FlowInstance, Timer))
TIMER_BATCH = 200
#: Save a flow instance at the end of a command (its id as ``b_id``, the columns as parameters).
SAVE_INSTANCE = update(FI).where(FI.c.id == bindparam("b_id"))
INSTANCE_OF_RECORD = select(FI).where(FI.c.record_id == bindparam("record_id"))
IS_ADMIN = select(User.__table__.c.is_admin).where(User.__table__.c.id == bindparam("user_id"))


class FlowCommands:
    """Flow actions of the Runtime (mixed into :class:`engine.runtime.Runtime`)."""

    # ------------------------------------------------------------------ task actions
    def act(
        self,
        task_id: int,
        action: str,
        data: Mapping[str, Any] | None = None,
        actor: int | None = None,
        comment: str | None = None,
    ) -> Ticket:
        """Finish a task with ``action`` (an edge's action, complete, approve, reject), saving fields too."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            work.ensure_may_act(task, action, self._is_admin(conn, work.actor))
            self._form_input(conn, work, rec, data, task.node_id)
            if task.kind != "todo":
                _required_for(work, task.node_id, action)
            work.finish_task(task, action, comment)

        return self._on_task(task_id, actor, action, run)

    def claim(self, task_id: int, actor: int) -> Ticket:
        """Take a task from its pool (a role, a department, a list of people)."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            if task.status != "open":
                raise ActionError("flow.task_done", task=task.id, status=task.status)
            if task.assignee_id is not None:
                if task.assignee_id == actor:
                    return
                raise ActionError("flow.already_claimed", task=task.id)
            if not (work.may_claim(task) or self._is_admin(conn, actor)):
                raise ActionError("flow.not_claimable", task=task.id, pool=pool_text(task.candidates))
            work.claim(task)

        return self._on_task(task_id, actor, "claim", run)

    def release(self, task_id: int, actor: int) -> Ticket:
        """Give a claimed task back to its pool."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            self._must_hold(conn, work, task, "release")
            if not task.candidates:
                raise ActionError("flow.not_in_pool", task=task.id)
            conn.execute(update(T).where(T.c.id == task.id).values(assignee_id=None, claimed_at=None))
            work.events.append(("task_released", {"task": task.id, "node": task.node_id, "by": actor}))

        return self._on_task(task_id, actor, "release", run)

    def transfer(
        self, task_id: int, to_user: int, actor: int | None = None, comment: str | None = None
    ) -> Ticket:
        """转派: hand the task to someone else (counted per ticket)."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            self._must_hold(conn, work, task, "transfer")
            self._may_hand_on(conn, work, rec, "transfer")
            self._active_user(conn, to_user, task)
            conn.execute(
                update(T)
                .where(T.c.id == task.id)
                .values(assignee_id=to_user, delegated_from=None, claimed_at=work.now)
            )
            payload = {"task": task.id, "node": task.node_id, "from": task.assignee_id, "to": to_user}
            work.events.append(("task_transferred", {**payload, **_said(comment)}))

        return self._on_task(task_id, actor, "transfer", run)

    def delegate(
        self, task_id: int, to_user: int, actor: int | None = None, comment: str | None = None
    ) -> Ticket:
        """委托: let someone act for the assignee, who stays responsible and may still act."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            self._must_hold(conn, work, task, "delegate")
            self._may_hand_on(conn, work, rec, "delegate")
            self._active_user(conn, to_user, task)
            owner = task.delegated_from or task.assignee_id
            conn.execute(update(T).where(T.c.id == task.id).values(assignee_id=to_user, delegated_from=owner))
            payload = {"task": task.id, "node": task.node_id, "from": owner, "to": to_user}
            work.events.append(("task_delegated", {**payload, **_said(comment)}))

        return self._on_task(task_id, actor, "delegate", run)

    def add_signer(
        self,
        task_id: int,
        user: int,
        where: str = "after",
        actor: int | None = None,
        comment: str | None = None,
    ) -> Ticket:
        """加签: add an approver before (they decide first, then this task opens again) or after."""
        if where not in ("before", "after"):
            raise ActionError("flow.unknown_action", action=f"add_signer:{where}", known="before, after")

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            self._must_hold(conn, work, task, "add_signer")
            node = work.tspec.flow.nodes[task.node_id]
            if node.type != "approval":
                raise ActionError("flow.not_approval", node=node.id, action="add_signer")
            self._active_user(conn, user, task)
            signers = conn.execute(
                select(T.c.assignee_id).where(
                    T.c.group_key == task.group_key,
                    T.c.instance_id == task.instance_id,
                    T.c.status != "cancelled",
                )
            ).scalars()
            if user in set(signers):
                raise ActionError("flow.already_signer", user=user, node=node.id)
            sequential = (node.get("mode") or "single") in ("sequential", "single")
            conn.execute(
                update(T)
                .where(
                    T.c.group_key == task.group_key,
                    T.c.instance_id == task.instance_id,
                    T.c.position > task.position,
                )
                .values(position=T.c.position + 1)
            )
            if where == "before":
                new_id = work.add_task(node, user, {}, "open", task.group_key, task.position + 1)
                conn.execute(update(T).where(T.c.id == task.id).values(status="waiting", waits_for=new_id))
            else:
                status = "waiting" if sequential else "open"
                new_id = work.add_task(
                    node,
                    user,
                    {},
                    status,
                    task.group_key,
                    task.position + 1,
                    waits_for=task.id if sequential else None,
                )
            if (node.get("mode") or "single") == "single":
                work.instance.state.setdefault("countersign", {})[task.group_key] = True
            payload = {"task": task.id, "node": node.id, "signer": user, "where": where, "new_task": new_id}
            work.events.append(("signer_added", {**payload, **_said(comment)}))

        return self._on_task(task_id, actor, "add_signer", run)

    def return_to(
        self, task_id: int, node_id: str, actor: int | None = None, comment: str | None = None
    ) -> Ticket:
        """退回: send the ticket back to an earlier node the definition allows; entered data is kept."""

        def run(conn: Connection, work: FlowWork, task: Any, rec: Any) -> None:
            work.ensure_may_act(task, "return", self._is_admin(conn, work.actor))
            flow = work.tspec.flow
            allowed = flow.returns.get(task.node_id, ())
            if node_id not in allowed:
                raise ActionError(
                    "flow.return_not_allowed",
                    node=task.node_id,
                    target=node_id,
                    allowed=", ".join(allowed) or "-",
                )
            work.close_task(task, "return", comment)
            walk = stepping.jump(
                flow, work.instance.tokens, [task.node_id], node_id, work.hooks(), work.instance.state
            )
            work.events.append(
                ("returned", {"task": task.id, "from": task.node_id, "to": node_id, **_said(comment)})
            )
            work.apply(walk)

        return self._on_task(task_id, actor, "return", run)

    # ------------------------------------------------------------------ ticket actions
    def withdraw(self, record_id: int, actor: int, comment: str | None = None) -> Ticket:
        """撤回: whoever submitted the last step takes it back while nobody has acted on what followed."""

        def run(conn: Connection, work: FlowWork, rec: Any) -> None:
            events = self._events_since_start(conn, rec.id)
            refusal = withdraw_refusal(events, actor)
            if refusal is not None:
                raise ActionError("flow.withdraw_not_allowed", reason=Message(refusal, {}))
            last = next(e for e in reversed(events) if e["type"] in ("task_completed", "created"))
            flow = work.tspec.flow
            back_to = last["payload"].get("node") if last["type"] == "task_completed" else None
            tokens = list(work.instance.tokens)
            if back_to is None:  # the creation itself: the submitter gets a draft task at the start
                walk = stepping.finish(
                    stepping.Walk(tokens=tokens, state=work.instance.state), flow.start, "withdrawn"
                )
                walk.finished, walk.tokens = False, [flow.start]
                work.apply(walk)
                node = flow.nodes[flow.start]
                work.instance.state.setdefault("visits", {})[flow.start] = 1
                work.add_task(node, actor, {}, "open", f"{flow.start}#draft", 0)
            else:
                walk = stepping.jump(
                    flow, tokens, tokens, back_to, work.hooks(), work.instance.state, "withdrawn"
                )
                work.apply(walk)
            work.events.append(("withdrawn", {"to": back_to or flow.start, **_said(comment)}))

        return self._on_record(record_id, actor, "withdraw", run)

    def close(self, record_id: int, actor: int | None = None, comment: str | None = None) -> Ticket:
        """Close the ticket now (an assignee or an admin): open work is cancelled, the flow ends."""
        return self._end_ticket(record_id, actor, comment, "close", "closed", assignee_may=True)

    def cancel(self, record_id: int, actor: int | None = None, comment: str | None = None) -> Ticket:
        """Cancel the ticket (its submitter or an admin): open work is cancelled, the flow ends."""
        return self._end_ticket(record_id, actor, comment, "cancel", "cancelled", assignee_may=False)

    def _end_ticket(
        self,
        record_id: int,
        actor: int | None,
        comment: str | None,
        action: str,
        status: str,
        assignee_may: bool,
    ) -> Ticket:
        def run(conn: Connection, work: FlowWork, rec: Any) -> None:
            if actor is not None and not self._is_admin(conn, actor):
                may = may_close if assignee_may else may_cancel
                if not may(work.tspec.flow, self._open_tasks(conn, work), actor, rec.created_by, False):
                    reason = "flow.reason.close" if assignee_may else "flow.reason.cancel"
                    raise ActionError(
                        "flow.not_allowed", number=rec.number, action=action, reason=Message(reason, {})
                    )
            walk = stepping.Walk(tokens=list(work.instance.tokens), state=work.instance.state)
            work.apply(stepping.finish(walk, work.stage or "end", status))
            work.events.append((f"ticket_{status}", _said(comment)))
            work.ticket.status = status

        return self._on_record(record_id, actor, action, run)

    def reopen(self, record_id: int, actor: int | None = None, comment: str | None = None) -> Ticket:
        """Reopen a closed ticket at the flow's ``reopen_to`` node (counted per ticket)."""

        def run(conn: Connection, work: FlowWork, rec: Any) -> None:
            if rec.status != "closed":
                raise ActionError("flow.not_closed", number=rec.number)
            if actor is not None and not self._is_admin(conn, actor) and actor != rec.created_by:
                past = set(conn.execute(select(T.c.completed_by).where(T.c.record_id == rec.id)).scalars())
                if actor not in past:
                    raise ActionError(
                        "flow.not_allowed", number=rec.number, action="reopen",
                        reason=Message("flow.reason.admin_or_submitter", {}),
                    )  # fmt: skip
            target = work.tspec.flow.reopen_to
            if target is None:
                raise ActionError("flow.no_reopen_node")
            work.ticket.status = "open"
            work.instance.status = "running"
            work.events.append(("reopened", {"to": target, **_said(comment)}))
            work.apply(stepping.jump(work.tspec.flow, [], [], target, work.hooks(), {}, "reopen"))

        return self._on_record(record_id, actor, "reopen", run, allow_finished=True)

    # ------------------------------------------------------------------ timers
    def due_timers(self, now: dt.datetime | None = None, limit: int = TIMER_BATCH) -> list[int]:
        now = now or self.clock()
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(TM.c.id)
                    .where(TM.c.status == "pending", TM.c.due_at <= now)
                    .order_by(TM.c.due_at, TM.c.id)
                    .limit(limit)
                ).scalars()
            )

    def fire_due_timers(self, now: dt.datetime | None = None, limit: int = TIMER_BATCH) -> int:
        """Fire every timer due by ``now``, oldest first; a worker that was down catches up.

        Each timer is fired in its own transaction, taking its locks in the order every command
        takes them: the ticket's record first, then the timer. (The other order — timer, then
        record — deadlocks on PostgreSQL against a person acting on the same ticket, who holds the
        record and then updates its pending timers.) The next timer is the oldest due one whose
        ticket nobody holds, its record taken with engine.jobs.claiming (``FOR UPDATE SKIP LOCKED``),
        so workers ticking together share the timers; when every due timer is on a ticket someone
        holds, the worker waits for the oldest one's record, holding nothing else. Holding the
        record, it claims the timer only if it is still pending and due, so none fires twice; one
        fired, cancelled or moved meanwhile is passed over, not counted. A timer that crashes
        unexpectedly (not a flow error, e.g. a lost connection) stays pending for the next tick and
        does not hold up the ones behind it. ``limit`` is unused and kept for callers.
        """
        now = now or self.clock()
        fired = 0
        passed: set[int] = set()  # crashed or gone meanwhile: left to the next tick
        while True:
            outcome = self._fire_next(now, passed)
            if outcome is None:
                return fired
            fired += outcome

    def _fire_next(self, now: dt.datetime, passed: set[int]) -> bool | None:
        """Fire the oldest due timer (of a ticket nobody holds, if any); None when none is left."""
        from engine.jobs.claiming import locked
        from engine.store.models import Record

        R = Record.__table__
        due = select(TM.c.id, TM.c.record_id).where(TM.c.status == "pending", TM.c.due_at <= now)
        if passed:
            due = due.where(TM.c.id.not_in(sorted(passed)))
        due = due.order_by(TM.c.due_at, TM.c.id).limit(1)
        free = locked(due.join(R, R.c.id == TM.c.record_id), of=R)
        picked: list[int] = []

        def pick(conn: Connection) -> int | None:
            # The record is locked here (skipping held ones) or, when every due timer's ticket is
            # held, by _fire's self._record, which waits for it; never the timer before its record.
            row = conn.execute(free).first() or conn.execute(due).first()
            if row is not None:
                picked.append(row.id)
                return int(row.id)
            return None

        try:
            outcome = self._fire_guarded(pick, due_by=now)
        except Exception:
            if not picked:
                raise
            log.exception("timer %s crashed; it stays pending for the next tick", picked[0])
            passed.add(picked[0])
            return False
        if outcome is False:
            passed.add(picked[0])  # fired or cancelled by someone else, or failed: not pending now
        return outcome

    def fire_timer(self, timer_id: int) -> bool:
        """Fire one due timer exactly once; an error is logged on the ticket, never retried forever."""
        return bool(self._fire_guarded(lambda conn: timer_id))

    def _fire_guarded(
        self, pick: Callable[[Connection], int | None], due_by: dt.datetime | None = None
    ) -> bool | None:
        timer_id: int | None = None
        try:
            with timed_command("timer"), self.db.write() as conn:
                timer_id = pick(conn)
                if timer_id is None:
                    return None
                return self._fire(conn, timer_id, due_by)
        except GongdanError as exc:
            if timer_id is None:
                raise
            log.warning("timer %s failed: %s", timer_id, exc.message("en"))
            with self.db.write() as conn:
                timer = conn.execute(select(TM.c.record_id, TM.c.node_id).where(TM.c.id == timer_id)).one()
                self._record(conn, timer.record_id)  # the ticket before its timer, as everywhere
                claimed = conn.execute(
                    update(TM)
                    .where(TM.c.id == timer_id, TM.c.status == "pending")
                    .values(status="failed", fired_at=self.clock(), payload=TM.c.payload)
                )
                if claimed.rowcount == 1:
                    self._log_flow_error(
                        conn, timer.record_id, exc, {"timer": timer_id, "node": timer.node_id}
                    )
            return False

    def _fire(self, conn: Connection, timer_id: int, due_by: dt.datetime | None = None) -> bool:
        """Fire ``timer_id`` if it is still pending (and due by ``due_by``); False when it is not.

        The ticket's record is locked first (waiting for a command that holds it), then the timer is
        claimed by a conditional UPDATE: the same lock order as every command, so no deadlock.
        """
        now = self.clock()
        record_id = conn.execute(select(TM.c.record_id).where(TM.c.id == timer_id)).scalar()
        if record_id is None:
            return False
        rec = self._record(conn, record_id)
        claim = update(TM).where(TM.c.id == timer_id, TM.c.status == "pending")
        if due_by is not None:
            claim = claim.where(TM.c.due_at <= due_by)
        if conn.execute(claim.values(status="fired", fired_at=now)).rowcount != 1:
            return False
        timer = conn.execute(select(TM).where(TM.c.id == timer_id)).one()
        work = self._flow_work(conn, rec, None, now)
        if timer.kind == "node":
            if timer.node_id in work.instance.tokens:
                work.apply(
                    stepping.resume(
                        work.tspec.flow,
                        work.instance.tokens,
                        timer.node_id,
                        work.hooks(),
                        work.instance.state,
                    )
                )
        elif timer.kind == "sla":
            sla.fire(work, timer)
        elif timer.kind == "reminder":
            from engine.rules.actions import run_actions

            node = work.tspec.flow.nodes[timer.node_id]
            reminder = (node.get("reminders") or ())[timer.payload["reminder"]]
            work.events.append(("reminder_due", {"node": node.id, "after": reminder["after"]}))
            run_actions(work, reminder["do"], {"node": node.id, "reminder": timer.payload["reminder"]})
        elif timer.kind == "overdue":
            task = conn.execute(
                select(T.c.id, T.c.node_id, T.c.status).where(T.c.id == timer.task_id)
            ).first()
            if task is not None and task.status == "open":
                work.events.append(("task_overdue", {"task": task.id, "node": task.node_id}))
        if not work.events:
            return True
        self._commit_work(conn, work, rec)
        return True

    def fire_due_schedules(self, now: dt.datetime | None = None) -> int:
        """Run every scheduled rule that is due over the open tickets of its type; tickets touched."""
        now = now or self.clock()
        with self.db.write() as conn:
            claimed = schedules.claim_due(conn, now)
            apps = {row.payload["app"]: self._app_row(conn, row.payload["app"])[0] for row in claimed}
        touched = 0
        for row in claimed:
            payload = row.payload
            for ids in schedules.batches(self.db.read, apps[payload["app"]], payload["ticket_type"]):
                for record_id in ids:
                    touched += self._run_scheduled(record_id, payload["rule"])
        return touched

    def _run_scheduled(self, record_id: int, rule_name: str) -> int:
        fired: list[bool] = []

        def run(conn: Connection, work: FlowWork, rec: Any) -> None:
            rule = next((r for r in work.tspec.rules.scheduled if r.name == rule_name), None)
            if rule is None:  # the ticket runs on a version without this rule
                return
            if rule.condition is not None and not rule.condition(rule_context(work, "schedule", {})):
                return
            done = run_rule_actions(work, rule)
            work.events.append(("rule_fired", {"rule": rule.name, "event": "schedule", "actions": done}))
            fired.append(True)

        try:
            self._on_record(record_id, None, "schedule", run)
        except GongdanError as exc:
            log.warning("scheduled rule %s on ticket %s failed: %s", rule_name, record_id, exc.message("en"))
            self.record_flow_error(record_id, exc, {"rule": rule_name})
            return 0
        return len(fired)

    # ------------------------------------------------------------------ trying rules before publishing
    def rules_dry_run(
        self,
        app_key: str,
        ticket_type: str,
        data: Mapping[str, Any] | None = None,
        record_id: int | None = None,
        candidate: Any = None,
        actor: int | None = None,
    ) -> dict[str, Any]:
        """What the rules (the running ones, or a ``candidate`` definition's) would do: on a new ticket
        with ``data``, or on ticket ``record_id`` changed by ``data``. Everything is rolled back."""
        with self.db.write() as conn:
            app_id, version = self._app_row(conn, app_key)
            spec = self._candidate(conn, app_id, version, candidate)
            tspec = spec.types[ticket_type]
            if record_id is None:
                record_id, _ = self._create(
                    conn, app_id, version, spec, tspec, data or {}, actor, self.clock()
                )
            else:
                rec = self._record(conn, record_id)
                work = self._flow_work(conn, rec, actor, self.clock())
                work.spec, work.tspec = spec, tspec
                self._form_input(conn, work, rec, data, rec.stage if rec.status == "open" else None)
                self._commit_work(conn, work, rec)
            result = self._what_happened(conn, record_id)
            conn.rollback()
        return result

    def rules_replay(
        self,
        app_key: str,
        ticket_type: str,
        candidate: Any = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Per rule: what it would have matched over the tickets created in the window (default: the
        last 30 days). Read only."""
        from engine.rules.replay import replay

        until = until or self.clock()
        since = since or until - dt.timedelta(days=30)
        with self.db.read() as conn:
            app_id, version = self._app_row(conn, app_key)
            spec = self._candidate(conn, app_id, version, candidate)
        tspec = spec.types[ticket_type]
        return replay(self.db, app_id, tspec, tspec.rules, since, until)

    def _candidate(self, conn: Connection, app_id: int, version: int, candidate: Any) -> Any:
        if candidate is None:
            return self.spec_for(conn, app_id, version)
        from engine.definitions.loader import Loaded, load_definition
        from engine.specs import compile_app

        loaded = candidate if isinstance(candidate, Loaded) else load_definition(candidate)
        return compile_app(loaded.app)

    def _what_happened(self, conn: Connection, record_id: int) -> dict[str, Any]:
        from engine.store.models import Event, Outbox, Record, RuleRun

        E, OB, RRT, R = Event.__table__, Outbox.__table__, RuleRun.__table__, Record.__table__
        rec = conn.execute(
            select(R.c.number, R.c.data, R.c.stage, R.c.status).where(R.c.id == record_id)
        ).one()
        return {
            "ticket": {"number": rec.number, "data": rec.data, "stage": rec.stage, "status": rec.status},
            "events": [
                {"type": r.type, "payload": r.payload}
                for r in conn.execute(
                    select(E.c.type, E.c.payload).where(E.c.record_id == record_id).order_by(E.c.seq)
                )
            ],
            "rule_runs": [
                {
                    "rule": r.rule,
                    "trigger": r.trigger,
                    "matched": r.matched,
                    "actions": r.actions,
                    "error": r.error,
                }
                for r in conn.execute(select(RRT).where(RRT.c.record_id == record_id).order_by(RRT.c.id))
            ],
            "outbox": [
                {"channel": r.channel, "payload": r.payload}
                for r in conn.execute(
                    select(OB.c.channel, OB.c.payload).where(
                        OB.c.record_id == record_id, OB.c.status == "pending"
                    )
                )
            ],
        }

    # ------------------------------------------------------------------ shared machinery
    def _on_task(self, task_id: int, actor: int | None, action: str, run: Callable[..., None]) -> Ticket:
        with timed_command(action), self.db.write() as conn:
            task = conn.execute(TASK, {"task_id": task_id}).first()
            if task is None:
                raise NotFoundError(what="task", ident=task_id)
            rec = self._record(conn, task.record_id)
            if rec.status != "open" and task.kind != "todo":  # a todo outlives the flow (rate it)
                raise ActionError("flow.ticket_finished", number=rec.number, status=rec.status, action=action)
            work = self._flow_work(conn, rec, actor, self.clock())
            try:
                run(conn, work, task, rec)
            except stepping.ConditionFailed as exc:
                failed: stepping.ConditionFailed | None = exc
            else:
                failed = None
                ticket, outbox = self._commit_work(conn, work, rec)
            if failed is not None:
                conn.rollback()
        if failed is not None:
            self.record_flow_error(
                task.record_id, failed, {"node": failed.node, "task": task_id, "action": action}
            )
            raise failed
        self._after_commit(outbox)
        return ticket

    def _on_record(
        self,
        record_id: int,
        actor: int | None,
        action: str,
        run: Callable[..., None],
        allow_finished: bool = False,
    ) -> Ticket:
        with timed_command(action), self.db.write() as conn:
            rec = self._record(conn, record_id)
            if rec.status != "open" and not allow_finished:
                raise ActionError("flow.ticket_finished", number=rec.number, status=rec.status, action=action)
            work = self._flow_work(conn, rec, actor, self.clock())
            run(conn, work, rec)
            ticket, outbox = self._commit_work(conn, work, rec)
        self._after_commit(outbox)
        return ticket

    def _flow_work(
        self,
        conn: Connection,
        rec: Any,
        actor: int | None,
        now: dt.datetime,
        inst: Any = None,
        fresh: bool = False,
    ) -> FlowWork:
        spec = self.spec_for(conn, rec.app_id, rec.app_version)
        tspec = spec.types[rec.ticket_type]
        if inst is None:
            inst = conn.execute(INSTANCE_OF_RECORD, {"record_id": rec.id}).first()
        app_key = spec.key
        state = FlowState(
            inst.id,
            list(inst.tokens),
            dict(inst.state or {}),
            inst.status,
            inst.parent_instance_id,
            inst.parent_node,
        )
        channel = rec.data.get("channel")
        ticket = Ticketing(
            rec.id, rec.number, rec.app_id, app_key, rec.ticket_type, dict(rec.data), rec.created_by,
            rec.status, channel if isinstance(channel, str) else None,
        )  # fmt: skip
        env_cache: list[Any] = []

        def env() -> Any:
            if not env_cache:
                env_cache.append(self._env(conn, rec, actor, tspec.form, now))
            return env_cache[0]

        return FlowWork(
            conn, spec, tspec, ticket, state, actor, now, env, start_child=self._start_child,
            create_linked=self._create_linked, original=dict(rec.data), version=rec.app_version,
            base_seq=rec.event_seq, fresh=fresh,
        )  # fmt: skip

    def _commit_work(self, conn: Connection, work: FlowWork, rec: Any) -> tuple[Ticket, list[int]]:
        """Write what the work did: instance, record, events, reactions — in the open transaction."""
        if not work.events:  # nothing happened (e.g. claiming a task one already holds)
            return self._ticket(conn, rec, work.spec), []
        _settle(work, rec.status)
        run_rules(work)
        if _settle(work, rec.status):  # a rule closed it: the rules on `closed` run too
            run_rules(work)
        tspec = work.tspec
        if work.changed:
            self._claim_unique(
                conn, rec.app_id, tspec, rec.id, work.ticket.data, tspec.unique_keys, work.changed
            )
            self._check_references(conn, tspec, work.ticket.data, work.changed)
        fast.execute(
            conn,
            SAVE_INSTANCE,
            {
                "b_id": work.instance.id,
                "tokens": work.instance.tokens,
                "state": work.instance.state,
                "status": work.instance.status,
                "ended_at": work.now if work.instance.status == "ended" else None,
            },
        )
        status = work.ticket.status
        values: dict[str, Any] = {
            "data": work.ticket.data,
            "stage": None if status != "open" else work.stage,
            "status": status,
            "updated_by": work.actor,
            "updated_at": work.now,
            "closed_at": rec.closed_at if status == rec.status else (work.now if status != "open" else None),
        }
        emitted = self._append_events(conn, rec.id, rec.event_seq, work.events, work.actor, work.now)
        self._save_record(conn, rec, values, emitted)
        outbox = self._react(
            conn, work.spec, rec.id, rec.number, rec.ticket_type, work.ticket.data, work.actor, work.now,
            emitted, work.outbox, rec.app_id,
        )  # fmt: skip
        outbox += work.outbox_ids
        if work.finished and work.instance.parent_instance_id is not None:
            outbox += self._resume_parent(conn, work)
        before = rec._mapping if hasattr(rec, "_mapping") else vars(rec)
        after = SimpleNamespace(**{**before, **values, "row_version": rec.row_version + 1})
        ticket = self._ticket(conn, after, work.spec)
        return ticket, outbox

    def _form_input(
        self, conn: Connection, work: FlowWork, rec: Any, data: Mapping[str, Any] | None, node_id: str | None
    ) -> None:
        if not data:
            return
        locked = self._access(conn, work.tspec, node_id, work.actor, rec.app_id).locked()
        clean = work.tspec.form.validate(
            data, partial=True, current=rec.data, env=work.env(), locked=locked, system=work.actor is None
        )
        changed = []
        for key, value in clean.items():
            old = work.ticket.data.get(key)
            if old != value:
                work.events.append(("field_changed", {"field": key, "old": old, "new": value}))
                work.ticket.data[key] = value
                changed.append(key)
        if changed:
            work.changed += changed
            work.events.append(("updated", {"fields": changed}))

    def _start_child(self, work: FlowWork, node: Any) -> int:
        """A sub-process node: create the child ticket (same app) and wait for its flow to end."""
        child_type = node.get("ticket_type")
        child_spec = work.spec.types[child_type]
        fields = {f.key for f in child_spec.definition.form.fields}
        data = {k: v for k, v in work.ticket.data.items() if k in fields}
        try:
            child_id, outbox = self._create(
                conn=work.conn,
                app_id=work.ticket.app_id,
                version=work.version,
                spec=work.spec,
                tspec=child_spec,
                data=data,
                actor=work.actor,
                now=work.now,
                parent=(work.instance.id, node.id),
            )
        except GongdanError as exc:
            raise ActionError(
                "flow.subprocess_failed",
                node=node.id,
                ticket_type=child_type,
                detail=Message(exc.code, exc.params),
            ) from None
        work.outbox.extend(outbox)
        return child_id

    def _create_linked(self, work: FlowWork, app_key: str, ticket_type: str, data: dict[str, Any]) -> int:
        """A rule's ``create``: a new ticket (any app's running version) in the same transaction."""
        from engine.runtime import _ticket_type

        app_id, version = self._app_row(work.conn, app_key)
        spec = self.spec_for(work.conn, app_id, version)
        record_id, outbox = self._create(
            work.conn, app_id, version, spec, _ticket_type(spec, ticket_type), data, None, work.now
        )
        work.outbox_ids.extend(outbox)
        return record_id

    def _resume_parent(self, conn: Connection, child: FlowWork) -> list[int]:
        parent = conn.execute(select(FI).where(FI.c.id == child.instance.parent_instance_id)).one()
        rec = self._record(conn, parent.record_id)
        if rec.status != "open" or child.instance.parent_node not in (parent.tokens or []):
            return []
        work = self._flow_work(conn, rec, None, child.now)
        work.events.append(
            ("subprocess_ended", {"node": child.instance.parent_node, "child": child.ticket.record_id})
        )
        work.apply(
            stepping.resume(
                work.tspec.flow,
                work.instance.tokens,
                child.instance.parent_node,
                work.hooks(),
                work.instance.state,
            )
        )
        _, outbox = self._commit_work(conn, work, rec)
        return outbox

    def _must_hold(self, conn: Connection, work: FlowWork, task: Any, action: str) -> None:
        """Transfer, delegate, release, add signer: the assignee (or an admin) of an open task."""
        if task.status != "open":
            raise ActionError("flow.task_done", task=task.id, status=task.status)
        if work.actor is None or self._is_admin(conn, work.actor):
            return
        if work.actor not in (task.assignee_id, task.delegated_from):
            raise ActionError("flow.not_assignee", task=task.id, action=action)

    def _may_hand_on(self, conn: Connection, work: FlowWork, rec: Any, action: str) -> None:
        """A customer holding her own step (answering, rating) does it herself: she hands it to nobody
        (engine.flows.ticket_actions.may_hand_on); the app's staff, admins and whoever else was asked
        (a manager by name) may."""
        if work.actor is None or work.actor != rec.created_by or self._is_admin(conn, work.actor):
            return
        requester = not self._roles(conn, work.actor, rec.app_id)
        if not may_hand_on(work.actor, rec.created_by, requester):
            raise ActionError("flow.staff_only", number=rec.number, action=action)

    def _active_user(self, conn: Connection, user_id: int, task: Any) -> None:
        ok = conn.execute(select(User.id).where(User.id == user_id, User.is_active.is_(True))).scalar()
        if ok is None:
            raise ActionError("flow.unknown_user", user=user_id)
        if user_id == task.assignee_id:
            raise ActionError("flow.same_user", task=task.id, user=user_id)

    def _is_admin(self, conn: Connection, actor: int | None) -> bool:
        if actor is None:
            return True
        return bool(conn.execute(IS_ADMIN, {"user_id": actor}).scalar())

    def _open_tasks(self, conn: Connection, work: FlowWork) -> list[Any]:
        return list(
            conn.execute(
                select(T.c.node_id, T.c.status, T.c.assignee_id, T.c.delegated_from).where(
                    T.c.instance_id == work.instance.id, T.c.status == "open"
                )
            ).all()
        )

    def _events_since_start(self, conn: Connection, record_id: int) -> list[dict[str, Any]]:
        from engine.store.models import Event

        E = Event.__table__
        rows = conn.execute(
            select(E.c.type, E.c.actor_id, E.c.payload).where(E.c.record_id == record_id).order_by(E.c.seq)
        ).all()
        return [dict(r._mapping) for r in rows]

    def _log_flow_error(
        self, conn: Connection, record_id: int, exc: GongdanError, where: Mapping[str, Any]
    ) -> None:
        """A flow error outside any person's command: an event on the ticket and a note to the admins."""
        from engine.store.models import Event, Outbox, Record

        R = Record.__table__
        rec = self._record(conn, record_id)  # locked: a command writing the ticket now goes first
        now = self.clock()
        payload = {"code": exc.code, "message": {"zh": exc.message("zh"), "en": exc.message("en")}, **where}
        conn.execute(
            insert(Event.__table__).values(
                record_id=record_id,
                seq=rec.event_seq + 1,
                type="flow_error",
                actor_id=None,
                at=now,
                payload=payload,
            )
        )
        conn.execute(update(R).where(R.c.id == record_id).values(event_seq=rec.event_seq + 1))
        conn.execute(
            insert(Outbox.__table__).values(
                idempotency_key=f"flow_error:{record_id}:{rec.event_seq + 1}",
                record_id=record_id,
                channel="admin",
                payload={"ticket": rec.number, **payload},
                status="pending",
                attempts=0,
                max_attempts=OUTBOX_MAX_ATTEMPTS,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def record_flow_error(self, record_id: int, exc: GongdanError, where: Mapping[str, Any]) -> None:
        """Log a flow error (e.g. a failing branch condition) on the ticket after its command was refused."""
        with self.db.write() as conn:
            self._log_flow_error(conn, record_id, exc, where)


def _settle(work: FlowWork, status_before: str) -> bool:
    """A flow that reached its end closes the ticket; the first time, a ``closed`` event says so."""
    if work.finished and work.ticket.status == "open":
        work.ticket.status = "closed"
    if work.ticket.status == "closed" and status_before != "closed" and not work.closed_said:
        work.closed_said = True
        work.events.append(("closed", {}))
        return True
    return False


def _said(comment: str | None) -> dict[str, Any]:
    return {"comment": comment} if comment else {}


def _required_for(work: FlowWork, node_id: str, action: str) -> None:
    """Refuse ``action`` while a field its edge ``requires`` is empty: one problem at each such field."""
    flow = work.tspec.flow
    if node_id not in flow.nodes or action not in stepping.available_actions(flow, node_id):
        return  # finish_task refuses it with what the node offers
    wanted = stepping.required_fields(flow, node_id, action)
    if not wanted:
        return
    labels = {f.key: f.label for f in work.tspec.definition.form.fields}
    name = _action_name(work, node_id, action)
    problems = [
        Problem(key, "flow.required_for_action", {"field": Localized(labels.get(key) or key), "action": name})
        for key in wanted
        if work.ticket.data.get(key) in (None, "", [], {})
    ]
    if problems:
        raise FormError(problems=problems, count=len(problems))


def _action_name(work: FlowWork, node_id: str, action: str) -> Any:
    """The shown name of the edge ``action`` takes (engine.flows.ticket_actions.action_label); the
    generic actions by the catalogue."""
    label = action_label(work.spec, work.tspec, node_id, action)
    if isinstance(label, Mapping):
        return Localized(label)
    if label == action and action in ("complete", "approve", "reject", "done"):
        return Message(f"flow.action.{action}", {})
    return label


__all__ = ["FlowCommands"]
