"""Who may see which tickets: one principal per request, one WHERE clause per app.

A :class:`Principal` is a user as the engines need them for access decisions: admin or not, their
department, and per app their roles and the widest record scope those roles grant. The scope
becomes one SQL condition on ``records`` (:func:`scope_clause`) that every surface uses — ticket
reads by id, lists, search, the inbox, reports, exports and attachments — so a ticket is never
shown by one surface and hidden by another.

Scopes (a role's ``scope`` in the app definition; people without a role of the app get ``own``):

- ``own``: tickets the user submitted, watches, holds or held a task of, or that wait in a pool
  they may claim (one of their roles, their department, or a named group including them);
- ``department``: also the tickets submitted by anyone in their department or below it;
- ``all``: every ticket of the app. Admins see every ticket of every app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection

from engine.store.models import App, Department, Role, RoleMember, Task, User, Watcher

SCOPES = ("own", "department", "all")
_WIDTH = {name: i for i, name in enumerate(SCOPES)}

T, W, U, D, RT, RM, A = (m.__table__ for m in (Task, Watcher, User, Department, Role, RoleMember, App))


@dataclass(frozen=True)
class Principal:
    """A signed-in user as access checks need them."""

    user_id: int
    username: str = ""
    display_name: str = ""
    is_admin: bool = False
    department_id: int | None = None
    lang: str = "zh"
    tz: str = "Asia/Shanghai"
    #: app key → the user's role keys in that app
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: app key → the widest scope of those roles
    scopes: Mapping[str, str] = field(default_factory=dict)
    #: the user's department and every department below it
    departments: tuple[int, ...] = ()

    def roles_in(self, app_key: str) -> frozenset[str]:
        return self.roles.get(app_key, frozenset())

    def scope_in(self, app_key: str) -> str:
        if self.is_admin:
            return "all"
        return self.scopes.get(app_key, "own")

    def has_role(self, app_key: str, *roles: str) -> bool:
        return bool(self.roles_in(app_key) & set(roles))


#: The columns :func:`principal_from_rows` reads: the user's, then one role (app key, role key, scope)
#: a row — None when the user has no role (the roles are outer-joined).
PRINCIPAL_COLUMNS = (
    U.c.id.label("user_id"),
    U.c.username,
    U.c.display_name,
    U.c.is_admin,
    U.c.department_id,
    U.c.lang,
    U.c.tz,
    A.c.key.label("role_app"),
    RT.c.key.label("role_key"),
    RT.c.scope.label("role_scope"),
)


def with_roles(users: FromClause) -> FromClause:
    """``users`` (a FROM clause containing the users table) outer-joined to the user's roles and
    their apps, for :data:`PRINCIPAL_COLUMNS`."""
    return (
        users.outerjoin(RM, RM.c.user_id == U.c.id)
        .outerjoin(RT, RT.c.id == RM.c.role_id)
        .outerjoin(A, A.c.id == RT.c.app_id)
    )


#: One statement for a user and all their roles (built once: only its parameter changes).
_PRINCIPAL = (
    select(*PRINCIPAL_COLUMNS)
    .select_from(with_roles(U))
    .where(U.c.id == bindparam("user_id"), U.c.is_active.is_(True))
)


def load_principal(conn: Connection, user_id: int) -> Principal | None:
    """The active user ``user_id`` with their roles and scopes per app; None if unknown or inactive.
    One query (the user outer-joined to their roles), plus the department tree when they have one."""
    return principal_from_rows(conn, conn.execute(_PRINCIPAL, {"user_id": user_id}).all())


def principal_from_rows(conn: Connection, rows: Sequence[Any]) -> Principal | None:
    """The Principal of rows carrying :data:`PRINCIPAL_COLUMNS` (one user; one row per role, or one
    row without a role); None for no rows."""
    if not rows:
        return None
    row = rows[0]
    roles: dict[str, set[str]] = {}
    scopes: dict[str, str] = {}
    for found in rows:
        app_key, role_key, scope = found.role_app, found.role_key, found.role_scope
        if app_key is None or role_key is None:  # no role, or a role of no app
            continue
        roles.setdefault(app_key, set()).add(role_key)
        if _WIDTH.get(scope, 0) > _WIDTH.get(scopes.get(app_key, "own"), 0):
            scopes[app_key] = scope
    return Principal(
        user_id=row.user_id,
        username=row.username,
        display_name=row.display_name,
        is_admin=bool(row.is_admin),
        department_id=row.department_id,
        lang=row.lang or "zh",
        tz=row.tz or "Asia/Shanghai",
        roles={k: frozenset(v) for k, v in roles.items()},
        scopes=scopes,
        departments=tuple(department_subtree(conn, row.department_id)) if row.department_id else (),
    )


def may_submit(principal: Principal, app_key: str, submitters: Mapping[str, Any] | None) -> bool:
    """Whether ``principal`` may submit a ticket of a type whose definition says ``submitters``
    (``{roles: [...], staff: bool}``; None: anyone signed in). Admins always may; ``staff`` means
    the organisation's own people — in a department or holding a role in any app; customers are
    neither."""
    if submitters is None or principal.is_admin:
        return True
    staff = principal.department_id is not None or any(principal.roles.values())
    if submitters.get("staff") and staff:
        return True
    return principal.has_role(app_key, *(submitters.get("roles") or ()))


def check_may_submit(conn: Connection, app: Any, tdef: Any, actor: int | None) -> None:
    """Refuse (403, naming who may) a submit of ticket type ``tdef`` (a TicketTypeDef) of ``app``
    (an AppDef) by the user ``actor`` whom its ``submitters`` leave out; the system (no actor) may."""
    submitters = tdef.submitters
    if actor is None or submitters is None:
        return
    principal = load_principal(conn, actor)
    if principal is not None and may_submit(principal, app.key, submitters):
        return
    from engine.auth import SubmitForbidden  # engine.auth builds on this module

    roles = [app.roles.get(key, key) for key in submitters.get("roles") or ()]
    raise SubmitForbidden(type_name=tdef.name, roles=roles, staff=bool(submitters.get("staff")))


def department_subtree(conn: Connection, root: int) -> list[int]:
    """``root`` and every department below it (breadth first, cycles ignored)."""
    seen, frontier = [root], [root]
    while frontier:
        children = list(conn.execute(select(D.c.id).where(D.c.parent_id.in_(frontier))).scalars())
        frontier = [c for c in children if c not in seen]
        seen.extend(frontier)
    return seen


def pool_keys(principal: Principal, app_key: str) -> list[str]:
    """The ``tasks.pool_key`` values of the pools ``principal`` may claim from in ``app_key``."""
    keys = [f"role:{r}" for r in sorted(principal.roles_in(app_key))]
    if principal.department_id is not None:
        keys.append(f"department:{principal.department_id}")
    return keys


def in_users_pool(dialect: str, candidates: Any, user_id: int) -> ColumnElement[bool]:
    """Whether a task's ``candidates`` JSON names ``user_id`` in its ``users`` list."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return candidates.op("->")("users").op("@>")(cast(f"[{int(user_id)}]", JSONB))
    each = func.json_each(candidates, "$.users").table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == int(user_id)))


