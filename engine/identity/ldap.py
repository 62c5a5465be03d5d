"""LDAP: sign-in by bind (a service account finds the user's DN, then the user binds with their
own password) and organisation sync from the directory (OU tree → departments, people → users).

The username is escaped before it goes into the search filter (RFC 4515), so ``*)(uid=*`` is a
name like any other. An empty password is refused before any bind: many servers treat a bind
without a password as an anonymous bind that "succeeds".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from engine.identity.base import (
    Identity,
    OrgDepartment,
    OrgSnapshot,
    OrgUser,
    Provider,
    ProviderError,
    SignInError,
    provider,
)
from engine.identity.base import Setting as S

DISABLED = 0x2  # Active Directory's userAccountControl "account disabled" bit


def _parts(dn: str) -> list[str]:
    try:
        return [f"{k}={v}".lower() for k, v, _ in parse_dn(dn, escape=True)]
    except LDAPException:
        return [part.strip().lower() for part in dn.split(",")]


def norm_dn(dn: str) -> str:
    """A DN in one spelling (lower case, no spaces around separators) to compare DNs by."""
    return ",".join(_parts(dn))


def parent_dn(dn: str) -> str:
    """The DN one level up (``ou=a,dc=x`` → ``dc=x``), normalised like :func:`norm_dn`."""
    return ",".join(_parts(dn)[1:])


def _first(entry: Any, attr: str) -> str | None:
    values = entry.get("attributes", {}).get(attr)
    if isinstance(values, list):
        values = values[0] if values else None
    if values is None or values == "":
        return None
    return values.decode() if isinstance(values, bytes) else str(values)


@provider
class LdapProvider(Provider):
    name = "ldap"
    title: ClassVar[dict[str, str]] = {"zh": "LDAP 账号", "en": "LDAP account"}
    redirect = False
    org_source = True
    settings = (
        S("url", help="ldap://host:389 or ldaps://host:636"),
        S("bind_dn", help="The service account that may search."),
        S("bind_password", secret=True),
        S("user_base", help="Where people are, e.g. ou=people,dc=example,dc=com"),
        S("user_filter", default="(&(objectClass=person)(uid={username}))"),
        S("id_attr", default="uid", help="A stable attribute: uid, entryUUID, objectGUID ..."),
        S("name_attr", default="cn"),
        S("mail_attr", default="mail"),
        S("mobile_attr", default="mobile"),
        S("manager_attr", default="manager"),
        S("org_base", required=False, help="The top of the OU tree to sync (default: user_base)."),
        S("sync_filter", default="(objectClass=person)"),
        S("head_attr", default="managedBy"),
        S("timeout", default="10"),
    )

    def _timeout(self) -> int:
        text = self.config["timeout"].strip()
        return max(1, int(text)) if text.isdigit() else 10

    def _server(self) -> ldap3.Server:
        return ldap3.Server(self.config["url"], get_info=ldap3.NONE, connect_timeout=self._timeout())

    def _connect(self, user: str, password: str) -> ldap3.Connection:
        return ldap3.Connection(
            self._server(),
            user=user,
            password=password,
            auto_bind=ldap3.AUTO_BIND_NONE,
            receive_timeout=self._timeout(),
            raise_exceptions=False,
        )

    def _service(self) -> ldap3.Connection:
        conn = self._connect(self.config["bind_dn"], self.config["bind_password"])
        try:
            if not conn.bind():
                raise ProviderError("identity.ldap_error", reason="the service account cannot bind")
        except LDAPException as exc:
            raise ProviderError("identity.ldap_error", reason=type(exc).__name__) from None
        return conn

    def _attrs(self) -> list[str]:
        keys = ("id_attr", "name_attr", "mail_attr", "mobile_attr", "manager_attr")
        return sorted({self.config[k] for k in keys} | {"userAccountControl"})

    # ------------------------------------------------------------------ sign-in
    def password_login(self, username: str, password: str) -> Identity:
        username = (username or "").strip()
        if not username or not password or len(username) > 256:
            raise SignInError("identity.bad_credentials", name="LDAP")
        query = self.config["user_filter"].replace("{username}", escape_filter_chars(username))
        service = self._service()
        try:
            service.search(
                self.config["user_base"], query, ldap3.SUBTREE, attributes=self._attrs(), size_limit=2
            )
            found = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
        except LDAPException as exc:
            raise ProviderError("identity.ldap_error", reason=type(exc).__name__) from None
        finally:
            service.unbind()
        if len(found) != 1:
            raise SignInError("identity.bad_credentials", name="LDAP")
        entry = found[0]
        person = self._connect(entry["dn"], password)
        try:
            ok = person.bind()
        except LDAPException:
            ok = False
        finally:
            person.unbind()
        if not ok:
            raise SignInError("identity.bad_credentials", name="LDAP")
        user = self._user(entry, {})
        if not user.active:
            raise SignInError("identity.user_inactive")
        return Identity(self.name, user.subject, user.name, user.email, user.mobile, (), user.username)

    # ------------------------------------------------------------------ organisation
    def _user(self, entry: Any, subjects_by_dn: dict[str, str]) -> OrgUser:
        c = self.config
        subject = _first(entry, c["id_attr"])
        if not subject:
            raise ProviderError("identity.no_subject", name=self.name, field=c["id_attr"])
        control = _first(entry, "userAccountControl")
        active = not (control and control.isdigit() and int(control) & DISABLED)
        manager = _first(entry, c["manager_attr"])
        parent = parent_dn(entry["dn"])
        return OrgUser(
            subject=subject,
            name=_first(entry, c["name_attr"]) or subject,
            username=_first(entry, "uid") or subject,
            email=_first(entry, c["mail_attr"]),
            mobile=_first(entry, c["mobile_attr"]),
            department_ids=(parent,),
            manager=subjects_by_dn.get(norm_dn(manager)) if manager else None,
            active=active,
        )

    def _search(self, conn: ldap3.Connection, base: str, query: str, attrs: list[str]) -> Iterator[Any]:
        try:
            for entry in conn.extend.standard.paged_search(
                base, query, ldap3.SUBTREE, attributes=attrs, paged_size=500, generator=True
            ):
                if entry.get("type") == "searchResEntry":
                    yield entry
        except LDAPException as exc:
            raise ProviderError("identity.ldap_error", reason=type(exc).__name__) from None

    def sync(self, cursor: str | None = None) -> OrgSnapshot:
        base = self.config.get("org_base") or self.config["user_base"]
        head_attr = self.config["head_attr"]
        conn = self._service()
        try:
            units = list(self._search(conn, base, "(objectClass=organizationalUnit)", ["ou", head_attr]))
            people = list(self._search(conn, base, self.config["sync_filter"], [*self._attrs(), "uid"]))
        finally:
            conn.unbind()
        subjects = {norm_dn(p["dn"]): _first(p, self.config["id_attr"]) or "" for p in people}
        known = {norm_dn(u["dn"]) for u in units}
        departments = []
        for unit in units:
            dn = norm_dn(unit["dn"])
            parent = parent_dn(unit["dn"])
            head = _first(unit, head_attr)
            departments.append(
                OrgDepartment(
                    external_id=dn,
                    name=_first(unit, "ou") or dn.split(",", 1)[0].split("=", 1)[-1],
                    parent_id=parent if parent in known else None,
                    head=subjects.get(norm_dn(head)) if head else None,
                )
            )
        users = [self._user(p, subjects) for p in people]
        users = [u if u.department_ids[0] in known else _no_department(u) for u in users]
        return OrgSnapshot(departments, users)


def _no_department(user: OrgUser) -> OrgUser:
    return replace(user, department_ids=())
