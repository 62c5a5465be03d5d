"""Whom and which department a form's ``user`` / ``department`` fields can name, by name.

Those fields store numeric ids; nobody should have to know a colleague's id. The page draws a
picker of names instead (:func:`engine.forms.render.render_form`'s ``directory``), labelled as
the inbox's "pick a colleague" list labels people (``name (username)``).

A ``user`` field that the person may fill in offers: that person first; then the people working
in the system — active holders of a role in any app, this app's first — and the person's own
teammates (the inbox's list, :func:`engine.inbox.teammates`). Someone who holds no role (a
customer) is thus offered only to their own teammates, as the inbox already does. A ``department``
field offers the departments. Whoever the values already name is always added, so the current
value shows as a name (even someone who has left); a form whose user fields are all read-only
looks up only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, case, select

from engine.access import Principal
from engine.inbox import teammates
from engine.store.models import App, Department, Role, RoleMember, User

U, D, A, R, RM = (m.__table__ for m in (User, Department, App, Role, RoleMember))
#: More people or departments than this and the list is cut (the values' own are always added).
MAX_PEOPLE = 500
MAX_DEPARTMENTS = 500

Directory = dict[str, list[tuple[int, str]]]


def person_label(row: Mapping[str, Any]) -> str:
    """How a person shows in a picker: as in the inbox's list, ``name (username)``."""
    return f"{row['display_name']} ({row['username']})"


def form_directory(
    conn: Connection,
    principal: Principal,
    app_key: str,
    fields: Iterable[Any],
    values: Any = None,
    editable: Callable[[str], bool] | None = None,
) -> Directory:
    """``{"user": [(id, label)…], "department": [(id, label)…]}`` for the form of ``fields``
    (its field definitions, sub-table columns included) in the app ``app_key``, with whom
    ``values`` already names. ``editable(key)``: whether the person may fill that field in now
    (default: every field not read-only by definition).

    Only the kinds the form has are looked up; a form with neither costs nothing.
    """
    named: dict[str, set[int]] = {}
    open_kinds: set[str] = set()
    for key, f, value in _reference_values(fields, values or {}):
        named.setdefault(f.type, set()).update(_ids(value))
        if not f.get("readonly") and (editable is None or editable(key)):
            open_kinds.add(f.type)
    out: Directory = {}
    if "user" in named:
        people: list[dict[str, Any]] = []
        if "user" in open_kinds:
            people = [
                {
                    "id": principal.user_id,
                    "username": principal.username,
                    "display_name": principal.display_name,
                },
                *_people(conn, principal, app_key),
            ]
        known = {p["id"] for p in people}
        missing = named["user"] - known
        if missing:
            rows = conn.execute(
                select(U.c.id, U.c.username, U.c.display_name)
                .where(U.c.id.in_(sorted(missing)))
                .order_by(U.c.id)
            )
            people += [dict(r._mapping) for r in rows]
        out["user"] = [(p["id"], person_label(p)) for p in people]
    if "department" in named:
        departments: list[Any] = []
        if "department" in open_kinds:
            departments = list(
                conn.execute(select(D.c.id, D.c.name).order_by(D.c.name, D.c.id).limit(MAX_DEPARTMENTS))
            )
        missing = named["department"] - {d.id for d in departments}
        if missing:
            departments += conn.execute(
                select(D.c.id, D.c.name).where(D.c.id.in_(sorted(missing))).order_by(D.c.id)
            ).all()
        out["department"] = [(d.id, d.name) for d in departments]
    return out


def _people(conn: Connection, principal: Principal, app_key: str) -> list[dict[str, Any]]:
    """Holders of a role in any app (this app's first, then by name), then the person's teammates."""
    here = (
        select(RM.c.user_id)
        .join(R, R.c.id == RM.c.role_id)
        .join(A, A.c.id == R.c.app_id)
        .where(A.c.key == app_key)
    )
    rows = conn.execute(
        select(U.c.id, U.c.username, U.c.display_name)
        .where(U.c.is_active.is_(True), U.c.id != principal.user_id, U.c.id.in_(select(RM.c.user_id)))
        .order_by(case((U.c.id.in_(here), 0), else_=1), U.c.display_name, U.c.id)
        .limit(MAX_PEOPLE)
    )
    people = [dict(r._mapping) for r in rows]
    seen = {p["id"] for p in people}
    return people + [p for p in teammates(conn, principal) if p["id"] not in seen]


def _reference_values(fields: Iterable[Any], values: Any, top: str = "") -> Iterable[tuple[str, Any, Any]]:
    """(top-level field key, field, its value) of every user / department field, in sub-table rows too."""
    values = values if isinstance(values, Mapping) else {}
    for f in fields:
        if f.type in ("user", "department"):
            yield top or f.key, f, values.get(f.key)
        elif f.type == "subtable":
            rows = values.get(f.key)
            for row in [None, *(rows if isinstance(rows, list) else ())]:  # None: the empty new row
                yield from _reference_values(f.fields, row, top or f.key)


def _ids(value: Any) -> set[int]:
    items = value if isinstance(value, list | tuple) else [value]
    out = set()
    for v in items:
        if isinstance(v, int) and not isinstance(v, bool):
            out.add(v)
        elif isinstance(v, str) and v.strip().isdigit():
            out.add(int(v))
    return {i for i in out if 0 < i < 2**31}
