"""Channel addresses an admin sets in the web admin, over the environment variables.

The channels the site sends through are named ``smtp`` (GONGDAN_SMTP_URL), ``sms`` (GONGDAN_SMS_URL)
and ``robot.<name>`` (GONGDAN_ROBOT_<NAME>); ``hook.<name>`` (GONGDAN_HOOK_<NAME>) is the signing
secret an app's webhook names with ``secret_ref: <name>`` — app definitions never hold a secret. An
admin may store a value for any of them in the ``channel_settings`` table; :func:`channel_url` — the
one place the sending side reads one — prefers that stored value and falls back to the environment.

These values carry passwords, tokens and signing secrets, so they are write-only: every read
(:func:`list_channels`, the audit log, pages) shows URLs masked by :func:`engine.config.redact` and a
hook secret as ``***`` only, and the audit entries of a change name only the scheme and host.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from engine.auth import audit
from engine.config import HOOK_PREFIX, MASK, ROBOT_PREFIX, Settings, redact
from engine.errors import FormError, NotFoundError, Problem
from engine.i18n import register
from engine.store.db import Database
from engine.store.models import ChannelSetting
from engine.store.types import utcnow

log = logging.getLogger("gongdan.jobs")

CS = ChannelSetting.__table__
ROBOT = "robot."
HOOK = "hook."
ROBOT_NAME = re.compile(r"^[a-z0-9_]{1,50}$")
MAX_URL = 2000
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
SMS_SCHEMES = ("https", "http", "aliyun", "aliyun+https", "aliyun+http")

register(
    {
        "channel.unknown": {
            "zh": "没有名为 {name} 的渠道。可用:smtp、sms、robot.<名称>、hook.<名称>"
            "(名称为小写字母、数字或下划线)。",
            "en": "There is no channel called {name}. Use smtp, sms, robot.<name> or hook.<name> "
            "(lower-case letters, digits or underscores).",
        },
        "channel.url_required": {"zh": "请填写地址。", "en": "Enter the address."},
        "channel.secret_required": {
            "zh": "请填写签名密钥(不含空格)。",
            "en": "Enter the signing secret (without spaces).",
        },
        "channel.url_too_long": {
            "zh": "地址过长(最多 {limit} 个字符)。",
            "en": "The address is too long (at most {limit} characters).",
        },
        "channel.url_bad_scheme": {
            "zh": "地址须以 {schemes} 开头。",
            "en": "The address must start with {schemes}.",
        },
        "channel.url_invalid": {
            "zh": "地址无法使用:{reason}",
            "en": "The address cannot be used: {reason}",
        },
        "channel.not_set": {
            "zh": "渠道 {name} 没有管理员设置的地址。",
            "en": "The channel {name} has no address set by an admin.",
        },
    }
)


def env_name(name: str) -> str:
    """The environment variable a channel falls back to."""
    if name == "smtp":
        return "GONGDAN_SMTP_URL"
    if name == "sms":
        return "GONGDAN_SMS_URL"
    if name.startswith(HOOK):
        return HOOK_PREFIX + name.removeprefix(HOOK).upper()
    return ROBOT_PREFIX + name.removeprefix(ROBOT).upper()


def check_name(name: str) -> str:
    """``name`` if it names a channel (smtp, sms, robot.<name>); NotFoundError otherwise."""
    if name in ("smtp", "sms"):
        return name
    for prefix in (ROBOT, HOOK):
        if name.startswith(prefix) and ROBOT_NAME.match(name.removeprefix(prefix)):
            return name
    raise NotFoundError("channel.unknown", name=name[:80])


def env_url(settings: Settings, name: str) -> str | None:
    """The channel's URL from the environment (the settings), or None."""
    if name == "smtp":
        return settings.smtp_url
    if name == "sms":
        return settings.sms_url
    if name.startswith(ROBOT):
        return settings.robot(name.removeprefix(ROBOT))
    if name.startswith(HOOK):
        return settings.hook_secret(name.removeprefix(HOOK))
    return None


