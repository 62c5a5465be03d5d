"""One scenario test run: its people, its clock, its steps and its checks (engine/scenarios.py
makes the throw-away database and the report around it).

The run is the worker and the people of the scenario at once: it submits and acts through the real
Runtime, lets time pass by stepping the clock through every timer and schedule due (each fires at
its own moment), and answers the ``call`` rows the rules queue through the call layer's
``AFTER_DELIVERY`` hook — the only stand-in for the outside world.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

import engine.scenario_messages  # noqa: F401  (the scenario.* messages)
from engine.calendars import CALENDARS, Calendar, parse_duration
from engine.definitions.loader import Loaded
from engine.errors import GongdanError, Problem
from engine.flows import stepping
from engine.flows.assignees import can_claim
from engine.i18n import LANGS, Localized
from engine.jobs.outbox import AFTER_DELIVERY
from engine.people import create_department, create_user
from engine.runtime import Runtime, Ticket
from engine.scenario_checks import THEN_CHECKS, Observed, said
from engine.store import Database
from engine.store.models import (
    App,
    Department,
    Event,
    Outbox,
    Record,
    Role,
    RoleMember,
    Schedule,
    SlaClock,
    Task,
    Timer,
    User,
)

DEFAULT_START = "2026-12-01T09:00:00+08:00"  # a Tuesday morning, a working day in every calendar shipped
DEFAULT_SUBMITTER = "submitter"
DEFAULT_DEPARTMENT = "Scenario"
EMAIL_DOMAIN = "example.test"
WALL_CLOCK = "24x7"
MAX_FIRINGS = 10_000  # moments stepped through in one ``after`` (a runaway schedule must end)
MAX_CALL_ROUNDS = 20  # answers that lead to further calls, in a row
WALL_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
E, OB, R, SC, T, TM, S = (m.__table__ for m in (Event, Outbox, Record, SlaClock, Task, Timer, Schedule))


class _Stop(Exception):
    """A step could not run: its problem is recorded and the scenario ends there."""


class ScenarioClock:
    """The scenario's clock: it stands still until the scenario moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class ScenarioRun:
    """One scenario on its own database: set up, run step by step, check each ``then``."""

    def __init__(
        self, db: Database, loaded: Loaded, others: list[Loaded], tkey: str, test: dict[str, Any], path: str
    ) -> None:
        self.db, self.loaded, self.others = db, loaded, others
        self.tkey, self.test, self.path = tkey, test, path
        self.given: dict[str, Any] = dict(test.get("given") or {})
        self.clock = ScenarioClock(dt.datetime.now(dt.UTC))
        # The shared Runtime of this database is the scenario's: the call layer's answer handler
        # (engine.rules.call.apply_answer) finds it through Runtime.for_database and so uses our clock.
        self.runtime = Runtime.for_database(db)
        self.runtime.clock = self.clock
        self.people: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.record_id: int | None = None
        self.app_id: int | None = None
        self.fields = {f.key: f for f in loaded.app.ticket_types[tkey].form.fields}
        self.answered: set[int] = set()

    # -- the whole scenario
    def run(self, problems: list[Problem]) -> None:
        try:
            self.clock.now = self._moment(self.given.get("at", DEFAULT_START), f"{self.path}.given.at")
            for other in self.others:
                self.runtime.publish(other)
            self.runtime.publish(self.loaded)
            self._set_up_people(problems)
            if problems:
                return
            submitter = self.given.get("user", DEFAULT_SUBMITTER)
            marks = self._marks()
            ticket = self._command(
                f"{self.path}.submit",
                lambda: self.runtime.submit(
                    self.loaded.app.key, self.tkey, self._values(self.test.get("submit") or {}),
                    actor=self.people[submitter],
                ),
            )  # fmt: skip
            self.record_id = ticket.id
            self._settle()
            problems += self._check(self.test.get("then"), f"{self.path}.then", marks)
            for j, step in enumerate(self.test.get("steps") or ()):
                here = f"{self.path}.steps[{j}]"
                marks = self._marks()
                if "after" in step:
                    self._advance(str(step["after"]), f"{here}.after")
                if "act" in step:
                    self._act(step, here)
                problems += self._check(step.get("then"), f"{here}.then", marks)
        except _Stop as stop:
            problems.append(stop.args[0])

    # -- people
    def _set_up_people(self, problems: list[Problem]) -> None:
        """Everyone the scenario names, with the roles, managers and departments ``given.people`` says."""
        declared: dict[str, Any] = dict(self.given.get("people") or {})
        details = {
            name: ({"roles": spec} if isinstance(spec, list) else dict(spec))
            for name, spec in declared.items()
        }
        names = [self.given.get("user", DEFAULT_SUBMITTER), *details]
        names += [d["manager"] for d in details.values() if d.get("manager")]
        steps = list(self.test.get("steps") or ())
        names += [str(s["as"]) for s in steps if s.get("as")]
        names += [
            str(s["data"]["to"])
            for s in steps
            if s.get("act") == "transfer" and "to" in (s.get("data") or {})
        ]
        for values in [self.test.get("submit") or {}] + [s.get("data") or {} for s in steps]:
            names += self._usernames_in(values)
        departments: dict[str, int] = {}
        for name in dict.fromkeys(names):
            spec = details.get(name, {})
            dept = str(spec.get("department") or DEFAULT_DEPARTMENT)
            if dept not in departments:
                departments[dept] = create_department(self.db, dept)
            self.people[name] = create_user(
                self.db, name, name, email=self.email_of(name), department_id=departments[dept],
                lang=spec.get("lang", "zh"), is_away=bool(spec.get("away", False)),
            )  # fmt: skip
            self.names[self.people[name]] = name
        with self.db.write() as conn:
            self.app_id = conn.execute(select(App.id).where(App.key == self.loaded.app.key)).scalar_one()
            roles = dict(conn.execute(select(Role.key, Role.id).where(Role.app_id == self.app_id)).all())
            for name, spec in details.items():
                if spec.get("manager"):
                    conn.execute(
                        update(User)
                        .where(User.id == self.people[name])
                        .values(manager_id=self.people[spec["manager"]])
                    )
                for k, role in enumerate(spec.get("roles") or ()):
                    listed = isinstance(declared[name], list)
                    where = f"{self.path}.given.people.{name}" + (f"[{k}]" if listed else f".roles[{k}]")
                    if role not in roles:
                        known = ", ".join(sorted(roles)) or "-"
                        problems.append(
                            Problem(where, "scenario.unknown_role", {"role": role, "known": known})
                        )
                        continue
                    conn.execute(
                        insert(RoleMember).values(role_id=roles[role], user_id=self.people[name], weight=1)
                    )

    def _usernames_in(self, values: Mapping[str, Any]) -> list[str]:
        out = []
        for key, value in values.items():
            if key in self.fields and self.fields[key].type == "user":
                out += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
        return out

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Field values as the form takes them: people by id, departments by id (made when new)."""
        out = {}
        for key, value in values.items():
            ftype = self.fields[key].type if key in self.fields else None
            convert = REFERENCES.get(ftype or "")
            if convert is None:
                out[key] = value
            elif isinstance(value, list):
                out[key] = [convert(self, v) for v in value]
            else:
                out[key] = convert(self, value)
        return out

    def _person_id(self, value: Any) -> Any:
        return self.people.get(value, value) if isinstance(value, str) else value

    def _department_id(self, value: Any) -> Any:
        return create_department(self.db, value) if isinstance(value, str) else value

    # -- time
    def _moment(self, value: Any, path: str) -> dt.datetime:
        try:
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise _Stop(Problem(path, "scenario.bad_moment", {"value": str(value)}))
        return moment.astimezone(dt.UTC)

    def _calendar(self, path: str) -> Calendar | None:
        """What ``after`` counts on: given.calendar, else the calendar of the ticket's running SLA clock
        due first, else the app's settings.calendar; None (or 24x7) means wall-clock time."""
        key = self.given.get("calendar")
        if key is None and self.record_id is not None:
            with self.db.read() as conn:
                key = conn.execute(
                    select(SC.c.calendar)
                    .where(SC.c.record_id == self.record_id, SC.c.status == "running")
                    .order_by(SC.c.due_at)
                    .limit(1)
                ).scalar()
        key = key or self.loaded.app.settings.get("calendar")
        if key is None or key == WALL_CLOCK:
            return None
        if key not in CALENDARS:
            known = ", ".join(sorted(CALENDARS))
            raise _Stop(Problem(path, "scenario.unknown_calendar", {"calendar": key, "known": known}))
        return CALENDARS[str(key)]

    def _advance(self, duration: str, path: str) -> None:
        """Let ``duration`` pass: everything due meanwhile fires at its own moment, in order."""
        amount, unit = parse_duration(duration)
        cal = self._calendar(path)
        if cal is None:
            target = self.clock.now + dt.timedelta(hours=amount * WALL_HOURS[unit])
        else:
            target = cal.add(self.clock.now, cal.hours_of(duration))
        for _ in range(MAX_FIRINGS):
            due = self._next_due(target)
            if due is None:
                break
            self.clock.now = max(self.clock.now, due)
            self._settle()
        self.clock.now = target
        self._settle()

    def _next_due(self, until: dt.datetime) -> dt.datetime | None:
        with self.db.read() as conn:
            timer = conn.execute(
                select(func.min(TM.c.due_at)).where(TM.c.status == "pending", TM.c.due_at <= until)
            ).scalar()
            cron = conn.execute(
                select(func.min(S.c.next_run_at)).where(S.c.enabled.is_(True), S.c.next_run_at <= until)
            ).scalar()
        found = [m for m in (timer, cron) if m is not None]
        return min(found) if found else None

    def _settle(self) -> None:
        """What the worker would do now: fire due timers and schedules, answer the calls queued."""
        for _ in range(MAX_CALL_ROUNDS):
            self.runtime.fire_due_timers()
            self.runtime.fire_due_schedules()
            if not self._answer_calls():
                return

    def _answer_calls(self) -> int:
        """Give each pending ``call`` row the scenario's answer, through the call layer's handler."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(OB).where(OB.c.channel == "call", OB.c.status == "pending").order_by(OB.c.id)
            ).all()
        done = 0
        for row in rows:
            if row.id in self.answered:
                continue
            self.answered.add(row.id)
            answer = self._answer_for(str(row.payload.get("url", "")))
            if answer is None:
                continue  # nobody answers: it stays queued, as if the API were down
            with self.db.write() as conn:
                conn.execute(
                    update(OB)
                    .where(OB.c.id == row.id)
                    .values(status="sent", sent_at=self.clock.now, attempts=1)
                )
            AFTER_DELIVERY[row.channel](self.db, row, answer)
            done += 1
        return done

    def _answer_for(self, url: str) -> Any:
        calls = self.given.get("calls") or {}
        matching = sorted((k for k in calls if k in url), key=len, reverse=True)
        if matching:
            return calls[matching[0]]
        return self.given.get("crm")

    # -- acting
    def _command(self, path: str, fn: Callable[[], Ticket]) -> Ticket:
        try:
            return fn()
        except GongdanError as exc:
            if exc.code == "runtime.unknown_app":
                file = Path(self.loaded.source.name).name
                if file.startswith("<"):  # data, not a file (the designer's draft)
                    file = f"{self.loaded.app.key}.yaml"
                params = {"app": exc.params.get("app"), "file": file}
                raise _Stop(Problem(path, "scenario.missing_app", params)) from None
            detail = Localized({lang: exc.render(lang) for lang in LANGS})
            raise _Stop(Problem(path, "scenario.command_failed", {"detail": detail})) from None

    def _act(self, step: Mapping[str, Any], here: str) -> None:
        action = str(step["act"])
        actor = self.people.get(str(step["as"])) if step.get("as") else None
        data = dict(step.get("data") or {})
        act = ACTS.get(action, _task_action)
        self._command(f"{here}.act", lambda: act(self, action, actor, data, f"{here}.act"))
        self._settle()

    def open_tasks(self) -> list[Any]:
        with self.db.read() as conn:
            return conn.execute(
                select(T).where(T.c.record_id == self.record_id, T.c.status == "open").order_by(T.c.id)
            ).all()

    def task_for(self, actor: int | None, action: str, path: str) -> Any:
        """The open task ``actor`` would do ``action`` on: one they hold (where the action exists),
        else one waiting in a pool they may claim, else (the system acting) the first one."""
        tasks = self.open_tasks()
        flow = self.runtime.type_spec(self.loaded.app.key, self.tkey)[1].flow

        def offers(task: Any) -> bool:
            if task.kind == "todo":
                return action == "done"
            return action in stepping.available_actions(flow, task.node_id)

        held = [x for x in tasks if actor is not None and actor in (x.assignee_id, x.delegated_from)]
        with self.db.read() as conn:
            pooled = [
                x for x in tasks
                if x.assignee_id is None and actor is not None and self._may_claim(conn, x, actor)
            ]  # fmt: skip
        system = tasks if actor is None else []
        for group in (held, pooled, system):
            chosen = [x for x in group if offers(x)] or []
            if chosen:
                return chosen[0]
        for group in (held, pooled, system):
            if group:
                return group[0]  # the engine says why the action does not fit
        shown = ", ".join(self._task_text(x) for x in tasks) or said("scenario.nothing")
        user = self.names.get(actor, "-") if actor else "-"
        raise _Stop(Problem(path, "scenario.no_task", {"user": user, "action": action, "tasks": shown}))

    def _may_claim(self, conn: Any, task: Any, actor: int) -> bool:
        pool = task.candidates or {}
        if "users" in pool:
            return actor in pool["users"]
        return bool(pool) and can_claim(conn, self.app_id, pool, actor)

    def _task_text(self, task: Any) -> str:
        holder = self.names.get(task.assignee_id, str(task.assignee_id)) if task.assignee_id else None
        pool = ",".join(f"{k}={v}" for k, v in (task.candidates or {}).items())
        return f"{task.node_id}({holder or pool or '-'})"

    def _marks(self) -> tuple[int, int]:
        """Where this step starts: the last outbox row and the ticket's last event."""
        with self.db.read() as conn:
            last_row = conn.execute(select(func.max(OB.c.id))).scalar() or 0
            seq = 0
            if self.record_id is not None:
                seq = conn.execute(select(R.c.event_seq).where(R.c.id == self.record_id)).scalar() or 0
        return last_row, seq

    # -- checking
    def observe(self, marks: tuple[int, int]) -> Observed:
        with self.db.read() as conn:
            rec = conn.execute(select(R).where(R.c.id == self.record_id)).one()
            events = conn.execute(
                select(E.c.seq, E.c.type, E.c.payload)
                .where(E.c.record_id == self.record_id)
                .order_by(E.c.seq)
            ).all()
            outbox = conn.execute(select(OB).where(OB.c.id > marks[0]).order_by(OB.c.id)).all()
            breached = set(
                conn.execute(
                    select(SC.c.node_id).where(SC.c.record_id == self.record_id, SC.c.breached.is_(True))
                ).scalars()
            )
            tasks = [x for x in self.open_tasks() if x.kind != "todo"]
            holders = {x.assignee_id for x in tasks if x.assignee_id is not None}
            member_of: dict[int, set[str]] = {}
            if holders:
                for user_id, role in conn.execute(
                    select(RoleMember.user_id, Role.key)
                    .join(Role, Role.id == RoleMember.role_id)
                    .where(Role.app_id == self.app_id, RoleMember.user_id.in_(holders))
                ):
                    member_of.setdefault(user_id, set()).add(role)
        teams: dict[int, str] = {}
        for event in events:
            if event.type in ("task_created", "task_reassigned"):
                task_id = event.payload.get("task")
                if event.payload.get("team"):
                    teams[task_id] = event.payload["team"]
                elif event.type == "task_reassigned":
                    teams.pop(task_id, None)
        stage = rec.stage
        if rec.status != "open":
            ended = [e.payload.get("node") for e in events if e.type == "flow_ended"]
            stage = ended[-1] if ended else stage
        return Observed(
            ticket=rec,
            stage=stage,
            tasks=[
                {
                    "holder": x.assignee_id,
                    "pool": (x.candidates or {}).get("role"),
                    "team": teams.get(x.id),
                    "roles": member_of.get(x.assignee_id, set()),
                }
                for x in tasks
            ],
            events=[e for e in events if e.seq > marks[1]],
            outbox=outbox,
            breached=breached,
        )

    def _check(self, then: Mapping[str, Any] | None, path: str, marks: tuple[int, int]) -> list[Problem]:
        if not then:
            return []
        seen = self.observe(marks)
        problems: list[Problem] = []
        for key, expected in then.items():
            problems += THEN_CHECKS[key](self, seen, expected, f"{path}.{key}")
        return problems

    def email_of(self, name: str) -> str:
        return f"{name}@{EMAIL_DOMAIN}"

    def name_of(self, user_id: Any) -> str:
        return self.names.get(user_id, f"#{user_id}")

    def shown_value(self, key: str, value: Any) -> Any:
        """A stored value as the scenario writes it (people by username, departments by name)."""
        ftype = self.fields[key].type if key in self.fields else None
        if ftype not in SHOWN or value is None:
            return value
        show = SHOWN[ftype]
        return [show(self, v) for v in value] if isinstance(value, list) else show(self, value)

    def department_name(self, department_id: Any) -> Any:
        with self.db.read() as conn:
            name = conn.execute(select(Department.name).where(Department.id == department_id)).scalar()
        return name if name is not None else department_id


