"""One interface for every sign-in provider and organisation source, and the registry of them.

A provider adapter (OIDC, LDAP, DingTalk, WeCom, Feishu) is a subclass of :class:`Provider`
registered by name in :data:`PROVIDERS`. Redirect providers implement :meth:`Provider.authorize_url`
and :meth:`Provider.finish` (the IM vendors also :meth:`Provider.in_app_start`, the sign-in inside
their workbench); password providers (LDAP) implement :meth:`Provider.password_login`;
organisation sources implement :meth:`Provider.sync` (the whole organisation) and
:meth:`Provider.user` / :meth:`Provider.department` (the one object a change event names). They
all talk to the vendor through :class:`Http`, which gives the bounded, rate-limit-aware retries
and pagination guards once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

import engine.identity.h5_messages  # the words of the sign-in inside an IM app
import engine.identity.messages  # noqa: F401  (the words)
from engine.config import Settings, redact
from engine.errors import GongdanError, Problem

#: How many times a rate-limited call is tried before giving up.
MAX_TRIES = 5
#: The longest wait between two tries, whatever the vendor asks for (seconds).
MAX_WAIT = 60.0
#: The most pages one listing may take (a source that pages forever stops with a clear error).
MAX_PAGES = 2000


class SignInError(GongdanError):
    """The sign-in cannot go on: a bad state, a forged token, no account. Nothing was written."""

    code = "identity.token_invalid"
    http_status = 401


class ProviderError(GongdanError):
    """The provider failed: unreachable, an error code, rate-limited for too long, endless pages."""

    code = "identity.vendor_error"
    http_status = 502


class SetupError(GongdanError):
    """The provider is unknown, turned off or not fully configured (each problem names the variable)."""

    code = "identity.setup_incomplete"
    http_status = 409


class UnknownProvider(SetupError):
    code = "identity.unknown_provider"
    http_status = 404


@dataclass(frozen=True)
class Identity:
    """A person as a provider vouches for them after a sign-in (never trusted before verification)."""

    provider: str
    subject: str  # the provider's stable id (OIDC sub, DingTalk unionId, WeCom userid, ...)
    name: str
    email: str | None = None
    mobile: str | None = None
    department_ids: tuple[str, ...] = ()
    username: str | None = None  # a preferred username for a new account


@dataclass(frozen=True)
class OrgDepartment:
    external_id: str
    name: str
    parent_id: str | None  # None (or an id not in the snapshot) = a top department
    head: str | None = None  # subject of the department's head


@dataclass(frozen=True)
class OrgUser:
    subject: str
    name: str
    username: str | None = None
    email: str | None = None
    mobile: str | None = None
    department_ids: tuple[str, ...] = ()  # the first is the main department
    manager: str | None = None  # subject of the manager
    active: bool = True  # False: the source says the person left or is disabled
    #: The id the source's change events name the person by, when it is not ``subject``
    #: (DingTalk's userid beside the unionId); kept so a leave event finds them.
    event_id: str | None = None


@dataclass
class OrgSnapshot:
    """What a source says the organisation is. ``complete`` False (an incremental change list)
    never deactivates anyone who is merely absent from it; only a change list names people who
    left (``gone``: subjects) and departments removed (``gone_departments``: external ids)."""

    departments: list[OrgDepartment] = field(default_factory=list)
    users: list[OrgUser] = field(default_factory=list)
    cursor: str | None = None
    complete: bool = True
    gone: list[str] = field(default_factory=list)
    gone_departments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Setting:
    """One configuration value of a provider: ``GONGDAN_<PROVIDER>_<KEY>`` in the environment."""

    key: str
    required: bool = True
    secret: bool = False
    default: str | None = None
    help: str = ""

    def env(self, provider: str) -> str:
        return f"GONGDAN_{provider.upper()}_{self.key.upper()}"


@dataclass(frozen=True)
class PendingLogin:
    """What the site keeps between the redirect and the callback (in a short-lived cookie)."""

    provider: str
    state: str
    nonce: str
    verifier: str  # the PKCE code verifier
    next: str = "/"
    created: float = 0.0

    @property
    def challenge(self) -> str:
        """The S256 PKCE challenge of the verifier (RFC 7636)."""
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class InAppStart:
    """How a sign-in inside the IM app's workbench (H5) begins: ``url``, a page of the vendor the
    browser goes to (it comes back to our callback), or ``jsapi``, what our page's script needs to
    ask the IM client for a code itself (DingTalk's corpId)."""

    url: str = ""
    jsapi: Mapping[str, str] = field(default_factory=dict)


Sleeper = Callable[[float], None]


class Http:
    """JSON over HTTP with bounded retries: a 429/503 (or a vendor's rate-limit code) waits as long
    as the answer says (Retry-After), else backs off exponentially, at most ``tries`` times.
    ``sleeper`` is injected so tests never sleep."""

    def __init__(
        self,
        provider: str,
        client: httpx.Client | None = None,
        sleeper: Sleeper = time.sleep,
        tries: int = MAX_TRIES,
        max_pages: int = MAX_PAGES,
    ):
        self.provider = provider
        self.client = client or shared_client()
        self.sleeper = sleeper
        self.tries = tries
        self.max_pages = max_pages

    def call(
        self,
        method: str,
        url: str,
        *,
        limited: Callable[[Any], bool] = lambda body: False,
        check: Callable[[Any, str], None] = lambda body, url: None,
        **kwargs: Any,
    ) -> Any:
        """The JSON answer of one call; ``limited(body)`` says a vendor's rate-limit code,
        ``check(body, url)`` raises the vendor's other error codes."""
        shown = redact(url.split("?", 1)[0])
        for attempt in range(1, self.tries + 1):
            try:
                answer = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise ProviderError(
                    "identity.unreachable", name=self.provider, url=shown, reason=type(exc).__name__
                ) from None
            body = _json(answer)
            if answer.status_code in (429, 503) or (answer.status_code < 400 and limited(body)):
                if attempt == self.tries:
                    raise ProviderError("identity.rate_limited", name=self.provider, tries=attempt, url=shown)
                self.sleeper(_wait(answer, attempt))
                continue
            if answer.status_code >= 400 and not isinstance(body, dict):
                raise ProviderError(
                    "identity.http_error", name=self.provider, status=answer.status_code, url=shown
                )
            if body is None:
                raise ProviderError("identity.bad_answer", name=self.provider, url=shown, reason="not JSON")
            check(body, shown)
            if answer.status_code >= 400:
                raise ProviderError(
                    "identity.http_error", name=self.provider, status=answer.status_code, url=shown
                )
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, url: str, fetch: Callable[[str | None], tuple[list[Any], str | None]]) -> Iterator[Any]:
        """Every item of a paged listing: ``fetch(cursor)`` gives (items, next cursor or None).
        Stops with a clear error when the cursor does not move or the pages never end."""
        cursor: str | None = None
        seen: set[str] = set()
        shown = redact(url.split("?", 1)[0])
        for _ in range(self.max_pages):
            items, cursor = fetch(cursor)
            yield from items
            if not cursor:
                return
            if cursor in seen:
                raise ProviderError("identity.cursor_stuck", name=self.provider, url=shown)
            seen.add(cursor)
        raise ProviderError("identity.pages_forever", name=self.provider, pages=self.max_pages, url=shown)


