"""The Gongdan app's home inside the DingTalk / WeCom / Feishu workbench (``/h5/<provider>``),
through the Flask test client against the vendors' stand-ins, on SQLite and PostgreSQL: signed in
already → straight on, the in-app sign-in without a password, never a redirect to another site,
a foreign state refused, a person Gongdan does not know told to ask for a sync."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer

from engine.org_sync import sync
from tests.engine.identity.h5_standins import DingTalkInApp, FeishuInApp, WeComInApp, follow
from tests.engine.identity.standins import DingTalkStandIn, FeishuStandIn, Org, WeComStandIn
from tests.server.conftest import Web
from tests.server.test_sso import make_site

STAND_INS = {
    "dingtalk": (DingTalkStandIn, DingTalkInApp),
    "wecom": (WeComStandIn, WeComInApp),
    "feishu": (FeishuStandIn, FeishuInApp),
}


def open_site(name: str, database_url, tmp_path, httpserver: HTTPServer, synced: bool = True):
    vendor, in_app = STAND_INS[name]
    app = in_app(vendor(httpserver, Org.sample()))
    site = make_site(database_url, tmp_path, app.env())
    if synced:
        sync(site.platform.settings, site.db, name)
    return site, app


@pytest.fixture
def wecom_site(database_url, tmp_path, httpserver) -> Iterator[tuple[Web, WeComInApp]]:
    site, app = open_site("wecom", database_url, tmp_path, httpserver)
    yield site, app
    site.platform.close()


@pytest.fixture
def dingtalk_site(database_url, tmp_path, httpserver) -> Iterator[tuple[Web, DingTalkInApp]]:
    site, app = open_site("dingtalk", database_url, tmp_path, httpserver)
    yield site, app
    site.platform.close()


def dingtalk_form(page: str) -> dict[str, str]:
    """The corpId and state our DingTalk page gives its script."""
    found = dict(re.findall(r'(data-corp-id|name="state" value)="([^"]*)"', page))
    return {"corpId": found["data-corp-id"], "state": found['name="state" value']}


def test_inside_wecom_the_entry_signs_the_member_in_and_opens_the_inbox(wecom_site):
    site, _ = wecom_site
    client = site.anonymous()
    entry = client.get("/h5/wecom", query_string={"next": "/inbox"})
    assert (
        entry.status_code == 302 and urlsplit(entry.headers["Location"]).path == "/connect/oauth2/authorize"
    )
    assert "Path=/login" in entry.headers["Set-Cookie"]
    back = follow(entry.headers["Location"])
    assert back.keys() == {"code", "state"}

    signed_in = client.get("/login/wecom/h5/callback", query_string=back)

    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/inbox"
    assert client.get("/api/v1/me").json["display_name"] == "Bob 王"
    again = client.get("/h5/wecom", query_string={"next": "/my"})
    assert again.status_code == 303 and again.headers["Location"] == "/my"


def test_inside_feishu_the_entry_signs_the_member_in(database_url, tmp_path, httpserver):
    site, _ = open_site("feishu", database_url, tmp_path, httpserver)
    try:
        client = site.anonymous()
        entry = client.get("/h5/feishu?next=/portal")
        assert urlsplit(entry.headers["Location"]).path == "/open-apis/authen/v1/authorize"
        signed_in = client.get("/login/feishu/h5/callback", query_string=follow(entry.headers["Location"]))
        assert signed_in.headers["Location"] == "/portal"
        assert client.get("/api/v1/me").json["display_name"] == "Bob 王"
    finally:
        site.platform.close()


def test_inside_dingtalk_the_page_posts_the_jsapi_code_and_is_signed_in(dingtalk_site):
    site, app = dingtalk_site
    client = site.anonymous()
    entry = client.get("/h5/dingtalk?next=/inbox")
    page = entry.get_data(as_text=True)
    assert entry.status_code == 200 and 'action="/login/dingtalk/h5"' in page
    assert "/assets/vendor/.bundles/dingtalk-jsapi.min.js" in page and "/assets/h5.js" in page
    assert 'data-fallback="/login/dingtalk?next=%2Finbox"' in page  # outside DingTalk: the QR sign-in
    form = dingtalk_form(page)

    code = app.request_auth_code(form["corpId"])
    signed_in = client.post("/login/dingtalk/h5", data={"authCode": code, "state": form["state"]})

    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/inbox"
    assert client.get("/api/v1/me").json["display_name"] == "Bob 王"


def test_the_dingtalk_library_the_page_needs_is_served_from_our_site(dingtalk_site):
    site, _ = dingtalk_site
    answer = site.anonymous().get("/assets/vendor/.bundles/dingtalk-jsapi.min.js")
    assert answer.status_code == 200 and b"requestAuthCode" in answer.data


@pytest.mark.parametrize(
    "target",
    ["https://evil.example.com/x", "//evil.example.com", "/\\evil.example.com", "javascript:alert(1)"],
)
def test_the_entry_never_sends_anyone_to_another_site(wecom_site, target):
    site, _ = wecom_site
    signed_in = site.client("admin").get("/h5/wecom", query_string={"next": target})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
    client = site.anonymous()
    entry = client.get("/h5/wecom", query_string={"next": target})
    back = client.get("/login/wecom/h5/callback", query_string=follow(entry.headers["Location"]))
    assert back.status_code == 303 and back.headers["Location"] == "/"


def test_a_code_posted_with_another_state_signs_no_one_in(dingtalk_site):
    site, app = dingtalk_site
    client = site.anonymous()
    form = dingtalk_form(client.get("/h5/dingtalk?next=/inbox").get_data(as_text=True))
    code = app.request_auth_code(form["corpId"])
    refused = client.post(
        "/login/dingtalk/h5?lang=en",
        data={"authCode": code, "state": "forged"},
        headers={"Accept-Language": "en"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 401 and "state mismatch" in page
    assert 'href="/h5/dingtalk?next=%2Finbox"' in page  # try again from the entry
    assert client.get("/api/v1/me").status_code == 401


def test_a_member_gongdan_does_not_know_is_told_to_ask_an_admin_to_sync(database_url, tmp_path, httpserver):
    site, _ = open_site("wecom", database_url, tmp_path, httpserver, synced=False)
    try:
        client = site.anonymous()
        entry = client.get("/h5/wecom?next=/inbox")
        page = client.get(
            "/login/wecom/h5/callback",
            query_string=follow(entry.headers["Location"]),
            headers={"Accept-Language": "en"},
        )
        text = page.get_data(as_text=True)
        assert page.status_code == 401 and "You have no Gongdan account yet" in text
        assert "Ask an administrator to sync the organisation" in text and "bob@example.com" in text
        assert client.get("/api/v1/me").status_code == 401
    finally:
        site.platform.close()


def test_an_unknown_or_switched_off_provider_at_the_entry_says_so(wecom_site):
    site, _ = wecom_site
    assert site.anonymous().get("/h5/nope").status_code == 404
    off = site.anonymous().get("/h5/oidc?lang=en")
    assert off.status_code == 409 and "GONGDAN_SIGNIN" in off.get_data(as_text=True)


def test_the_dingtalk_entry_without_a_corp_id_names_the_setting_to_add(database_url, tmp_path, httpserver):
    site = make_site(database_url, tmp_path, DingTalkStandIn(httpserver, Org.sample()).env())
    try:
        page = site.anonymous().get("/h5/dingtalk?lang=en")
        assert page.status_code == 409 and "GONGDAN_DINGTALK_CORP_ID" in page.get_data(as_text=True)
    finally:
        site.platform.close()
