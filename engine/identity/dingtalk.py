"""DingTalk (钉钉): OAuth2 / QR sign-in and the contact API for the organisation.

Sign-in (the documented "new" flow): the browser goes to ``login.dingtalk.com/oauth2/auth``; the
callback brings ``authCode``; ``POST api.dingtalk.com/v1.0/oauth2/userAccessToken`` turns it into
a user access token; ``GET /v1.0/contact/users/me`` says who it is. The subject is the person's
``unionId``, which the contact API also returns (``unionid``), so a synced user signs in as themself.

Organisation: ``GET oapi.dingtalk.com/gettoken`` (the app's token), then
``POST /topapi/v2/department/listsub`` from the root department down (the tree) and
``POST /topapi/v2/user/list`` per department with ``cursor``/``size`` pagination; a user's
``leader_in_dept`` makes them a department head, ``manager_userid`` their manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

from engine.identity.base import (
    Identity,
    OrgDepartment,
    OrgSnapshot,
    OrgUser,
    PendingLogin,
    Provider,
    ProviderError,
    SignInError,
    VendorAnswers,
    provider,
)
from engine.identity.base import Setting as S

#: Error codes that mean "too many calls, slow down" (QPS / per-minute limits, busy system).
RATE_CODES = frozenset({-1, 88, 90002, 90006, 90018})
PAGE_SIZE = 100


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
    )

    # ------------------------------------------------------------------ vendor answers
    def _limited(self, body: Any) -> bool:
        return super()._limited(body) or (
            isinstance(body, dict) and body.get("code") == "Forbidden.AccessDenied.QpsLimitForApi"
        )

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
            users.append(
                OrgUser(
                    subject=subject,
                    name=str(p.get("name") or uid),
                    username=uid,
                    email=p.get("email") or p.get("org_email") or None,
                    mobile=p.get("mobile") or None,
                    department_ids=tuple(str(d) for d in p.get("dept_id_list") or ()),
                    manager=union_of.get(str(p.get("manager_userid"))) or None,
                )
            )
        departments = [
            OrgDepartment(d.external_id, d.name, d.parent_id, heads.get(d.external_id)) for d in departments
        ]
        return OrgSnapshot(departments, users)
