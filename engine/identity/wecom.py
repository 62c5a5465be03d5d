"""WeCom (企业微信): QR / in-app sign-in and the contact API for the organisation.

Sign-in: the browser goes to ``login.work.weixin.qq.com/wwlogin/sso/login`` (login_type CorpApp);
the callback brings ``code``; ``GET /cgi-bin/gettoken?corpid&corpsecret`` gives the app token and
``GET /cgi-bin/auth/getuserinfo?access_token&code`` the member's ``userid`` (the subject; a
non-member gets only an openid and is refused); ``GET /cgi-bin/user/get`` adds name, mail, mobile.

Organisation: ``GET /cgi-bin/department/list`` (the whole tree with ``department_leader``) and
``GET /cgi-bin/user/list?department_id=`` per department (``direct_leader`` is the manager;
``status`` 2 = disabled, 5 = left). Change events (engine.org_events) fetch the one person or
department they concern: ``GET /cgi-bin/user/get`` and ``GET /cgi-bin/department/get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

from engine.identity.base import (
    Identity,
    InAppStart,
    OrgDepartment,
    OrgSnapshot,
    OrgUser,
    PendingLogin,
    Provider,
    SignInError,
    VendorAnswers,
    provider,
)
from engine.identity.base import Setting as S

#: -1 system busy, 45009 call frequency over the limit, 45033 too many concurrent calls.
RATE_CODES = frozenset({-1, 45009, 45033})
GONE = frozenset({2, 5})  # disabled, left
#: 60111: no such userid; 60123: no such department.
USER_MISSING, DEPT_MISSING = frozenset({60111}), frozenset({60123})


@provider
class WeComProvider(VendorAnswers, Provider):
    name = "wecom"
    rate_codes = RATE_CODES
    title: ClassVar[dict[str, str]] = {"zh": "企业微信登录", "en": "WeCom"}
    org_source = True
    settings = (
        S("corp_id", help="The company's CorpID."),
        S("agent_id", help="The self-built app's AgentId."),
        S("secret", secret=True, help="The app's Secret (with contact read permission for sync)."),
        S("api_url", default="https://qyapi.weixin.qq.com"),
        S("login_url", default="https://login.work.weixin.qq.com"),
        S("event_token", required=False, secret=True, help="Contact change callback: the Token."),
        S("event_aes_key", required=False, secret=True, help="Contact change callback: EncodingAESKey."),
        S("oauth_url", default="https://open.weixin.qq.com", help="Web authorisation inside WeCom (H5)."),
    )

    def _get(self, path: str, **query: Any) -> Any:
        return self.http.call(
            "GET",
            f"{self.base('api_url')}/cgi-bin/{path}?{urlencode(query)}",
            limited=self._limited,
            check=self._check,
        )

    def _token(self) -> str:
        return str(
            self._get("gettoken", corpid=self.config["corp_id"], corpsecret=self.config["secret"]).get(
                "access_token"
            )
            or ""
        )

    # ------------------------------------------------------------------ sign-in
    def authorize_url(self, pending: PendingLogin, redirect_uri: str) -> str:
        query = {
            "login_type": "CorpApp",
            "appid": self.config["corp_id"],
            "agentid": self.config["agent_id"],
            "redirect_uri": redirect_uri,
            "state": pending.state,
        }
        return f"{self.base('login_url')}/wwlogin/sso/login?{urlencode(query)}"

    def finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        code = self.code_of(params)
        token = self._token()
        who = self._get("auth/getuserinfo", access_token=token, code=code)
        userid = who.get("userid") or who.get("UserId")
        if not userid:
            raise SignInError("identity.no_subject", name=self.name, field="userid")
        person = self._get("user/get", access_token=token, userid=userid)
        if person.get("status") in GONE:
            raise SignInError("identity.user_inactive")
        return Identity(
            provider=self.name,
            subject=str(userid),
            name=str(person.get("name") or userid),
            email=person.get("email") or person.get("biz_mail") or None,
            mobile=person.get("mobile") or None,
            department_ids=tuple(str(d) for d in person.get("department") or ()),
            username=str(userid),
        )

    # ------------------------------------------------------------------ sign-in inside WeCom (H5)
    def in_app_start(self, pending: PendingLogin, redirect_uri: str) -> InAppStart:
        """WeCom's web authorisation (snsapi_base): inside the WeCom app it signs in without a
        page and comes back with a ``code``, finished like the QR sign-in (auth/getuserinfo)."""
        query = {
            "appid": self.config["corp_id"],
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": pending.state,
            "agentid": self.config["agent_id"],
        }
        return InAppStart(
            url=f"{self.base('oauth_url')}/connect/oauth2/authorize?{urlencode(query)}#wechat_redirect"
        )

    # ------------------------------------------------------------------ organisation
    def sync(self, cursor: str | None = None) -> OrgSnapshot:
        token = self._token()
        listed = self._get("department/list", access_token=token).get("department") or []
        ids = {str(d.get("id")) for d in listed}
        departments = []
        for d in listed:
            ident, parent = str(d.get("id")), str(d.get("parentid"))
            leaders = d.get("department_leader") or []
            departments.append(
                OrgDepartment(
                    ident,
                    str(d.get("name") or ident),
                    parent if parent in ids and parent != ident else None,
                    str(leaders[0]) if leaders else None,
                )
            )
        people: dict[str, dict[str, Any]] = {}
        for dept in departments:
            for p in (
                self._get("user/list", access_token=token, department_id=dept.external_id).get("userlist")
                or []
            ):
                people.setdefault(str(p.get("userid")), p)
        return OrgSnapshot(departments, [_org_user(uid, p) for uid, p in people.items()])

    # ------------------------------------------------------------------ one person / department
    def _find(self, path: str, missing: frozenset[int], **query: Any) -> Any:
        """The answer of ``GET /cgi-bin/<path>``, or None when WeCom has no such object."""
        answer = self.http.call(
            "GET",
            f"{self.base('api_url')}/cgi-bin/{path}?{urlencode(query)}",
            limited=self._limited,
            check=self._check_found(missing),
        )
        return None if answer.get("errcode") in missing else answer

    def user(self, ident: str) -> OrgUser | None:
        p = self._find("user/get", USER_MISSING, access_token=self._token(), userid=ident)
        return None if p is None else _org_user(ident, p)

    def department(self, ident: str) -> OrgDepartment | None:
        found = self._find("department/get", DEPT_MISSING, access_token=self._token(), id=ident)
        d = (found or {}).get("department")
        if not d:
            return None
        parent = str(d.get("parentid") or "0")
        leaders = d.get("department_leader") or []
        return OrgDepartment(
            ident,
            str(d.get("name") or ident),
            None if parent in ("0", ident) else parent,
            str(leaders[0]) if leaders else None,
        )


def _org_user(uid: str, p: Mapping[str, Any]) -> OrgUser:
    """A member of WeCom's user API (list or get)."""
    return OrgUser(
        subject=uid,
        name=str(p.get("name") or uid),
        username=uid,
        email=p.get("email") or p.get("biz_mail") or None,
        mobile=p.get("mobile") or None,
        department_ids=_main_first(p),
        manager=str((p.get("direct_leader") or [None])[0] or "") or None,
        active=p.get("status") not in GONE,
    )


def _main_first(person: Mapping[str, Any]) -> tuple[str, ...]:
    """The person's departments, the main one (``main_department``) first."""
    depts = [str(d) for d in person.get("department") or ()]
    main = str(person.get("main_department") or "")
    return tuple([main, *(d for d in depts if d != main)] if main in depts else depts)
