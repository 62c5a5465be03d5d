"""Flask app factory: configuration from the environment, one blueprint per area."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.bootstrap import Platform, open_platform
from engine.errors import GongdanError
from engine.i18n import current_lang, known, t

#: Blueprints to register, in order: later issues (portal, inbox, designer, admin) add theirs here.
BLUEPRINTS: list[tuple[str, str]] = [
    ("server.health", "bp"),
    ("server.home", "bp"),
    ("server.api", "bp"),
    ("server.forms", "bp"),
    ("server.inbound", "bp"),
]


def request_lang() -> str:
    """?lang=, else the Accept-Language header, else GONGDAN_LANG."""
    asked = request.args.get("lang")
    if not asked and request.accept_languages:
        asked = request.accept_languages.best_match(["zh", "en", "zh-CN", "en-US"])
    return current_lang(asked)


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
    def _lang() -> None:
        g.lang = request_lang()

    @app.errorhandler(GongdanError)
    def _gongdan_error(exc: GongdanError):
        return jsonify(exc.as_dict(g.get("lang"))), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = f"http.{exc.code}"
        return jsonify(
            {
                "code": code,
                "message": t(code, g.get("lang")) if known(code) else exc.description,
                "problems": [],
            }
        ), exc.code

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        app.logger.exception("unhandled error")
        return jsonify(
            {"code": "error.internal", "message": t("error.internal", g.get("lang")), "problems": []}
        ), 500

    return app


def platform() -> Platform:
    from flask import current_app

    return current_app.extensions["gongdan"]
