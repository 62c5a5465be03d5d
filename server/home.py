"""The landing page: what is running and where to go next (the portal and inbox replace it later)."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from engine.i18n import t, text_of
from server.app import platform

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    p = platform()
    lang = g.lang
    return render_template(
        "index.html",
        lang=lang,
        apps=p.runtime.apps(),
        database=p.db.dialect,
        t=lambda code, **params: t(code, lang, **params),
        text_of=lambda value: text_of(value, lang),
    )
