"""DingTalk, WeCom and Feishu against local stand-ins of their documented APIs: sign-in, the
organisation (tree, heads, managers, pages), rate limits, error codes and endless pages."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug import Response

from engine import auth
from engine.identity import Http, ProviderError, open_provider
from engine.identity.signin import begin, finish
from engine.org_sync import sync
from tests.engine.identity.standins import settings_for, too_many

CALLBACK = "https://gongdan.example.com/login/{name}/callback"
#: What each vendor answers when it is rate-limiting with a body instead of a 429.
LIMIT_CODE = {
    "dingtalk": {"errcode": 90018, "errmsg": "当前企业正在调用此接口的QPS超过限制"},
    "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
    "feishu": {"code": 99991400, "msg": "request trigger frequency limit"},
}
ERROR_CODE = {
    "dingtalk": ({"errcode": 60011, "errmsg": "没有调用该接口的权限"}, "60011"),
    "wecom": ({"errcode": 60011, "errmsg": "no privilege to access/modify contact/party/agent"}, "60011"),
    "feishu": ({"code": 40004, "msg": "no dept authority error"}, "40004"),
}
#: Where each vendor's sign-in page is, and the parameter that names the app.
LOGIN = {
    "dingtalk": ("/oauth2/auth", "client_id", "ding-app"),
    "wecom": ("/wwlogin/sso/login", "appid", "ww-corp"),
    "feishu": ("/open-apis/authen/v1/index", "app_id", "cli_feishu"),
}


@pytest.fixture(params=["dingtalk", "wecom", "feishu"])
def vendor(request):
    return request.param, request.getfixturevalue(request.param)


@pytest.fixture
def waits():
    return []


def adapter(vendor, database_url, tmp_path, waits, max_pages: int = 50):
    name, stand_in = vendor
    settings = settings_for(database_url, tmp_path, **stand_in.env())
    return open_provider(
        settings, None, name, purpose="sync", http=Http(name, sleeper=waits.append, max_pages=max_pages)
    )


def body(data, status: int = 200):
    return lambda: Response(json.dumps(data), status, content_type="application/json")


# ---------------------------------------------------------------------------- sign-in
def test_sign_in_by_the_vendors_flow_finds_the_synced_user(vendor, db, database_url, tmp_path):
    name, stand_in = vendor
    settings = settings_for(database_url, tmp_path, **stand_in.env())
    sync(settings, db, name)
    callback = CALLBACK.format(name=name)
    url, pending = begin(settings, db, name, callback, "/inbox")
    path, app_param, app_id = LOGIN[name]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert urlsplit(url).path == path and query[app_param] == app_id
    assert query["state"] == pending.state and query["redirect_uri"] == callback

    code = stand_in.authorize("bob")
    params = {"authCode" if name == "dingtalk" else "code": code, "state": pending.state}
    token, info = finish(settings, db, name, pending, params, callback)
    principal = auth.session_principal(db, token)[1]
    assert (principal.user_id, principal.display_name) == (info.user_id, "Bob 王")


def test_sign_in_with_a_wrong_code_says_what_the_vendor_said(vendor, db, database_url, tmp_path):
    name, stand_in = vendor
    settings = settings_for(database_url, tmp_path, **stand_in.env(), GONGDAN_SSO_CREATE_USERS="1")
    callback = CALLBACK.format(name=name)
    _, pending = begin(settings, db, name, callback)
    with pytest.raises(ProviderError) as failed:
        finish(
            settings,
            db,
            name,
            pending,
            {"code": "not-a-code", "authCode": "not-a-code", "state": pending.state},
            callback,
        )
    assert failed.value.code == "identity.vendor_error"


# ---------------------------------------------------------------------------- organisation
def test_the_org_chart_comes_with_heads_managers_and_every_page(vendor, database_url, tmp_path, waits):
    name, stand_in = vendor
    snapshot = adapter(vendor, database_url, tmp_path, waits).sync()
    depts = {d.name: d for d in snapshot.departments}
    assert {"客服部", "技术部", "一线客服"} <= set(depts)
    assert depts["一线客服"].parent_id == depts["客服部"].external_id
    people = {u.name: u for u in snapshot.users}
    assert set(people) == {"老板", "Alice 李", "Bob 王", "Carol 张", "Dave 赵", "Erin 陈"}
    alice, bob = people["Alice 李"], people["Bob 王"]
    assert bob.manager == alice.subject and depts["客服部"].head == alice.subject
    assert bob.department_ids[0] == depts["一线客服"].external_id
    assert (bob.mobile, bob.email) == ("13800000002", "bob@example.com")
    if name in ("dingtalk", "feishu"):  # the paged listings: three people in 一线客服, two per page
        assert len(stand_in.calls) > len(snapshot.departments) + 2


def test_a_429_waits_as_long_as_the_answer_says_then_goes_on(vendor, database_url, tmp_path, waits):
    _, stand_in = vendor
    stand_in.fail_next(too_many)
    snapshot = adapter(vendor, database_url, tmp_path, waits).sync()
    assert waits == [7.0] and len(snapshot.users) == 6


def test_a_vendor_rate_limit_code_backs_off_then_goes_on(vendor, database_url, tmp_path, waits):
    name, stand_in = vendor
    stand_in.fail_next(body(LIMIT_CODE[name]), body(LIMIT_CODE[name]))
    snapshot = adapter(vendor, database_url, tmp_path, waits).sync()
    assert waits == [1.0, 2.0] and len(snapshot.users) == 6


def test_rate_limited_for_too_long_gives_up_with_a_clear_error(vendor, database_url, tmp_path, waits):
    name, stand_in = vendor
    stand_in.fail_next(*[too_many] * 10)
    with pytest.raises(ProviderError) as failed:
        adapter(vendor, database_url, tmp_path, waits).sync()
    assert failed.value.code == "identity.rate_limited" and len(waits) == 4
    assert "5" in failed.value.message("en") and name in failed.value.message("en")


def test_an_error_code_is_reported_with_the_vendors_words(vendor, database_url, tmp_path, waits):
    name, stand_in = vendor
    answer, code = ERROR_CODE[name]
    stand_in.fail_next(body(answer))
    with pytest.raises(ProviderError) as failed:
        adapter(vendor, database_url, tmp_path, waits).sync()
    message = failed.value.message("en")
    assert failed.value.code == "identity.vendor_error" and code in message
    assert failed.value.message("zh") != message


@pytest.mark.parametrize("vendor", ["dingtalk"], indirect=True)
def test_dingtalk_errcode_88_is_a_rate_limit_only_when_its_sub_code_is_one(
    vendor, database_url, tmp_path, waits
):
    _, stand_in = vendor
    wrapped_limit = {"errcode": 88, "sub_code": "90018", "errmsg": "ding talk error[subcode=90018]"}
    stand_in.fail_next(body(wrapped_limit))
    assert len(adapter(vendor, database_url, tmp_path, waits).sync().users) == 6 and waits == [1.0]

    denied = {"errcode": 88, "sub_code": "60011", "sub_msg": "没有调用该接口的权限", "errmsg": "鉴权异常"}
    stand_in.fail_next(body(denied))
    waits.clear()
    with pytest.raises(ProviderError) as failed:  # an authentication failure: said at once, not retried
        adapter(vendor, database_url, tmp_path, waits).sync()
    assert failed.value.code == "identity.vendor_error" and waits == []


@pytest.mark.parametrize("vendor", ["dingtalk", "feishu"], indirect=True)
def test_a_source_that_pages_forever_stops_with_a_clear_error(vendor, database_url, tmp_path, waits):
    _, stand_in = vendor
    stand_in.endless = True
    with pytest.raises(ProviderError) as failed:
        adapter(vendor, database_url, tmp_path, waits, max_pages=20).sync()
    assert failed.value.code == "identity.pages_forever" and "20" in failed.value.message("en")


def test_secrets_never_appear_in_errors(vendor, database_url, tmp_path, waits):
    _, stand_in = vendor
    stand_in.fail_next(body({"errcode": 40001, "code": 40001, "errmsg": "x", "msg": "x"}))
    with pytest.raises(ProviderError) as failed:
        adapter(vendor, database_url, tmp_path, waits).sync()
    for secret in ("ding-secret", "wecom-secret", "feishu-secret", "app-token", "corp-token"):
        assert secret not in failed.value.message("en")