# ---------------------------------------------------------------------------- the sending side
_DATABASES: dict[str, Database] = {}
_DB_LOCK = threading.Lock()


def _database_of(settings: Settings) -> Database | None:
    """A Database for ``settings.database_url`` (kept per URL, without a pool), or None when it is a
    SQLite file that does not exist (a process without a site, e.g. a test of the channels alone)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            return None
    with _DB_LOCK:
        found = _DATABASES.get(url)
        if found is None:
            from sqlalchemy.pool import NullPool

            if len(_DATABASES) >= 16:
                _DATABASES.pop(next(iter(_DATABASES))).dispose()
            found = _DATABASES[url] = Database(url, poolclass=NullPool)
        return found


def stored_url(conn: Connection, name: str) -> str | None:
    return conn.execute(select(CS.c.url).where(CS.c.name == name)).scalar()


def channel_url(db: Database | None, settings: Settings, name: str) -> str | None:
    """The URL ``name`` sends to: the admin's (``channel_settings``) first, else the environment.

    ``db`` None reads the database of ``settings.database_url`` (the worker's own). A database that
    cannot be read (not migrated yet, unreachable) leaves the environment's value in force.
    """
    database = db if db is not None else _database_of(settings)
    if database is not None:
        try:
            with database.read() as conn:
                stored = stored_url(conn, name)
        except SQLAlchemyError as exc:
            log.warning("channel settings unreadable, using the environment: %s", redact(str(exc))[:300])
        else:
            if stored:
                return stored
    return env_url(settings, name)


def hook_secret(db: Database | None, settings: Settings, name: str) -> str | None:
    """The signing secret a webhook's ``secret_ref: name`` means: the admin's, else GONGDAN_HOOK_<NAME>."""
    return channel_url(db, settings, HOOK + name.lower())


# ---------------------------------------------------------------------------- admin side
@dataclass(frozen=True)
class ChannelView:
    """What an admin sees of a channel: never the URL itself."""

    name: str
    kind: str  # smtp | sms | robot | hook
    env: str
    source: str  # admin | env | unset
    url: str | None  # masked
    env_url: str | None  # masked; the environment's value, in force when the admin's is cleared
    updated_at: Any = None
    updated_by: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "env": self.env,
            "source": self.source,
            "url": self.url,
            "env_url": self.env_url,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


def _kind(name: str) -> str:
    if name.startswith(ROBOT):
        return "robot"
    return "hook" if name.startswith(HOOK) else name


def _masked(name: str, value: str | None) -> str | None:
    """What may be shown of a stored value: a URL masked, a hook's secret not at all."""
    if not value:
        return None
    return MASK if name.startswith(HOOK) else redact(value)


def _view(settings: Settings, name: str, row: Any | None) -> ChannelView:
    shown_env = _masked(name, env_url(settings, name))
    if row is not None:
        return ChannelView(
            name,
            _kind(name),
            env_name(name),
            "admin",
            _masked(name, row.url),
            shown_env,
            row.updated_at,
            row.updated_by,
        )
    return ChannelView(
        name, _kind(name), env_name(name), "env" if shown_env else "unset", shown_env, shown_env
    )


def list_channels(db: Database, settings: Settings) -> list[ChannelView]:
    """smtp, sms, every robot and every webhook secret known to the environment or the table, masked."""
    with db.read() as conn:
        stored = {
            r.name: r for r in conn.execute(select(CS.c.name, CS.c.url, CS.c.updated_at, CS.c.updated_by))
        }
    robots = sorted({ROBOT + n for n, _ in settings.robots} | {n for n in stored if n.startswith(ROBOT)})
    hooks = sorted({HOOK + n for n, _ in settings.hooks} | {n for n in stored if n.startswith(HOOK)})
    return [_view(settings, name, stored.get(name)) for name in ["smtp", "sms", *robots, *hooks]]


def channel_view(db: Database, settings: Settings, name: str) -> ChannelView:
    """One channel as an admin sees it (masked)."""
    name = check_name(name)
    with db.read() as conn:
        row = conn.execute(
            select(CS.c.name, CS.c.url, CS.c.updated_at, CS.c.updated_by).where(CS.c.name == name)
        ).first()
    return _view(settings, name, row)


def url_problems(name: str, url: Any) -> list[Problem]:
    """Why ``url`` cannot serve channel ``name`` (empty when it can): the same parsing the sending
    side does, so a saved address is one the channel can use."""
    from engine.jobs.channels import ROBOT_KINDS, DeliveryError, SmsGateway, SmtpConfig

    kind = _kind(name)
    if kind == "hook" and (
        not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url.strip())
    ):
        return [Problem("url", "channel.secret_required")]
    if not isinstance(url, str) or not url.strip():
        return [Problem("url", "channel.url_required")]
    url = url.strip()
    if len(url) > MAX_URL:
        return [Problem("url", "channel.url_too_long", {"limit": MAX_URL})]
    if kind == "hook":
        return []
    if any(c.isspace() for c in url):
        return [Problem("url", "channel.url_invalid", {"reason": "spaces"})]
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        if kind == "smtp":
            if scheme not in SMTP_SCHEMES:
                schemes = ", ".join(f"{s}://" for s in SMTP_SCHEMES)
                return [Problem("url", "channel.url_bad_scheme", {"schemes": schemes})]
            SmtpConfig.parse(url)
        elif kind == "sms":
            if scheme not in SMS_SCHEMES:
                return [Problem("url", "channel.url_bad_scheme", {"schemes": "https://, http://, aliyun://"})]
            SmsGateway.parse(url)
        else:
            prefix, plus, rest = scheme.partition("+")
            if not plus or prefix not in ROBOT_KINDS or rest not in ("https", "http"):
                kinds = ", ".join(f"{k}+https://" for k in ROBOT_KINDS)
                return [Problem("url", "channel.url_bad_scheme", {"schemes": kinds})]
            if not urlsplit(url.split("+", 1)[1]).hostname:
                return [Problem("url", "channel.url_invalid", {"reason": "no host"})]
    except DeliveryError as exc:
        return [Problem("url", "channel.url_invalid", {"reason": redact(exc.reason)[:300]})]
    except ValueError:
        return [Problem("url", "channel.url_invalid", {"reason": "malformed"})]
    return []