def own_clause(principal: Principal, app_key: str, records: FromClause, dialect: str) -> ColumnElement[bool]:
    """Tickets ``principal`` submitted, watches, works or worked on, or may claim."""
    uid = principal.user_id
    r = records.c
    keys = pool_keys(principal, app_key)
    open_pool = and_(T.c.assignee_id.is_(None), T.c.status.in_(("open", "waiting")))
    claimable = [and_(open_pool, T.c.pool_key.in_(keys))] if keys else []
    claimable.append(and_(open_pool, T.c.pool_key == "users", in_users_pool(dialect, T.c.candidates, uid)))
    task = exists(
        select(literal(1)).where(
            T.c.record_id == r.id,
            or_(T.c.assignee_id == uid, T.c.completed_by == uid, T.c.delegated_from == uid, *claimable),
        )
    )
    watching = exists(select(literal(1)).where(W.c.record_id == r.id, W.c.user_id == uid))
    return or_(r.created_by == uid, watching, task)


def scope_clause(
    principal: Principal | None, app_key: str, records: FromClause, dialect: str
) -> ColumnElement[bool]:
    """The condition on ``records`` (a table or alias of ``records`` of ``app_key``) selecting the
    tickets ``principal`` may see; the system itself (None) sees everything."""
    if principal is None:
        return true()
    scope = principal.scope_in(app_key)
    if scope == "all":
        return true()
    own = own_clause(principal, app_key, records, dialect)
    if scope == "department" and principal.departments:
        submitters = select(U.c.id).where(U.c.department_id.in_(principal.departments))
        return or_(own, records.c.created_by.in_(submitters))
    return own


def can_see(conn: Connection, principal: Principal | None, record_id: int) -> bool:
    """Whether ``principal`` may see ticket ``record_id`` (False also when it does not exist)."""
    from engine.store.models import Record

    R = Record.__table__
    row = conn.execute(
        select(A.c.key).select_from(R.join(A, A.c.id == R.c.app_id)).where(R.c.id == record_id)
    ).first()
    if row is None:
        return False
    if principal is None or principal.scope_in(row.key) == "all":
        return True
    clause = scope_clause(principal, row.key, R, conn.dialect.name)
    return conn.execute(select(literal(1)).where(R.c.id == record_id, clause)).first() is not None
