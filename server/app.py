"""Flask app factory: configuration from the environment, one blueprint per area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from engine.bootstrap import Platform, open_platform
from engine.errors import GongdanError
from engine.i18n import current_lang, known, t

#: Blueprints to register, in order: later issues (portal, inbox, designer, admin) add theirs here.
BLUEPRINTS: list[tuple[str, str]] = [
    ("server.logging", "bp"),
    ("server.health", "bp"),
    ("server.assets", "bp"),
    ("server.auth", "bp"),
    ("server.home", "bp"),
    ("server.api", "bp"),
    ("server.api.openapi", "docs_bp"),
    ("server.forms", "bp"),
    ("server.inbound", "bp"),
    ("server.pages.portal", "bp"),
    ("server.pages.inbox", "bp"),
    ("server.pages.ticket", "bp"),
    ("server.pages.dashboards", "bp"),
    ("server.pages.admin", "bp"),
    ("server.sso", "bp"),
    ("server.im_callback", "bp"),
    ("server.org_events", "bp"),
    ("server.pages.imports", "bp"),
    ("designer", "bp"),
]

#: Every request body may be MAX_CONTENT_LENGTH bytes (16 MiB) but those of the endpoints here, which
#: have their own limit (called in the request, before anything reads the body): sheets to import.
BODY_LIMITS: dict[str, Callable[[], int]] = {}

#: Sent with every answer: no framing, no sniffing, scripts only from this site.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
}


def request_lang() -> str:
    """?lang=, else the language cookie, else the user's choice, else Accept-Language."""
    from server.auth import lang_for_request

    return lang_for_request(request.args.get("lang"))


def wants_json() -> bool:
    """API paths and clients asking for JSON get JSON errors; people get pages."""
    if request.path.startswith(
        ("/api/", "/inbound/", "/healthz", "/readyz", "/metrics", "/im/", "/org/events/")
    ):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.headers.get("HX-Request") == "true"


def create_app(platform: Platform | None = None, config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(JSON_AS_ASCII=False, MAX_CONTENT_LENGTH=16 * 1024 * 1024)
    app.config.update(config or {})
    app.extensions["gongdan"] = platform or open_platform()
    app.json.ensure_ascii = False

    import importlib

    for module, attr in BLUEPRINTS:
        app.register_blueprint(getattr(importlib.import_module(module), attr))

    @app.before_request
    def _body_limit() -> None:
        limit = BODY_LIMITS.get(request.endpoint or "")
        if limit is not None:
            request.max_content_length = limit()

    @app.before_request
    def _who() -> None:
        from server.auth import authenticate

        g.lang = current_lang(request.args.get("lang"))
        authenticate()
        g.lang = request_lang()

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(GongdanError)
    def _gongdan_error(exc: GongdanError):
        return error_response(exc.as_dict(g.get("lang")), exc.http_status)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc: Exception):
        """The database is down, restarting or unreachable: a clear, retryable 503 instead of a 500."""
        app.logger.warning("database unavailable: %s", type(getattr(exc, "orig", exc)).__name__)
        body = {"code": "error.unavailable", "message": t("error.unavailable", g.get("lang")), "problems": []}
        response = app.make_response(error_response(body, 503))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = f"http.{exc.code}"
        body = {
            "code": code,
            "message": t(code, g.get("lang")) if known(code) else exc.description,
            "problems": [],
        }
        if exc.code == 413 and request.max_content_length:  # say the limit
            limit = request.max_content_length
            body["message"] = t("http.413_limit", g.get("lang"), limit_mb=f"{limit / (1 << 20):.4g}")
        response = error_response(body, exc.code or 500)
        if exc.code == 405 and "Allow" in dict(exc.get_headers()):  # say which methods are allowed
            response = app.make_response(response)
            response.headers["Allow"] = dict(exc.get_headers())["Allow"]
        return response

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(
            {"code": "error.internal", "message": t("error.internal", g.get("lang")), "problems": []}, 500
        )

    return app


def error_response(body: dict[str, Any], status: int):
    """One error shape: JSON for the API, a page (or the login page) for people."""
    if wants_json():
        return jsonify(body), status
    if status == 401:
        from urllib.parse import quote

        from flask import redirect

        return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
    from server.web import page

    return page("error.html", status=status, message=body["message"], problems=body.get("problems", []))


def platform() -> Platform:
    from flask import current_app

    return current_app.extensions["gongdan"]