_CLIENT: list[httpx.Client] = []


def shared_client() -> httpx.Client:
    """One HTTP client (its connection pool) for every provider call of the process; thread-safe."""
    if not _CLIENT:
        _CLIENT.append(httpx.Client(timeout=15.0, follow_redirects=False))
    return _CLIENT[0]


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _wait(answer: httpx.Response, attempt: int) -> float:
    """How long the answer asks us to wait (Retry-After seconds), else 1, 2, 4 ... seconds."""
    header = answer.headers.get("Retry-After", "")
    try:
        asked = float(header)
    except ValueError:
        asked = 2.0 ** (attempt - 1)
    return min(max(asked, 0.0), MAX_WAIT)


class Provider:
    """The interface of a sign-in provider / organisation source (see the module docstring)."""

    name: ClassVar[str]
    title: ClassVar[dict[str, str]]  # shown on the sign-in button
    settings: ClassVar[tuple[Setting, ...]] = ()
    redirect: ClassVar[bool] = True  # signs in by a redirect (else username + password)
    org_source: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, str], http: Http):
        self.config = dict(config)
        self.http = http

    # ------------------------------------------------------------------ sign-in by redirect
    def authorize_url(self, pending: PendingLogin, redirect_uri: str) -> str:
        raise SetupError("identity.not_redirect", name=self.name)

    def finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        raise SetupError("identity.not_redirect", name=self.name)

    # ------------------------------------------------------------------ sign-in inside the IM app (H5)
    def in_app_start(self, pending: PendingLogin, redirect_uri: str) -> InAppStart:
        raise SetupError("identity.no_in_app", name=self.name)

    def in_app_finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        """Who came back from the in-app sign-in; the web sign-in's answer unless the vendor differs."""
        return self.finish(params, pending, redirect_uri)

    # ------------------------------------------------------------------ sign-in by password
    def password_login(self, username: str, password: str) -> Identity:
        raise SetupError("identity.not_redirect", name=self.name)

    # ------------------------------------------------------------------ organisation
    def sync(self, cursor: str | None = None) -> OrgSnapshot:
        raise SetupError("identity.not_org_source", name=self.name, known=", ".join(org_sources()))

    def user(self, ident: str) -> OrgUser | None:
        """One person as the source has them now, by the id its change events carry; None when the
        source no longer has them (deleted)."""
        raise SetupError("identity.not_org_source", name=self.name, known=", ".join(org_sources()))

    def department(self, ident: str) -> OrgDepartment | None:
        """One department as the source has it now (its parent None at the top); None when deleted."""
        raise SetupError("identity.not_org_source", name=self.name, known=", ".join(org_sources()))

    # ------------------------------------------------------------------ helpers
    def base(self, key: str) -> str:
        return self.config[key].rstrip("/")

    def code_of(self, params: Mapping[str, str], key: str = "code") -> str:
        """The authorization code of a callback, or why there is none."""
        error = params.get("error") or params.get("error_description")
        if error:
            raise SignInError("identity.provider_refused", name=self.name, error=str(error)[:200])
        code = params.get(key)
        if not code:
            raise SignInError("identity.code_missing", name=self.name)
        return code


