"""From a provider's verified identity to a Gongdan session.

:func:`begin` makes the state, nonce and PKCE verifier of one sign-in and the provider's URL;
the server keeps the :class:`PendingLogin` in a short-lived cookie. :func:`finish` checks the
callback's state (constant-time, once only: a replayed callback is refused), lets the adapter
verify the answer, links the identity to a user and opens a normal session (engine.auth).
:func:`begin_in_app` starts the same inside an IM app's workbench (H5 免登): the vendor's in-app
authorisation page, or for DingTalk the corpId our page's JSAPI call needs.

Linking (:func:`link_user`): a known (provider, subject) is that user. A first sign-in matches an
existing user by e-mail or mobile only when GONGDAN_SSO_MATCH says so, else creates the user when
GONGDAN_SSO_CREATE_USERS=1, else is refused with what to do. A deactivated user never signs in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine import auth
from engine.config import Settings
from engine.identity import open_provider
from engine.identity.base import Identity, InAppStart, PendingLogin, SignInError
from engine.store.db import Database
from engine.store.models import CallbackNonce, Session, User, UserIdentity
from engine.store.types import utcnow

U, UI, S, CN = (m.__table__ for m in (User, UserIdentity, Session, CallbackNonce))
#: How long a sign-in may take between the redirect and the callback.
PENDING_MINUTES = 10
FORGET_STATES = dt.timedelta(minutes=2 * PENDING_MINUTES)
USERNAME_SAFE = re.compile(r"[^A-Za-z0-9_.@\-]+")


# ---------------------------------------------------------------------------- the pending login
def encode_pending(pending: PendingLogin) -> str:
    return base64.urlsafe_b64encode(json.dumps(asdict(pending)).encode()).decode()


def decode_pending(text: str | None) -> PendingLogin | None:
    if not text:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
        return PendingLogin(
            **{k: data[k] for k in ("provider", "state", "nonce", "verifier", "next", "created")}
        )
    except (ValueError, TypeError, KeyError):
        return None


def _new_pending(name: str, next_path: str) -> PendingLogin:
    return PendingLogin(
        provider=name,
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next=next_path,
        created=time.time(),
    )


def begin(
    settings: Settings, db: Database, name: str, redirect_uri: str, next_path: str = "/"
) -> tuple[str, PendingLogin]:
    """(the provider's sign-in URL, what to keep until the callback)."""
    adapter = open_provider(settings, db, name)
    pending = _new_pending(name, next_path)
    return adapter.authorize_url(pending, redirect_uri), pending


def begin_in_app(
    settings: Settings, db: Database, name: str, redirect_uri: str, next_path: str = "/"
) -> tuple[InAppStart, PendingLogin]:
    """The sign-in inside the IM app's workbench (H5 免登): (how it starts, what to keep until
    the code comes back). It ends in :func:`finish` with ``in_app=True``."""
    adapter = open_provider(settings, db, name)
    pending = _new_pending(name, next_path)
    return adapter.in_app_start(pending, redirect_uri), pending


def finish(
    settings: Settings,
    db: Database,
    name: str,
    pending: PendingLogin | None,
    params: Mapping[str, str],
    redirect_uri: str,
    ip: str | None = None,
    in_app: bool = False,
) -> tuple[str, auth.SessionInfo]:
    """Check the callback, verify the identity, link it and open a session: (cookie token, session).
    ``in_app``: the code came from the sign-in inside the IM app (:func:`begin_in_app`)."""
    adapter = open_provider(settings, db, name)
    sent = str(params.get("state") or "")
    if (
        pending is None
        or pending.provider != name
        or not sent
        or not hmac.compare_digest(sent, pending.state)
    ):
        raise SignInError("identity.state_mismatch")
    if time.time() - pending.created > PENDING_MINUTES * 60:
        raise SignInError("identity.login_expired", minutes=PENDING_MINUTES)
    _use_state_once(db, pending.state)
    verify = adapter.in_app_finish if in_app else adapter.finish
    identity = verify(params, pending, redirect_uri)
    return _session_for(settings, db, identity, ip)


def password_signin(
    settings: Settings, db: Database, name: str, username: str, password: str, ip: str | None = None
) -> tuple[str, auth.SessionInfo]:
    """Sign in with a directory username and password (LDAP): (cookie token, session)."""
    identity = open_provider(settings, db, name).password_login(username, password)
    return _session_for(settings, db, identity, ip)


def _use_state_once(db: Database, state: str) -> None:
    """Remember the state as used; a second callback with it is a replay."""
    key = hashlib.sha256(state.encode()).hexdigest()
    now = utcnow()
    try:
        with db.write() as conn:
            # states older than a pending sign-in can live are useless: forget them as we go
            conn.execute(delete(CN).where(CN.c.provider == "signin", CN.c.seen_at < now - FORGET_STATES))
            conn.execute(insert(CN).values(provider="signin", nonce=key, seen_at=now))
    except IntegrityError:
        raise SignInError("identity.replayed") from None


def _session_for(
    settings: Settings, db: Database, identity: Identity, ip: str | None
) -> tuple[str, auth.SessionInfo]:
    with db.write() as conn:
        user_id = link_user(conn, settings, identity)
        token, info = auth.open_session(conn, user_id, ip, utcnow())
        auth.audit(conn, user_id, "auth.sso_login", f"user:{user_id}", {"provider": identity.provider}, ip)
    return token, info


# ---------------------------------------------------------------------------- linking
def link_options(settings: Settings) -> tuple[set[str], bool]:
    """(the fields a first sign-in may match an existing user by, whether it may create one)."""
    match = {
        m.strip().lower()
        for m in (settings.identity_value("GONGDAN_SSO_MATCH") or "").split(",")
        if m.strip()
    }
    create = (settings.identity_value("GONGDAN_SSO_CREATE_USERS") or "").lower() in ("1", "true", "yes", "on")
    return match, create


def link_user(conn: Connection, settings: Settings, identity: Identity) -> int:
    """The Gongdan user of ``identity`` (linked now if this is its first sign-in)."""
    now = utcnow()
    found = conn.execute(
        select(UI.c.id, U.c.id.label("user_id"), U.c.is_active)
        .select_from(UI.join(U, U.c.id == UI.c.user_id))
        .where(UI.c.provider == identity.provider, UI.c.subject == identity.subject)
    ).first()
    if found is not None:
        if not found.is_active:
            raise SignInError("identity.user_inactive")
        conn.execute(update(UI).where(UI.c.id == found.id).values(last_login_at=now))
        return found.user_id
    match, create = link_options(settings)
    user_id = _match(conn, identity, match)
    if user_id is None:
        if not create:
            who = identity.email or identity.mobile or identity.name
            raise SignInError("identity.no_account", name=identity.provider, who=str(who)[:100])
        user_id = _create(conn, identity, now)
    conn.execute(
        insert(UI).values(
            user_id=user_id,
            provider=identity.provider,
            subject=identity.subject,
            created_at=now,
            last_login_at=now,
        )
    )
    auth.audit(conn, user_id, "auth.identity_linked", f"user:{user_id}", {"provider": identity.provider})
    return user_id


def _match(conn: Connection, identity: Identity, match: set[str]) -> int | None:
    for key, column, value in (
        ("email", U.c.email, (identity.email or "").lower()),
        ("mobile", U.c.phone, identity.mobile or ""),
    ):
        if key not in match or not value:
            continue
        column_value = func.lower(column) if key == "email" else column
        rows = conn.execute(select(U.c.id, U.c.is_active).where(column_value == value)).all()
        if len(rows) > 1:
            raise SignInError("identity.ambiguous_match", field=key, value=value[:100])
        if rows:
            if not rows[0].is_active:
                raise SignInError("identity.user_inactive")
            return rows[0].id
    return None


def unique_username(conn: Connection, wanted: str | None, fallback: str) -> str:
    """A free username from ``wanted`` (cleaned), else ``fallback``, with -2, -3 ... if taken."""
    base = (
        USERNAME_SAFE.sub("-", (wanted or "").strip()).strip("-")[:56]
        or USERNAME_SAFE.sub("-", fallback)[:56]
    )
    name, n = base, 1
    while conn.execute(select(U.c.id).where(U.c.username == name)).first() is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def _create(conn: Connection, identity: Identity, now: Any) -> int:
    wanted = identity.username or (identity.email or "").split("@")[0] or None
    username = unique_username(conn, wanted, f"{identity.provider}-{identity.subject}")
    return conn.execute(
        insert(U)
        .values(
            username=username,
            display_name=identity.name[:100],
            email=(identity.email or None) and identity.email[:254],
            phone=(identity.mobile or None) and identity.mobile[:32],
            password_hash=None,
            created_at=now,
            is_admin=False,
            is_active=True,
            lang="zh",
        )
        .returning(U.c.id)
    ).scalar_one()
