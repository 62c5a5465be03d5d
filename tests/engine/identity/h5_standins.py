"""The vendors' in-app sign-in (H5 免登) beside the stand-ins of standins.py, on the same server.

Inside WeCom and Feishu the person is already signed in to the app, so the vendor's authorisation
page sends the browser straight back to our callback with a code; inside DingTalk the client
hands our page's script an auth code (``requestAuthCode``), which the server trades at
``topapi/v2/user/getuserinfo``; outside the app, DingTalk's web sign-in page (``/oauth2/auth``)
sends the browser back with an ``authCode``. ``person`` is who holds the phone.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from werkzeug import Request, Response

from tests.engine.identity.standins import DingTalkStandIn, FeishuStandIn, WeComStandIn, _json


def _back_with_code(redirect_uri: str, state: str, code: str, key: str = "code") -> Response:
    """The vendor sends the browser back to ``redirect_uri`` with a code (as ``key``) and the state."""
    joiner = "&" if "?" in redirect_uri else "?"
    return Response(
        status=302, headers={"Location": redirect_uri + joiner + urlencode({key: code, "state": state})}
    )


def follow(url: str) -> dict[str, str]:
    """What the vendor's in-app page sends the browser back with (the callback's query)."""
    answer = httpx.get(url.split("#", 1)[0], follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


class WeComInApp:
    """``/connect/oauth2/authorize``: WeCom's web authorisation inside the WeCom app (snsapi_base)."""

    def __init__(self, stand_in: WeComStandIn, person: str = "bob"):
        self.stand_in, self.person = stand_in, person
        self.asked: list[dict[str, str]] = []
        stand_in.server.expect_request("/connect/oauth2/authorize").respond_with_handler(self._authorize)

    def env(self) -> dict[str, str]:
        return {
            **self.stand_in.env(),
            "GONGDAN_WECOM_OAUTH_URL": self.stand_in.server.url_for("/").rstrip("/"),
        }

    def _authorize(self, request: Request) -> Response:
        query = request.args.to_dict()
        self.asked.append(query)
        wanted = {"appid": WeComStandIn.CORP_ID, "response_type": "code", "scope": "snsapi_base"}
        if any(query.get(k) != v for k, v in wanted.items()) or query.get("agentid") != WeComStandIn.AGENT_ID:
            return _json({"errcode": 40029, "errmsg": "invalid oauth request"}, 400)
        return _back_with_code(query["redirect_uri"], query["state"], self.stand_in.authorize(self.person))


class FeishuInApp:
    """``/open-apis/authen/v1/authorize``: inside Feishu it signs the person in without a page."""

    def __init__(self, stand_in: FeishuStandIn, person: str = "bob"):
        self.stand_in, self.person = stand_in, person
        stand_in.server.expect_request("/open-apis/authen/v1/authorize").respond_with_handler(self._authorize)

    def env(self) -> dict[str, str]:
        return self.stand_in.env()

    def _authorize(self, request: Request) -> Response:
        query = request.args.to_dict()
        if query.get("app_id") != FeishuStandIn.APP_ID:
            return _json({"code": 20029, "msg": "app_id invalid"}, 400)
        return _back_with_code(query["redirect_uri"], query["state"], self.stand_in.authorize(self.person))


class DingTalkInApp:
    """``POST /topapi/v2/user/getuserinfo``: an auth code (免登码) → the member, with the app token."""

    CORP_ID = "ding-corp-1"

    def __init__(self, stand_in: DingTalkStandIn, person: str = "bob"):
        self.stand_in, self.person = stand_in, person
        self.codes: dict[str, str] = {}
        stand_in.route("/topapi/v2/user/getuserinfo", self._getuserinfo, "POST")
        stand_in.server.expect_request("/oauth2/auth").respond_with_handler(self._web_sign_in)

    def env(self) -> dict[str, str]:
        return {**self.stand_in.env(), "GONGDAN_DINGTALK_CORP_ID": self.CORP_ID}

    def request_auth_code(self, corp_id: str) -> str:
        """What ``dd.runtime.permission.requestAuthCode({corpId})`` gives the page inside DingTalk."""
        assert corp_id == self.CORP_ID
        code = secrets.token_urlsafe(8)
        self.codes[code] = self.person
        return code

    def _web_sign_in(self, request: Request) -> Response:
        """DingTalk's web sign-in page (outside the app), the person already signed in there."""
        query = request.args.to_dict()
        if query.get("client_id") != DingTalkStandIn.CLIENT_ID:
            return _json({"code": "invalidClientId", "message": "bad client"}, 400)
        code = self.stand_in.authorize(self.person)
        return _back_with_code(query["redirect_uri"], query["state"], code, key="authCode")

    def _getuserinfo(self, request: Request) -> Response:
        if not self.stand_in._token_ok(request):
            return _json({"errcode": 40014, "errmsg": "不合法的access_token"})
        userid = self.codes.pop((request.get_json() or {}).get("code", ""), None)
        if userid is None:
            return _json({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        person = self.stand_in.org.people[userid]
        result: dict[str, Any] = {
            "userid": userid,
            "unionid": DingTalkStandIn.union(userid),
            "name": person.name,
            "device_id": "device-1",
            "sys": False,
            "sys_level": 2,
        }
        return _json({"errcode": 0, "errmsg": "ok", "result": result})
