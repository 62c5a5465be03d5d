"""Administration as engine functions: people, departments, role membership, apps, dead letters.

Every write takes the acting admin (``actor``) and their client address (``ip``) and records an
audit entry (engine.auth.audit) in the same transaction as the change — except the app operations,
which publish through Runtime.publish (its own transaction) and audit right after it. Details kept in
the audit log never hold a password or a channel secret.

The web layer (server/api/admin.py, server/api/me.py, server/pages/admin.py) only parses requests
and calls these.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

import engine.admin_messages  # noqa: F401  (its words)
from engine import auth
from engine.access import department_subtree
from engine.definitions.diff import Change
from engine.definitions.diff import diff as compute_diff
from engine.errors import ConflictError, FormError, NotFoundError, Problem
from engine.forms.directory import person_label
from engine.people import check_password, hash_password, new_password
from engine.store.db import Database
from engine.store.models import App, Department, Role, RoleMember, Session, User
from engine.store.types import utcnow

U, D, RT, RM, A, S = (m.__table__ for m in (User, Department, Role, RoleMember, App, Session))

USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+\- ]{1,32}$")
LANGS = ("zh", "en")
PASSWORD_MIN = 10
MAX_IMPORT_ROWS = 10_000
CSV_COLUMNS = ("username", "display_name", "email", "phone", "department", "manager", "roles")
#: How many names an audit entry lists before it only counts.
AUDIT_NAMES = 200
CHUNK = 500


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_tz(tz: Any) -> bool:
    return isinstance(tz, str) and tz in _zones()


def invalid(problems: list[Problem]) -> FormError:
    """The 422 of a form: every problem, and how many."""
    return FormError(problems=problems, count=len(problems))


def _names(values: Iterable[Any]) -> list[Any]:
    out = list(values)
    return out[:AUDIT_NAMES] + ([f"… +{len(out) - AUDIT_NAMES}"] if len(out) > AUDIT_NAMES else [])


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


# ============================================================================ users
USER_COLUMNS = (
    U.c.id,
    U.c.username,
    U.c.display_name,
    U.c.email,
    U.c.phone,
    U.c.department_id,
    U.c.manager_id,
    U.c.is_admin,
    U.c.is_active,
    U.c.is_away,
    U.c.lang,
    U.c.tz,
    U.c.created_at,
    U.c.locked_until,
)


def _user_query() -> Any:
    manager = U.alias("manager")
    return select(
        *USER_COLUMNS, D.c.name.label("department"), manager.c.username.label("manager")
    ).select_from(
        U.outerjoin(D, D.c.id == U.c.department_id).outerjoin(manager, manager.c.id == U.c.manager_id)
    )


def _user_dict(row: Any, now: dt.datetime) -> dict[str, Any]:
    out = dict(row._mapping)
    locked = out.pop("locked_until")
    out["locked"] = bool(locked is not None and locked > now)
    return out


def list_users(
    db: Database, search: str | None = None, limit: int = 50, after: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of users by id (``after``: the last id of the previous page), optionally those whose
    username or display name contains ``search``; (rows, the id to continue after or None)."""
    limit = min(max(limit, 1), 500)
    q = _user_query().order_by(U.c.id).limit(limit + 1)
    if after is not None:
        q = q.where(U.c.id > after)
    if search:
        needle = search.strip().lower()
        q = q.where(
            func.lower(U.c.username).contains(needle, autoescape=True)
            | func.lower(U.c.display_name).contains(needle, autoescape=True)
        )
    now = utcnow()
    with db.read() as conn:
        rows = [_user_dict(r, now) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def get_user(db: Database, user_id: int) -> dict[str, Any]:
    """One user with their role memberships ([{app, role, weight, app_name, role_name}]; the names
    as the app definition wrote them, ``{zh, en}``)."""
    with db.read() as conn:
        row = conn.execute(_user_query().where(U.c.id == user_id)).first()
        if row is None:
            raise NotFoundError("admin.user_not_found", ident=user_id)
        roles = conn.execute(
            select(
                A.c.key.label("app"),
                RT.c.key.label("role"),
                RM.c.weight,
                A.c.name.label("app_name"),
                RT.c.name.label("role_name"),
            )
            .select_from(RM.join(RT, RT.c.id == RM.c.role_id).join(A, A.c.id == RT.c.app_id))
            .where(RM.c.user_id == user_id)
            .order_by(A.c.key, RT.c.key)
        ).all()
    out = _user_dict(row, utcnow())
    out["roles"] = [dict(r._mapping) for r in roles]
    return out


def _text_problem(
    problems: list[Problem], path: str, value: Any, limit: int, required: bool = False
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(path, "admin.required"))
        return None
    text = str(value).strip()
    if len(text) > limit:
        problems.append(Problem(path, "admin.too_long", {"limit": limit}))
    return text


def _user_named(conn: Connection, problems: list[Problem], path: str, name: Any, code: str) -> int | None:
    """The id of the user named ``name`` (None for an empty name); a problem at ``path`` if nobody."""
    text = str(name or "").strip().replace("\x00", "")
    if not text:
        return None
    found = conn.execute(select(U.c.id).where(U.c.username == text[:64])).scalar()
    if found is None:
        problems.append(Problem(path, code, {"ident": text[:64]}))
    return found


def _check_profile(conn: Connection, values: Mapping[str, Any], user_id: int | None) -> dict[str, Any]:
    """Checked column values of a user from ``values`` (only the keys present); FormError with every
    problem otherwise."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    if "display_name" in values:
        out["display_name"] = _text_problem(problems, "display_name", values["display_name"], 100, True)
    if "email" in values:
        email = _text_problem(problems, "email", values["email"], 254)
        if email and not EMAIL.match(email):
            problems.append(Problem("email", "admin.bad_email"))
        out["email"] = email
    if "phone" in values:
        phone = _text_problem(problems, "phone", values["phone"], 32)
        if phone and not PHONE.match(phone):
            problems.append(Problem("phone", "admin.bad_phone"))
        out["phone"] = phone
    if "lang" in values:
        if values["lang"] not in LANGS:
            problems.append(Problem("lang", "admin.bad_lang"))
        out["lang"] = values["lang"]
    if "tz" in values:
        if not valid_tz(values["tz"]):
            problems.append(Problem("tz", "admin.bad_tz", {"tz": str(values["tz"])[:64]}))
        out["tz"] = values["tz"]
    for flag in ("is_admin", "is_active", "is_away"):
        if flag in values:
            out[flag] = bool(values[flag])
    if values.get("department_id") is not None:
        found = conn.execute(select(D.c.id).where(D.c.id == values["department_id"])).first()
        if found is None:
            problems.append(
                Problem("department_id", "admin.no_department", {"ident": values["department_id"]})
            )
    if "department_id" in values:
        out["department_id"] = values["department_id"]
    if "manager" in values:  # a username, as a form names the manager (empty: none)
        out["manager_id"] = _user_named(conn, problems, "manager", values["manager"], "admin.no_manager")
        if out["manager_id"] is not None and out["manager_id"] == user_id:
            problems.append(Problem("manager", "admin.own_manager"))
    elif values.get("manager_id") is not None:
        if values["manager_id"] == user_id:
            problems.append(Problem("manager_id", "admin.own_manager"))
        elif conn.execute(select(U.c.id).where(U.c.id == values["manager_id"])).first() is None:
            problems.append(Problem("manager_id", "admin.no_manager", {"ident": values["manager_id"]}))
    if "manager_id" in values and "manager" not in values:
        out["manager_id"] = values["manager_id"]
    if problems:
        raise invalid(problems)
    return out


def create_user(
    db: Database,
    actor: int | None,
    values: Mapping[str, Any],
    password: str | None = None,
    ip: str | None = None,
) -> tuple[int, str | None]:
    """A new user: (id, the random initial password — None when ``password`` was given)."""
    username = str(values.get("username") or "").strip()
    problems = [] if USERNAME.match(username) else [Problem("username", "admin.bad_username")]
    if password is not None and len(password) < PASSWORD_MIN:
        problems.append(Problem("password", "admin.password_short", {"min": PASSWORD_MIN}))
    generated = None if password is not None else new_password()
    fields = {"display_name": values.get("display_name") or username, **values}
    fields.pop("username", None)
    with db.write() as conn:
        try:
            checked = _check_profile(conn, fields, None)
        except FormError as exc:
            problems += exc.problems
        taken = conn.execute(select(U.c.id).where(U.c.username == username)).first() is not None
        taken_problem = Problem("username", "admin.username_taken", {"username": username})
        if problems:  # a taken name is said with the others, so one more try does it
            raise invalid([taken_problem, *problems] if taken else problems)
        if taken:
            raise ConflictError("admin.username_taken", problems=[taken_problem], username=username)
        uid = conn.execute(
            insert(U)
            .values(
                username=username,
                password_hash=hash_password(password or generated or ""),
                created_at=utcnow(),
                **{"is_admin": False, "is_active": True, "lang": "zh", **checked},
            )
            .returning(U.c.id)
        ).scalar_one()
        details = {"username": username, **{k: v for k, v in checked.items() if k != "display_name"}}
        auth.audit(conn, actor, "user.created", f"user:{uid}", details, ip)
    return uid, generated


def update_user(
    db: Database, actor: int | None, user_id: int, changes: Mapping[str, Any], ip: str | None = None
) -> dict[str, Any]:
    """Change a user's profile, department, manager, admin/active/away flags. Deactivating signs the
    user out everywhere. An admin cannot remove their own admin right or deactivate themselves."""
    with db.write() as conn:
        old = conn.execute(select(*USER_COLUMNS).where(U.c.id == user_id)).first()
        if old is None:
            raise NotFoundError("admin.user_not_found", ident=user_id)
        problems = [
            Problem(flag, "admin.not_yourself")
            for flag in ("is_admin", "is_active")
            if user_id == actor and flag in changes and not changes[flag]
        ][:1]
        try:
            checked = _check_profile(conn, changes, user_id)
        except FormError as exc:  # said with the others, so one more try does it
            raise invalid([*exc.problems, *problems]) from None
        if problems:
            raise invalid(problems)
        changed = {k: v for k, v in checked.items() if getattr(old, k) != v}
        if changed:
            conn.execute(update(U).where(U.c.id == user_id).values(**changed))
            if changed.get("is_active") is False:
                auth.end_sessions(conn, user_id)
            auth.audit(
                conn, actor, "user.updated", f"user:{user_id}", {"username": old.username, **changed}, ip
            )
    return get_user(db, user_id)


def reset_password(db: Database, actor: int | None, user_id: int, ip: str | None = None) -> str:
    """A new random password for the user (returned once), their lock lifted, their sessions ended."""
    password = new_password()
    with db.write() as conn:
        done = conn.execute(
            update(U)
            .where(U.c.id == user_id)
            .values(password_hash=hash_password(password), failed_logins=0, locked_until=None)
        ).rowcount
        if done != 1:
            raise NotFoundError("admin.user_not_found", ident=user_id)
        auth.end_sessions(conn, user_id)
        auth.audit(conn, actor, "user.password_reset", f"user:{user_id}", {}, ip)
    return password


# ============================================================================ me
def update_profile(db: Database, user_id: int, changes: Mapping[str, Any]) -> None:
    """A user's own language, time zone and display name."""
    allowed = {k: v for k, v in changes.items() if k in ("lang", "tz", "display_name")}
    with db.write() as conn:
        checked = _check_profile(conn, allowed, user_id)
        if checked:
            conn.execute(update(U).where(U.c.id == user_id).values(**checked))


def change_password(
    db: Database,
    user_id: int,
    current: str,
    new: str,
    keep_session: str | None = None,
    ip: str | None = None,
) -> int:
    """Change one's own password after checking the current one; every other session of the user ends
    (``keep_session``: the cookie token of the session asking, which stays). Returns how many ended."""
    with db.read() as conn:
        stored = conn.execute(select(U.c.password_hash).where(U.c.id == user_id)).scalar()
    if not check_password(stored, current):
        raise invalid([Problem("current", "admin.password_wrong")])
    if len(new) < PASSWORD_MIN:
        raise invalid([Problem("new", "admin.password_short", {"min": PASSWORD_MIN})])
    with db.write() as conn:
        conn.execute(update(U).where(U.c.id == user_id).values(password_hash=hash_password(new)))
        if keep_session:
            ended = conn.execute(
                delete(S).where(S.c.user_id == user_id, S.c.token_hash != auth.digest(keep_session))
            ).rowcount
        else:
            ended = conn.execute(
                select(func.count()).select_from(S).where(S.c.user_id == user_id)
            ).scalar_one()
            auth.end_sessions(conn, user_id)
        auth.audit(conn, user_id, "me.password_changed", f"user:{user_id}", {"sessions_ended": ended}, ip)
    return ended


# ============================================================================ CSV import
@dataclass
class ImportRow:
    row: int  # the spreadsheet row (the header is row 1)
    username: str
    cells: dict[str, str]
    department: tuple[str, ...] | None = None
    roles: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    departments_created: list[str] = field(default_factory=list)
    roles_added: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "departments_created": self.departments_created,
            "roles_added": self.roles_added,
        }


