"""portal pages (filled in by the web issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__)
