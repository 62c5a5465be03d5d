"""Logins, sessions, API tokens and the audit log — pure engine code, no Flask.

- Passwords are argon2 hashes (engine.people). After ``MAX_FAILURES`` wrong passwords in a row an
  account is locked for ``LOCK_MINUTES``; an unknown user and a wrong password get the same answer.
- A session is a random token in a cookie; the database keeps only its SHA-256, an idle expiry
  (sliding) and the CSRF token the pages must send back with every change.
- API tokens (``gd_…``) are shown once, stored as SHA-256, carry scopes (read, write, admin) and
  can expire or be revoked.
- :func:`audit` records who did what; every admin action calls it in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from engine.access import PRINCIPAL_COLUMNS, Principal, principal_from_rows, with_roles
from engine.errors import GongdanError
from engine.i18n import register, t, text_of
from engine.people import check_password
from engine.store.db import Database
from engine.store.models import ApiToken, AuditEntry, Session, User
from engine.store.types import utcnow

MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_IDLE = dt.timedelta(hours=12)
SESSION_MAX = dt.timedelta(days=14)
#: How often a session's last_seen is written (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=1)
TOKEN_SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "gd_"

S, TK, U, AU = (m.__table__ for m in (Session, ApiToken, User, AuditEntry))


class AuthError(GongdanError):
    """Not signed in, or signed in wrongly."""

    code = "auth.required"
    http_status = 401


class ForbiddenError(GongdanError):
    """Signed in, but not allowed to do this."""

    code = "auth.forbidden"
    http_status = 403


class SubmitForbidden(ForbiddenError):
    """The ticket type's ``submitters`` do not include this person. Params: ``type_name`` and
    ``roles`` (i18n texts, named in the reader's language) and ``staff`` (whether staff may)."""

    code = "auth.submit_forbidden"

    def message(self, lang: str | None = None) -> str:
        names = [text_of(name, lang) for name in self.params.get("roles") or ()]
        if self.params.get("staff"):
            names.append(t("auth.submit_staff", lang))
        who = t("auth.list_separator", lang).join(names) or t("auth.submit_admins", lang)
        return t(self.code, lang, type=text_of(self.params.get("type_name"), lang), who=who)


register(
    {
        "auth.required": {
            "zh": "请先登录(或在 Authorization 头中提供 API 令牌)。",
            "en": "Please sign in first (or send an API token in the Authorization header).",
        },
        "auth.bad_credentials": {
            "zh": "用户名或密码错误。",
            "en": "Wrong username or password.",
        },
        "auth.locked": {
            "zh": "密码连续错误次数过多,账户已锁定,请 {minutes} 分钟后再试或联系管理员。",
            "en": "Too many wrong passwords: the account is locked. "
            "Try again in {minutes} minutes or ask an administrator.",
        },
        "auth.session_expired": {
            "zh": "会话已过期,请重新登录。",
            "en": "Your session has expired; please sign in again.",
        },
        "auth.bad_token": {
            "zh": "API 令牌无效、已过期或已撤销。",
            "en": "The API token is invalid, expired or revoked.",
        },
        "auth.forbidden": {
            "zh": "您没有权限执行此操作。",
            "en": "You are not allowed to do this.",
        },
        "auth.submit_forbidden": {
            "zh": "您不能提交「{type}」:只有{who}可以提交此类工单。如需提交,请联系管理员。",
            "en": "You may not submit “{type}”: only {who} may submit tickets of this type. "
            "Ask an administrator if you need to.",
        },
        "auth.submit_staff": {
            "zh": "本单位员工(属于某个部门或在任一应用中有角色的人)",
            "en": "staff (people in a department or with a role in any app)",
        },
        "auth.submit_admins": {"zh": "管理员", "en": "administrators"},
        "auth.list_separator": {"zh": "、", "en": ", "},
        "auth.scope_missing": {
            "zh": "此 API 令牌缺少权限范围 {scope}。请创建带有该范围的令牌。",
            "en": "This API token lacks the scope {scope}. Create a token with that scope.",
        },
        "auth.csrf": {
            "zh": "表单已过期或来源不明(CSRF 校验失败)。请刷新页面后重试。",
            "en": "The form is stale or came from elsewhere (CSRF check failed). "
            "Reload the page and try again.",
        },
        "auth.rate_limited": {
            "zh": "请求过于频繁,请 {seconds} 秒后再试。",
            "en": "Too many requests; try again in {seconds} seconds.",
        },
        "auth.unknown_scope": {
            "zh": "未知的令牌权限范围 {scope},可选:read、write、admin。",
            "en": "Unknown token scope {scope}; choose from read, write, admin.",
        },
    }
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    user_id: int
    csrf_token: str
    expires_at: dt.datetime


# ---------------------------------------------------------------------------- login and sessions
def login(db: Database, username: str, password: str, ip: str | None = None) -> tuple[str, SessionInfo]:
    """Check the password and open a session: (cookie token, session). Raises AuthError."""
    now = utcnow()
    with db.write() as conn:
        user = conn.execute(
            select(U.c.id, U.c.password_hash, U.c.is_active, U.c.failed_logins, U.c.locked_until).where(
                U.c.username == username
            )
        ).first()
        if user is None or not user.is_active:
            check_password(None, password)  # same work either way: no user enumeration by timing
            raise AuthError("auth.bad_credentials")
        if user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            raise AuthError("auth.locked", minutes=minutes)
    if not check_password(user.password_hash, password):
        with db.write() as conn:
            failures = (user.failed_logins or 0) + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= MAX_FAILURES:
                values = {"failed_logins": 0, "locked_until": now + dt.timedelta(minutes=LOCK_MINUTES)}
                audit(conn, user.id, "auth.locked", f"user:{user.id}", {"failures": failures}, ip)
            conn.execute(update(U).where(U.c.id == user.id).values(**values))
        if failures >= MAX_FAILURES:
            raise AuthError("auth.locked", minutes=LOCK_MINUTES)
        raise AuthError("auth.bad_credentials")
    with db.write() as conn:
        conn.execute(update(U).where(U.c.id == user.id).values(failed_logins=0, locked_until=None))
        return open_session(conn, user.id, ip, now)


def open_session(conn: Connection, user_id: int, ip: str | None, now: dt.datetime) -> tuple[str, SessionInfo]:
    """A new session of a user already checked (password, single sign-on): (cookie token, session).
    Only the token's SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    info = SessionInfo(user_id, secrets.token_urlsafe(24), now + SESSION_IDLE)
    conn.execute(
        insert(S).values(
            token_hash=digest(token),
            user_id=user_id,
            csrf_token=info.csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=info.expires_at,
            ip=ip,
        )
    )
    return token, info


def session(db: Database, token: str | None) -> SessionInfo | None:
    """The live session of a cookie token (its idle expiry pushed on), or None."""
    if not token:
        return None
    now = utcnow()
    with db.read() as conn:
        row = conn.execute(
            select(S.c.id, S.c.user_id, S.c.csrf_token, S.c.expires_at, S.c.last_seen_at, S.c.created_at)
            .select_from(S.join(U, U.c.id == S.c.user_id))
            .where(S.c.token_hash == digest(token), U.c.is_active.is_(True))
        ).first()
    if row is None or row.expires_at <= now or row.created_at + SESSION_MAX <= now:
        return None
    return SessionInfo(row.user_id, row.csrf_token, _touch_session(db, row.id, row, now))


def _touch_session(db: Database, session_id: int, row: Any, now: dt.datetime) -> dt.datetime:
    """Push a session's idle expiry on, at most once every TOUCH_EVERY: its expiry."""
    expires = row.expires_at
    if now - row.last_seen_at >= TOUCH_EVERY:
        expires = min(now + SESSION_IDLE, row.created_at + SESSION_MAX)
        with db.write() as conn:
            conn.execute(update(S).where(S.c.id == session_id).values(last_seen_at=now, expires_at=expires))
    return expires


#: A session and its user with their roles, in one statement (see :func:`session_principal`).
_SESSION_PRINCIPAL = (
    select(
        S.c.id.label("session_id"),
        S.c.csrf_token,
        S.c.expires_at,
        S.c.last_seen_at,
        S.c.created_at,
        *PRINCIPAL_COLUMNS,
    )
    .select_from(with_roles(S.join(U, U.c.id == S.c.user_id)))
    .where(S.c.token_hash == bindparam("token_hash"), U.c.is_active.is_(True))
)


def session_principal(db: Database, token: str | None) -> tuple[SessionInfo, Principal] | None:
    """What :func:`session` gives, with the signed-in user as a Principal (engine.access), read in
    one query (the session, its user and their roles) — what every page request needs."""
    if not token:
        return None
    now = utcnow()
    with db.read() as conn:
        rows = conn.execute(_SESSION_PRINCIPAL, {"token_hash": digest(token)}).all()
        if not rows:
            return None
        row = rows[0]
        if row.expires_at <= now or row.created_at + SESSION_MAX <= now:
            return None
        principal = principal_from_rows(conn, rows)
    assert principal is not None  # the rows are the user's
    info = SessionInfo(row.user_id, row.csrf_token, _touch_session(db, row.session_id, row, now))
    return info, principal


def logout(db: Database, token: str | None) -> None:
    if token:
        with db.write() as conn:
            conn.execute(S.delete().where(S.c.token_hash == digest(token)))


def end_sessions(conn: Connection, user_id: int) -> None:
    """Sign a user out everywhere (password changed, deactivated)."""
    conn.execute(S.delete().where(S.c.user_id == user_id))


# ---------------------------------------------------------------------------- API tokens
@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    scopes: frozenset[str]


def create_token(
    db: Database,
    user_id: int,
    name: str,
    scopes: list[str] | tuple[str, ...] = ("read", "write"),
    expires_at: dt.datetime | None = None,
) -> tuple[str, int]:
    """A new API token for ``user_id``: (the token, shown once; its id)."""
    for scope in scopes:
        if scope not in TOKEN_SCOPES:
            raise GongdanError("auth.unknown_scope", scope=scope)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as conn:
        token_id = conn.execute(
            insert(TK)
            .values(
                user_id=user_id,
                name=name[:100],
                prefix=token[:10],
                token_hash=digest(token),
                scopes=sorted(set(scopes)),
                created_at=utcnow(),
                expires_at=expires_at,
            )
            .returning(TK.c.id)
        ).scalar_one()
        audit(conn, user_id, "token.created", f"token:{token_id}", {"name": name, "scopes": list(scopes)})
    return token, token_id


def token(db: Database, presented: str | None) -> TokenInfo | None:
    """The live token for a presented ``gd_…`` string, or None."""
    if not presented or not presented.startswith(TOKEN_PREFIX):
        return None
    now = utcnow()
    with db.read() as conn:
        row = conn.execute(
            select(TK.c.id, TK.c.user_id, TK.c.scopes, TK.c.expires_at, TK.c.revoked_at, TK.c.last_used_at)
            .select_from(TK.join(U, U.c.id == TK.c.user_id))
            .where(TK.c.token_hash == digest(presented), U.c.is_active.is_(True))
        ).first()
    if row is None or not _live_token(row, now):
        return None
    _touch_token(db, row.id, row.last_used_at, now)
    return TokenInfo(row.id, row.user_id, frozenset(row.scopes or ()))


def _live_token(row: Any, now: dt.datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def _touch_token(db: Database, token_id: int, last_used: dt.datetime | None, now: dt.datetime) -> None:
    """Note when a token was last used, at most once every TOUCH_EVERY (not a write per request)."""
    if last_used is None or now - last_used >= TOUCH_EVERY:
        with db.write() as conn:
            conn.execute(update(TK).where(TK.c.id == token_id).values(last_used_at=now))


#: A token and its user with their roles, in one statement (see :func:`token_principal`).
_TOKEN_PRINCIPAL = (
    select(
        TK.c.id.label("token_id"),
        TK.c.scopes,
        TK.c.expires_at,
        TK.c.revoked_at,
        TK.c.last_used_at,
        *PRINCIPAL_COLUMNS,
    )
    .select_from(with_roles(TK.join(U, U.c.id == TK.c.user_id)))
    .where(TK.c.token_hash == bindparam("token_hash"), U.c.is_active.is_(True))
)


def token_principal(db: Database, presented: str | None) -> tuple[TokenInfo, Principal] | None:
    """What :func:`token` gives, with the token's user as a Principal (engine.access), read in one
    query (the token, its user and their roles) — what every API request with a token needs.
    Nothing is cached: a revoked token, a deactivated user or a changed role counts at once."""
    if not presented or not presented.startswith(TOKEN_PREFIX):
        return None
    now = utcnow()
    with db.read() as conn:
        rows = conn.execute(_TOKEN_PRINCIPAL, {"token_hash": digest(presented)}).all()
        if not rows or not _live_token(rows[0], now):
            return None
        principal = principal_from_rows(conn, rows)
    assert principal is not None  # the rows are the user's
    row = rows[0]
    _touch_token(db, row.token_id, row.last_used_at, now)
    return TokenInfo(row.token_id, row.user_id, frozenset(row.scopes or ())), principal


def tokens(db: Database, user_id: int) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                TK.c.id,
                TK.c.name,
                TK.c.prefix,
                TK.c.scopes,
                TK.c.created_at,
                TK.c.expires_at,
                TK.c.last_used_at,
                TK.c.revoked_at,
            )
            .where(TK.c.user_id == user_id)
            .order_by(TK.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def revoke_token(db: Database, user_id: int, token_id: int, by: int | None = None) -> bool:
    """Revoke one of ``user_id``'s tokens; False if there is no such live token."""
    with db.write() as conn:
        done = conn.execute(
            update(TK)
            .where(TK.c.id == token_id, TK.c.user_id == user_id, TK.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
        if done:
            audit(conn, by or user_id, "token.revoked", f"token:{token_id}", {})
    return bool(done)


# ---------------------------------------------------------------------------- audit
def audit(
    conn: Connection,
    actor: int | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Record one admin or security action in the caller's transaction."""
    conn.execute(
        insert(AU).values(
            at=utcnow(), actor_id=actor, action=action, target=target, details=details or {}, ip=ip
        )
    )


def audit_log(db: Database, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries (older pages with ``before``, an id)."""
    q = select(AU).order_by(AU.c.id.desc()).limit(min(max(limit, 1), 500))
    if before is not None:
        q = q.where(AU.c.id < before)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