def decode_csv(data: bytes) -> str:
    """The text of an uploaded CSV: UTF-8 with or without BOM, else GBK (GB18030, Excel's Chinese
    default); FormError when neither fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:  # UTF-16 or a binary file
        raise FormError("admin.import_invalid", problems=[Problem("file", "admin.csv_encoding")], count=1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise FormError(
            "admin.import_invalid", problems=[Problem("file", "admin.csv_encoding")], count=1
        ) from None


def _cell_problem(header: list[str], line: int, column: str, code: str, /, **params: Any) -> Problem:
    """A problem of one cell: its path names the row and column, ``line``/``column`` number them."""
    col = header.index(column) + 1 if column in header else None
    return Problem(f"row {line}.{column}", code, params, line=line, column=col)


def _parse_csv(text: str) -> tuple[list[str], list[ImportRow], list[Problem]]:
    """The header and rows of the file, each cell trimmed; problems of the file's shape and of
    each cell that can be checked without the database."""
    sample = text[:4096].split("\n", 1)[0]
    delimiter = "," if "," in sample else ("\t" if "\t" in sample else (";" if ";" in sample else ","))
    problems: list[Problem] = []
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FormError(
            "admin.import_invalid",
            problems=[Problem("file", "admin.csv_syntax", {"reason": str(exc)})],
            count=1,
        ) from None
    if not records or not any(c.strip() for c in records[0]):
        raise FormError("admin.import_invalid", problems=[Problem("file", "admin.csv_empty")], count=1)
    header = [c.strip().lower() for c in records[0]]
    for i, name in enumerate(header):
        if name not in CSV_COLUMNS:
            problems.append(
                Problem(
                    f"row 1.{name or i + 1}",
                    "admin.csv_unknown_column",
                    {"column": name or f"#{i + 1}", "known": ", ".join(CSV_COLUMNS)},
                    line=1,
                    column=i + 1,
                )
            )
        elif name in header[:i]:
            problems.append(
                Problem(f"row 1.{name}", "admin.csv_duplicate_column", {"column": name}, line=1, column=i + 1)
            )
    if "username" not in header:
        problems.append(Problem("row 1.username", "admin.csv_no_username", line=1, column=1))
    if problems:
        return header, [], problems
    body = records[1:]
    if len(body) > MAX_IMPORT_ROWS:
        raise FormError(
            "admin.import_invalid",
            problems=[Problem("file", "admin.csv_too_many", {"limit": MAX_IMPORT_ROWS})],
            count=1,
        )
    rows: list[ImportRow] = []
    first_seen: dict[str, int] = {}
    for index, record in enumerate(body, start=2):
        if not any(c.strip() for c in record):
            continue  # blank line
        if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
            problems.append(
                Problem(
                    f"row {index}",
                    "admin.csv_extra_cells",
                    {"count": len(record) - len(header)},
                    line=index,
                )
            )
        cells = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(header)}
        username = cells.get("username", "")
        item = ImportRow(index, username, cells)
        if not username:
            problems.append(_cell_problem(header, index, "username", "admin.required"))
        elif not USERNAME.match(username):
            problems.append(_cell_problem(header, index, "username", "admin.bad_username"))
        elif username.lower() in first_seen:
            problems.append(
                _cell_problem(
                    header,
                    index,
                    "username",
                    "admin.csv_duplicate_user",
                    username=username,
                    row=first_seen[username.lower()],
                )
            )
        else:
            first_seen[username.lower()] = index
        if len(cells.get("display_name", "")) > 100:
            problems.append(_cell_problem(header, index, "display_name", "admin.too_long", limit=100))
        email = cells.get("email", "")
        if email and (len(email) > 254 or not EMAIL.match(email)):
            problems.append(_cell_problem(header, index, "email", "admin.bad_email"))
        phone = cells.get("phone", "")
        if phone and not PHONE.match(phone):
            problems.append(_cell_problem(header, index, "phone", "admin.bad_phone"))
        department = cells.get("department", "")
        if department:
            parts = tuple(p.strip() for p in department.replace("\\", "/").split("/"))
            if not all(parts) or any(len(p) > 100 for p in parts) or len(parts) > 20:
                problems.append(_cell_problem(header, index, "department", "admin.csv_bad_department"))
            else:
                item.department = parts
        manager = cells.get("manager", "")
        if manager and manager.lower() == username.lower():
            problems.append(_cell_problem(header, index, "manager", "admin.own_manager"))
        for piece in re.split(r"[;；,，]", cells.get("roles", "")):
            piece = piece.strip()
            if not piece:
                continue
            app_key, colon, role_key = piece.replace("：", ":").partition(":")
            if not colon or not app_key.strip() or not role_key.strip():
                problems.append(_cell_problem(header, index, "roles", "admin.csv_bad_role", role=piece))
            else:
                item.roles.append((app_key.strip(), role_key.strip()))
        rows.append(item)
    return header, rows, problems


class _Departments:
    """The department tree by (parent, name), for finding and creating paths."""

    def __init__(self, conn: Connection):
        self.by_key: dict[tuple[int | None, str], int] = {
            (r.parent_id, r.name): r.id for r in conn.execute(select(D.c.id, D.c.name, D.c.parent_id))
        }

    def find(self, path: tuple[str, ...]) -> int | None:
        parent: int | None = None
        for name in path:
            found = self.by_key.get((parent, name))
            if found is None:
                return None
            parent = found
        return parent

    def missing(self, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The prefixes of ``path`` that do not exist yet, shortest first."""
        out = []
        parent: int | None = None
        for i, name in enumerate(path):
            found = None if out else self.by_key.get((parent, name))
            if found is None:
                out.append(path[: i + 1])
            else:
                parent = found
        return out

    def ensure(self, conn: Connection, path: tuple[str, ...]) -> int:
        parent: int | None = None
        for name in path:
            found = self.by_key.get((parent, name))
            if found is None:
                found = conn.execute(
                    insert(D).values(name=name, parent_id=parent).returning(D.c.id)
                ).scalar_one()
                self.by_key[(parent, name)] = found
            parent = found
        assert parent is not None
        return parent


