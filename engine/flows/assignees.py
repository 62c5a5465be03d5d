"""Assignee strategies and automatic dispatch, as a registry: one small function per kind of assignee.

``resolve(ctx, spec)`` turns a node's assignee spec into an :class:`Assignment`: named people, or a
pool who may claim the work. It never raises for bad data (an unknown user, an empty team): it
returns whoever it could find plus a message code the Runtime logs as an event, so the command goes on.
Balancing among a team is a set of pure functions, so its fairness can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.orm import aliased

import engine.flows.assignee_messages  # noqa: F401  (the assignee.* messages)
from engine.expressions import ExprError, compile_expr
from engine.store.counters import next_value
from engine.store.models import Department, Role, RoleMember, Task, User

#: Department trees deeper than this are treated as ending there (guards against a cycle in the data).
MAX_DEPARTMENT_DEPTH = 64
#: Weights above this count as this much: the weighted cycle is as long as the sum of the weights.
MAX_WEIGHT = 1000

ACTIVE = User.is_active.is_(True)


@dataclass(frozen=True)
class AssignContext:
    """What a strategy may look at: the command's transaction and the ticket being assigned."""

    conn: Connection
    app_id: int
    app_key: str
    ticket_type: str
    data: Mapping[str, Any]
    submitter: int | None
    assignee: int | None = None
    channel: str | None = None
    expr_context: Callable[[], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Assignment:
    """Who gets the work: named ``users`` (in order), else a ``pool`` who may claim it.

    ``problem`` (a message code with ``params``) says why somebody the spec asked for is missing.
    """

    users: tuple[int, ...]
    pool: Mapping[str, Any]
    team: str | None = None
    problem: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


Strategy = Callable[[AssignContext, Any], Assignment]
STRATEGIES: dict[str, Strategy] = {}


def strategy(name: str) -> Callable[[Strategy], Strategy]:
    def deco(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return deco


def resolve(ctx: AssignContext, spec: Mapping[str, Any] | None) -> Assignment:
    """The Assignment for ``spec`` (exactly one kind); no spec means nobody in particular."""
    if not spec:
        return Assignment((), {})
    kinds = [k for k in spec if k in STRATEGIES]
    if len(kinds) != 1 or len(spec) != 1:
        return _nobody("assignee.unknown_kind", kinds=", ".join(map(str, spec)), known=", ".join(STRATEGIES))
    return STRATEGIES[kinds[0]](ctx, spec[kinds[0]])


def _named(
    users: Iterable[int], problem: str | None = None, params: Mapping[str, Any] | None = None
) -> Assignment:
    return Assignment(tuple(dict.fromkeys(users)), {}, problem=problem, params=dict(params or {}))


def _nobody(
    problem: str, pool: Mapping[str, Any] | None = None, chosen_team: str | None = None, **params: Any
) -> Assignment:
    return Assignment((), dict(pool or {}), team=chosen_team, problem=problem, params=params)


# --------------------------------------------------------------------------- people by name or id
@strategy("user")
def _user(ctx: AssignContext, username: Any) -> Assignment:
    row = ctx.conn.execute(select(User.id, User.is_active).where(User.username == str(username))).first()
    if row is None:
        return _nobody("assignee.unknown_user", user=str(username))
    if not row.is_active:
        return _nobody("assignee.inactive_user", user=str(username))
    return _named([row.id])


@strategy("submitter")
def _submitter(ctx: AssignContext, _value: Any) -> Assignment:
    if ctx.submitter is None:
        return _nobody("assignee.no_submitter")
    return _named([ctx.submitter])


def _user_ids(value: Any) -> list[Any]:
    """The ids a user field holds (one or a list), as written; non-ids are kept to be reported."""
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if isinstance(item, str) and item.isascii() and item.isdigit():
            item = int(item)
        out.append(item)
    return out


def _is_id(value: Any) -> bool:
    """A value that can be a user id (a BIGINT key): junk never reaches the database to fail there."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _active_ids(conn: Connection, ids: Iterable[Any]) -> set[int]:
    wanted = {i for i in ids if _is_id(i)}
    if not wanted:
        return set()
    return set(conn.execute(select(User.id).where(User.id.in_(wanted), ACTIVE)).scalars())


@strategy("field")
def _field(ctx: AssignContext, key: Any) -> Assignment:
    value = ctx.data.get(key)
    if value is None or value == "" or value == [] or value == ():
        return _nobody("assignee.field_empty", field=key)
    ids = _user_ids(value)
    found = _active_ids(ctx.conn, ids)
    users = [i for i in ids if i in found]
    missing = [str(i) for i in dict.fromkeys(ids) if i not in found]
    if missing:
        return _named(users, "assignee.field_unknown_users", {"field": key, "ids": ", ".join(missing)})
    return _named(users)


# --------------------------------------------------------------------------- groups: roles, departments
#: Whether an app has a role, with its count of active members (built once: on every pool task).
ROLE_MEMBERS_COUNT = (
    select(Role.id, func.count(User.id))
    .select_from(Role)
    .outerjoin(RoleMember, RoleMember.role_id == Role.id)
    .outerjoin(User, and_(User.id == RoleMember.user_id, ACTIVE))
    .where(Role.app_id == bindparam("app_id"), Role.key == bindparam("key"))
    .group_by(Role.id)
)


def _role_members_count(conn: Connection, app_id: int, key: str) -> tuple[bool, int]:
    """Whether the app has the role ``key``, and how many active members it has (one query)."""
    row = conn.execute(ROLE_MEMBERS_COUNT, {"app_id": app_id, "key": key}).first()
    return (False, 0) if row is None else (True, row[1])


@strategy("role")
def _role(ctx: AssignContext, key: Any) -> Assignment:
    pool = {"role": str(key)}
    exists, members = _role_members_count(ctx.conn, ctx.app_id, str(key))
    if not exists:
        return _nobody("assignee.unknown_role", pool, role=str(key))
    if not members:
        return _nobody("assignee.empty_role", pool, role=str(key))
    return Assignment((), pool)


def _departments_named(conn: Connection, name: str) -> list[Any]:
    """Departments called ``name``: id, active head (or None) and active member count, one query."""
    head = aliased(User)
    member = aliased(User)
    return conn.execute(
        select(Department.id, head.id.label("head"), func.count(member.id).label("members"))
        .select_from(Department)
        .outerjoin(head, and_(head.id == Department.head_id, head.is_active.is_(True)))
        .outerjoin(member, and_(member.department_id == Department.id, member.is_active.is_(True)))
        .where(Department.name == name)
        .group_by(Department.id, head.id)
        .order_by(Department.id)
    ).all()


def _one_department(name: str, rows: list[Any]) -> Assignment | None:
    if not rows:
        return _nobody("assignee.unknown_department", department=name)
    if len(rows) > 1:
        return _nobody("assignee.ambiguous_department", department=name, count=len(rows))
    return None


@strategy("department")
def _department_head(ctx: AssignContext, name: Any) -> Assignment:
    rows = _departments_named(ctx.conn, str(name))
    wrong = _one_department(str(name), rows)
    if wrong is not None:
        return wrong
    dept = rows[0]
    if dept.head is None:
        return _nobody("assignee.department_no_head", {"department": dept.id}, department=str(name))
    return _named([dept.head])


@strategy("department_members")
def _department_members(ctx: AssignContext, name: Any) -> Assignment:
    rows = _departments_named(ctx.conn, str(name))
    wrong = _one_department(str(name), rows)
    if wrong is not None:
        return wrong
    pool = {"department": rows[0].id}
    if not rows[0].members:
        return _nobody("assignee.empty_department", pool, department=str(name))
    return Assignment((), pool)


# --------------------------------------------------------------------------- managers
@strategy("manager_of")
def _manager_of(ctx: AssignContext, whose: Any) -> Assignment:
    person = ctx.assignee if whose == "assignee" else ctx.submitter
    if person is None:
        return _nobody("assignee.no_current_assignee" if whose == "assignee" else "assignee.no_submitter")
    manager = aliased(User)
    row = ctx.conn.execute(
        select(User.username, User.department_id, manager.id.label("manager"))
        .outerjoin(manager, and_(manager.id == User.manager_id, manager.is_active.is_(True)))
        .where(User.id == person)
    ).first()
    if row is None:
        return _nobody("assignee.unknown_user", user=str(person))
    if row.manager is not None and row.manager != person:
        return _named([row.manager])
    head = _head_above(ctx.conn, row.department_id, person) if row.department_id is not None else None
    if head is None:
        return _nobody("assignee.no_manager", user=row.username)
    return _named([head])


def _head_above(conn: Connection, department_id: int, person: int) -> int | None:
    """The nearest active head of the department or its parents who is not ``person`` (one query)."""
    chain = (
        select(Department.id, Department.parent_id, Department.head_id, literal_column("0").label("depth"))
        .where(Department.id == department_id)
        .cte("chain", recursive=True)
    )
    parent = aliased(Department)
    chain = chain.union_all(
        select(parent.id, parent.parent_id, parent.head_id, chain.c.depth + 1).where(
            parent.id == chain.c.parent_id, chain.c.depth < MAX_DEPARTMENT_DEPTH
        )
    )
    return conn.execute(
        select(chain.c.head_id)
        .join(User, User.id == chain.c.head_id)
        .where(ACTIVE, chain.c.head_id != person)
        .order_by(chain.c.depth)
        .limit(1)
    ).scalar()


# --------------------------------------------------------------------------- expressions
def _expr_people(value: Any) -> list[Any] | None:
    """Usernames (str) and ids (int) an expression gave, in order; None if it gave something else."""
    items = value if isinstance(value, list | tuple) else [] if value is None else [value]
    out: list[Any] = []
    for item in items:
        if isinstance(item, Mapping) and "id" in item:  # a user object, e.g. ``user`` or ``ticket.submitter``
            item = item["id"]
        if isinstance(item, bool) or not isinstance(item, str | int):
            return None
        out.append(item)
    return out


def _active_by_name_or_id(conn: Connection, people: list[Any]) -> tuple[dict[str, int], set[int]]:
    """Active users among usernames and ids (one query): id by username, and the ids found."""
    names = {p for p in people if isinstance(p, str)}
    ids = {p for p in people if _is_id(p)}
    wanted = [User.username.in_(names)] if names else []
    if ids:
        wanted.append(User.id.in_(ids))
    if not wanted:
        return {}, set()
    rows = conn.execute(select(User.id, User.username).where(ACTIVE, or_(*wanted))).all()
    return {r.username: r.id for r in rows if r.username in names}, {r.id for r in rows if r.id in ids}


@strategy("expr")
def _expr(ctx: AssignContext, source: Any) -> Assignment:
    source = str(source)
    env = ctx.expr_context() if ctx.expr_context is not None else dict(ctx.data)
    try:
        value = compile_expr(source)(env)
    except ExprError as exc:
        return _nobody("assignee.expr_failed", expr=source, detail=str(exc))
    people = _expr_people(value)
    if people is None:
        return _nobody("assignee.expr_not_users", expr=source, value=repr(value)[:100])
    if not people:
        return _nobody("assignee.expr_empty", expr=source)
    by_name, known_ids = _active_by_name_or_id(ctx.conn, people)
    users = [by_name[p] if isinstance(p, str) else p for p in people if p in by_name or p in known_ids]
    missing = [str(p) for p in dict.fromkeys(people) if p not in by_name and p not in known_ids]
    if missing:
        return _named(users, "assignee.expr_unknown_users", {"expr": source, "users": ", ".join(missing)})
    return _named(users)


# --------------------------------------------------------------------------- dispatch
def _as_texts(value: Any) -> list[str]:
    """A field value as the texts a team map is keyed by (each item of a list, in order)."""
    items = value if isinstance(value, list | tuple) else [value]
    return ["true" if v is True else "false" if v is False else str(v) for v in items if v is not None]


def choose_team(ctx: AssignContext, dispatch: Mapping[str, Any]) -> tuple[str | None, str]:
    """The team (a role key) the dispatch sends this ticket to, and the value that decided it.

    ``keyword``: the first team whose keyword occurs in the field's text, in the order written;
    ``type``/``channel``/``field``: the team keyed by the value (a named ``field`` wins over the
    ticket type and the source channel). Nothing matched: the default team, or None.
    """
    by, key = dispatch.get("by"), dispatch.get("field")
    teams: Mapping[str, str] = dispatch.get("teams") or {}
    if by == "keyword":
        text = " ".join(_as_texts(ctx.data.get(key))).casefold() if key else ""
        for word, team in teams.items():
            if str(word).casefold() in text:
                return team, str(word)
        return dispatch.get("default"), text[:100]
    if key:
        values = _as_texts(ctx.data.get(key))
    elif by == "type":
        values = [ctx.ticket_type]
    elif by == "channel":
        values = _as_texts(ctx.channel or ctx.data.get("channel"))
    else:
        values = []
    for value in values:
        if value in teams:
            return teams[value], value
    return dispatch.get("default"), ", ".join(values)


@strategy("dispatch")
def _dispatch(ctx: AssignContext, dispatch: Mapping[str, Any]) -> Assignment:
    team, value = choose_team(ctx, dispatch)
    if not team:
        return _nobody("assignee.no_team", by=str(dispatch.get("by")), value=value)
    return dispatch_to_team(ctx, str(team), dispatch.get("balance") or "round_robin")


def dispatch_to_team(ctx: AssignContext, team: str, balance: str = "round_robin") -> Assignment:
    """One available member of ``team`` (a role of the app), picked by ``balance``.

    Inactive and away members are skipped; when nobody is left the work goes to the team's pool.
    The turn is a persistent counter per (app, team), stepped in the command's transaction.
    """
    pool = {"role": team}
    role_id = ctx.conn.execute(select(Role.id).where(Role.app_id == ctx.app_id, Role.key == team)).scalar()
    if role_id is None:
        return _nobody("assignee.unknown_team", pool, team, team=team)
    members = ctx.conn.execute(
        select(RoleMember.user_id, RoleMember.weight)
        .join(User, User.id == RoleMember.user_id)
        .where(RoleMember.role_id == role_id, ACTIVE, User.is_away.is_(False))
        .order_by(RoleMember.user_id)
    ).all()
    if not members:
        return _nobody("assignee.team_unavailable", pool, team, team=team)
    turn = next_value(ctx.conn, f"dispatch:{ctx.app_id}:{team}") - 1
    ids = [m.user_id for m in members]
    if balance == "least_open":
        picked = pick_least_open(ids, open_task_counts(ctx.conn, ids), turn)
    elif balance == "weighted":
        picked = pick_weighted([(m.user_id, m.weight) for m in members], turn)
    else:
        picked = pick_round_robin(ids, turn)
    return Assignment((picked,), {}, team=team)


def open_task_counts(conn: Connection, user_ids: Sequence[int]) -> dict[int, int]:
    """Open tasks per user, across every app (a person's whole load); users without any are left out."""
    rows = conn.execute(
        select(Task.assignee_id, func.count())
        .where(Task.status == "open", Task.assignee_id.in_(user_ids))
        .group_by(Task.assignee_id)
    )
    return {uid: n for uid, n in rows}


def pick_round_robin(members: Sequence[int], turn: int) -> int:
    """Members (sorted by id) in turn: the ``turn``-th ticket goes to ``members[turn % n]``."""
    return members[turn % len(members)]


def pick_least_open(members: Sequence[int], loads: Mapping[int, int], turn: int) -> int:
    """The member with the fewest open tasks; among equals, the first at or after the round-robin turn."""
    least = min(loads.get(m, 0) for m in members)
    n = len(members)
    start = turn % n
    return next(members[(start + i) % n] for i in range(n) if loads.get(members[(start + i) % n], 0) == least)


def pick_weighted(members: Sequence[tuple[int, int]], turn: int) -> int:
    """Smooth weighted round robin: over each cycle of sum(weights) turns a member with weight w gets
    exactly w tickets, spread out rather than in a run. Weights below 1 get nothing (unless all do)."""
    weights = tuple(min(max(w, 0), MAX_WEIGHT) for _, w in members)
    if not any(weights):
        weights = (1,) * len(members)
    cycle = _smooth_cycle(weights)
    return members[cycle[turn % len(cycle)]][0]


@lru_cache(maxsize=64)
def _smooth_cycle(weights: tuple[int, ...]) -> tuple[int, ...]:
    """The positions picked over one full cycle of smooth weighted round robin (as nginx does it)."""
    common = gcd(*weights)
    shares = [w // common for w in weights]
    total = sum(shares)
    current = [0] * len(shares)
    order = []
    for _ in range(total):
        for i, share in enumerate(shares):
            current[i] += share
        best = max(range(len(shares)), key=current.__getitem__)
        current[best] -= total
        order.append(best)
    return tuple(order)


# --------------------------------------------------------------------------- pools
def _pool_query(app_id: int, pool: Mapping[str, Any]) -> Select | None:
    """Active users of a pool ({"role": key}, {"department": id} or {"users": [ids]}); None if unknown."""
    q = select(User.id).where(ACTIVE)
    if len(pool) != 1:
        return None
    if isinstance(pool.get("role"), str):
        return (
            q.join(RoleMember, RoleMember.user_id == User.id)
            .join(Role, Role.id == RoleMember.role_id)
            .where(Role.app_id == app_id, Role.key == pool["role"])
        )
    department = pool.get("department")
    if _is_id(department):
        return q.where(User.department_id == department)
    users = pool.get("users")
    if isinstance(users, list | tuple):
        return q.where(User.id.in_([u for u in users if _is_id(u)]))
    return None


def pool_members(conn: Connection, app_id: int, pool: Mapping[str, Any]) -> list[int]:
    """The active members of a pool now, sorted by id (away members included: they may still claim)."""
    q = _pool_query(app_id, pool)
    return [] if q is None else list(conn.execute(q.order_by(User.id)).scalars())


def can_claim(conn: Connection, app_id: int, pool: Mapping[str, Any], user_id: int) -> bool:
    """Whether ``user_id`` is an active member of the pool now (checked live, not when the task opened)."""
    q = _pool_query(app_id, pool)
    return q is not None and conn.execute(q.where(User.id == user_id).limit(1)).first() is not None
