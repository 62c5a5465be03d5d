"""Feishu / Lark (飞书): web sign-in and the contact v3 API for the organisation.

Sign-in (authen v1): the browser goes to ``/open-apis/authen/v1/index?app_id&redirect_uri&state``;
the callback brings ``code``; ``POST /open-apis/auth/v3/app_access_token/internal`` gives the app
token, ``POST /open-apis/authen/v1/access_token`` the user's token and
``GET /open-apis/authen/v1/user_info`` who it is. The subject is the ``open_id`` (the contact API
below is asked for open ids too, so a synced user signs in as themself).

Organisation: ``POST /open-apis/auth/v3/tenant_access_token/internal``, then
``GET /open-apis/contact/v3/departments/{root}/children?fetch_child=true`` and
``GET /open-apis/contact/v3/users/find_by_department`` per department, both paged by
``page_token`` / ``has_more``; ``leader_user_id`` is a department's head or a user's manager.
Change events (engine.org_events) fetch the one person or department they concern:
``GET /open-apis/contact/v3/users/{open_id}`` and ``GET /open-apis/contact/v3/departments/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

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

#: 99991400: request frequency over the limit.
RATE_CODES = frozenset({99991400})
PAGE_SIZE = 50
#: The answers meaning "no such user / department" (a deleted department may also come back with
#: ``status.is_deleted``).
USER_MISSING, DEPT_MISSING = frozenset({41012}), frozenset({40003})


@provider
class FeishuProvider(VendorAnswers, Provider):
    name = "feishu"
    code_key = "code"
    message_key = "msg"
    rate_codes = RATE_CODES
    title: ClassVar[dict[str, str]] = {"zh": "飞书登录", "en": "Feishu"}
    org_source = True
    settings = (
        S("app_id"),
        S("app_secret", secret=True),
        S("api_url", default="https://open.feishu.cn"),
        S("root_dept", default="0"),
        S("encrypt_key", required=False, secret=True, help="Events: the Encrypt Key (signs and encrypts)."),
        S("verification_token", required=False, secret=True, help="Events: the Verification Token."),
    )

    def _call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.call(
            method,
            f"{self.base('api_url')}/open-apis/{path}",
            limited=self._limited,
            check=self._check,
            headers=headers,
            **kwargs,
        )

    def _app_secret_body(self) -> dict[str, str]:
        return {"app_id": self.config["app_id"], "app_secret": self.config["app_secret"]}

    # ------------------------------------------------------------------ sign-in
    def authorize_url(self, pending: PendingLogin, redirect_uri: str) -> str:
        query = {"app_id": self.config["app_id"], "redirect_uri": redirect_uri, "state": pending.state}
        return f"{self.base('api_url')}/open-apis/authen/v1/index?{urlencode(query)}"

    def finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        code = self.code_of(params)
        app = self._call("POST", "auth/v3/app_access_token/internal", json=self._app_secret_body())
        token = (
            self._call(
                "POST",
                "authen/v1/access_token",
                app.get("app_access_token"),
                json={"grant_type": "authorization_code", "code": code},
            ).get("data")
            or {}
        )
        access = token.get("access_token")
        if not access:
            raise SignInError("identity.no_subject", name=self.name, field="access_token")
        info = self._call("GET", "authen/v1/user_info", access).get("data") or {}
        subject = info.get("open_id") or token.get("open_id")
        if not subject:
            raise SignInError("identity.no_subject", name=self.name, field="open_id")
        return Identity(
            provider=self.name,
            subject=str(subject),
            name=str(info.get("name") or subject),
            email=info.get("enterprise_email") or info.get("email") or None,
            mobile=info.get("mobile") or None,
        )

    # ------------------------------------------------------------------ sign-in inside Feishu (H5)
    def in_app_start(self, pending: PendingLogin, redirect_uri: str) -> InAppStart:
        """The authorize page: inside the Feishu app it signs the person in silently and comes back
        with a ``code``, finished like the web sign-in (user access token, then user info)."""
        query = {"app_id": self.config["app_id"], "redirect_uri": redirect_uri, "state": pending.state}
        return InAppStart(url=f"{self.base('api_url')}/open-apis/authen/v1/authorize?{urlencode(query)}")

    # ------------------------------------------------------------------ organisation
    def _paged(self, path: str, token: str, **query: Any) -> list[Any]:
        def page(cursor: str | None) -> tuple[list[Any], str | None]:
            q = {**query, "page_size": PAGE_SIZE, **({"page_token": cursor} if cursor else {})}
            data = self._call("GET", f"{path}?{urlencode(q)}", token).get("data") or {}
            return list(data.get("items") or []), (data.get("page_token") or None) if data.get(
                "has_more"
            ) else None

        return list(self.http.pages(f"{self.base('api_url')}/open-apis/{path}", page))

    def sync(self, cursor: str | None = None) -> OrgSnapshot:
        token = self._call("POST", "auth/v3/tenant_access_token/internal", json=self._app_secret_body())
        tenant = str(token.get("tenant_access_token") or "")
        root = self.config["root_dept"]
        listed = self._paged(
            f"contact/v3/departments/{quote(root, safe='')}/children",
            tenant,
            department_id_type="open_department_id",
            user_id_type="open_id",
            fetch_child="true",
        )
        ids = {str(d.get("open_department_id")) for d in listed}
        departments = [
            OrgDepartment(
                str(d.get("open_department_id")),
                str(d.get("name") or d.get("open_department_id")),
                str(d.get("parent_department_id")) if str(d.get("parent_department_id")) in ids else None,
                d.get("leader_user_id") or None,
            )
            for d in listed
            if not (d.get("status") or {}).get("is_deleted")
        ]
        people: dict[str, dict[str, Any]] = {}
        for dept in [root, *(d.external_id for d in departments)]:
            for p in self._paged(
                "contact/v3/users/find_by_department",
                tenant,
                department_id=dept,
                department_id_type="open_department_id",
                user_id_type="open_id",
            ):
                people.setdefault(str(p.get("open_id")), p)
        users = [_org_user(subject, p, ids) for subject, p in people.items()]
        return OrgSnapshot(departments, users)

    # ------------------------------------------------------------------ one person / department
    def _one(self, path: str, key: str, missing: frozenset[int]) -> Any:
        """``data.<key>`` of one contact object, or None when Feishu has no such object."""
        token = self._call("POST", "auth/v3/tenant_access_token/internal", json=self._app_secret_body())
        query = urlencode({"department_id_type": "open_department_id", "user_id_type": "open_id"})
        answer = self.http.call(
            "GET",
            f"{self.base('api_url')}/open-apis/contact/v3/{path}?{query}",
            limited=self._limited,
            check=self._check_found(missing),
            headers={"Authorization": f"Bearer {token.get('tenant_access_token') or ''}"},
        )
        found = None if answer.get("code") in missing else (answer.get("data") or {}).get(key)
        return None if not found or (found.get("status") or {}).get("is_deleted") else found

    def user(self, ident: str) -> OrgUser | None:
        p = self._one(f"users/{quote(ident, safe='')}", "user", USER_MISSING)
        return None if p is None else _org_user(ident, p, None)

    def department(self, ident: str) -> OrgDepartment | None:
        d = self._one(f"departments/{quote(ident, safe='')}", "department", DEPT_MISSING)
        if d is None:
            return None
        parent = str(d.get("parent_department_id") or "0")
        return OrgDepartment(
            ident,
            str(d.get("name") or ident),
            None if parent in ("0", self.config["root_dept"], ident) else parent,
            d.get("leader_user_id") or None,
        )


def _org_user(subject: str, p: Mapping[str, Any], known: set[str] | None) -> OrgUser:
    """A person of the contact API; ``known``: the departments to keep (None: all but the root)."""
    status = p.get("status") or {}
    depts = (str(d) for d in p.get("department_ids") or ())
    return OrgUser(
        subject=subject,
        name=str(p.get("name") or subject),
        username=p.get("user_id") or None,
        email=p.get("enterprise_email") or p.get("email") or None,
        mobile=p.get("mobile") or None,
        department_ids=tuple(d for d in depts if (d in known if known is not None else d != "0")),
        manager=p.get("leader_user_id") or None,
        active=not (status.get("is_resigned") or status.get("is_frozen")),
    )
