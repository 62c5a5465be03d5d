"""``/im/callback/<provider>``: a button pressed on an IM card (DingTalk, WeCom, Feishu).

Thin: the raw request goes to engine.im_cards (signature, window, replay, assignee, the flow action);
the answer is what the vendor expects (the updated card), or our JSON error with the reason.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request

from engine.im_cards import REPLIES, Callback, press, read
from server.app import platform

bp = Blueprint("im_callback", __name__, url_prefix="/im/callback")

#: Vendors post small bodies; anything larger is not a card callback.
MAX_BODY = 64 * 1024


@bp.route("/<provider>", methods=["GET", "POST"])
def callback(provider: str):
    body = request.get_data(cache=False)[: MAX_BODY + 1] if request.method == "POST" else b""
    cb = Callback(request.method, body, request.headers, request.args, time.time())
    found = read(provider, cb)
    if found.answer is not None:  # the vendor's URL check
        if "text" in found.answer:
            return Response(found.answer["text"], mimetype="text/plain")
        return jsonify(found.answer)
    done = press(platform().runtime, found, cb.now)
    content, mimetype = REPLIES[provider](found, done)
    return Response(content, mimetype=mimetype)
