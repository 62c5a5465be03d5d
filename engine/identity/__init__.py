"""Single sign-on and organisation sources: one interface (engine.identity.base.Provider), one
registry (``PROVIDERS``: oidc, ldap, dingtalk, wecom, feishu), configuration from the environment
(``GONGDAN_<PROVIDER>_<KEY>``, docs/sso.md) with secrets an admin may enter write-only.

:func:`open_provider` is the one way to get a configured adapter; engine.identity.signin links a
verified identity to a Gongdan user and opens a session; engine.org_sync applies a source's
organisation.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from engine.auth import audit
from engine.config import Settings
from engine.errors import FormError, Problem
from engine.identity import dingtalk, feishu, ldap, oidc, wecom  # noqa: F401  (register the adapters)
from engine.identity.base import (
    PROVIDERS,
    Http,
    Identity,
    OrgDepartment,
    OrgSnapshot,
    OrgUser,
    PendingLogin,
    Provider,
    ProviderError,
    SetupError,
    SignInError,
    Sleeper,
    adapter_class,
    config_problems,
    enabled,
    local_allowed,
    org_sources,
)
from engine.store.db import Database
from engine.store.models import ChannelSetting
from engine.store.types import utcnow

__all__ = [
    "PROVIDERS",
    "Http",
    "Identity",
    "OrgDepartment",
    "OrgSnapshot",
    "OrgUser",
    "PendingLogin",
    "Provider",
    "ProviderError",
    "SetupError",
    "SignInError",
    "enabled",
    "local_allowed",
    "open_provider",
    "org_sources",
    "secret_status",
    "set_secret",
]

CS = ChannelSetting.__table__
#: Secrets an admin enters are kept in the channel_settings table under ``sso.<provider>.<key>``
#: (the same write-only table as the channel URLs; never listed with the channels).
SECRET_PREFIX = "sso."
MAX_SECRET = 2000


def _secret_row(name: str, key: str) -> str:
    return f"{SECRET_PREFIX}{name}.{key}"


def stored_secrets(db: Database | None, name: str) -> dict[str, str]:
    """The secrets of provider ``name`` an admin entered (key → value); {} without a database."""
    if db is None:
        return {}
    prefix = _secret_row(name, "")
    with db.read() as conn:
        rows = conn.execute(select(CS.c.name, CS.c.url).where(CS.c.name.like(prefix + "%"))).all()
    return {r.name.removeprefix(prefix): r.url for r in rows}


def provider_config(settings: Settings, db: Database | None, name: str) -> dict[str, str]:
    """The configuration of ``name``: environment values, defaults, then the admin's secrets."""
    cls = adapter_class(name)
    values: dict[str, str | None] = {
        s.key: settings.identity_value(s.env(name)) or s.default for s in cls.settings
    }
    secret_keys = {s.key for s in cls.settings if s.secret}
    values.update({k: v for k, v in stored_secrets(db, name).items() if k in secret_keys})
    problems = config_problems(cls, values)
    if problems:
        raise SetupError(problems=problems, name=name, count=len(problems))
    return {k: v for k, v in values.items() if v is not None}


def open_provider(
    settings: Settings,
    db: Database | None,
    name: str,
    *,
    purpose: str = "signin",
    http: Http | None = None,
    sleeper: Sleeper | None = None,
) -> Provider:
    """A configured adapter of ``name`` for ``purpose`` (``signin``: must be turned on in
    GONGDAN_SIGNIN; ``sync``: must be an organisation source). SetupError says what is missing."""
    cls = adapter_class(name)
    if purpose == "signin" and name not in enabled(settings):
        raise SetupError("identity.provider_off", name=name)
    if purpose == "sync" and not cls.org_source:
        raise SetupError("identity.not_org_source", name=name, known=", ".join(org_sources()))
    config = provider_config(settings, db, name)
    if http is None:
        http = Http(name, sleeper=sleeper) if sleeper is not None else Http(name)
    return cls(config, http)


# ---------------------------------------------------------------------------- admin: secrets
def secret_status(db: Database, settings: Settings, name: str) -> list[dict[str, str]]:
    """Each secret of ``name`` and where it comes from (admin | env | unset) — never its value."""
    cls = adapter_class(name)
    stored = stored_secrets(db, name)
    out = []
    for s in cls.settings:
        if not s.secret:
            continue
        source = "admin" if s.key in stored else ("env" if settings.identity_value(s.env(name)) else "unset")
        out.append({"key": s.key, "env": s.env(name), "source": source})
    return out


def set_secret(
    db: Database, actor: int | None, name: str, key: str, value: str | None, ip: str | None = None
) -> None:
    """Store (or with an empty ``value``, clear) the admin's secret ``key`` of provider ``name``.
    The audit entry names the key only."""
    cls = adapter_class(name)
    keys = [s.key for s in cls.settings if s.secret]
    if key not in keys:
        raise FormError(
            problems=[
                Problem(
                    "key",
                    "identity.secret_unknown",
                    {"name": name, "key": key[:40], "known": ", ".join(keys)},
                )
            ],
            count=1,
        )
    row = _secret_row(name, key)
    value = (value or "").strip()
    if len(value) > MAX_SECRET:
        raise FormError(
            problems=[Problem("value", "identity.secret_too_long", {"limit": MAX_SECRET})], count=1
        )
    with db.write() as conn:
        if not value:
            conn.execute(delete(CS).where(CS.c.name == row))
            audit(conn, actor, "sso.secret_cleared", f"sso:{name}", {"key": key}, ip)
            return
        values = {"url": value, "updated_at": utcnow(), "updated_by": actor}
        if conn.execute(update(CS).where(CS.c.name == row).values(**values)).rowcount == 0:
            conn.execute(insert(CS).values(name=row, **values))
        audit(conn, actor, "sso.secret_set", f"sso:{name}", {"key": key}, ip)
