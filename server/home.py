"""The landing page: signed-in people go to where their work starts; visitors see what this is.

People without a role in any app (customers, employees asking for something) start at the portal;
agents, approvers and admins at their inbox. An anonymous visitor gets the product page with the
published apps and a sign-in link.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request

from engine.i18n import register
from server.app import platform
from server.web import page

bp = Blueprint("home", __name__, template_folder="templates")

register(
    {
        "web.sign_in_to_start": {
            "zh": "登录后即可提交工单、处理待办。",
            "en": "Sign in to submit tickets and work on your tasks.",
        },
    }
)


@bp.get("/")
def index():
    principal = g.get("principal")
    if principal is not None:
        staff = principal.is_admin or any(principal.roles.values())
        target = "/inbox" if staff else "/portal"
        lang = request.args.get("lang")
        return redirect(target + (f"?lang={lang}" if lang in ("zh", "en") else ""))
    p = platform()
    return page("index.html", apps=p.runtime.apps(), database=p.db.dialect)
