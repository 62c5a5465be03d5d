"""The sign-in inside the DingTalk / WeCom / Feishu workbench (H5 免登) against local stand-ins of
the vendors' in-app flows: no password, the synced person is found, a foreign state is refused,
a person Gongdan does not know is told to ask for a sync."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from engine import auth
from engine.identity import SetupError, SignInError
from engine.identity.signin import begin_in_app, finish
from engine.org_sync import sync
from tests.engine.identity.h5_standins import DingTalkInApp, FeishuInApp, WeComInApp, follow
from tests.engine.identity.standins import settings_for

CALLBACK = "https://gongdan.example.com/login/{name}/h5/callback"
IN_APP = {"dingtalk": DingTalkInApp, "wecom": WeComInApp, "feishu": FeishuInApp}


@pytest.fixture(params=sorted(IN_APP))
def in_app(request):
    name = request.param
    return name, IN_APP[name](request.getfixturevalue(name))


def code_from_the_app(name: str, app, start) -> dict[str, str]:
    """What the vendor's app gives back inside its workbench: the code (and the state it carries)."""
    if start.url:
        return follow(start.url)
    return {"authCode": app.request_auth_code(start.jsapi["corpId"])}


def test_inside_each_im_app_a_synced_person_is_signed_in_without_a_password(
    in_app, db, database_url, tmp_path
):
    name, app = in_app
    settings = settings_for(database_url, tmp_path, **app.env())
    sync(settings, db, name)
    start, pending = begin_in_app(settings, db, name, CALLBACK.format(name=name), "/inbox")

    params = {"state": pending.state, **code_from_the_app(name, app, start)}
    token, info = finish(settings, db, name, pending, params, CALLBACK.format(name=name), in_app=True)

    principal = auth.session_principal(db, token)[1]
    assert (principal.user_id, principal.display_name) == (info.user_id, "Bob 王")
    assert pending.next == "/inbox"


def test_wecom_uses_its_web_authorisation_with_the_silent_scope(wecom, db, database_url, tmp_path):
    app = WeComInApp(wecom)
    settings = settings_for(database_url, tmp_path, **app.env())
    start, pending = begin_in_app(settings, db, "wecom", CALLBACK.format(name="wecom"))
    address, fragment = start.url.split("#")
    query = {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}
    assert urlsplit(address).path == "/connect/oauth2/authorize" and fragment == "wechat_redirect"
    assert query == {
        "appid": "ww-corp",
        "redirect_uri": CALLBACK.format(name="wecom"),
        "response_type": "code",
        "scope": "snsapi_base",
        "state": pending.state,
        "agentid": "1000002",
    }


def test_dingtalk_asks_the_page_for_a_jsapi_code_with_the_corp_id(dingtalk, db, database_url, tmp_path):
    app = DingTalkInApp(dingtalk)
    settings = settings_for(database_url, tmp_path, **app.env())
    start, _ = begin_in_app(settings, db, "dingtalk", CALLBACK.format(name="dingtalk"))
    assert start.url == "" and dict(start.jsapi) == {"corpId": DingTalkInApp.CORP_ID}


def test_dingtalk_without_a_corp_id_says_which_setting_to_add(dingtalk, db, database_url, tmp_path):
    settings = settings_for(database_url, tmp_path, **dingtalk.env())
    with pytest.raises(SetupError) as missing:
        begin_in_app(settings, db, "dingtalk", CALLBACK.format(name="dingtalk"))
    assert [p.path for p in missing.value.problems] == ["GONGDAN_DINGTALK_CORP_ID"]


def test_a_code_coming_back_with_another_state_is_refused(in_app, db, database_url, tmp_path):
    name, app = in_app
    settings = settings_for(database_url, tmp_path, **app.env())
    sync(settings, db, name)
    start, pending = begin_in_app(settings, db, name, CALLBACK.format(name=name))
    params = {**code_from_the_app(name, app, start), "state": "someone-elses-state"}
    with pytest.raises(SignInError) as refused:
        finish(settings, db, name, pending, params, CALLBACK.format(name=name), in_app=True)
    assert refused.value.code == "identity.state_mismatch"


def test_a_person_gongdan_does_not_know_is_told_to_ask_for_a_sync(in_app, db, database_url, tmp_path):
    name, app = in_app
    settings = settings_for(database_url, tmp_path, **app.env())  # no sync, no user creation
    start, pending = begin_in_app(settings, db, name, CALLBACK.format(name=name))
    params = {"state": pending.state, **code_from_the_app(name, app, start)}
    with pytest.raises(SignInError) as refused:
        finish(settings, db, name, pending, params, CALLBACK.format(name=name), in_app=True)
    assert refused.value.code == "identity.no_account"
    assert "sync the organisation" in refused.value.render("en")
