"""Logins, sessions, API tokens and the audit log, against the real database."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from engine import auth
from engine.people import create_user
from engine.store.models import ApiToken, AuditEntry, Session


@pytest.fixture
def ann(db) -> int:
    return create_user(db, "ann", password="correct horse")


def test_a_login_opens_a_session_whose_token_is_stored_only_hashed(db, ann):
    token, info = auth.login(db, "ann", "correct horse")
    assert info.user_id == ann and auth.session(db, token).user_id == ann
    with db.read() as conn:
        stored = conn.execute(select(Session.token_hash)).scalars().all()
    assert stored == [auth.digest(token)] and token not in stored


def test_unknown_user_and_wrong_password_get_the_same_answer(db, ann):
    with pytest.raises(auth.AuthError) as unknown:
        auth.login(db, "nobody", "x")
    with pytest.raises(auth.AuthError) as wrong:
        auth.login(db, "ann", "x")
    assert unknown.value.code == wrong.value.code == "auth.bad_credentials"


def test_repeated_failures_lock_the_account_for_a_while(db, ann):
    for _ in range(auth.MAX_FAILURES - 1):
        with pytest.raises(auth.AuthError):
            auth.login(db, "ann", "wrong")
    with pytest.raises(auth.AuthError) as locked:
        auth.login(db, "ann", "wrong")
    assert locked.value.code == "auth.locked"
    with pytest.raises(auth.AuthError) as still:
        auth.login(db, "ann", "correct horse")  # even the right password waits
    assert still.value.code == "auth.locked" and "分钟" in still.value.message("zh")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=auth.LOCK_MINUTES + 1)):
        token, _ = auth.login(db, "ann", "correct horse")
    assert token
    with db.read() as conn:
        assert conn.execute(select(AuditEntry.action)).scalars().all() == ["auth.locked"]


def test_an_idle_session_expires_and_logout_ends_it(db, ann):
    token, _ = auth.login(db, "ann", "correct horse")
    with time_machine.travel(dt.datetime.now(dt.UTC) + auth.SESSION_IDLE + dt.timedelta(minutes=1)):
        assert auth.session(db, token) is None
    other, _ = auth.login(db, "ann", "correct horse")
    auth.logout(db, other)
    assert auth.session(db, other) is None and auth.session(db, "made-up") is None


def test_api_tokens_are_scoped_revocable_and_expire(db, ann):
    token, token_id = auth.create_token(db, ann, "ci", ["read"])
    found = auth.token(db, token)
    assert found is not None and found.user_id == ann and found.scopes == {"read"}
    with db.read() as conn:
        assert conn.execute(select(ApiToken.token_hash)).scalar() == auth.digest(token)
    listed = auth.tokens(db, ann)
    assert [t["prefix"] for t in listed] == [token[:10]] and "token_hash" not in listed[0]
    assert auth.revoke_token(db, ann, token_id) and auth.token(db, token) is None
    assert not auth.revoke_token(db, ann, token_id)
    short, _ = auth.create_token(
        db, ann, "short", ["read"], expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)):
        assert auth.token(db, short) is None
    with pytest.raises(auth.GongdanError):
        auth.create_token(db, ann, "bad", ["root"])


def test_a_deactivated_users_credentials_stop_working(db, ann):
    from sqlalchemy import update

    from engine.store.models import User

    session_token, _ = auth.login(db, "ann", "correct horse")
    api_token, _ = auth.create_token(db, ann, "ci", ["read"])
    with db.write() as conn:
        conn.execute(update(User).where(User.id == ann).values(is_active=False))
    assert auth.session(db, session_token) is None and auth.token(db, api_token) is None
