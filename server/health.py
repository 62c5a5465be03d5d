"""Liveness for load balancers and `make run`: answers ok only when the database answers."""

from __future__ import annotations

from flask import Blueprint, jsonify

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