#: name → adapter class. Adapters register themselves with :func:`provider`.
PROVIDERS: dict[str, type[Provider]] = {}


class VendorAnswers:
    """For vendors that answer HTTP 200 with an error code in the body (DingTalk, WeCom, Feishu):
    which codes mean "slow down" and how any other code becomes a ProviderError."""

    name: str
    code_key: ClassVar[str] = "errcode"
    message_key: ClassVar[str] = "errmsg"
    rate_codes: ClassVar[frozenset[Any]] = frozenset()

    def _limited(self, body: Any) -> bool:
        return isinstance(body, dict) and body.get(self.code_key) in self.rate_codes

    def _check_found(self, missing: frozenset[Any]) -> Callable[[Any, str], None]:
        """``_check`` that lets the ``missing`` codes (no such user / department) through: the
        caller reads them as None."""

        def check(body: Any, url: str) -> None:
            if not (isinstance(body, dict) and body.get(self.code_key) in missing):
                self._check(body, url)

        return check

    def _check(self, body: Any, url: str) -> None:
        if not isinstance(body, dict):
            raise ProviderError("identity.bad_answer", name=self.name, url=url, reason="not an object")
        if body.get(self.code_key) not in (None, 0):
            raise ProviderError(
                "identity.vendor_error",
                name=self.name,
                errcode=body.get(self.code_key),
                detail=str(body.get(self.message_key))[:200],
                url=url,
            )


def provider(cls: type[Provider]) -> type[Provider]:
    PROVIDERS[cls.name] = cls
    return cls


def org_sources() -> list[str]:
    return sorted(n for n, c in PROVIDERS.items() if c.org_source)


def enabled(settings: Settings) -> list[str]:
    """The sign-in methods turned on (GONGDAN_SIGNIN, default ``local``), in the order written."""
    raw = settings.identity_value("GONGDAN_SIGNIN") or "local"
    return [m.strip().lower() for m in raw.split(",") if m.strip()]


def local_allowed(settings: Settings) -> bool:
    return "local" in enabled(settings)


def adapter_class(name: str) -> type[Provider]:
    cls = PROVIDERS.get(name)
    if cls is None:
        raise UnknownProvider(name=name[:40], known=", ".join(sorted(PROVIDERS)))
    return cls


def config_problems(cls: type[Provider], values: Mapping[str, str | None]) -> list[Problem]:
    return [
        Problem(s.env(cls.name), "identity.setting_missing")
        for s in cls.settings
        if s.required and not values.get(s.key)
    ]
