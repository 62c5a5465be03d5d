"""Signing in and out as a person and as an integration: cookies, CSRF, tokens, limits, headers."""

from __future__ import annotations

import pytest


def test_the_api_answers_401_json_without_credentials(web):
    answer = web.anonymous().get("/api/v1/apps?lang=en")
    assert answer.status_code == 401
    assert answer.json["code"] == "auth.required" and "sign in" in answer.json["message"]


def test_a_page_sends_an_anonymous_visitor_to_login_and_back(web):
    web.user("ann")
    browser = web.anonymous()
    first = browser.get("/portal")
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?next=/portal")
    page = browser.get("/login?lang=en")
    assert page.status_code == 200 and "Sign in" in page.get_data(as_text=True)
    done = browser.post("/login?next=/portal", data={"username": "ann", "password": "pw-ann"})
    assert done.status_code == 302 and done.headers["Location"] == "/portal"
    assert "HttpOnly" in done.headers["Set-Cookie"] and "SameSite=Lax" in done.headers["Set-Cookie"]


def test_a_wrong_password_shows_the_reason_in_the_users_language(web):
    web.user("ann")
    zh = web.anonymous().post("/login", data={"username": "ann", "password": "nope"})
    en = web.anonymous().post("/login?lang=en", data={"username": "ann", "password": "nope"})
    assert zh.status_code == en.status_code == 401
    assert "用户名或密码错误" in zh.get_data(as_text=True)
    assert "Wrong username or password" in en.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_never_redirects_to_another_site(web, target):
    web.user("ann")
    done = web.anonymous().post(f"/login?next={target}", data={"username": "ann", "password": "pw-ann"})
    assert done.status_code == 302 and done.headers["Location"] == "/"


def test_a_cookie_write_without_the_csrf_token_is_refused(web):
    ann = web.client("admin")
    good = {"app": "x", "name": "x", "ticket_types": {}}
    ann.csrf = ""  # a forged cross-site request carries the cookie but not the token
    answer = ann.post("/api/v1/apps/validate?lang=en", json=good)
    assert answer.status_code == 403 and answer.json["code"] == "auth.csrf"
    wrong = ann.post("/api/v1/apps/validate", json=good, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403


def test_a_token_needs_no_csrf_and_is_limited_to_its_scopes(web):
    web.user("ann")
    headers = web.token("ann", ["read"])
    client = web.anonymous()
    assert client.get("/api/v1/apps", headers=headers).status_code == 200
    refused = client.post(
        "/api/v1/apps/complaint/ticket_types/complaint/tickets?lang=en", json={}, headers=headers
    )
    assert refused.status_code == 403 and refused.json["code"] == "auth.scope_missing"
    bad = client.get("/api/v1/apps", headers={"Authorization": "Bearer gd_made_up"})
    assert bad.status_code == 401 and bad.json["code"] == "auth.bad_token"


def test_logins_from_one_address_are_rate_limited(web):
    from server.auth import LOGIN_LIMIT, login_limiter

    login_limiter._hits.clear()
    client = web.anonymous()
    answers = [
        client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"}).status_code
        for _ in range(LOGIN_LIMIT + 1)
    ]
    login_limiter._hits.clear()
    assert answers[:LOGIN_LIMIT] == [401] * LOGIN_LIMIT and answers[-1] == 429


def test_logout_ends_the_session(web):
    ann = web.client("admin")
    assert ann.get("/api/v1/apps").status_code == 200
    assert ann.post("/api/v1/auth/logout").status_code == 200
    assert ann.get("/api/v1/apps").status_code == 401


def test_the_language_switch_is_remembered(web):
    ann = web.client("admin")
    switched = ann.get("/lang/en?next=/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    assert "Sign in" in ann.get("/login").get_data(as_text=True)
    assert "登录" in ann.get("/login?lang=zh").get_data(as_text=True)


def test_every_answer_carries_the_security_headers(web):
    answer = web.anonymous().get("/login")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_front_end_libraries_are_served_from_the_pinned_packages_only(web):
    client = web.anonymous()
    htmx = client.get("/assets/vendor/htmx.org/dist/htmx.min.js")
    assert htmx.status_code == 200 and b"htmx" in htmx.data
    assert client.get("/assets/vendor/../package.json").status_code == 404
    assert client.get("/assets/vendor/htmx.org/package.json").status_code == 404


def test_the_openapi_document_and_its_viewer_are_served(web):
    client = web.anonymous()
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1") and "/api/v1/apps" in doc["paths"]
    assert "401" in doc["paths"]["/api/v1/apps"]["get"]["responses"]
    ui = client.get("/api/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in ui and "/api/v1/openapi.json" in ui