# ----------------------------------------------------------------------------- the acts
Act = Callable[[ScenarioRun, str, "int | None", dict[str, Any], str], Ticket]


def _task_action(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
    task = run.task_for(actor, action, path)
    comment = data.pop("comment", None) if "comment" not in run.fields else None
    return run.runtime.act(task.id, action, run._values(data), actor=actor, comment=comment)


def _claim(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
    task = run.task_for(actor, action, path)
    return run.runtime.claim(task.id, actor)  # type: ignore[arg-type]


def _comment(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
    return run.runtime.comment(run.record_id, str(data.get("body", "")), actor=actor)  # type: ignore[arg-type]


def _update(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
    return run.runtime.update(run.record_id, run._values(data), actor=actor)  # type: ignore[arg-type]


def _transfer(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
    held = [x for x in run.open_tasks() if actor is None or actor in (x.assignee_id, x.delegated_from)]
    task = held[0] if held else run.task_for(actor, action, path)
    to = run.people.get(str(data.get("to")), -1)
    return run.runtime.transfer(task.id, to, actor=actor, comment=data.get("comment"))


def _ending(kind: str) -> Act:
    def act(run: ScenarioRun, action: str, actor: int | None, data: dict[str, Any], path: str) -> Ticket:
        command = getattr(run.runtime, kind)
        return command(run.record_id, actor, data.get("comment"))

    return act


#: Acts that are not a task's action; any other ``act`` is the action of the open task the person may do.
ACTS: dict[str, Act] = {
    "claim": _claim,
    "comment": _comment,
    "update": _update,
    "transfer": _transfer,
    "close": _ending("close"),
    "cancel": _ending("cancel"),
    "reopen": _ending("reopen"),
    "withdraw": _ending("withdraw"),
}

#: Field types whose values a scenario writes by name: how to store a name, and how to show a value.
REFERENCES: dict[str, Callable[[ScenarioRun, Any], Any]] = {
    "user": ScenarioRun._person_id,
    "department": ScenarioRun._department_id,
}
SHOWN: dict[str, Callable[[ScenarioRun, Any], Any]] = {
    "user": ScenarioRun.name_of,
    "department": ScenarioRun.department_name,
}


__all__ = ["ACTS", "DEFAULT_START", "ScenarioClock", "ScenarioRun"]
