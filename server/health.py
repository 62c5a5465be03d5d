"""Probes and figures for load balancers and monitoring (docs/deploy.md).

* ``/healthz`` — liveness: the process answers and so does its database (kept as before, load
  balancers and `make run` use it);
* ``/readyz`` — readiness: database reachable, schema at the head this code expects, job queue
  reachable; 503 with one message per failing check (what is wrong, what to do);
* ``/metrics`` — Prometheus text (engine/observability.py). Who may read it: a request with
  ``Authorization: Bearer $GONGDAN_METRICS_TOKEN`` (checked before sign-in, so the scraper needs no
  user), a signed-in admin, or — only while no metrics token is configured — a client on this
  machine (loopback address, and not forwarded by a proxy: no ``X-Forwarded-For``).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, g, jsonify, request

from engine.i18n import t
from engine.observability import readiness, render_metrics
from server.app import platform

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    p = platform()
    try:
        p.db.ping()
    except Exception as exc:  # report, never crash the probe
        return jsonify({"status": "error", "database": p.db.dialect, "error": type(exc).__name__}), 503
    return jsonify({"status": "ok", "database": p.db.dialect})


@bp.get("/readyz")
def readyz():
    p = platform()
    result = readiness(p.db, p.queue.huey, g.get("lang"))
    body = {"status": "ready" if result["ready"] else "not_ready", "checks": result["checks"]}
    return jsonify(body), 200 if result["ready"] else 503


def _metrics_token_sent() -> bool:
    token = platform().settings.metrics_token
    header = request.headers.get("Authorization", "")
    if not token or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


def _from_this_machine() -> bool:
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _metrics() -> Response:
    body, content_type = render_metrics(platform().db)
    return Response(body, content_type=content_type)


@bp.before_app_request
def _scraper():
    """A scraper with the metrics token is answered here, before sign-in would refuse its token."""
    if request.path == "/metrics" and request.method == "GET" and _metrics_token_sent():
        return _metrics()
    return None


@bp.get("/metrics")
def metrics():
    principal = g.get("principal")
    allowed = (principal is not None and principal.is_admin) or (
        not platform().settings.metrics_token and _from_this_machine()
    )
    if not allowed:
        import engine.ops_messages  # noqa: F401

        refusal = t("ops.metrics_forbidden", g.get("lang")) + "\n"
        return Response(refusal, status=403, content_type="text/plain")
    return _metrics()