def import_users(
    db: Database, actor: int | None, data: bytes, dry_run: bool = False, ip: str | None = None
) -> ImportReport:
    """Create or update users from a CSV file, all or nothing.

    Every row is checked first; any problem (with its row and column) raises FormError and nothing
    is written. Existing users (by username) are updated: a non-empty cell replaces the value, an
    empty one leaves it; listed roles are added to their memberships. Missing departments of a path
    are created. ``dry_run`` reports the same without writing.
    """
    header, rows, problems = _parse_csv(decode_csv(data))
    report = ImportReport(dry_run)
    with db.write() as conn:
        usernames = [r.username for r in rows if r.username]
        managers = [r.cells.get("manager", "") for r in rows if r.cells.get("manager")]
        existing: dict[str, Any] = {}
        for chunk in _chunks(sorted(set(usernames) | set(managers))):
            for u in conn.execute(select(*USER_COLUMNS).where(U.c.username.in_(chunk))):
                existing[u.username] = u
        in_file = {r.username for r in rows}
        roles = {
            (r.app, r.role): r.id
            for r in conn.execute(
                select(RT.c.id, A.c.key.label("app"), RT.c.key.label("role")).join(A, A.c.id == RT.c.app_id)
            )
        }
        for r in rows:
            manager = r.cells.get("manager", "")
            if (
                manager
                and manager.lower() != r.username.lower()
                and manager not in existing
                and manager not in in_file
            ):
                problems.append(
                    _cell_problem(header, r.row, "manager", "admin.csv_no_manager", username=manager)
                )
            for app_key, role_key in r.roles:
                if (app_key, role_key) not in roles:
                    problems.append(
                        _cell_problem(
                            header, r.row, "roles", "admin.csv_bad_role", role=f"{app_key}:{role_key}"
                        )
                    )
        if problems:
            problems.sort(key=lambda p: (p.line or 0, p.column or 0))
            raise FormError("admin.import_invalid", problems=problems, count=len(problems))

        departments = _Departments(conn)
        planned: set[tuple[str, ...]] = set()
        for r in rows:
            if r.department:
                for path in departments.missing(r.department):
                    if path not in planned:
                        planned.add(path)
                        report.departments_created.append("/".join(path))
        user_ids = {name: u.id for name, u in existing.items()}
        memberships: set[tuple[int, int]] = set()
        if existing:
            ids = list(user_ids.values())
            for chunk in _chunks(ids):
                memberships |= {
                    (m.role_id, m.user_id)
                    for m in conn.execute(select(RM.c.role_id, RM.c.user_id).where(RM.c.user_id.in_(chunk)))
                }

        # --- what changes, per row
        now = utcnow()
        new_rows: list[dict[str, Any]] = []
        updates: list[tuple[str, dict[str, Any]]] = []
        for r in rows:
            values: dict[str, Any] = {}
            for column in ("display_name", "email", "phone"):
                if r.cells.get(column):
                    values[column] = r.cells[column]
            old = existing.get(r.username)
            if old is None:
                new_rows.append(
                    {
                        "username": r.username,
                        "display_name": values.get("display_name") or r.username,
                        "email": values.get("email"),
                        "phone": values.get("phone"),
                        "password_hash": None,
                        "is_admin": False,
                        "is_active": True,
                        "lang": "zh",
                        "created_at": now,
                    }
                )
                report.created.append(r.username)
            else:
                changed = [k for k, v in values.items() if getattr(old, k) != v]
                if r.department:
                    dep = departments.find(r.department)
                    if dep is None or dep != old.department_id:
                        changed.append("department")
                manager = r.cells.get("manager")
                if manager and (existing[manager].id if manager in existing else None) != old.manager_id:
                    changed.append("manager")
                updates.append((r.username, {k: values[k] for k in changed if k in values}))
                added_roles = [(a, k) for a, k in r.roles if (roles[(a, k)], old.id) not in memberships]
                if added_roles:
                    changed.append("roles")
                if changed:
                    report.updated.append({"username": r.username, "fields": changed})
                else:
                    report.unchanged.append(r.username)
            for a, k in r.roles:
                if old is None or (roles[(a, k)], old.id) not in memberships:
                    report.roles_added.append({"username": r.username, "app": a, "role": k})
        if dry_run:
            conn.rollback()
            return report

        # --- writes, all in this transaction
        for r in rows:
            if r.department:
                departments.ensure(conn, r.department)
        if new_rows:
            conn.execute(insert(U), new_rows)
            for chunk in _chunks([n["username"] for n in new_rows]):
                user_ids.update(
                    {
                        u.username: u.id
                        for u in conn.execute(select(U.c.id, U.c.username).where(U.c.username.in_(chunk)))
                    }
                )
        changes = [(user_ids[username], values) for username, values in updates if values]
        for r in rows:
            link = {}
            if r.department:
                link["department_id"] = departments.find(r.department)
            if r.cells.get("manager"):
                link["manager_id"] = user_ids[r.cells["manager"]]
            if link:
                changes.append((user_ids[r.username], link))
        _update_many(conn, changes)
        new_members = {(roles[(a, k)], user_ids[r.username]) for r in rows for a, k in r.roles} - memberships
        if new_members:
            conn.execute(
                insert(RM),
                [{"role_id": rid, "user_id": uid, "weight": 1} for rid, uid in sorted(new_members)],
            )
        auth.audit(
            conn,
            actor,
            "users.imported",
            "users",
            {
                "created": _names(report.created),
                "updated": _names(u["username"] for u in report.updated),
                "departments_created": _names(report.departments_created),
                "roles_added": len(report.roles_added),
            },
            ip,
        )
    return report


