"""Local stand-ins of the identity providers, real protocol peers on 127.0.0.1.

- :class:`OidcStandIn`: discovery, JWKS (an RSA key made with ``cryptography``), an authorization
  step, a token endpoint that checks the client and the PKCE verifier, userinfo.
- :class:`DingTalkStandIn`, :class:`WeComStandIn`, :class:`FeishuStandIn`: token, sign-in and
  contact endpoints shaped like the vendors' documented APIs, over one :class:`Org` the test
  changes; pages are small so pagination is exercised; ``fail_next`` queues 429s / error codes.
  Each also answers the single-person / single-department fetches of the change events and signs
  change events the vendor's way (:meth:`DingTalkStandIn.event` ...: a :class:`SignedEvent`).
- :func:`ldap_directory`: an ldaptor LDAP server in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engine.config import Settings, load_settings
from engine.im_cards import feishu_encrypt, wecom_encrypt


def settings_for(database_url: str, home: Any, **env: str) -> Settings:
    return load_settings({"GONGDAN_HOME": str(home), "DATABASE_URL": database_url, **env})


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, headers, content_type="application/json")


# ---------------------------------------------------------------------------- OIDC
class OidcStandIn:
    CLIENT_ID = "gongdan-web"
    CLIENT_SECRET = "oidc-client-secret"

    def __init__(self, server: HTTPServer):
        self.server = server
        self.issuer = server.url_for("/realm").rstrip("/")
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        self.codes: dict[str, dict[str, Any]] = {}
        self.person = {
            "sub": "u-1001",
            "name": "王芳",
            "email": "wang.fang@example.com",
            "preferred_username": "wangfang",
        }
        self.claims: dict[str, Any] = {}  # overrides for the next id token (tests of bad tokens)
        self.sign_with: Any = None  # another key: a forged token
        self.token_requests: list[dict[str, Any]] = []
        s = server
        s.expect_request("/realm/.well-known/openid-configuration").respond_with_handler(self._discovery)
        s.expect_request("/realm/jwks").respond_with_handler(self._jwks)
        s.expect_request("/realm/token", method="POST").respond_with_handler(self._token)
        s.expect_request("/realm/userinfo").respond_with_handler(self._userinfo)

    def env(self) -> dict[str, str]:
        return {
            "GONGDAN_SIGNIN": "local,oidc",
            "GONGDAN_OIDC_ISSUER": self.issuer,
            "GONGDAN_OIDC_CLIENT_ID": self.CLIENT_ID,
            "GONGDAN_OIDC_CLIENT_SECRET": self.CLIENT_SECRET,
        }

    def _discovery(self, request: Request) -> Response:
        return _json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/auth",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "userinfo_endpoint": self.issuer + "/userinfo",
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    def _jwks(self, request: Request) -> Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return _json({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    def authorize(self, url: str) -> str:
        """What the provider does when the person signs in at ``url``: a code for the redirect."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert query["client_id"] == self.CLIENT_ID
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        return code

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.token_requests.append(form)
        basic = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
        if basic != f"Basic {expected}":
            return _json({"error": "invalid_client"}, 401)
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return _json({"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["code_challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return _json({"error": "invalid_grant", "error_description": "PKCE verifier mismatch"}, 400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.person,
            **self.claims,
        }
        token = jwt.encode(claims, self.sign_with or self.key, algorithm="RS256", headers={"kid": self.kid})
        return _json({"access_token": "at-" + grant["nonce"][:8], "token_type": "Bearer", "id_token": token})

    def _userinfo(self, request: Request) -> Response:
        if not request.headers.get("Authorization", "").startswith("Bearer at-"):
            return _json({"error": "invalid_token"}, 401)
        return _json({**self.person, "phone_number": "13900000001"})


# ---------------------------------------------------------------------------- an organisation
@dataclass
class Person:
    userid: str
    name: str
    dept: list[int]
    manager: str | None = None
    mobile: str | None = None
    email: str | None = None
    gone: bool = False  # WeCom status 5 / Feishu is_resigned


@dataclass
class Org:
    """The company the vendor stand-ins answer about; tests change it between syncs."""

    departments: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # id → (name, parent)
    heads: dict[int, str] = field(default_factory=dict)  # department → userid
    people: dict[str, Person] = field(default_factory=dict)

    @classmethod
    def sample(cls) -> Org:
        org = cls(
            departments={1: ("示例公司", None), 2: ("客服部", 1), 3: ("技术部", 1), 4: ("一线客服", 2)},
            heads={1: "boss", 2: "alice", 3: "carol"},
        )
        for p in (
            Person("boss", "老板", [1], None, "13800000000", "boss@example.com"),
            Person("alice", "Alice 李", [2], "boss", "13800000001", "alice@example.com"),
            Person("bob", "Bob 王", [4], "alice", "13800000002", "bob@example.com"),
            Person("carol", "Carol 张", [3], "boss", "13800000003", "carol@example.com"),
            Person("dave", "Dave 赵", [4], "alice", "13800000004", "dave@example.com"),
            Person("erin", "Erin 陈", [4], "alice", "13800000005", "erin@example.com"),
        ):
            org.people[p.userid] = p
        return org

    def members(self, dept: int) -> list[Person]:
        return [p for p in self.people.values() if dept in p.dept]

    def children(self, dept: int) -> list[int]:
        return [d for d, (_, parent) in self.departments.items() if parent == dept]


class VendorStandIn:
    """What the three vendor stand-ins share: the org, small pages, queued failures."""

    PAGE = 2  # the most items a page holds, whatever the client asks

    def __init__(self, server: HTTPServer, org: Org):
        self.server, self.org = server, org
        self.failures: list[Callable[[], Response]] = []
        self.calls: list[str] = []
        self.endless = False  # a listing that always says there is more
        self.broken: dict[str, Callable[[], Response]] = {}  # path → the answer it always gives

    def fail_next(self, *answers: Callable[[], Response]) -> None:
        self.failures.extend(answers)

    def route(self, path: str, handler: Callable[[Request], Response], method: str | None = None) -> None:
        def wrapped(request: Request) -> Response:
            self.calls.append(path)
            if self.failures:
                return self.failures.pop(0)()
            if path in self.broken:
                return self.broken[path]()
            return handler(request)

        if method:
            self.server.expect_request(path, method=method).respond_with_handler(wrapped)
        else:
            self.server.expect_request(path).respond_with_handler(wrapped)

    def page(self, items: list[Any], cursor: int) -> tuple[list[Any], int | None]:
        chunk = items[cursor : cursor + self.PAGE]
        nxt = cursor + self.PAGE if cursor + self.PAGE < len(items) else None
        if self.endless:
            nxt = cursor + self.PAGE
        return chunk, nxt


#: The change events' secrets the stand-ins sign with (and the settings they give Gongdan).
EVENT_TOKEN = "event-token"
EVENT_AES_KEY = base64.b64encode(b"e" * 32).decode().rstrip("=")  # 43 characters, as shown
FEISHU_ENCRYPT_KEY = "feishu-event-key"
FEISHU_VERIFICATION = "feishu-verification"


@dataclass(frozen=True)
class SignedEvent:
    """A change event as the vendor sends it: the query string, the body and the headers."""

    query: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"

    @property
    def args(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query).items()}


def sha1_signature(token: str, stamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, stamp, nonce, encrypted])).encode()).hexdigest()


