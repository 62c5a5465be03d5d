"""Single sign-on pages: ``/login/<provider>`` → the provider, ``/login/<provider>/callback`` → a
session; LDAP's username + password form posts to ``/login/ldap``; ``/h5/<provider>`` is the
home of the app inside the DingTalk / WeCom / Feishu workbench (sign-in without a password, the
vendor's in-app way; docs/sso.md). And the admin section
"Sign-in & organisation" (``/admin/sso``): providers and their write-only secrets, sync runs, held
syncs to confirm, run now.

Thin: engine.identity does the protocol work, engine.org_sync the sync. The state, nonce and
PKCE verifier of a sign-in wait in a short-lived HttpOnly cookie scoped to /login; the callback
only ever redirects to a local path (server.auth.safe_next).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, make_response, redirect, render_template, request

import engine.identity.messages  # noqa: F401  (the words of these pages)
from engine import identity, org_sync
from engine.auth import ForbiddenError
from engine.errors import GongdanError
from engine.i18n import t, text_of
from engine.identity.base import PendingLogin, SetupError, adapter_class
from engine.identity.signin import (
    begin,
    begin_in_app,
    decode_pending,
    encode_pending,
    finish,
    password_signin,
)
from server.app import platform
from server.auth import RateLimited, _set_cookie, _t, client_ip, current, login_limiter, safe_next
from server.pages.admin import admin_page, show

bp = Blueprint("sso", __name__)

PENDING_COOKIE = "gongdan_sso"
PENDING_AGE = 600  # seconds; engine.identity.signin.PENDING_MINUTES
LOCAL_LOGIN_PATHS = ("/login", "/api/v1/auth/login")


# ---------------------------------------------------------------------------- sign-in pages
def _callback_url(name: str) -> str:
    return f"{platform().settings.base_url}/login/{name}/callback"


def _login_error(exc: GongdanError) -> Any:
    lang = g.lang
    status = exc.http_status if exc.http_status < 500 else 502
    html = render_template("login.html", lang=lang, error=exc.render(lang), username="", t=_t(lang))
    response = make_response(html, status)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


@bp.get("/login/<name>")
def start(name: str):
    """Send the browser to the provider's sign-in page."""
    try:
        if not adapter_class(name).redirect:
            return redirect("/login?" + urlencode({"next": safe_next(request.args.get("next"))}), code=303)
        url, pending = begin(
            platform().settings, platform().db, name, _callback_url(name), safe_next(request.args.get("next"))
        )
    except GongdanError as exc:
        return _login_error(exc)
    return _keep_pending(make_response(redirect(url, code=302)), pending)


