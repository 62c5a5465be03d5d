"""Who is asking, read in one query per request: a token or a session with the user's roles gives
the same Principal as the step-by-step reads, and nothing about it is remembered between calls."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import update

from engine import auth
from engine.access import load_principal
from engine.people import create_department, create_user
from engine.store.models import User
from tests.support import give_role

TWO_APPS = [
    {
        "app": key,
        "name": key,
        "roles": {"desk": {"name": "Desk", "scope": "all"}, "team": "Team"},
        "ticket_types": {
            "req": {"name": "Request", "form": {"sections": [{"fields": [{"key": "title", "type": "text"}]}]}}
        },
    }
    for key in ("north_app", "south_app")
]


def _people(db, runtime):
    for definition in TWO_APPS:
        runtime.publish(definition)
    top = create_department(db, "Top")
    below = create_department(db, "Below", parent_id=top)
    ann = create_user(db, "ann", password="pw-ann", department_id=top, lang="en")
    give_role(db, ann, "north_app", "desk")
    give_role(db, ann, "north_app", "team")
    give_role(db, ann, "south_app", "team")
    bob = create_user(db, "bob")  # no role, no department
    return ann, bob, below


def test_a_token_gives_its_scopes_and_the_users_roles_in_one_read(db, runtime):
    ann, bob, below = _people(db, runtime)
    token, token_id = auth.create_token(db, ann, "ci", ["read", "write"])
    info, principal = auth.token_principal(db, token)
    assert info == auth.token(db, token) and info.id == token_id and info.scopes == {"read", "write"}
    with db.read() as conn:
        assert principal == load_principal(conn, ann)
    assert principal.roles == {"north_app": {"desk", "team"}, "south_app": {"team"}}
    assert principal.scopes == {"north_app": "all"} and principal.scope_in("south_app") == "own"
    assert below in principal.departments and principal.lang == "en"
    plain, _ = auth.create_token(db, bob, "plain", ["read"])
    assert auth.token_principal(db, plain)[1].roles == {}


def test_a_revoked_expired_or_unknown_token_or_an_inactive_user_gives_nobody_at_once(db, runtime):
    ann, bob, _ = _people(db, runtime)
    token, token_id = auth.create_token(db, ann, "ci", ["read"])
    assert auth.token_principal(db, token) is not None
    assert auth.revoke_token(db, ann, token_id)
    assert auth.token_principal(db, token) is None
    short, _ = auth.create_token(db, bob, "short", ["read"], expires_at=auth.utcnow() + dt.timedelta(hours=1))
    assert auth.token_principal(db, short) is not None
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)):
        assert auth.token_principal(db, short) is None
    assert auth.token_principal(db, "gd_made-up") is None and auth.token_principal(db, "not-a-token") is None
    with db.write() as conn:
        conn.execute(update(User).where(User.id == bob).values(is_active=False))
    assert auth.token_principal(db, short) is None


def test_a_role_given_after_a_request_counts_on_the_next_one(db, runtime):
    _, bob, _ = _people(db, runtime)
    token, _ = auth.create_token(db, bob, "ci", ["read"])
    assert auth.token_principal(db, token)[1].roles_in("north_app") == frozenset()
    give_role(db, bob, "north_app", "desk")
    assert auth.token_principal(db, token)[1].scope_in("north_app") == "all"


def test_a_session_gives_its_csrf_token_and_the_users_roles_until_it_ends(db, runtime):
    ann, _, _ = _people(db, runtime)
    cookie, opened = auth.login(db, "ann", "pw-ann")
    info, principal = auth.session_principal(db, cookie)
    assert info.user_id == ann and info.csrf_token == opened.csrf_token
    assert principal.roles_in("north_app") == {"desk", "team"}
    with time_machine.travel(dt.datetime.now(dt.UTC) + auth.SESSION_IDLE + dt.timedelta(minutes=1)):
        assert auth.session_principal(db, cookie) is None
    again, _ = auth.login(db, "ann", "pw-ann")
    auth.logout(db, again)
    assert auth.session_principal(db, again) is None and auth.session_principal(db, None) is None