def _update_many(conn: Connection, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """UPDATE users row by row in as few statements as there are different column sets (executemany)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for uid, values in changes:
        groups.setdefault(tuple(sorted(values)), []).append(
            {"p_id": uid, **{f"p_{k}": v for k, v in values.items()}}
        )
    for columns, params in groups.items():
        stmt = update(U).where(U.c.id == bindparam("p_id")).values({c: bindparam(f"p_{c}") for c in columns})
        conn.execute(stmt, params)


# ============================================================================ departments
def department_tree(db: Database) -> list[dict[str, Any]]:
    """Every department as a nested tree (roots first, children by name) with its head and the
    number of its direct members."""
    head = U.alias("head")
    counts = (
        select(U.c.department_id, func.count().label("users"))
        .where(U.c.department_id.is_not(None))
        .group_by(U.c.department_id)
        .subquery()
    )
    q = (
        select(
            D.c.id,
            D.c.name,
            D.c.parent_id,
            D.c.head_id,
            head.c.username.label("head_username"),
            head.c.display_name.label("head_name"),
            func.coalesce(counts.c.users, 0).label("users"),
        )
        .select_from(
            D.outerjoin(head, head.c.id == D.c.head_id).outerjoin(counts, counts.c.department_id == D.c.id)
        )
        .order_by(D.c.name, D.c.id)
    )
    with db.read() as conn:
        rows = conn.execute(q).all()
    nodes = {
        r.id: {
            "id": r.id,
            "name": r.name,
            "parent_id": r.parent_id,
            "head": {"id": r.head_id, "username": r.head_username, "display_name": r.head_name}
            if r.head_id
            else None,
            "users": int(r.users),
            "children": [],
        }
        for r in rows
    }
    roots = []
    for r in rows:
        node = nodes[r.id]
        parent = nodes.get(r.parent_id) if r.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def flat_departments(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tree as a list with each department's path ("客服部/一组") and depth, in tree order."""
    out: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]], prefix: str, depth: int, seen: set[int]) -> None:
        for node in nodes:
            if node["id"] in seen:
                continue
            seen.add(node["id"])
            path = f"{prefix}/{node['name']}" if prefix else node["name"]
            out.append({**{k: v for k, v in node.items() if k != "children"}, "path": path, "depth": depth})
            walk(node["children"], path, depth + 1, seen)

    walk(tree, "", 0, set())
    return out


