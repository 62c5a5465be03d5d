"""``/org/events/<provider>``: the contact change events DingTalk, WeCom and Feishu push.

Thin: the raw request goes to engine.org_events (signature, window, replay, the fetch and the
apply); the answer is what the vendor expects, or our JSON error with the reason.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, request

from engine.im_cards import Callback
from engine.org_events import receive
from server.app import platform

bp = Blueprint("org_events", __name__, url_prefix="/org/events")

#: Vendors post small bodies; anything larger is not a change event.
MAX_BODY = 64 * 1024


@bp.route("/<provider>", methods=["GET", "POST"])
def events(provider: str):
    body = request.get_data(cache=False)[: MAX_BODY + 1] if request.method == "POST" else b""
    cb = Callback(request.method, body, request.headers, request.args, time.time())
    site = platform()
    content, mimetype = receive(site.settings, site.db, provider, cb).reply
    return Response(content, mimetype=mimetype)