def too_many() -> Response:
    return Response("slow down", 429, {"Retry-After": "7"})


class DingTalkStandIn(VendorStandIn):
    CLIENT_ID, CLIENT_SECRET = "ding-app", "ding-secret"

    def __init__(self, server: HTTPServer, org: Org):
        super().__init__(server, org)
        self.codes: dict[str, str] = {}
        self.route("/v1.0/oauth2/userAccessToken", self._user_token, "POST")
        self.route("/v1.0/contact/users/me", self._me)
        self.route("/gettoken", self._gettoken)
        self.route("/topapi/v2/department/get", self._dept_get, "POST")
        self.route("/topapi/v2/department/listsub", self._listsub, "POST")
        self.route("/topapi/v2/user/list", self._user_list, "POST")
        self.route("/topapi/v2/user/get", self._user_get, "POST")

    def env(self) -> dict[str, str]:
        base = self.server.url_for("/").rstrip("/")
        return {
            "GONGDAN_SIGNIN": "local,dingtalk",
            "GONGDAN_DINGTALK_CLIENT_ID": self.CLIENT_ID,
            "GONGDAN_DINGTALK_CLIENT_SECRET": self.CLIENT_SECRET,
            "GONGDAN_DINGTALK_LOGIN_URL": base,
            "GONGDAN_DINGTALK_API_URL": base,
            "GONGDAN_DINGTALK_OAPI_URL": base,
            "GONGDAN_DINGTALK_EVENT_TOKEN": EVENT_TOKEN,
            "GONGDAN_DINGTALK_EVENT_AES_KEY": EVENT_AES_KEY,
        }

    def event(
        self, event_type: str, now: float | None = None, nonce: str = "dn1", **fields: Any
    ) -> SignedEvent:
        """An event subscription push: ``{"encrypt": ...}`` signed in the query (timestamp in ms)."""
        stamp = str(int((now or time.time()) * 1000))
        plain = json.dumps({"EventType": event_type, "CorpId": "ding-corp", "TimeStamp": stamp, **fields})
        encrypted = wecom_encrypt(plain.encode(), EVENT_AES_KEY, self.CLIENT_ID)
        query = urlencode(
            {
                "msg_signature": sha1_signature(EVENT_TOKEN, stamp, nonce, encrypted),
                "timestamp": stamp,
                "nonce": nonce,
            }
        )
        body = json.dumps({"encrypt": encrypted}).encode()
        return SignedEvent(query, body, {"Content-Type": "application/json"})

    def user_event(self, action: str, userid: str, n: int = 1) -> SignedEvent:
        """``action`` (created / updated / deleted) of one person, the ``n``-th delivery."""
        kind = {"created": "user_add_org", "updated": "user_modify_org", "deleted": "user_leave_org"}
        return self.event(kind[action], nonce=f"n{n}", UserId=[userid])

    def department_event(self, action: str, dept: int, n: int = 1) -> SignedEvent:
        kind = {"created": "org_dept_create", "updated": "org_dept_modify", "deleted": "org_dept_remove"}
        return self.event(kind[action], nonce=f"n{n}", DeptId=[dept])

    @staticmethod
    def union(userid: str) -> str:
        return "union-" + userid

    def authorize(self, userid: str) -> str:
        code = secrets.token_urlsafe(8)
        self.codes[code] = userid
        return code

    def _user_token(self, request: Request) -> Response:
        body = request.get_json()
        if body.get("clientId") != self.CLIENT_ID or body.get("clientSecret") != self.CLIENT_SECRET:
            return _json({"code": "invalidClientSecret", "message": "bad secret", "requestid": "r1"}, 400)
        userid = self.codes.pop(body.get("code"), None)
        if userid is None:
            return _json({"code": "invalidAuthCode", "message": "bad code", "requestid": "r2"}, 400)
        return _json(
            {"accessToken": "uat-" + userid, "refreshToken": "r", "expireIn": 7200, "corpId": "ding1"}
        )

    def _me(self, request: Request) -> Response:
        userid = request.headers.get("x-acs-dingtalk-access-token", "").removeprefix("uat-")
        p = self.org.people[userid]
        return _json(
            {
                "nick": p.name,
                "unionId": self.union(userid),
                "openId": "o-" + userid,
                "mobile": p.mobile,
                "email": p.email,
                "stateCode": "86",
            }
        )

    def _token_ok(self, request: Request) -> bool:
        return request.args.get("access_token") == "app-token"

    def _gettoken(self, request: Request) -> Response:
        if (
            request.args.get("appkey") != self.CLIENT_ID
            or request.args.get("appsecret") != self.CLIENT_SECRET
        ):
            return _json({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
        return _json({"errcode": 0, "errmsg": "ok", "access_token": "app-token", "expires_in": 7200})

    def _dept_get(self, request: Request) -> Response:
        dept = request.get_json()["dept_id"]
        if dept not in self.org.departments:
            return _json({"errcode": 60003, "errmsg": "部门不存在"})
        name, parent = self.org.departments[dept]
        result = {"dept_id": dept, "name": name, "parent_id": parent}
        if dept in self.org.heads:
            result["dept_manager_userid_list"] = [self.org.heads[dept]]
        return _json({"errcode": 0, "errmsg": "ok", "result": result})

    def _person(self, p: Person) -> dict[str, Any]:
        return {
            "userid": p.userid,
            "unionid": self.union(p.userid),
            "name": p.name,
            "mobile": p.mobile,
            "email": p.email,
            "dept_id_list": p.dept,
            "manager_userid": p.manager,
            "leader_in_dept": [{"dept_id": d, "leader": self.org.heads.get(d) == p.userid} for d in p.dept],
            "active": True,
        }

    def _user_get(self, request: Request) -> Response:
        if not self._token_ok(request):
            return _json({"errcode": 40014, "errmsg": "不合法的access_token"})
        p = self.org.people.get(request.get_json()["userid"])
        if p is None or p.gone:  # DingTalk no longer knows someone who left
            return _json({"errcode": 60121, "errmsg": "找不到该用户"})
        return _json({"errcode": 0, "errmsg": "ok", "result": self._person(p)})

    def _listsub(self, request: Request) -> Response:
        if not self._token_ok(request):
            return _json({"errcode": 40014, "errmsg": "不合法的access_token"})
        dept = request.get_json()["dept_id"]
        result = [
            {"dept_id": d, "name": self.org.departments[d][0], "parent_id": dept}
            for d in self.org.children(dept)
        ]
        return _json({"errcode": 0, "errmsg": "ok", "result": result})

    def _user_list(self, request: Request) -> Response:
        body = request.get_json()
        assert body["size"] <= 100
        members = self.org.members(body["dept_id"])
        chunk, nxt = self.page(members, body.get("cursor", 0))
        listed = [self._person(p) for p in chunk]
        result: dict[str, Any] = {"has_more": nxt is not None, "list": listed}
        if nxt is not None:
            result["next_cursor"] = nxt
        return _json({"errcode": 0, "errmsg": "ok", "result": result})


class WeComStandIn(VendorStandIn):
    CORP_ID, AGENT_ID, SECRET = "ww-corp", "1000002", "wecom-secret"

    def __init__(self, server: HTTPServer, org: Org):
        super().__init__(server, org)
        self.codes: dict[str, str] = {}
        self.route("/cgi-bin/gettoken", self._gettoken)
        self.route("/cgi-bin/auth/getuserinfo", self._getuserinfo)
        self.route("/cgi-bin/user/get", self._user_get)
        self.route("/cgi-bin/department/list", self._departments)
        self.route("/cgi-bin/user/list", self._user_list)
        self.route("/cgi-bin/department/get", self._department_get)

    def env(self) -> dict[str, str]:
        base = self.server.url_for("/").rstrip("/")
        return {
            "GONGDAN_SIGNIN": "local,wecom",
            "GONGDAN_WECOM_CORP_ID": self.CORP_ID,
            "GONGDAN_WECOM_AGENT_ID": self.AGENT_ID,
            "GONGDAN_WECOM_SECRET": self.SECRET,
            "GONGDAN_WECOM_API_URL": base,
            "GONGDAN_WECOM_LOGIN_URL": base,
            "GONGDAN_WECOM_EVENT_TOKEN": EVENT_TOKEN,
            "GONGDAN_WECOM_EVENT_AES_KEY": EVENT_AES_KEY,
        }

    def event(
        self, change_type: str, now: float | None = None, nonce: str = "wn1", **fields: str
    ) -> SignedEvent:
        """A ``change_contact`` callback: encrypted XML, signed in the query (timestamp in seconds)."""
        stamp = str(int(now or time.time()))
        extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
        plain = (
            f"<xml><ToUserName><![CDATA[{self.CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[change_contact]]></Event><ChangeType><![CDATA[{change_type}]]></ChangeType>{extra}</xml>"
        )
        encrypted = wecom_encrypt(plain.encode(), EVENT_AES_KEY, self.CORP_ID)
        query = urlencode(
            {
                "msg_signature": sha1_signature(EVENT_TOKEN, stamp, nonce, encrypted),
                "timestamp": stamp,
                "nonce": nonce,
            }
        )
        body = (
            f"<xml><ToUserName><![CDATA[{self.CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return SignedEvent(query, body.encode(), {"Content-Type": "application/xml"})

    def user_event(self, action: str, userid: str, n: int = 1) -> SignedEvent:
        """``action`` (created / updated / deleted) of one person, the ``n``-th delivery."""
        return self.event(f"{action[:-1]}_user", nonce=f"n{n}", UserID=userid)

    def department_event(self, action: str, dept: int, n: int = 1) -> SignedEvent:
        return self.event(f"{action[:-1]}_party", nonce=f"n{n}", Id=str(dept))

    def verification(self, echo: str, now: float | None = None, nonce: str = "wv1") -> SignedEvent:
        """The URL check WeCom makes when the callback is saved: a signed, encrypted ``echostr``."""
        stamp = str(int(now or time.time()))
        encrypted = wecom_encrypt(echo.encode(), EVENT_AES_KEY, self.CORP_ID)
        signature = sha1_signature(EVENT_TOKEN, stamp, nonce, encrypted)
        query = urlencode(
            {"msg_signature": signature, "timestamp": stamp, "nonce": nonce, "echostr": encrypted}
        )
        return SignedEvent(query, b"", method="GET")

    def authorize(self, userid: str) -> str:
        code = secrets.token_urlsafe(8)
        self.codes[code] = userid
        return code

    def _bad_token(self, request: Request) -> Response | None:
        if request.args.get("access_token") != "corp-token":
            return _json({"errcode": 40014, "errmsg": "invalid access_token"})
        return None

    def _gettoken(self, request: Request) -> Response:
        if request.args.get("corpid") != self.CORP_ID or request.args.get("corpsecret") != self.SECRET:
            return _json({"errcode": 40001, "errmsg": "invalid credential"})
        return _json({"errcode": 0, "errmsg": "ok", "access_token": "corp-token", "expires_in": 7200})

    def _getuserinfo(self, request: Request) -> Response:
        userid = self.codes.pop(request.args.get("code", ""), None)
        if userid is None:
            return _json({"errcode": 40029, "errmsg": "invalid code"})
        return self._bad_token(request) or _json(
            {"errcode": 0, "errmsg": "ok", "userid": userid, "user_ticket": "t"}
        )

    def _person(self, p: Person) -> dict[str, Any]:
        return {
            "userid": p.userid,
            "name": p.name,
            "department": p.dept,
            "main_department": p.dept[0],
            "mobile": p.mobile,
            "email": p.email,
            "direct_leader": [p.manager] if p.manager else [],
            "status": 5 if p.gone else 1,
        }

    def _user_get(self, request: Request) -> Response:
        p = self.org.people.get(request.args["userid"])
        if p is None:
            return self._bad_token(request) or _json({"errcode": 60111, "errmsg": "userid not found"})
        return self._bad_token(request) or _json({"errcode": 0, "errmsg": "ok", **self._person(p)})

    def _department_get(self, request: Request) -> Response:
        dept = int(request.args["id"])
        if dept not in self.org.departments:
            return self._bad_token(request) or _json({"errcode": 60123, "errmsg": "invalid party id"})
        name, parent = self.org.departments[dept]
        found = {
            "id": dept,
            "name": name,
            "parentid": parent or 0,
            "order": 1,
            "department_leader": [self.org.heads[dept]] if dept in self.org.heads else [],
        }
        return self._bad_token(request) or _json({"errcode": 0, "errmsg": "ok", "department": found})

    def _departments(self, request: Request) -> Response:
        listed = [
            {
                "id": d,
                "name": name,
                "parentid": parent or 0,
                "order": 1,
                "department_leader": [self.org.heads[d]] if d in self.org.heads else [],
            }
            for d, (name, parent) in self.org.departments.items()
        ]
        return self._bad_token(request) or _json({"errcode": 0, "errmsg": "ok", "department": listed})

    def _user_list(self, request: Request) -> Response:
        members = self.org.members(int(request.args["department_id"]))
        return self._bad_token(request) or _json(
            {"errcode": 0, "errmsg": "ok", "userlist": [self._person(p) for p in members]}
        )


class FeishuStandIn(VendorStandIn):
    APP_ID, APP_SECRET = "cli_feishu", "feishu-secret"

    def __init__(self, server: HTTPServer, org: Org):
        super().__init__(server, org)
        self.codes: dict[str, str] = {}
        self.route("/open-apis/auth/v3/app_access_token/internal", self._app_token, "POST")
        self.route("/open-apis/auth/v3/tenant_access_token/internal", self._tenant_token, "POST")
        self.route("/open-apis/authen/v1/access_token", self._user_token, "POST")
        self.route("/open-apis/authen/v1/user_info", self._user_info)
        self.server.expect_request(
            re.compile(r"^/open-apis/contact/v3/departments/[^/]+/children$")
        ).respond_with_handler(self._counted(self._children))
        self.route("/open-apis/contact/v3/users/find_by_department", self._users)
        self.server.expect_request(
            re.compile(r"^/open-apis/contact/v3/users/(?!find_by_department$)[^/]+$")
        ).respond_with_handler(self._counted(self._user_get))
        self.server.expect_request(
            re.compile(r"^/open-apis/contact/v3/departments/[^/]+$")
        ).respond_with_handler(self._counted(self._department_get))

    def _counted(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            self.calls.append(request.path)
            if self.failures:
                return self.failures.pop(0)()
            return handler(request)

        return wrapped

    def env(self) -> dict[str, str]:
        return {
            "GONGDAN_SIGNIN": "local,feishu",
            "GONGDAN_FEISHU_APP_ID": self.APP_ID,
            "GONGDAN_FEISHU_APP_SECRET": self.APP_SECRET,
            "GONGDAN_FEISHU_API_URL": self.server.url_for("/").rstrip("/"),
            "GONGDAN_FEISHU_ENCRYPT_KEY": FEISHU_ENCRYPT_KEY,
            "GONGDAN_FEISHU_VERIFICATION_TOKEN": FEISHU_VERIFICATION,
        }

    def event(
        self, event_type: str, obj: dict[str, Any], now: float | None = None, event_id: str = "ev-1"
    ) -> SignedEvent:
        """An event v2 push: the encrypted body signed in the X-Lark-* headers."""
        stamp, nonce = str(int(now or time.time())), secrets.token_hex(6)
        plain = {
            "schema": "2.0",
            "header": {"event_id": event_id, "event_type": event_type, "token": FEISHU_VERIFICATION},
            "event": {"object": obj},
        }
        body = json.dumps(
            {"encrypt": feishu_encrypt(json.dumps(plain).encode(), FEISHU_ENCRYPT_KEY)}
        ).encode()
        signature = hashlib.sha256((stamp + nonce + FEISHU_ENCRYPT_KEY).encode() + body).hexdigest()
        headers = {
            "X-Lark-Request-Timestamp": stamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature,
            "Content-Type": "application/json",
        }
        return SignedEvent("", body, headers)

    def user_event(self, action: str, userid: str, n: int = 1) -> SignedEvent:
        """``action`` (created / updated / deleted) of one person, the ``n``-th event."""
        return self.event(f"contact.user.{action}_v3", {"open_id": self.open_id(userid)}, event_id=f"ev-{n}")

    def department_event(self, action: str, dept: int, n: int = 1) -> SignedEvent:
        obj = {"open_department_id": self.od(dept)}
        return self.event(f"contact.department.{action}_v3", obj, event_id=f"ev-{n}")

    def challenge(self, challenge: str) -> SignedEvent:
        """The url_verification Feishu sends when the request URL is saved (encrypted, not signed)."""
        plain = {"challenge": challenge, "token": FEISHU_VERIFICATION, "type": "url_verification"}
        body = json.dumps(
            {"encrypt": feishu_encrypt(json.dumps(plain).encode(), FEISHU_ENCRYPT_KEY)}
        ).encode()
        return SignedEvent("", body, {"Content-Type": "application/json"})

    @staticmethod
    def open_id(userid: str) -> str:
        return "ou_" + userid

    @staticmethod
    def od(dept: int) -> str:
        return f"od-{dept}"

    def authorize(self, userid: str) -> str:
        code = secrets.token_urlsafe(8)
        self.codes[code] = userid
        return code

    def _secret_ok(self, request: Request) -> bool:
        body = request.get_json()
        return body.get("app_id") == self.APP_ID and body.get("app_secret") == self.APP_SECRET

    def _app_token(self, request: Request) -> Response:
        if not self._secret_ok(request):
            return _json({"code": 10014, "msg": "app secret invalid"})
        return _json({"code": 0, "msg": "ok", "app_access_token": "a-token", "expire": 7200})

    def _tenant_token(self, request: Request) -> Response:
        if not self._secret_ok(request):
            return _json({"code": 10014, "msg": "app secret invalid"})
        return _json({"code": 0, "msg": "ok", "tenant_access_token": "t-token", "expire": 7200})

    def _user_token(self, request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer a-token":
            return _json({"code": 99991663, "msg": "invalid app token"}, 400)
        userid = self.codes.pop(request.get_json().get("code"), None)
        if userid is None:
            return _json({"code": 20003, "msg": "invalid code"}, 400)
        return _json(
            {
                "code": 0,
                "msg": "success",
                "data": {"access_token": "u-" + userid, "open_id": self.open_id(userid)},
            }
        )

    def _user_info(self, request: Request) -> Response:
        userid = request.headers.get("Authorization", "").removeprefix("Bearer u-")
        p = self.org.people[userid]
        return _json(
            {
                "code": 0,
                "msg": "success",
                "data": {
                    "name": p.name,
                    "open_id": self.open_id(userid),
                    "union_id": "on_" + userid,
                    "email": p.email,
                    "mobile": p.mobile,
                },
            }
        )

    def _paged(self, request: Request, items: list[Any]) -> Response:
        assert request.headers.get("Authorization") == "Bearer t-token"
        cursor = int(request.args.get("page_token") or 0)
        chunk, nxt = self.page(items, cursor)
        data: dict[str, Any] = {"has_more": nxt is not None, "items": chunk}
        if nxt is not None:
            data["page_token"] = str(nxt)
        return _json({"code": 0, "msg": "success", "data": data})

    def _children(self, request: Request) -> Response:
        return self._paged(request, [self._department_item(d) for d in self.org.departments])

    def _person(self, p: Person) -> dict[str, Any]:
        return {
            "open_id": self.open_id(p.userid),
            "user_id": p.userid,
            "name": p.name,
            "email": p.email,
            "mobile": p.mobile,
            "department_ids": [self.od(d) for d in p.dept],
            "leader_user_id": self.open_id(p.manager) if p.manager else None,
            "status": {"is_resigned": p.gone, "is_frozen": False, "is_activated": True},
        }

    def _users(self, request: Request) -> Response:
        dept = request.args["department_id"]
        members = [] if dept == "0" else self.org.members(int(dept.removeprefix("od-")))
        return self._paged(request, [self._person(p) for p in members])

    def _department_item(self, d: int) -> dict[str, Any]:
        name, parent = self.org.departments[d]
        return {
            "name": name,
            "open_department_id": self.od(d),
            "department_id": str(d),
            "parent_department_id": self.od(parent) if parent else "0",
            "leader_user_id": self.open_id(self.org.heads[d]) if d in self.org.heads else None,
            "status": {"is_deleted": False},
        }

    def _user_get(self, request: Request) -> Response:
        assert request.headers.get("Authorization") == "Bearer t-token"
        assert request.args.get("user_id_type") == "open_id"
        userid = request.path.rsplit("/", 1)[1].removeprefix("ou_")
        if userid not in self.org.people:
            return _json({"code": 41012, "msg": "user not found"}, 400)
        return _json({"code": 0, "msg": "success", "data": {"user": self._person(self.org.people[userid])}})

    def _department_get(self, request: Request) -> Response:
        assert request.headers.get("Authorization") == "Bearer t-token"
        od = request.path.rsplit("/", 1)[1]
        dept = int(od.removeprefix("od-")) if od.removeprefix("od-").isdigit() else None
        if dept not in self.org.departments:
            return _json({"code": 40003, "msg": "department not found"}, 400)
        return _json({"code": 0, "msg": "success", "data": {"department": self._department_item(dept)}})


# ---------------------------------------------------------------------------- LDAP
class LdapDirectory:
    """An ldaptor server on 127.0.0.1 in a thread, over an in-memory tree."""

    BASE = "dc=example,dc=com"
    SERVICE_DN = "cn=gongdan,dc=example,dc=com"
    SERVICE_PASSWORD = "service-pw"

    def __init__(self) -> None:
        from ldaptor.inmemory import ReadOnlyInMemoryLDAPEntry
        from ldaptor.interfaces import IConnectedLDAPEntry
        from ldaptor.protocols.ldap.ldapserver import LDAPServer
        from twisted.internet import reactor
        from twisted.internet.protocol import ServerFactory
        from twisted.python.components import registerAdapter

        self.reactor = reactor
        root = ReadOnlyInMemoryLDAPEntry(self.BASE, {"objectClass": ["dcObject"], "dc": ["example"]})
        root.addChild(
            "cn=gongdan",
            {"objectClass": ["person"], "cn": ["gongdan"], "userPassword": [self.SERVICE_PASSWORD]},
        )
        people = root.addChild("ou=people", {"objectClass": ["organizationalUnit"], "ou": ["people"]})
        sales = people.addChild(
            "ou=sales",
            {
                "objectClass": ["organizationalUnit"],
                "ou": ["sales"],
                "managedBy": ["uid=lin,ou=sales,ou=people,dc=example,dc=com"],
            },
        )
        support = people.addChild("ou=support", {"objectClass": ["organizationalUnit"], "ou": ["support"]})
        sales.addChild("uid=lin", self._person("lin", "林经理", "lin-pw", None))
        sales.addChild(
            "uid=zhou",
            self._person("zhou", "周销售", "zhou-pw", "uid=lin,ou=sales,ou=people,dc=example,dc=com"),
        )
        support.addChild(
            "uid=wu", self._person("wu", "吴客服", "wu-pw", "uid=lin,ou=sales,ou=people,dc=example,dc=com")
        )
        self.root = root

        class Factory(ServerFactory):
            protocol = LDAPServer

            def __init__(self, tree: Any) -> None:
                self.root = tree

        registerAdapter(lambda factory: factory.root, Factory, IConnectedLDAPEntry)
        self.port = reactor.listenTCP(0, Factory(root), interface="127.0.0.1")
        self.url = f"ldap://127.0.0.1:{self.port.getHost().port}"
        self.thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )
        self.thread.start()

    @staticmethod
    def _person(uid: str, name: str, password: str, manager: str | None) -> dict[str, list[str]]:
        attrs = {
            "objectClass": ["person", "inetOrgPerson"],
            "uid": [uid],
            "cn": [name],
            "mail": [f"{uid}@example.com"],
            "mobile": [f"1370000{sum(map(ord, uid)):04d}"],
            "userPassword": [password],
        }
        if manager:
            attrs["manager"] = [manager]
        return attrs

    def env(self) -> dict[str, str]:
        return {
            "GONGDAN_SIGNIN": "local,ldap",
            "GONGDAN_LDAP_URL": self.url,
            "GONGDAN_LDAP_BIND_DN": self.SERVICE_DN,
            "GONGDAN_LDAP_BIND_PASSWORD": self.SERVICE_PASSWORD,
            "GONGDAN_LDAP_USER_BASE": "ou=people," + self.BASE,
        }

    def stop(self) -> None:
        self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(timeout=10)


_DIRECTORY: list[LdapDirectory] = []


def ldap_directory() -> LdapDirectory:
    """The process's one LDAP stand-in (Twisted's reactor runs once per process)."""
    if not _DIRECTORY:
        _DIRECTORY.append(LdapDirectory())
    return _DIRECTORY[0]
