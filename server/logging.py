"""One log line per request, a request id on every answer, and the request metrics.

``X-Request-Id``: taken from the request when it looks like an id (a proxy or the caller set it),
otherwise made up here; sent back on the answer and written on the request's log line, so one
request can be followed from the load balancer through the logs.

With ``GONGDAN_LOG_FORMAT=json`` every log line of the process is one JSON object
(engine/observability.py); the request line carries time, level, request_id, method, path (never
the query string, which may hold tokens), status, duration_ms and user_id — never cookies,
headers, bodies or passwords. In text mode gunicorn's access log already has a line per request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, g, request

from engine.observability import configure_logging, observe_request

bp = Blueprint("request_log", __name__)
log = logging.getLogger("gongdan.request")
REQUEST_ID = "X-Request-Id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@bp.record_once
def _setup(state) -> None:
    settings = state.app.extensions["gongdan"].settings
    state.app.config["GONGDAN_JSON_LOGS"] = settings.log_format == "json"
    if settings.log_format == "json":
        configure_logging("json")


@bp.before_app_request
def _start() -> None:
    g.started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID, "")
    g.request_id = sent if _GOOD_ID.fullmatch(sent) else uuid.uuid4().hex


@bp.after_app_request
def _finish(response):
    from flask import current_app

    started = g.get("started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID] = request_id
    endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    observe_request(request.method, endpoint, response.status_code, seconds)
    if current_app.config.get("GONGDAN_JSON_LOGS"):
        principal = g.get("principal")
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "user_id": principal.user_id if principal is not None else None,
            },
        )
    return response
