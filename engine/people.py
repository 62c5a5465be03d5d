"""Users and departments: the few writes the foundation needs (admin account, demo organisation)."""

from __future__ import annotations

import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import insert, select, update

from engine.errors import NotFoundError
from engine.store.db import Database
from engine.store.models import Department, User
from engine.store.types import utcnow

#: argon2id at RFC 9106's "low memory" cost: 3 passes over 64 MiB with 4 lanes, ~60-100 ms a hash on
#: this machine's kind — slow on purpose, for whoever steals the table. (The test suite hashes its
#: thousands of test users at the lowest cost in process, see tests/conftest.py; a test checks this one.)
PASSWORD_COST = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
_hasher = PasswordHasher(**PASSWORD_COST)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(db: Database, username: str, display_name: str | None = None, **fields: Any) -> int:
    password = fields.pop("password", None)
    with db.write() as conn:
        return conn.execute(
            insert(User).values(
                username=username,
                display_name=display_name or username,
                password_hash=hash_password(password) if password else None,
                created_at=utcnow(),
                is_admin=fields.pop("is_admin", False),
                is_active=True,
                lang=fields.pop("lang", "zh"),
                **fields,
            )
        ).inserted_primary_key[0]


def user_id(db: Database, username: str) -> int | None:
    with db.read() as conn:
        return conn.execute(select(User.id).where(User.username == username)).scalar()


def set_password(db: Database, username: str, password: str) -> None:
    with db.write() as conn:
        done = conn.execute(
            update(User).where(User.username == username).values(password_hash=hash_password(password))
        )
        if done.rowcount != 1:
            raise NotFoundError("runtime.unknown_user", user=username)


def ensure_admin(db: Database, username: str = "admin") -> str | None:
    """Create the first admin with a random password and return it; None if the admin exists."""
    if user_id(db, username) is not None:
        return None
    password = new_password()
    create_user(db, username, "管理员 Admin", password=password, is_admin=True)
    return password


def create_department(
    db: Database, name: str, parent_id: int | None = None, head_id: int | None = None
) -> int:
    with db.write() as conn:
        existing = conn.execute(
            select(Department.id).where(
                Department.name == name,
                Department.parent_id.is_not_distinct_from(parent_id),
            )
        ).scalar()
        if existing is not None:
            return existing
        return conn.execute(
            insert(Department).values(name=name, parent_id=parent_id, head_id=head_id)
        ).inserted_primary_key[0]


def set_away(db: Database, user: int, away: bool = True) -> None:
    """Mark a user away (leave, holiday) or back: dispatch skips away users; their work stays theirs."""
    with db.write() as conn:
        if conn.execute(update(User).where(User.id == user).values(is_away=away)).rowcount != 1:
            raise NotFoundError("runtime.unknown_user", user=user)


def set_department_head(db: Database, department_id: int, head_id: int | None) -> None:
    """Make ``head_id`` the head of the department (None: no head), e.g. after creating its people."""
    with db.write() as conn:
        done = conn.execute(update(Department).where(Department.id == department_id).values(head_id=head_id))
        if done.rowcount != 1:
            raise NotFoundError(what="department", ident=department_id)