def _where(name: str, url: str) -> dict[str, Any]:
    """What the audit log keeps of a URL: its scheme and host, nothing that can be a secret (and of a
    hook's secret: nothing)."""
    if name.startswith(HOOK):
        return {}
    try:
        parts = urlsplit(url.split("+", 1)[1] if "+" in url.split("://", 1)[0] else url)
        return {"scheme": url.split("://", 1)[0].lower(), "host": parts.hostname or ""}
    except ValueError:
        return {}


def set_channel(
    db: Database, settings: Settings, actor: int | None, name: str, url: Any, ip: str | None = None
) -> ChannelView:
    """Store the admin's URL (a hook's secret) for ``name``; checked first, FormError naming ``url``
    otherwise."""
    name = check_name(name)
    problems = url_problems(name, url)
    if problems:
        raise FormError(problems=problems, count=len(problems))
    url = url.strip()
    now = utcnow()
    with db.write() as conn:
        values = {"url": url, "updated_at": now, "updated_by": actor}
        if conn.execute(update(CS).where(CS.c.name == name).values(**values)).rowcount == 0:
            conn.execute(insert(CS).values(name=name, **values))
        audit(conn, actor, "channel.set", f"channel:{name}", _where(name, url), ip)
    return channel_view(db, settings, name)


def clear_channel(
    db: Database, settings: Settings, actor: int | None, name: str, ip: str | None = None
) -> ChannelView:
    """Drop the admin's URL for ``name``: the environment's is in force again. NotFoundError if none."""
    name = check_name(name)
    with db.write() as conn:
        if conn.execute(delete(CS).where(CS.c.name == name)).rowcount == 0:
            raise NotFoundError("channel.not_set", name=name)
        audit(conn, actor, "channel.cleared", f"channel:{name}", {}, ip)
    return channel_view(db, settings, name)
