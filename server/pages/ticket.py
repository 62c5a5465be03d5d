"""ticket pages (filled in by the web issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ticket", __name__)
