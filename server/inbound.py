"""Inbound messages over HTTP: ``POST /api/v1/inbound/<app>/<channel>``.

Each channel has a reader that authenticates the request and turns its body into a message of the
shape ``engine.rules.inbound.receive`` takes (or into an answer given at once, like Feishu's URL check):
- ``webhook``, ``email``, ``wecom``: the generic JSON webhook, signed ``X-Gongdan-Signature:
  sha256=<hex HMAC-SHA256 of the raw body>`` with ``GONGDAN_INBOUND_SECRET``; the body's ``timestamp``
  (Unix seconds, inside the signed bytes) must be within five minutes of the server's clock;
- ``dingtalk``: the outgoing robot's callback, headers ``timestamp`` (ms) and ``sign`` =
  Base64(HMAC-SHA256(app secret, timestamp + "\\n" + app secret)) with ``GONGDAN_INBOUND_DINGTALK_SECRET``;
- ``feishu``: the event callback (schema 2.0, ``im.message.receive_v1``), verified by its token
  ``GONGDAN_INBOUND_FEISHU_TOKEN``; the ``url_verification`` challenge is answered.
Bodies over 1 MiB are refused with 413. See docs/inbound.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, jsonify, request

from engine.errors import GongdanError, InputError, NotFoundError
from engine.i18n import t
from engine.jobs.channels import dingtalk_sign, sign
from engine.rules.inbound import CHANNELS, MAX_BODY_BYTES, Received, TooLarge, receive
from server.app import platform

bp = Blueprint("inbound", __name__, url_prefix="/api/v1/inbound")

#: A signed request older (or newer) than this is refused as a replay.
REPLAY_WINDOW_S = 300
WEBHOOK_SECRET = "GONGDAN_INBOUND_SECRET"
DINGTALK_SECRET = "GONGDAN_INBOUND_DINGTALK_SECRET"
FEISHU_TOKEN = "GONGDAN_INBOUND_FEISHU_TOKEN"
FEISHU_MENTION = re.compile(r"@_user_\d+\s*")


class Refused(GongdanError):
    """A request that did not prove where it came from (or came too late): nothing was read."""

    code = "inbound.bad_signature"
    http_status = 401


@dataclass(frozen=True)
class Reading:
    """What a request carried: a message to receive, or an answer to give at once."""

    message: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None


Reader = Callable[[str, bytes, Mapping[str, str], Mapping[str, str], float], Reading]
READERS: dict[str, Reader] = {}


def reader(*channels: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        for name in channels:
            READERS[name] = fn
        return fn

    return register


def setting(name: str) -> str | None:
    """A secret from the environment (read per request, so a changed one needs no restart to apply)."""
    return os.environ.get(name) or None


@bp.post("/<app>/<channel>")
def receive_message(app: str, channel: str):
    if channel not in CHANNELS:
        raise NotFoundError("inbound.unknown_channel", channel=channel, known=", ".join(CHANNELS))
    reading = READERS[channel](channel, _body(), request.headers, request.args, time.time())
    if reading.answer is not None:
        return jsonify(reading.answer)
    received = receive(platform().runtime, app, reading.message or {})
    if channel == "dingtalk":  # the robot posts the answer into the chat
        return jsonify({"msgtype": "text", "text": {"content": _robot_reply(received)}})
    return jsonify(dataclasses.asdict(received)), 201 if received.created else 200


# ----------------------------------------------------------------------------- readers
@reader("webhook", "email", "wecom")
def read_signed_json(
    channel: str, body: bytes, headers: Mapping[str, str], args: Mapping[str, str], now: float
) -> Reading:
    """The generic webhook: the message as JSON plus ``timestamp``, signed over the raw body."""
    secret = _secret(WEBHOOK_SECRET)
    given = headers.get("X-Gongdan-Signature")
    if not given:
        raise Refused("inbound.no_signature", header="X-Gongdan-Signature")
    if not _same(given.strip(), sign(body, secret)):
        raise Refused("inbound.bad_signature", setting=WEBHOOK_SECRET)
    data = _json(body)
    _fresh(data.get("timestamp"), now, per_second=1)
    return Reading(message={**{k: v for k, v in data.items() if k != "timestamp"}, "channel": channel})


@reader("dingtalk")
def read_dingtalk(
    channel: str, body: bytes, headers: Mapping[str, str], args: Mapping[str, str], now: float
) -> Reading:
    """DingTalk's outgoing robot: a text someone @-mentioned the robot with. ``?to=NAME`` names the robot
    (its own secret may be set as ``GONGDAN_INBOUND_DINGTALK_SECRET_<NAME>``)."""
    robot = args.get("to")
    own = setting(f"{DINGTALK_SECRET}_{robot.upper()}") if robot else None
    secret = own or _secret(DINGTALK_SECRET)
    stamp, given = headers.get("timestamp"), headers.get("sign")
    if not stamp or not given:
        raise Refused("inbound.no_signature", header="timestamp, sign")
    if not _same(given.strip(), dingtalk_sign(stamp, secret)):
        raise Refused("inbound.bad_signature", setting=DINGTALK_SECRET)
    _fresh(stamp, now, per_second=1000)
    data = _json(body)
    content = (data.get("text") or {}).get("content") if isinstance(data.get("text"), Mapping) else None
    sender = {"name": data.get("senderNick"), "im_id": data.get("senderStaffId") or data.get("senderId")}
    return Reading(
        message={
            "channel": channel,
            "message_id": data.get("msgId"),
            "sender": sender,
            "to": robot or data.get("robotCode") or data.get("chatbotUserId") or [],
            "text": content.strip() if isinstance(content, str) else None,
            "received_at": _from_ms(data.get("createAt")),
        }
    )


@reader("feishu")
def read_feishu(
    channel: str, body: bytes, headers: Mapping[str, str], args: Mapping[str, str], now: float
) -> Reading:
    """Feishu/Lark event callbacks (schema 2.0): the URL check, and messages sent to the bot."""
    token = _secret(FEISHU_TOKEN)
    data = _json(body)
    if "encrypt" in data:
        raise InputError("inbound.feishu_encrypted")
    if data.get("type") == "url_verification":
        if not _same(str(data.get("token") or ""), token):
            raise Refused("inbound.bad_token", setting=FEISHU_TOKEN)
        return Reading(answer={"challenge": data.get("challenge")})
    header = data.get("header") if isinstance(data.get("header"), Mapping) else {}
    if not _same(str(header.get("token") or ""), token):
        raise Refused("inbound.bad_token", setting=FEISHU_TOKEN)
    event = data.get("event") if isinstance(data.get("event"), Mapping) else {}
    message, sender = event.get("message") or {}, event.get("sender") or {}
    kind = header.get("event_type")
    if kind != "im.message.receive_v1" or sender.get("sender_type") != "user":
        return Reading(answer={"ignored": kind or "-"})  # 200, or Feishu sends it again
    ids = sender.get("sender_id") or {}
    return Reading(
        message={
            "channel": channel,
            "message_id": message.get("message_id"),
            "sender": {"im_id": ids.get("user_id") or ids.get("open_id")},
            "to": args.get("to") or header.get("app_id") or [],
            "text": _feishu_text(message.get("message_type"), message.get("content")),
            "in_reply_to": message.get("parent_id") or None,
            "received_at": _from_ms(message.get("create_time")),
        }
    )


# ----------------------------------------------------------------------------- helpers
def _body() -> bytes:
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise TooLarge(what="body", size=declared, limit=MAX_BODY_BYTES)
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(what="body", size=f">{MAX_BODY_BYTES}", limit=MAX_BODY_BYTES)
    return body


def _secret(name: str) -> str:
    value = setting(name)
    if value is None:
        raise Refused("inbound.not_configured", setting=name)
    return value


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError("inbound.bad_json", reason=str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise InputError("inbound.bad_json", reason="not an object")
    return data


def _fresh(stamp: Any, now: float, per_second: int) -> None:
    try:
        sent = int(stamp) / per_second
    except (TypeError, ValueError):
        raise Refused("inbound.bad_timestamp", value=str(stamp)[:40]) from None
    age = abs(now - sent)
    if age > REPLAY_WINDOW_S:
        raise Refused("inbound.stale", age=int(age), window=REPLAY_WINDOW_S)


def _from_ms(value: Any) -> str | None:
    try:
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _feishu_text(kind: Any, content: Any) -> str | None:
    """The text of a Feishu message: ``text`` as typed (mentions dropped), ``post`` as its title and
    text runs; other kinds carry none."""
    try:
        parsed = json.loads(content) if isinstance(content, str) else {}
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    if kind == "text":
        text = parsed.get("text")
        return FEISHU_MENTION.sub("", text).strip() if isinstance(text, str) else None
    if kind == "post":
        lines = [parsed.get("title") or ""]
        for paragraph in parsed.get("content") or ():
            runs = paragraph if isinstance(paragraph, list) else ()
            lines.append(
                "".join(r["text"] for r in runs if isinstance(r, dict) and isinstance(r.get("text"), str))
            )
        return "\n".join(line for line in lines if line).strip() or None
    return None


def _robot_reply(received: Received) -> str:
    code = (
        "inbound.robot.created" if received.created or not received.commented else "inbound.robot.commented"
    )
    return t(code, g.get("lang"), number=received.number)