def _department_name(problems: list[Problem], value: Any) -> str | None:
    name = _text_problem(problems, "name", value, 100, True)
    if name and "/" in name:
        problems.append(Problem("name", "admin.department_slash"))
    return name


def _sibling_exists(conn: Connection, parent_id: int | None, name: str, but: int | None = None) -> bool:
    q = select(D.c.id).where(D.c.name == name, D.c.parent_id.is_not_distinct_from(parent_id))
    if but is not None:
        q = q.where(D.c.id != but)
    return conn.execute(q).first() is not None


def create_department(
    db: Database,
    actor: int | None,
    name: Any,
    parent_id: int | None = None,
    head_id: int | None = None,
    ip: str | None = None,
) -> int:
    problems: list[Problem] = []
    clean = _department_name(problems, name)
    with db.write() as conn:
        if parent_id is not None and conn.execute(select(D.c.id).where(D.c.id == parent_id)).first() is None:
            problems.append(Problem("parent_id", "admin.no_department", {"ident": parent_id}))
        if head_id is not None and conn.execute(select(U.c.id).where(U.c.id == head_id)).first() is None:
            problems.append(Problem("head_id", "admin.user_not_found", {"ident": head_id}))
        if problems:
            raise invalid(problems)
        assert clean is not None
        if _sibling_exists(conn, parent_id, clean):
            raise ConflictError("admin.department_exists", name=clean)
        new_id = conn.execute(
            insert(D).values(name=clean, parent_id=parent_id, head_id=head_id).returning(D.c.id)
        ).scalar_one()
        auth.audit(
            conn,
            actor,
            "department.created",
            f"department:{new_id}",
            {"name": clean, "parent_id": parent_id, "head_id": head_id},
            ip,
        )
    return new_id


