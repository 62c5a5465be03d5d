"""LDAP sign-in and org sync against a real LDAP server (ldaptor) on 127.0.0.1."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import auth
from engine.identity import ProviderError, SignInError, open_provider
from engine.identity.signin import password_signin
from engine.store.models import Department, User
from tests.engine.identity.standins import settings_for


@pytest.fixture
def settings(database_url, tmp_path, ldap_server):
    return settings_for(database_url, tmp_path, **ldap_server.env(), GONGDAN_SSO_CREATE_USERS="1")


def test_bind_as_the_user_signs_in_and_creates_the_account(db, settings):
    token, info = password_signin(settings, db, "ldap", "zhou", "zhou-pw")
    assert auth.session(db, token).user_id == info.user_id
    with db.read() as conn:
        user = conn.execute(
            select(User.username, User.display_name, User.email).where(User.id == info.user_id)
        ).one()
    assert tuple(user) == ("zhou", "周销售", "zhou@example.com")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("zhou", "wrong"),
        ("zhou", ""),
        ("nobody", "x"),
        ("*", "zhou-pw"),
        ("zhou)(uid=*", "zhou-pw"),
        ("*)(|(uid=*", "zhou-pw"),
    ],
    ids=["wrong-password", "empty-password", "unknown", "wildcard", "injection", "injection-or"],
)
def test_wrong_password_unknown_user_and_filter_injection_are_refused(db, settings, username, password):
    with pytest.raises(SignInError) as refused:
        password_signin(settings, db, "ldap", username, password)
    assert refused.value.code == "identity.bad_credentials"
    with db.read() as conn:
        assert conn.execute(select(User.id)).first() is None


def test_a_wrong_service_account_is_a_clear_setup_error(db, database_url, tmp_path, ldap_server):
    settings = settings_for(
        database_url, tmp_path, **{**ldap_server.env(), "GONGDAN_LDAP_BIND_PASSWORD": "nope"}
    )
    with pytest.raises(ProviderError) as failed:
        password_signin(settings, db, "ldap", "zhou", "zhou-pw")
    assert failed.value.code == "identity.ldap_error" and "GONGDAN_LDAP_URL" in failed.value.message("en")


def test_the_ou_tree_and_people_come_from_the_directory(db, settings):
    snapshot = open_provider(settings, db, "ldap", purpose="sync").sync()
    names = {d.name: d for d in snapshot.departments}
    assert set(names) == {"people", "sales", "support"}
    assert names["sales"].parent_id == names["people"].external_id
    assert names["sales"].head == "lin"
    people = {u.subject: u for u in snapshot.users}
    assert set(people) == {"lin", "zhou", "wu"}
    assert people["zhou"].manager == "lin" and people["wu"].department_ids == (names["support"].external_id,)


def test_org_sync_from_ldap_builds_departments_and_users(db, settings):
    from engine.org_sync import sync

    result = sync(settings, db, "ldap")
    assert result.counts["created"] == 3 and result.counts["departments_created"] == 3
    with db.read() as conn:
        sales = conn.execute(select(Department).where(Department.name == "sales")).one()
        lin = conn.execute(select(User).where(User.username == "lin")).one()
        zhou = conn.execute(select(User).where(User.username == "zhou")).one()
    assert sales.head_id == lin.id and zhou.manager_id == lin.id and zhou.department_id == sales.id
    assert zhou.source == "ldap"
    # and the synced person signs in with their directory password, as themself
    _, info = password_signin(settings, db, "ldap", "zhou", "zhou-pw")
    assert info.user_id == zhou.id
