"""DingTalk (钉钉): OAuth2 / QR sign-in and the contact API for the organisation.

Sign-in (the documented "new" flow): the browser goes to ``login.dingtalk.com/oauth2/auth``; the
callback brings ``authCode``; ``POST api.dingtalk.com/v1.0/oauth2/userAccessToken`` turns it into
a user access token; ``GET /v1.0/contact/users/me`` says who it is. The subject is the person's
``unionId``, which the contact API also returns (``unionid``), so a synced user signs in as themself.

Organisation: ``GET oapi.dingtalk.com/gettoken`` (the app's token), then
``POST /topapi/v2/department/listsub`` from the root department down (the tree) and
``POST /topapi/v2/user/list`` per department with ``cursor``/``size`` pagination; a user's
``leader_in_dept`` makes them a department head, ``manager_userid`` their manager.

Change events (engine.org_events) name people by userid: ``POST /topapi/v2/user/get`` and
``/topapi/v2/department/get`` fetch the one person / department they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

from engine.errors import Problem
from engine.identity.base import (
    Identity,
    InAppStart,
    OrgDepartment,
    OrgSnapshot,
    OrgUser,
    PendingLogin,
    Provider,
    ProviderError,
    SetupError,
    SignInError,
    VendorAnswers,
    provider,
)
from engine.identity.base import Setting as S

#: Error codes that mean "too many calls, slow down": -1 system busy, 90002 the API's platform-wide
#: limit, 90006 / 90018 / 90019 an app's or an organisation's calls per second. (90020, the month's
#: call quota used up, is not: waiting seconds does not help, so it is an error naming itself.)
RATE_CODES = frozenset({-1, 90002, 90006, 90018, 90019})
#: errcode 88 is an authentication failure whose ``sub_code`` says what; old ``topapi`` endpoints
#: report a rate limit so too (sub_code 90018), and only then is it one.
WRAPPED = 88
PAGE_SIZE = 100
#: 60121: no such user (deleted, or left); 60003: no such department.
USER_MISSING, DEPT_MISSING = frozenset({60121}), frozenset({60003})


@provider
class DingTalkProvider(VendorAnswers, Provider):
    name = "dingtalk"
    rate_codes = RATE_CODES
    title: ClassVar[dict[str, str]] = {"zh": "钉钉登录", "en": "DingTalk"}
    org_source = True
    settings = (
        S("client_id", help="The app's Client ID (AppKey)."),
        S("client_secret", secret=True, help="The app's Client Secret (AppSecret)."),
        S("login_url", default="https://login.dingtalk.com"),
        S("api_url", default="https://api.dingtalk.com"),
        S("oapi_url", default="https://oapi.dingtalk.com"),
        S("root_dept", default="1"),
        S("event_token", required=False, secret=True, help="Event subscription: the Token."),
        S("event_aes_key", required=False, secret=True, help="Event subscription: the aes_key."),
        S("corp_id", required=False, help="The CorpId, for the sign-in inside DingTalk (H5 micro-app)."),
    )

    # ------------------------------------------------------------------ vendor answers
    def _limited(self, body: Any) -> bool:
        if not isinstance(body, dict):
            return False
        if body.get("errcode") == WRAPPED:
            return _int(body.get("sub_code")) in RATE_CODES
        return super()._limited(body) or body.get("code") == "Forbidden.AccessDenied.QpsLimitForApi"

    def _check(self, body: Any, url: str) -> None:
        super()._check(body, url)
        if isinstance(body.get("code"), str) and "message" in body:  # the v1.0 API's error shape
            raise ProviderError(
                "identity.vendor_error",
                name=self.name,
                errcode=body.get("code"),
                detail=str(body.get("message"))[:200],
                url=url,
            )

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.http.call(method, url, limited=self._limited, check=self._check, **kwargs)

    # ------------------------------------------------------------------ sign-in
    def authorize_url(self, pending: PendingLogin, redirect_uri: str) -> str:
        query = {
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "client_id": self.config["client_id"],
            "scope": "openid",
            "state": pending.state,
            "prompt": "consent",
        }
        return f"{self.base('login_url')}/oauth2/auth?{urlencode(query)}"

    def finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        code = self.code_of(params, "authCode" if params.get("authCode") else "code")
        api = self.base("api_url")
        token = self._call(
            "POST",
            f"{api}/v1.0/oauth2/userAccessToken",
            json={
                "clientId": self.config["client_id"],
                "clientSecret": self.config["client_secret"],
                "code": code,
                "grantType": "authorization_code",
            },
        )
        access = token.get("accessToken")
        if not access:
            raise SignInError("identity.no_subject", name=self.name, field="accessToken")
        me = self._call(
            "GET", f"{api}/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": access}
        )
        subject = me.get("unionId")
        if not subject:
            raise SignInError("identity.no_subject", name=self.name, field="unionId")
        return Identity(
            provider=self.name,
            subject=str(subject),
            name=str(me.get("nick") or subject),
            email=me.get("email") or None,
            mobile=me.get("mobile") or None,
        )

    # ------------------------------------------------------------------ sign-in inside DingTalk (H5)
    def in_app_start(self, pending: PendingLogin, redirect_uri: str) -> InAppStart:
        """The H5 micro-app way: our page asks the DingTalk client for an auth code with JSAPI
        ``dd.runtime.permission.requestAuthCode({corpId})`` and posts it back with the state."""
        corp = self.config.get("corp_id")
        if not corp:
            raise SetupError(
                problems=[Problem(S("corp_id").env(self.name), "identity.setting_missing")],
                name=self.name,
                count=1,
            )
        return InAppStart(jsapi={"corpId": corp})

    def in_app_finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        """The auth code (免登码) → the member, by ``topapi/v2/user/getuserinfo`` with the app's
        token; the subject is the ``unionid`` as in the web sign-in and the organisation sync."""
        code = self.code_of(params, "authCode")
        token = self._app_token()
        body = self._call(
            "POST",
            f"{self.base('oapi_url')}/topapi/v2/user/getuserinfo?access_token={token}",
            json={"code": code},
        )
        who = body.get("result") or {}
        subject = who.get("unionid")
        if not subject:
            raise SignInError("identity.no_subject", name=self.name, field="unionid")
        userid = str(who.get("userid") or "") or None
        return Identity(
            provider=self.name,
            subject=str(subject),
            name=str(who.get("name") or userid or subject),
            username=userid,
        )

    # ------------------------------------------------------------------ organisation
    def _app_token(self) -> str:
        query = urlencode({"appkey": self.config["client_id"], "appsecret": self.config["client_secret"]})
        body = self._call("GET", f"{self.base('oapi_url')}/gettoken?{query}")
        return str(body.get("access_token") or "")

    def sync(self, cursor: str | None = None) -> OrgSnapshot:
        oapi = self.base("oapi_url")
        token = self._app_token()
        root = self.config["root_dept"]
        top = (
            self._call(
                "POST", f"{oapi}/topapi/v2/department/get?access_token={token}", json={"dept_id": int(root)}
            ).get("result")
            or {}
        )
        departments = [OrgDepartment(str(root), str(top.get("name") or root), None)]
        queue, seen = [root], {str(root)}
        while queue:
            parent = queue.pop(0)
            body = self._call(
                "POST",
                f"{oapi}/topapi/v2/department/listsub?access_token={token}",
                json={"dept_id": int(parent)},
            )
            for d in body.get("result") or []:
                ident = str(d.get("dept_id"))
                if ident in seen:
                    continue
                seen.add(ident)
                departments.append(
                    OrgDepartment(ident, str(d.get("name") or ident), str(d.get("parent_id") or parent))
                )
                queue.append(ident)
        raw: dict[str, dict[str, Any]] = {}
        for dept in departments:
            url = f"{oapi}/topapi/v2/user/list?access_token={token}"

            def page(
                cursor: str | None, dept: OrgDepartment = dept, url: str = url
            ) -> tuple[list[Any], str | None]:
                body = self._call(
                    "POST",
                    url,
                    json={"dept_id": int(dept.external_id), "cursor": int(cursor or 0), "size": PAGE_SIZE},
                )
                result = body.get("result") or {}
                more = result.get("has_more") and result.get("next_cursor") is not None
                return list(result.get("list") or []), str(result["next_cursor"]) if more else None

            for person in self.http.pages(url, page):
                raw.setdefault(str(person.get("userid")), person)
        union_of = {uid: str(p.get("unionid") or "") for uid, p in raw.items()}
        heads: dict[str, str] = {}
        users = []
        for uid, p in raw.items():
            subject = union_of[uid]
            if not subject:
                raise ProviderError("identity.no_subject", name=self.name, field="unionid")
            for lead in p.get("leader_in_dept") or []:
                if lead.get("leader"):
                    heads.setdefault(str(lead.get("dept_id")), subject)
            users.append(_org_user(p, subject, union_of.get(str(p.get("manager_userid"))) or None))
        departments = [
            OrgDepartment(d.external_id, d.name, d.parent_id, heads.get(d.external_id)) for d in departments
        ]
        return OrgSnapshot(departments, users)

    # ------------------------------------------------------------------ one person / department
    def _get(self, token: str, what: str, body: dict[str, Any], missing: frozenset[int]) -> Any:
        """The ``result`` of ``/topapi/v2/<what>/get``, or None when DingTalk has no such object."""
        answer = self.http.call(
            "POST",
            f"{self.base('oapi_url')}/topapi/v2/{what}/get?access_token={token}",
            limited=self._limited,
            check=self._check_found(missing),
            json=body,
        )
        return None if answer.get("errcode") in missing else answer.get("result") or None

    def _union(self, token: str, userid: Any) -> str | None:
        found = self._get(token, "user", {"userid": str(userid)}, USER_MISSING) if userid else None
        return (str(found.get("unionid") or "") or None) if found else None

    def user(self, ident: str) -> OrgUser | None:
        token = self._app_token()
        p = self._get(token, "user", {"userid": ident}, USER_MISSING)
        if p is None:
            return None
        subject = str(p.get("unionid") or "")
        if not subject:
            raise ProviderError("identity.no_subject", name=self.name, field="unionid")
        return _org_user(p, subject, self._union(token, p.get("manager_userid")))

    def department(self, ident: str) -> OrgDepartment | None:
        if not ident.isdigit():
            return None
        token = self._app_token()
        d = self._get(token, "department", {"dept_id": int(ident)}, DEPT_MISSING)
        if d is None:
            return None
        parent = d.get("parent_id")
        top = ident == self.config["root_dept"] or not parent
        heads = d.get("dept_manager_userid_list") or []
        return OrgDepartment(
            ident,
            str(d.get("name") or ident),
            None if top else str(parent),
            self._union(token, heads[0]) if heads else None,
        )


def _org_user(p: dict[str, Any], subject: str, manager: str | None) -> OrgUser:
    """A person of DingTalk's user API (list or get) whose unionId is ``subject``."""
    uid = str(p.get("userid"))
    return OrgUser(
        subject=subject,
        name=str(p.get("name") or uid),
        username=uid,
        email=p.get("email") or p.get("org_email") or None,
        mobile=p.get("mobile") or None,
        department_ids=tuple(str(d) for d in p.get("dept_id_list") or ()),
        manager=manager,
        event_id=uid,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