def _keep_pending(response: Any, pending: PendingLogin) -> Any:
    """Keep what the callback checks in a short-lived cookie that only /login/... receives."""
    response.set_cookie(
        PENDING_COOKIE,
        encode_pending(pending),
        max_age=PENDING_AGE,
        path="/login",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


@bp.get("/login/<name>/callback")
def callback(name: str):
    """The provider sends the browser back here: check it, open a session, go on."""
    return _finish_login(
        name, request.args.to_dict(), _callback_url(name), lambda exc, _next: _login_error(exc)
    )


def _finish_login(
    name: str,
    params: dict[str, str],
    callback_url: str,
    on_error: Callable[[GongdanError, str], Any],
    in_app: bool = False,
) -> Any:
    """Check what the provider sent back against the pending sign-in, open a session and go on to
    the page the person was going to; ``on_error`` answers a refusal (with that page)."""
    pending = decode_pending(request.cookies.get(PENDING_COOKIE))
    next_path = safe_next(pending.next if pending else "/")
    try:
        token, info = finish(
            platform().settings,
            platform().db,
            name,
            pending,
            params,
            callback_url,
            ip=client_ip(),
            in_app=in_app,
        )
    except GongdanError as exc:
        return on_error(exc, next_path)
    response = make_response(redirect(next_path, code=303))
    response.delete_cookie(PENDING_COOKIE, path="/login")
    _set_cookie(response, token, info)
    return response


# ---------------------------------------------------------------------------- inside the IM workbench (H5)
def _in_app_callback(name: str) -> str:
    return f"{platform().settings.base_url}/login/{name}/h5/callback"


def _vendor(name: str) -> str:
    """The IM vendor's name as its people know it (钉钉, 企业微信, 飞书)."""
    code = f"h5.vendor.{name}"
    text = t(code, g.lang)
    return name[:40] if text == code else text


def _h5_page(name: str, status: int = 200, **values: Any) -> Any:
    html = render_template("h5.html", lang=g.lang, t=_t(g.lang), vendor=_vendor(name), **values)
    return make_response(html, status)


def _h5_error(name: str, exc: GongdanError, next_path: str) -> Any:
    """The reason on a page made for a phone, with a way to try again; a person the vendor knows
    but Gongdan does not is told to ask an admin to sync the organisation."""
    lang = g.lang
    if exc.code == "identity.no_account":
        heading = t("h5.no_account_title", lang)
        text = t("h5.no_account", lang, name=_vendor(name), who=exc.params.get("who", ""))
    else:
        heading, text = t("h5.failed_title", lang), exc.render(lang)
    retry = f"/h5/{name}?" + urlencode({"next": next_path})
    status = exc.http_status if exc.http_status < 500 else 502
    response = _h5_page(name, status, heading=heading, error=text, retry=retry)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


@bp.get("/h5/<name>")
def h5_entry(name: str):
    """The home page a company sets for the Gongdan app in the DingTalk / WeCom / Feishu workbench:
    signed in already → ``next``; else the vendor's in-app sign-in (no password)."""
    next_path = safe_next(request.args.get("next"))
    if g.get("principal") is not None:
        return redirect(next_path, code=303)
    try:
        start, pending = begin_in_app(
            platform().settings, platform().db, name, _in_app_callback(name), next_path
        )
    except GongdanError as exc:
        return _h5_error(name, exc, next_path)
    if start.url:
        return _keep_pending(make_response(redirect(start.url, code=302)), pending)
    page = _h5_page(
        name,
        jsapi=start.jsapi,
        state=pending.state,
        action=f"/login/{name}/h5",
        fallback=f"/login/{name}?" + urlencode({"next": next_path}),
    )
    return _keep_pending(page, pending)


@bp.get("/login/<name>/h5/callback")
def h5_callback(name: str):
    """The vendor's in-app authorisation sends the browser back here with a code (WeCom, Feishu)."""
    return _finish_in_app(name, request.args.to_dict())


@bp.post("/login/<name>/h5")
def h5_code(name: str):
    """Our page posts the code the IM client gave its script (DingTalk's requestAuthCode)."""
    return _finish_in_app(name, request.form.to_dict())


def _finish_in_app(name: str, params: dict[str, str]) -> Any:
    return _finish_login(
        name,
        params,
        _in_app_callback(name),
        lambda exc, next_path: _h5_error(name, exc, next_path),
        in_app=True,
    )


@bp.post("/login/<name>")
def password(name: str):
    """Username + password against a directory (LDAP)."""
    try:
        if adapter_class(name).redirect:
            raise SetupError("identity.not_redirect", name=name)
        wait = login_limiter.hit(client_ip())
        if wait:
            raise RateLimited(seconds=int(wait))
        token, info = password_signin(
            platform().settings,
            platform().db,
            name,
            request.form.get("username", ""),
            request.form.get("password", ""),
            ip=client_ip(),
        )
    except GongdanError as exc:
        return _login_error(exc)
    response = make_response(redirect(safe_next(request.args.get("next")), code=303))
    _set_cookie(response, token, info)
    return response


@bp.before_app_request
def _local_passwords_off() -> Any:
    """When an admin turned password sign-in off (GONGDAN_SIGNIN without ``local``), the password
    forms and API refuse; single sign-on stays."""
    if request.method != "POST" or request.path not in LOCAL_LOGIN_PATHS:
        return None
    if identity.local_allowed(platform().settings):
        return None
    raise ForbiddenError("identity.local_off")


@bp.app_context_processor
def _login_methods() -> dict[str, Any]:
    """What the login page shows: the password form (if on) and a button per provider."""

    def methods() -> list[dict[str, Any]]:
        settings = platform().settings
        out = []
        for name in identity.enabled(settings):
            cls = identity.PROVIDERS.get(name)
            if cls is None:
                continue
            custom = settings.identity_value(f"GONGDAN_{name.upper()}_TITLE")
            out.append(
                {"name": name, "title": custom or text_of(cls.title, g.get("lang")), "redirect": cls.redirect}
            )
        return out

    return {"sso_methods": methods, "local_login": lambda: identity.local_allowed(platform().settings)}


# ---------------------------------------------------------------------------- admin section
def _providers() -> list[dict[str, Any]]:
    settings, db = platform().settings, platform().db
    on = identity.enabled(settings)
    out = []
    for name in sorted(identity.PROVIDERS):
        cls = identity.PROVIDERS[name]
        try:
            identity.provider_config(settings, db, name)
            missing: list[str] = []
        except SetupError as exc:
            missing = [p.path for p in exc.problems]
        out.append(
            {
                "name": name,
                "title": text_of(cls.title, g.lang),
                "on": name in on,
                "missing": missing,
                "secrets": identity.secret_status(db, settings, name),
                "org_source": cls.org_source,
            }
        )
    return out


def _sso_page(status: int = 200, **values: Any) -> Any:
    db = platform().db
    runs = org_sync.runs(db)
    for run in runs:
        run["text"] = org_sync.run_message(run, g.lang)
    notice = values.pop("sso_notice", None)
    return show(
        "pages/admin_sso.html",
        "sso",
        status=status,
        providers=_providers(),
        local_on=identity.local_allowed(platform().settings),
        runs=runs,
        held=[r for r in runs if r["status"] == "held"],
        guard=org_sync.GUARD_PERCENT,
        sso_notice=notice,
        **values,
    )


@bp.get("/admin/sso")
@admin_page
def admin_sso():
    return _sso_page()


@bp.post("/admin/sso/<name>/secret")
@admin_page
def admin_secret(name: str):
    key = request.form.get("key", "")
    value = request.form.get("value", "")
    try:
        identity.set_secret(platform().db, current().user_id, name, key, value, ip=client_ip())
    except GongdanError as exc:
        return _sso_page(
            status=exc.http_status,
            error=exc.message(g.lang),
            problems=[p.as_dict(g.lang) for p in exc.problems],
        )
    code = "sso.admin.secret_saved" if value.strip() else "sso.admin.secret_cleared"
    return _sso_page(sso_notice=t(code, g.lang, name=name, key=key))


@bp.post("/admin/sso/sync/<source>")
@admin_page
def admin_sync(source: str):
    """Run a sync now (``confirm=1``: past the guard, after an admin looked at the held run)."""
    confirm = request.form.get("confirm") == "1"
    try:
        result = org_sync.sync(
            platform().settings, platform().db, source, actor=current().user_id, confirm=confirm
        )
    except GongdanError as exc:
        return _sso_page(
            status=exc.http_status,
            error=exc.message(g.lang),
            problems=[p.as_dict(g.lang) for p in exc.problems],
        )
    return _sso_page(sso_notice=" ".join(org_sync.report_lines(result, g.lang)))