def update_department(
    db: Database, actor: int | None, department_id: int, changes: Mapping[str, Any], ip: str | None = None
) -> None:
    """Rename (``name``), move (``parent_id``; never under itself or below) or set the head
    (``head_id``, or ``head`` by username; None or empty clears it). Every problem comes back at once."""
    problems: list[Problem] = []
    with db.write() as conn:
        old = conn.execute(select(D).where(D.c.id == department_id)).first()
        if old is None:
            raise NotFoundError("admin.department_not_found", ident=department_id)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = _department_name(problems, changes["name"])
        if "parent_id" in changes:
            parent = changes["parent_id"]
            if parent is not None:
                if conn.execute(select(D.c.id).where(D.c.id == parent)).first() is None:
                    problems.append(Problem("parent_id", "admin.no_department", {"ident": parent}))
                elif parent in department_subtree(conn, department_id):
                    problems.append(Problem("parent_id", "admin.department_cycle"))
            values["parent_id"] = parent
        if "head" in changes:  # a username, as the form names the head (empty: none)
            values["head_id"] = _user_named(conn, problems, "head", changes["head"], "admin.user_not_found")
        elif "head_id" in changes:
            head = changes["head_id"]
            if head is not None and conn.execute(select(U.c.id).where(U.c.id == head)).first() is None:
                problems.append(Problem("head_id", "admin.user_not_found", {"ident": head}))
            values["head_id"] = head
        if problems:
            raise invalid(problems)
        values = {k: v for k, v in values.items() if getattr(old, k) != v}
        if not values:
            return
        name = values.get("name", old.name)
        parent_id = values.get("parent_id", old.parent_id)
        if ("name" in values or "parent_id" in values) and _sibling_exists(
            conn, parent_id, name, department_id
        ):
            raise ConflictError("admin.department_exists", name=name)
        conn.execute(update(D).where(D.c.id == department_id).values(**values))
        auth.audit(
            conn, actor, "department.updated", f"department:{department_id}", {"name": old.name, **values}, ip
        )


def delete_department(db: Database, actor: int | None, department_id: int, ip: str | None = None) -> None:
    """Delete an empty department; ConflictError (saying how many) while it has members or children."""
    with db.write() as conn:
        old = conn.execute(select(D.c.name).where(D.c.id == department_id)).first()
        if old is None:
            raise NotFoundError("admin.department_not_found", ident=department_id)
        users = conn.execute(
            select(func.count()).select_from(U).where(U.c.department_id == department_id)
        ).scalar_one()
        children = conn.execute(
            select(func.count()).select_from(D).where(D.c.parent_id == department_id)
        ).scalar_one()
        if users or children:
            raise ConflictError("admin.department_in_use", name=old.name, users=users, children=children)
        conn.execute(delete(D).where(D.c.id == department_id))
        auth.audit(conn, actor, "department.deleted", f"department:{department_id}", {"name": old.name}, ip)


# ============================================================================ roles
def _app_id(conn: Connection, app_key: str) -> int:
    found = conn.execute(select(A.c.id).where(A.c.key == app_key)).scalar()
    if found is None:
        raise NotFoundError("runtime.unknown_app", app=app_key)
    return found


