"""Sign-in pages and the admin section against real provider stand-ins, on SQLite and PostgreSQL:
the redirect to the provider, the callback to a session, open-redirect safety, refused callbacks,
LDAP's form, password sign-in turned off, and the admin's sync runs and write-only secrets."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from engine.auth import audit_log
from engine.bootstrap import open_platform
from engine.config import load_settings
from engine.identity import oidc, secret_status
from engine.store.models import User
from server.auth import login_limiter
from tests.engine.identity.standins import DingTalkStandIn, OidcStandIn, Org, ldap_directory
from tests.server.conftest import Web

BASE = "http://localhost"


@pytest.fixture
def provider(httpserver: HTTPServer) -> Iterator[OidcStandIn]:
    oidc._DISCOVERY.clear()
    yield OidcStandIn(httpserver)
    oidc._DISCOVERY.clear()


def make_site(database_url: str, tmp_path, env: dict[str, str]) -> Web:
    settings = load_settings(
        {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_BASE_URL": BASE, **env}
    )
    login_limiter._hits.clear()
    site = Web(open_platform(settings, immediate=True))
    site.user("admin", admin=True)
    return site


@pytest.fixture
def site(database_url, tmp_path, provider) -> Iterator[Web]:
    web = make_site(database_url, tmp_path, {**provider.env(), "GONGDAN_SSO_CREATE_USERS": "1"})
    yield web
    web.platform.close()


def start(client, provider: OidcStandIn, next_path: str = "/inbox"):
    """The browser's round trip: our redirect, the provider's sign-in, back to our callback."""
    answer = client.get("/login/oidc", query_string={"next": next_path})
    assert answer.status_code == 302
    code = provider.authorize(answer.headers["Location"])
    state = parse_qs(urlsplit(answer.headers["Location"]).query)["state"][0]
    return answer, code, state


def test_the_login_page_offers_each_provider_that_is_on(site):
    page = site.anonymous().get("/login?next=/inbox").get_data(as_text=True)
    assert 'id="sso-oidc"' in page and "/login/oidc?next=/inbox" in page
    assert 'name="password"' in page  # local passwords stay available


def test_oidc_sign_in_goes_to_the_provider_and_comes_back_signed_in(site, provider):
    client = site.anonymous()
    answer, code, state = start(client, provider)
    location = answer.headers["Location"]
    assert location.startswith(provider.issuer + "/auth?")
    assert parse_qs(urlsplit(location).query)["redirect_uri"] == [f"{BASE}/login/oidc/callback"]
    cookie = answer.headers["Set-Cookie"]
    assert "gongdan_sso=" in cookie and "HttpOnly" in cookie and "Path=/login" in cookie

    back = client.get("/login/oidc/callback", query_string={"code": code, "state": state})

    assert back.status_code == 303 and back.headers["Location"] == "/inbox"
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json["display_name"] == "王芳"


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/steal", "//evil.example.com", "javascript:alert(1)"]
)
def test_the_callback_never_sends_the_browser_to_another_site(site, provider, target):
    client = site.anonymous()
    _, code, state = start(client, provider, target)
    back = client.get("/login/oidc/callback", query_string={"code": code, "state": state})
    assert back.status_code == 303 and back.headers["Location"] == "/"


def test_a_forged_state_or_a_missing_cookie_shows_the_login_page_with_the_reason(site, provider):
    client = site.anonymous()
    _, code, _ = start(client, provider)
    forged = client.get(
        "/login/oidc/callback",
        query_string={"code": code, "state": "forged"},
        headers={"Accept-Language": "en"},
    )
    assert forged.status_code == 401 and "state mismatch" in forged.get_data(as_text=True)
    assert "gongdan_session" not in forged.headers.get("Set-Cookie", "")

    other_browser = site.anonymous()
    stolen = other_browser.get("/login/oidc/callback", query_string={"code": code, "state": "x"})
    assert stolen.status_code == 401
    assert other_browser.get("/api/v1/me").status_code == 401


def test_an_expired_id_token_is_refused_on_the_page(site, provider):
    import time

    provider.claims = {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}
    client = site.anonymous()
    _, code, state = start(client, provider)
    back = client.get("/login/oidc/callback", query_string={"code": code, "state": state, "lang": "en"})
    assert back.status_code == 401 and "expired" in back.get_data(as_text=True)
    with site.db.read() as conn:
        assert conn.execute(select(User.username).where(User.username == "wangfang")).first() is None


def test_an_unknown_or_switched_off_provider_says_so(site):
    client = site.anonymous()
    assert client.get("/login/nope").status_code == 404
    off = client.get("/login/dingtalk?lang=en")
    assert off.status_code == 409 and "GONGDAN_SIGNIN" in off.get_data(as_text=True)


def test_ldap_signs_in_with_the_directory_password(database_url, tmp_path):
    directory = ldap_directory()
    site = make_site(database_url, tmp_path, {**directory.env(), "GONGDAN_SSO_CREATE_USERS": "1"})
    try:
        page = site.anonymous().get("/login").get_data(as_text=True)
        assert 'action="/login/ldap?next=/"' in page
        client = site.anonymous()
        wrong = client.post("/login/ldap?lang=en", data={"username": "wu", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong LDAP username or password" in wrong.get_data(as_text=True)
        right = client.post("/login/ldap?next=/inbox", data={"username": "wu", "password": "wu-pw"})
        assert right.status_code == 303 and right.headers["Location"] == "/inbox"
        assert client.get("/api/v1/me").json["display_name"] == "吴客服"
    finally:
        site.platform.close()


def test_password_sign_in_can_be_turned_off(database_url, tmp_path, provider):
    site = make_site(database_url, tmp_path, {**provider.env(), "GONGDAN_SIGNIN": "oidc"})
    try:
        client = site.anonymous()
        refused = client.post("/api/v1/auth/login", json={"username": "admin", "password": "pw-admin"})
        assert refused.status_code == 403 and refused.json["code"] == "identity.local_off"
        page = client.get("/login").get_data(as_text=True)
        assert 'name="password"' not in page and 'id="sso-oidc"' in page
    finally:
        site.platform.close()


# ---------------------------------------------------------------------------- admin
@pytest.fixture
def org_site(database_url, tmp_path, httpserver) -> Iterator[tuple[Web, Org]]:
    org = Org.sample()
    ding = DingTalkStandIn(httpserver, org)
    web = make_site(database_url, tmp_path, ding.env())
    yield web, org
    web.platform.close()


def test_the_admin_runs_a_sync_sees_a_held_one_and_confirms_it(org_site):
    site, org = org_site
    admin = site.client("admin")
    page = admin.get("/admin/sso?lang=en").get_data(as_text=True)
    assert "Sync dingtalk now" in page and "No syncs yet" in page

    done = admin.post("/admin/sso/sync/dingtalk?lang=en")
    assert done.status_code == 200 and "6 created" in done.get_data(as_text=True)

    org.people = {k: v for k, v in org.people.items() if k in ("boss", "alice", "carol", "bob")}
    held = admin.post("/admin/sso/sync/dingtalk?lang=en")
    text = held.get_data(as_text=True)
    assert held.status_code == 409 and "2 of 6" in text and "Confirm and sync dingtalk" in text
    assert "dave" in text and "erin" in text
    with site.db.read() as conn:
        assert conn.execute(select(User.is_active).where(User.username == "dave")).scalar() is True

    confirmed = admin.post("/admin/sso/sync/dingtalk?lang=en", data={"confirm": "1"})
    assert confirmed.status_code == 200 and "2 deactivated" in confirmed.get_data(as_text=True)
    with site.db.read() as conn:
        assert conn.execute(select(User.is_active).where(User.username == "dave")).scalar() is False


def test_a_secret_entered_by_the_admin_is_never_shown_again(site):
    admin = site.client("admin")
    saved = admin.post(
        "/admin/sso/oidc/secret?lang=en", data={"key": "client_secret", "value": "s3cr3t-value-42"}
    )
    assert saved.status_code == 200 and "is saved" in saved.get_data(as_text=True)
    assert "s3cr3t-value-42" not in admin.get("/admin/sso").get_data(as_text=True)
    assert [s["source"] for s in secret_status(site.db, site.platform.settings, "oidc")] == ["admin"]
    assert "s3cr3t-value-42" not in str(audit_log(site.db))
    assert "s3cr3t-value-42" not in repr(site.platform.settings)
    cleared = admin.post("/admin/sso/oidc/secret", data={"key": "client_secret", "value": ""})
    assert cleared.status_code == 200
    assert [s["source"] for s in secret_status(site.db, site.platform.settings, "oidc")] == ["env"]


def test_only_admins_see_the_section(site):
    site.user("ann")
    assert site.client("ann").get("/admin/sso").status_code == 403
    assert site.client("ann").post("/admin/sso/sync/dingtalk").status_code == 403
