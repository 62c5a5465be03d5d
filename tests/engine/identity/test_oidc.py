"""OIDC sign-in against a real provider stand-in: discovery, PKCE, id-token checks, linking."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from engine import auth
from engine.identity import SetupError, SignInError, open_provider
from engine.identity.signin import begin, finish
from engine.people import create_user
from engine.store.models import Session, User, UserIdentity
from tests.engine.identity.standins import OidcStandIn, settings_for

CALLBACK = "https://gongdan.example.com/login/oidc/callback"


def sign_in(settings, db, provider: OidcStandIn, **params):
    url, pending = begin(settings, db, "oidc", CALLBACK, "/inbox")
    code = provider.authorize(url)
    return finish(settings, db, "oidc", pending, {"code": code, "state": pending.state, **params}, CALLBACK)


def sessions(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(Session)).scalar_one()


@pytest.fixture
def settings(database_url, tmp_path, oidc_provider):
    return settings_for(database_url, tmp_path, **oidc_provider.env(), GONGDAN_SSO_CREATE_USERS="1")


def test_sign_in_with_pkce_creates_the_user_and_opens_a_session(db, settings, oidc_provider):
    url, pending = begin(settings, db, "oidc", CALLBACK, "/inbox")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(oidc_provider.issuer + "/auth?")
    assert query["state"] == [pending.state] and query["nonce"] == [pending.nonce]
    assert query["code_challenge"] == [pending.challenge] and pending.verifier not in url

    code = oidc_provider.authorize(url)
    token, info = finish(settings, db, "oidc", pending, {"code": code, "state": pending.state}, CALLBACK)

    assert oidc_provider.token_requests[-1]["code_verifier"] == pending.verifier
    assert auth.session(db, token).user_id == info.user_id
    with db.read() as conn:
        user = conn.execute(select(User).where(User.id == info.user_id)).one()
        linked = conn.execute(select(UserIdentity.provider, UserIdentity.subject)).all()
    assert (user.username, user.display_name, user.email) == ("wangfang", "王芳", "wang.fang@example.com")
    assert user.phone == "13900000001" and user.password_hash is None
    assert linked == [("oidc", "u-1001")]


def test_a_second_sign_in_is_the_same_user(db, settings, oidc_provider):
    _, first = sign_in(settings, db, oidc_provider)
    _, second = sign_in(settings, db, oidc_provider)
    assert first.user_id == second.user_id
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == 1


def test_first_sign_in_matches_an_existing_user_by_email_only_when_configured(
    db, database_url, tmp_path, oidc_provider
):
    existing = create_user(db, "wf", "Wang Fang", email="Wang.Fang@example.com")
    strict = settings_for(database_url, tmp_path, **oidc_provider.env())
    with pytest.raises(SignInError) as refused:
        sign_in(strict, db, oidc_provider)
    assert refused.value.code == "identity.no_account"
    assert "wang.fang@example.com" in refused.value.message("en") and "sync" in refused.value.message("en")

    matching = settings_for(database_url, tmp_path, **oidc_provider.env(), GONGDAN_SSO_MATCH="email")
    _, info = sign_in(matching, db, oidc_provider)
    assert info.user_id == existing


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}}, "expired"),
        ({"claims": {"nonce": "someone-elses-nonce"}}, "nonce"),
        ({"claims": {"aud": "another-client"}}, "audience"),
        ({"claims": {"iss": "https://evil.example.com"}}, "issuer"),
        ({"forge": True}, "signature"),
    ],
    ids=["expired", "wrong-nonce", "wrong-aud", "wrong-iss", "forged"],
)
def test_a_bad_id_token_is_refused_with_a_clear_reason_and_no_session(
    db, settings, oidc_provider, tamper, reason
):
    oidc_provider.claims = tamper.get("claims", {})
    if tamper.get("forge"):
        oidc_provider.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignInError) as refused:
        sign_in(settings, db, oidc_provider)
    assert refused.value.code == "identity.token_invalid" and refused.value.http_status == 401
    assert reason in refused.value.message("en")
    assert refused.value.message("zh") != refused.value.message("en")
    assert sessions(db) == 0


def test_a_shared_secret_or_unsigned_token_is_refused(db, settings, oidc_provider):
    adapter = open_provider(settings, db, "oidc")
    now = int(time.time())
    claims = {
        "iss": oidc_provider.issuer,
        "aud": "gongdan-web",
        "sub": "x",
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
    }
    for token in (
        jwt.encode(claims, "oidc-client-secret-long-enough-for-hmac-256", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
    ):
        with pytest.raises(SignInError) as refused:
            adapter.verify(token, "n")
        assert "algorithm" in refused.value.message("en")


def test_a_callback_with_another_state_or_used_twice_is_refused(db, settings, oidc_provider):
    url, pending = begin(settings, db, "oidc", CALLBACK)
    code = oidc_provider.authorize(url)
    with pytest.raises(SignInError) as stale:
        finish(settings, db, "oidc", pending, {"code": code, "state": "forged-state"}, CALLBACK)
    assert stale.value.code == "identity.state_mismatch"

    finish(settings, db, "oidc", pending, {"code": code, "state": pending.state}, CALLBACK)
    with pytest.raises(SignInError) as replay:
        finish(settings, db, "oidc", pending, {"code": code, "state": pending.state}, CALLBACK)
    assert replay.value.code == "identity.replayed"


def test_a_provider_error_on_the_callback_is_shown(db, settings, oidc_provider):
    _, pending = begin(settings, db, "oidc", CALLBACK)
    with pytest.raises(SignInError) as refused:
        finish(settings, db, "oidc", pending, {"error": "access_denied", "state": pending.state}, CALLBACK)
    assert refused.value.code == "identity.provider_refused" and "access_denied" in refused.value.message(
        "en"
    )


def test_a_deactivated_user_cannot_sign_in(db, settings, oidc_provider):
    _, info = sign_in(settings, db, oidc_provider)
    from sqlalchemy import update

    with db.write() as conn:
        conn.execute(update(User).where(User.id == info.user_id).values(is_active=False))
    with pytest.raises(SignInError) as refused:
        sign_in(settings, db, oidc_provider)
    assert refused.value.code == "identity.user_inactive"


def test_a_provider_that_is_off_or_half_configured_says_what_to_set(
    db, database_url, tmp_path, oidc_provider
):
    off = settings_for(database_url, tmp_path, **{**oidc_provider.env(), "GONGDAN_SIGNIN": "local"})
    with pytest.raises(SetupError) as not_on:
        begin(off, db, "oidc", CALLBACK)
    assert not_on.value.code == "identity.provider_off" and "GONGDAN_SIGNIN" in not_on.value.message("en")

    half = settings_for(database_url, tmp_path, GONGDAN_SIGNIN="oidc", GONGDAN_OIDC_CLIENT_ID="x")
    with pytest.raises(SetupError) as missing:
        begin(half, db, "oidc", CALLBACK)
    assert [p.path for p in missing.value.problems] == ["GONGDAN_OIDC_ISSUER"]
