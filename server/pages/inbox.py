"""inbox pages (filled in by the web issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inbox", __name__)