def app_roles(db: Database, app_key: str) -> list[dict[str, Any]]:
    """The roles of an app (key, name, scope) with their members (id, username, name, weight)."""
    with db.read() as conn:
        app_id = _app_id(conn, app_key)
        roles = conn.execute(
            select(RT.c.id, RT.c.key, RT.c.name, RT.c.scope).where(RT.c.app_id == app_id).order_by(RT.c.key)
        ).all()
        members = conn.execute(
            select(RM.c.role_id, U.c.id, U.c.username, U.c.display_name, U.c.is_active, RM.c.weight)
            .select_from(RM.join(U, U.c.id == RM.c.user_id).join(RT, RT.c.id == RM.c.role_id))
            .where(RT.c.app_id == app_id)
            .order_by(U.c.username)
        ).all()
    by_role: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        by_role.setdefault(m.role_id, []).append(
            {
                "user_id": m.id,
                "username": m.username,
                "display_name": m.display_name,
                "is_active": bool(m.is_active),
                "weight": m.weight,
            }
        )
    return [
        {"key": r.key, "name": r.name, "scope": r.scope or "own", "members": by_role.get(r.id, [])}
        for r in roles
    ]


def set_role_members(
    db: Database,
    actor: int | None,
    app_key: str,
    role_key: str,
    members: Sequence[Mapping[str, Any]],
    ip: str | None = None,
) -> list[dict[str, Any]]:
    """Replace the members of a role: ``[{user: id or username, weight: 1..100}]``."""
    problems: list[Problem] = []
    with db.write() as conn:
        app_id = _app_id(conn, app_key)
        role_id = conn.execute(select(RT.c.id).where(RT.c.app_id == app_id, RT.c.key == role_key)).scalar()
        if role_id is None:
            raise NotFoundError("admin.role_not_found", app=app_key, role=role_key)
        ids = [m["user"] for m in members if isinstance(m.get("user"), int)]
        names = [m["user"] for m in members if isinstance(m.get("user"), str)]
        found: dict[Any, tuple[int, str]] = {}
        for chunk in _chunks(ids):
            found.update(
                {
                    u.id: (u.id, u.username)
                    for u in conn.execute(select(U.c.id, U.c.username).where(U.c.id.in_(chunk)))
                }
            )
        for chunk in _chunks(names):
            found.update(
                {
                    u.username: (u.id, u.username)
                    for u in conn.execute(select(U.c.id, U.c.username).where(U.c.username.in_(chunk)))
                }
            )
        wanted: dict[int, int] = {}
        usernames: dict[int, str] = {}
        for i, m in enumerate(members):
            user = found.get(m.get("user"))
            if user is None:
                problems.append(
                    Problem(f"members[{i}].user", "admin.user_not_found", {"ident": m.get("user")})
                )
                continue
            weight = m.get("weight", 1)
            if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
                problems.append(Problem(f"members[{i}].weight", "admin.bad_weight"))
            if user[0] in wanted:
                problems.append(Problem(f"members[{i}].user", "admin.member_duplicate", {"user": user[1]}))
            wanted[user[0]] = weight if isinstance(weight, int) else 1
            usernames[user[0]] = user[1]
        if problems:
            raise invalid(problems)
        before = {
            r.user_id: (r.username, r.weight)
            for r in conn.execute(
                select(RM.c.user_id, RM.c.weight, U.c.username)
                .join(U, U.c.id == RM.c.user_id)
                .where(RM.c.role_id == role_id)
            )
        }
        conn.execute(delete(RM).where(RM.c.role_id == role_id))
        if wanted:
            conn.execute(
                insert(RM), [{"role_id": role_id, "user_id": uid, "weight": w} for uid, w in wanted.items()]
            )
        auth.audit(
            conn,
            actor,
            "role.members_set",
            f"role:{app_key}:{role_key}",
            {
                "added": _names(sorted(usernames[u] for u in wanted if u not in before)),
                "removed": _names(sorted(before[u][0] for u in before if u not in wanted)),
                "weights": {usernames[u]: w for u, w in wanted.items() if before.get(u, (None, None))[1] != w}
                if len(wanted) <= AUDIT_NAMES
                else {},
            },
            ip,
        )
    return next(r for r in app_roles(db, app_key) if r["key"] == role_key)["members"]


# ============================================================================ apps
def change_dict(change: Change) -> dict[str, Any]:
    return {
        "path": change.path,
        "kind": change.kind,
        "old": change.old,
        "new": change.new,
        "text": change.render(),
    }


def _audit(
    db: Database, actor: int | None, action: str, target: str, details: dict[str, Any], ip: str | None
) -> None:
    with db.write() as conn:
        auth.audit(conn, actor, action, target, details, ip)


