"""Configuration, all from environment variables, documented in one place (docs/configuration.md).

GONGDAN_HOME, DATABASE_URL, REDIS_URL, GONGDAN_LANG and GONGDAN_BASE_URL set up the server; the
channels read GONGDAN_SMTP_URL, GONGDAN_SMS_URL, GONGDAN_ROBOT_<NAME>, GONGDAN_HOOK_<NAME> and
GONGDAN_OUTBOUND_ALLOW (docs/channels.md); sign-in and organisation sync read GONGDAN_SIGNIN, GONGDAN_SSO_*,
GONGDAN_ORG_SYNC and GONGDAN_<PROVIDER>_* (``Settings.identity``, docs/sso.md). Secrets live in
these URLs and variables, so nothing here is ever shown as written:
``repr(settings)`` and :func:`redact` mask passwords, tokens, keys and ``#secret=`` fragments.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

ROBOT_PREFIX = "GONGDAN_ROBOT_"
#: Secrets of outgoing HTTP — an app webhook's ``secret_ref: <name>``, a ``call`` header's
#: ``${secrets.<name>}`` — from GONGDAN_HOOK_<NAME> (or the admin's ``hook.<name>``).
HOOK_PREFIX = "GONGDAN_HOOK_"
#: Where a definition names a secret instead of holding it (filled in by the worker at delivery).
SECRET_PLACEHOLDER = re.compile(r"\$\{secrets\.([a-z0-9_]{1,50})\}")
MASK = "***"
#: Query and fragment parameters whose values are secrets (matched as a part of the name).
SECRET_NAMES = re.compile(r"token|key|secret|sign|pass|pwd|auth|credential|ticket", re.IGNORECASE)
#: A path segment that looks like a credential (Feishu and Slack put the robot's token in the path).
TOKEN_SEGMENT = re.compile(r"(?<=/)(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{16,}(?=/|$)")
#: Environment names that configure sign-in and organisation sync (see docs/sso.md).
IDENTITY_PREFIXES = (
    "GONGDAN_SIGNIN",
    "GONGDAN_SSO_",
    "GONGDAN_ORG_SYNC",
    "GONGDAN_OIDC_",
    "GONGDAN_LDAP_",
    "GONGDAN_DINGTALK_",
    "GONGDAN_WECOM_",
    "GONGDAN_FEISHU_",
)
URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")


@dataclass(frozen=True, repr=False)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None
    lang: str
    base_url: str
    smtp_url: str | None = None
    sms_url: str | None = None
    robots: tuple[tuple[str, str], ...] = ()  # (lower-case name, URL), from GONGDAN_ROBOT_<NAME>
    hooks: tuple[tuple[str, str], ...] = ()  # (lower-case name, signing secret), from GONGDAN_HOOK_<NAME>
    outbound_allow: tuple[str, ...] = ()
    #: Sign-in and organisation sync (docs/sso.md): every GONGDAN_SIGNIN, GONGDAN_SSO_*,
    #: GONGDAN_ORG_SYNC and GONGDAN_<PROVIDER>_* variable as (NAME, value); engine.identity reads them.
    identity: tuple[tuple[str, str], ...] = ()
    #: Deployment (docs/deploy.md): log lines as ``text`` or ``json`` (one object a line).
    log_format: str = "text"
    #: A bearer token that may read /metrics (besides admins and, without one, loopback clients).
    metrics_token: str | None = None
    #: Where uploaded files live: unset = <home>/files; ``s3://bucket/prefix?endpoint=…`` (docs/deploy.md).
    files_url: str | None = None

    def identity_value(self, name: str) -> str | None:
        """The sign-in / org-sync variable ``name`` (e.g. ``GONGDAN_OIDC_ISSUER``), or None."""
        return next((value for key, value in self.identity if key == name), None)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def robot(self, name: str) -> str | None:
        """The configured URL of the robot called ``name`` (any case), or None."""
        wanted = name.lower()
        return next((url for key, url in self.robots if key == wanted), None)

    def hook_secret(self, name: str) -> str | None:
        """The webhook signing secret called ``name`` (any case), or None."""
        wanted = name.lower()
        return next((secret for key, secret in self.hooks if key == wanted), None)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "metrics_token" and value:
                value = MASK
            elif isinstance(value, str):
                value = mask_url(value)
            elif f.name == "robots":
                value = tuple((name, mask_url(url)) for name, url in value)
            elif f.name == "hooks":
                value = tuple((name, MASK) for name, _ in value)
            elif f.name == "identity":
                value = tuple((k, MASK if SECRET_NAMES.search(k) else mask_url(v)) for k, v in value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"


def _prefixed(env: dict[str, str], prefix: str) -> tuple[tuple[str, str], ...]:
    """Every ``<prefix><NAME>=value`` as sorted (lower-case name, value) pairs."""
    return tuple(
        sorted(
            (key.removeprefix(prefix).lower(), value.strip())
            for key, value in env.items()
            if key.startswith(prefix) and key != prefix and value.strip()
        )
    )


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("GONGDAN_HOME") or "./var").resolve()
    url = env.get("DATABASE_URL") or f"sqlite:///{home / 'gongdan.db'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    robots = _prefixed(env, ROBOT_PREFIX)
    allow = tuple(a.strip() for a in (env.get("GONGDAN_OUTBOUND_ALLOW") or "").split(",") if a.strip())
    return Settings(
        home=home,
        database_url=url,
        redis_url=env.get("REDIS_URL") or None,
        lang=env.get("GONGDAN_LANG") or "zh",
        base_url=(env.get("GONGDAN_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        smtp_url=env.get("GONGDAN_SMTP_URL") or None,
        sms_url=env.get("GONGDAN_SMS_URL") or None,
        robots=robots,
        hooks=_prefixed(env, HOOK_PREFIX),
        outbound_allow=allow,
        identity=tuple(
            sorted((k, v.strip()) for k, v in env.items() if k.startswith(IDENTITY_PREFIXES) and v.strip())
        ),
        log_format=(env.get("GONGDAN_LOG_FORMAT") or "text").strip().lower(),
        metrics_token=env.get("GONGDAN_METRICS_TOKEN") or None,
        files_url=env.get("GONGDAN_FILES_URL") or None,
    )


def _mask_pairs(text: str) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        return MASK if text else text
    return "&".join(
        f"{quote(k, safe='')}={MASK if SECRET_NAMES.search(k) else quote(v, safe='@:,')}" for k, v in pairs
    )


def mask_url(url: str) -> str:
    """``url`` with its secrets replaced by ``***``: the password, secret-looking query values,
    token-like path segments and the whole ``#fragment`` (where robot secrets are written)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if has_password else f"{user}@{hostport}"
    path = TOKEN_SEGMENT.sub(MASK, parts.path)
    query = _mask_pairs(parts.query) if parts.query else ""
    fragment = _mask_pairs(parts.fragment) if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def redact(text: str) -> str:
    """Free text (an error, a log line) with every URL in it masked by :func:`mask_url`."""
    return URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
