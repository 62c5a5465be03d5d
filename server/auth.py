"""Who is asking: the session cookie or an API token becomes ``g.principal``; CSRF on cookie writes.

Every request passes :func:`authenticate` (an ``app.before_request``):

- ``Authorization: Bearer gd_…`` → the token's user, ``g.auth = "token"``, ``g.scopes`` its scopes;
  no CSRF check (a browser never sends it on its own).
- else the ``gongdan_session`` cookie → its user, ``g.auth = "session"``; any POST/PUT/PATCH/DELETE
  must carry the session's CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form field).
- else anonymous (``g.principal = None``): API views answer 401, pages redirect to /login.

Logins are rate-limited per client address (a sliding window, per process) and accounts lock
after repeated failures (engine.auth).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, jsonify, make_response, redirect, render_template, request

from engine import auth
from engine.access import Principal, load_principal
from engine.errors import InputError
from engine.i18n import current_lang, t
from server.app import platform

bp = Blueprint("auth", __name__)

COOKIE = "gongdan_session"
LANG_COOKIE = "gongdan_lang"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_SCOPES = frozenset(auth.TOKEN_SCOPES)  # what a signed-in session may do
#: Paths a cookie-less, token-less client may write to: login itself and signed inbound webhooks.
CSRF_EXEMPT_PREFIXES = ("/api/v1/auth/login", "/login", "/inbound/", "/api/v1/inbound/")
LOGIN_LIMIT = 10  # attempts per client address
LOGIN_WINDOW = 60.0  # seconds


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (in this process)."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one hit; 0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1.0, q[0] + self.window - now)
            q.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                for k in [k for k, v in self._hits.items() if not v][:5_000]:
                    del self._hits[k]
            return 0.0


class RateLimited(auth.GongdanError):
    code = "auth.rate_limited"
    http_status = 429


login_limiter = RateLimiter(LOGIN_LIMIT, LOGIN_WINDOW)


def client_ip() -> str:
    return request.remote_addr or "-"


# ---------------------------------------------------------------------------- per request
def authenticate() -> None:
    """Set g.principal / g.auth / g.scopes / g.csrf for this request (before_request)."""
    g.principal, g.auth, g.scopes, g.csrf = None, None, frozenset(), None
    db = platform().db
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        found = auth.token_principal(db, header[7:].strip())  # one query: token, user, roles
        if found is None:
            raise auth.AuthError("auth.bad_token")
        g.auth, g.scopes = "token", found[0].scopes
        g.principal = found[1]
        return
    cookie = request.cookies.get(COOKIE)
    if cookie:
        signed_in = auth.session_principal(db, cookie)  # one query: session, user, roles
        if signed_in is not None:
            info, g.principal = signed_in
            g.auth, g.csrf = "session", info.csrf_token
            g.scopes = ALL_SCOPES
        else:
            g.session_expired = True
    if request.method in UNSAFE and g.auth == "session" and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        if not hmac.compare_digest(sent, g.csrf or ""):
            raise auth.ForbiddenError("auth.csrf")


def _principal(user_id: int) -> Principal | None:
    with platform().db.read() as conn:
        return load_principal(conn, user_id)


def lang_for_request(asked: str | None) -> str:
    """?lang=, else the language cookie, else the signed-in user's, else Accept-Language."""
    if asked:
        return current_lang(asked)
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie:
        return current_lang(cookie)
    principal = g.get("principal")
    if principal is not None:
        return current_lang(principal.lang)
    best = (
        request.accept_languages.best_match(["zh", "en", "zh-CN", "en-US"])
        if request.accept_languages
        else None
    )
    return current_lang(best)


def current() -> Principal:
    """The signed-in principal; 401 if none."""
    principal = g.get("principal")
    if principal is None:
        raise auth.AuthError("auth.session_expired" if g.get("session_expired") else "auth.required")
    return principal


def require_scope(scope: str) -> Principal:
    """The principal, if their credentials carry ``scope`` (sessions carry all); 403 otherwise."""
    principal = current()
    if scope not in g.scopes:
        raise auth.ForbiddenError("auth.scope_missing", scope=scope)
    if scope == "admin" and not principal.is_admin:
        raise auth.ForbiddenError("auth.forbidden")
    return principal


def require_admin() -> Principal:
    return require_scope("admin")


# ---------------------------------------------------------------------------- login / logout
def _start_session(username: str, password: str):
    wait = login_limiter.hit(client_ip())
    if wait:
        raise RateLimited(seconds=int(wait))
    return auth.login(platform().db, username, password, ip=client_ip())


def _set_cookie(response, token: str, info: auth.SessionInfo) -> None:
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=secure,
        max_age=int(auth.SESSION_MAX.total_seconds()),
    )


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):  # browsers read /\evil.com as //evil.com
        return "/"
    return target


@bp.post("/api/v1/auth/login")
def api_login():
    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        raise InputError("api.login_body")
    token, info = _start_session(body["username"], body["password"])
    principal = _principal(info.user_id)
    response = jsonify({"user": me_json(principal), "csrf_token": info.csrf_token})
    _set_cookie(response, token, info)
    return response


@bp.post("/api/v1/auth/logout")
def api_logout():
    auth.logout(platform().db, request.cookies.get(COOKIE))
    response = jsonify({"signed_out": True})
    response.delete_cookie(COOKIE)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login_page():
    lang = g.lang
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            token, info = _start_session(username, request.form.get("password", ""))
        except (auth.AuthError, RateLimited) as exc:
            error = exc.message(lang)
            status = exc.http_status
        else:
            response = make_response(redirect(safe_next(request.args.get("next"))))
            _set_cookie(response, token, info)
            return response
        return render_template("login.html", lang=lang, error=error, username=username, t=_t(lang)), status
    return render_template("login.html", lang=lang, error=None, username="", t=_t(lang))


@bp.post("/logout")
def logout_page():
    auth.logout(platform().db, request.cookies.get(COOKIE))
    response = make_response(redirect("/login"))
    response.delete_cookie(COOKIE)
    return response


@bp.get("/lang/<code>")
def switch_lang(code: str):
    """Switch the interface language (cookie, and the user's own choice when signed in)."""
    lang = current_lang(code)
    principal = g.get("principal")
    if principal is not None:
        from sqlalchemy import update

        from engine.store.models import User

        with platform().db.write() as conn:
            conn.execute(update(User).where(User.id == principal.user_id).values(lang=lang))
    response = make_response(
        redirect(
            safe_next(request.args.get("next") or (request.referrer and urlparse(request.referrer).path))
        )
    )
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def me_json(principal: Principal | None) -> dict:
    if principal is None:
        return {}
    return {
        "id": principal.user_id,
        "username": principal.username,
        "display_name": principal.display_name,
        "is_admin": principal.is_admin,
        "department_id": principal.department_id,
        "lang": principal.lang,
        "tz": principal.tz,
        "roles": {app: sorted(roles) for app, roles in principal.roles.items()},
        "scopes": dict(principal.scopes),
    }


def _t(lang: str):
    return lambda code, **params: t(code, lang, **params)