def import_app(
    runtime: Any,
    actor: int | None,
    source: Mapping[str, Any] | bytes | str,
    dry_run: bool = False,
    ip: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Check and publish a definition (parsed data, or YAML/JSON text) as the app's next version;
    ``dry_run`` answers the diff against the running version without writing. A bad definition
    raises DefinitionError (422) with every problem and its path."""
    from engine.definitions.loader import load_definition

    loaded = load_definition(source, name=name)
    result = runtime.publish(loaded, actor=actor, note=None, dry_run=dry_run)
    if result.published:
        _audit(
            runtime.db,
            actor,
            "app.published",
            f"app:{result.app}",
            {"version": result.version, "previous": result.previous, "changes": len(result.changes)},
            ip,
        )
    return publish_dict(result, dry_run)


def publish_dict(result: Any, dry_run: bool) -> dict[str, Any]:
    return {
        "app": result.app,
        "version": result.version,
        "previous": result.previous,
        "published": result.published,
        "unchanged": result.unchanged,
        "dry_run": dry_run,
        "changes": [change_dict(c) for c in result.changes],
    }


def export_app(
    runtime: Any, actor: int | None, app_key: str, version: int | None = None, ip: str | None = None
) -> tuple[int, str]:
    """The definition of a version (the running one by default) as YAML that imports back to the same
    definition: (version, text)."""
    number, data = runtime.definition(app_key, version)
    text = f"# {app_key} version {number}\n" + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, width=120
    )
    _audit(runtime.db, actor, "app.exported", f"app:{app_key}", {"version": number}, ip)
    return number, text


def app_diff(
    runtime: Any, app_key: str, from_version: int, to_version: int | None = None
) -> list[dict[str, Any]]:
    _, old = runtime.definition(app_key, from_version)
    _, new = runtime.definition(app_key, to_version)
    return [change_dict(c) for c in compute_diff(old, new)]


def rollback_app(
    runtime: Any, actor: int | None, app_key: str, version: int, ip: str | None = None
) -> dict[str, Any]:
    """Publish the definition of ``version`` again as a new version; running tickets keep theirs."""
    _, data = runtime.definition(app_key, version)
    result = runtime.publish(data, actor=actor, note=f"rollback to v{version}")
    if result.published:
        _audit(
            runtime.db,
            actor,
            "app.rolled_back",
            f"app:{app_key}",
            {"to": version, "version": result.version, "previous": result.previous},
            ip,
        )
    return publish_dict(result, False)


# ============================================================================ operations
MAX_RETRY_IDS = 200


def retry_dead_letters(
    db: Database, actor: int | None, ids: Sequence[int], ip: str | None = None
) -> list[int]:
    """Give dead outbox rows fresh attempts; the ids that were dead (and now wait to be sent)."""
    from engine.jobs.outbox import retry_dead

    if len(ids) > MAX_RETRY_IDS:
        raise invalid([Problem("ids", "admin.too_many_ids", {"limit": MAX_RETRY_IDS})])
    now = utcnow()
    retried = [i for i in dict.fromkeys(ids) if retry_dead(db, i, now)]
    if retried:
        _audit(db, actor, "outbox.retried", "outbox", {"ids": retried}, ip)
    return retried


#: The manager picker lists at most this many people (by name); whoever the form names is added.
MANAGER_CHOICES = 500


def manager_choices(
    db: Database, named: str | None = None, exclude: int | None = None
) -> list[dict[str, str]]:
    """Whom a user form's manager picker offers, as ``{"username", "label"}`` (the label as the
    ticket page's people picker shows a person, ``name (username)``): active people by name,
    and whoever ``named`` (a username) is, even someone who has left; ``exclude``: the user
    being edited (nobody is their own manager)."""
    with db.read() as conn:
        query = select(U.c.id, U.c.username, U.c.display_name).where(U.c.is_active.is_(True))
        if exclude is not None:
            query = query.where(U.c.id != exclude)
        rows = conn.execute(query.order_by(U.c.display_name, U.c.id).limit(MANAGER_CHOICES)).all()
        if named and all(r.username != named for r in rows):
            rows += conn.execute(
                select(U.c.id, U.c.username, U.c.display_name).where(U.c.username == named)
            ).all()
    return [{"username": r.username, "label": person_label(r._mapping)} for r in rows]


#: Audit details holding a person's or a department's id: the log names them instead.
AUDIT_USER_IDS = ("manager_id", "head_id")
AUDIT_DEPARTMENT_IDS = ("department_id", "parent_id")


def audit_entries(db: Database, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """The newest audit entries with the actor's username and, under ``names``, the people and
    departments their details name by id (``{"manager_id": "Ann (ann)"}``); two extra queries a page."""
    rows = auth.audit_log(db, limit, before)
    people = {r["actor_id"] for r in rows if r["actor_id"] is not None} | _detail_ids(rows, AUDIT_USER_IDS)
    departments = _detail_ids(rows, AUDIT_DEPARTMENT_IDS)
    users: dict[int, Any] = {}
    department_names: dict[int, str] = {}
    with db.read() as conn:
        if people:
            query = select(U.c.id, U.c.username, U.c.display_name).where(U.c.id.in_(sorted(people)))
            users = {u.id: u for u in conn.execute(query)}
        if departments:
            query = select(D.c.id, D.c.name).where(D.c.id.in_(sorted(departments)))
            department_names = {d.id: d.name for d in conn.execute(query)}
    for r in rows:
        actor = users.get(r["actor_id"]) if r["actor_id"] is not None else None
        r["actor"] = actor.username if actor is not None else None
        details = r["details"] if isinstance(r["details"], Mapping) else {}
        r["names"] = {
            **{
                k: person_label(users[v]._mapping)
                for k in AUDIT_USER_IDS
                if (v := details.get(k)) in users and not isinstance(v, bool)
            },
            **{
                k: department_names[v]
                for k in AUDIT_DEPARTMENT_IDS
                if (v := details.get(k)) in department_names and not isinstance(v, bool)
            },
        }
    return rows


def _detail_ids(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> set[int]:
    return {
        v
        for r in rows
        if isinstance(r["details"], Mapping)
        for k in keys
        if isinstance(v := r["details"].get(k), int) and not isinstance(v, bool)
    }
