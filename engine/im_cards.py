"""Approvals from inside the IM apps: interactive cards out, signed button presses back in.

Out: a ``notify`` action with ``card: approval`` on a dingtalk / wecom / feishu channel carries the
ticket's open task (:func:`card_for`); the channel then sends the vendor's interactive card
(``CARD_BUILDERS``: DingTalk ActionCard ``btns``, WeCom template card ``button_interaction``, Feishu
interactive card ``actions``) with Approve / Reject / Open buttons. Each Approve/Reject button
carries our own token (:func:`button_token`: HMAC-SHA256 of task id, action and expiry with the
deployment secret), so a forged button fails before anything else is looked at.

In: ``POST /im/callback/<provider>`` (server/im_callback.py) hands the raw request to the provider's
reader (``READERS``): it checks the vendor's signature (DingTalk: ``timestamp`` + ``sign`` =
Base64(HMAC-SHA256(app secret, timestamp + "\\n" + app secret)); WeCom: ``msg_signature`` = SHA1 of
the sorted token, timestamp, nonce and ciphertext, then AES-256-CBC with the EncodingAESKey;
Feishu: ``X-Lark-Signature`` = SHA256(timestamp + nonce + encrypt key + body), AES when encrypted)
and the 5-minute window. :func:`press` then refuses a replay (a ``callback_nonces`` row per accepted
press), finds the Gongdan user behind the IM user id (``user_identities``), requires them to be the
task's current assignee and acts through the Runtime — as if they had pressed the button in the
inbox. The reader's ``reply`` answers what the vendor expects (the card updated: "approved by X").
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from engine.config import load_settings
from engine.errors import GongdanError
from engine.i18n import register, t
from engine.store.models import CallbackNonce, Task, User, UserIdentity

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

register(
    {
        "im.approve": {"zh": "同意", "en": "Approve"},
        "im.reject": {"zh": "拒绝", "en": "Reject"},
        "im.open": {"zh": "查看工单", "en": "Open ticket"},
        "im.done.approve": {"zh": "已由 {name} 同意", "en": "Approved by {name}"},
        "im.done.reject": {"zh": "已由 {name} 拒绝", "en": "Rejected by {name}"},
        "im.done.complete": {"zh": "已由 {name} 处理", "en": "Done by {name}"},
        "im.card_text": {
            "zh": "{text}\n\n工单 {number} · 阶段:{stage}",
            "en": "{text}\n\nTicket {number} · stage: {stage}",
        },
        "im.unknown_provider": {
            "zh": "未知的 IM 平台 {provider}。可选:{known}。",
            "en": "Unknown IM provider {provider}. Known: {known}.",
        },
        "im.not_configured": {
            "zh": "服务器未配置 {setting},无法校验 {provider} 的回调。请管理员在环境变量中设置它。",
            "en": "The server has no {setting}, so {provider} callbacks cannot be checked. "
            "An admin sets it in the environment.",
        },
        "im.no_signature": {
            "zh": "回调缺少签名({what})。请在 {provider} 开放平台配置回调地址,由平台签名发送。",
            "en": "The callback is not signed ({what} missing). Configure the callback URL in the {provider} "
            "developer console so that the platform signs it.",
        },
        "im.bad_signature": {
            "zh": "回调签名不正确。请核对服务器上的 {setting} 与 {provider} 开放平台中的是否一致。",
            "en": "The callback's signature is wrong. Check that {setting} on the server matches "
            "the one in the {provider} developer console.",
        },
        "im.expired": {
            "zh": "回调的时间戳与服务器时间相差超过 5 分钟,已拒绝(可能是重放或时钟不准)。请校准服务器时钟。",
            "en": "The callback's timestamp is more than 5 minutes from the server's clock; refused "
            "(a replay, or a clock that is off). Check the server's clock.",
        },
        "im.replayed": {
            "zh": "这个回调已经处理过了(重放),未再次执行。",
            "en": "This callback was handled already (a replay); nothing was done again.",
        },
        "im.bad_body": {
            "zh": "无法读取回调内容({reason})。",
            "en": "The callback's body cannot be read ({reason}).",
        },
        "im.forged_button": {
            "zh": "按钮无效(签名不符),未执行任何操作。请在工单页面中处理。",
            "en": "The button is not valid (its signature does not match); nothing was done. "
            "Act on the ticket page instead.",
        },
        "im.button_expired": {
            "zh": "这张卡片的按钮已过期,请打开工单页面处理。",
            "en": "This card's buttons have expired; open the ticket page to act.",
        },
        "im.unknown_user": {
            "zh": "{provider} 用户 {subject} 未绑定工单系统账号。"
            "请先用 {provider} 登录一次工单系统,或请管理员同步组织架构。",
            "en": "The {provider} user {subject} is not linked to a Gongdan account. Sign in to Gongdan with "
            "{provider} once, or ask an admin to sync the organisation.",
        },
        "im.not_assignee": {
            "zh": "{name} 不是此待办的当前处理人,不能在卡片上操作。",
            "en": "{name} is not the current assignee of this task and cannot act on it from the card.",
        },
        "im.task_not_open": {
            "zh": "此待办已处理(状态:{status}),卡片上的按钮不再有效。",
            "en": "This task was handled already (status: {status}); the card's buttons no longer apply.",
        },
    }
)

SECRET_ENV = "GONGDAN_SECRET_KEY"
DINGTALK_SECRET = "GONGDAN_IM_DINGTALK_APP_SECRET"
#: The same DingTalk app's secret as the sign-in configures it (docs/sso.md): used when ours is unset.
DINGTALK_CLIENT_SECRET = "GONGDAN_DINGTALK_CLIENT_SECRET"
WECOM_TOKEN = "GONGDAN_IM_WECOM_TOKEN"
WECOM_AES_KEY = "GONGDAN_IM_WECOM_AES_KEY"
WECOM_CORP_ID = "GONGDAN_IM_WECOM_CORP_ID"
FEISHU_ENCRYPT_KEY = "GONGDAN_IM_FEISHU_ENCRYPT_KEY"
#: A callback whose timestamp is further than this from our clock is refused.
WINDOW_S = 300
#: How long a card's buttons work.
BUTTON_TTL_S = 7 * 24 * 3600
CARD_ACTIONS = ("approve", "reject")


class CallbackRefused(GongdanError):
    """A button press that is not done: why, and nothing was changed."""

    code = "im.bad_signature"
    http_status = 401

    def __init__(self, code: str, http_status: int = 401, **params: Any):
        super().__init__(code, **params)
        self.http_status = http_status


# ============================================================================ our token on buttons
def deployment_secret() -> bytes:
    """``GONGDAN_SECRET_KEY``, else a random key kept in ``<GONGDAN_HOME>/secret_key`` (made once)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode()
    path = Path(load_settings().home) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _mac(task_id: int, action: str, expires: int) -> str:
    message = f"{task_id}:{action}:{expires}".encode()
    return hmac.new(deployment_secret(), message, hashlib.sha256).hexdigest()[:40]


def button_token(task_id: int, action: str, expires: int | None = None) -> str:
    """``task.action.expiry.mac``: what a card button carries back."""
    expires = expires if expires is not None else int(time.time()) + BUTTON_TTL_S
    return f"{task_id}.{action}.{expires}.{_mac(task_id, action, expires)}"


def read_token(token: Any, now: float) -> tuple[int, str]:
    """(task id, action) of a genuine, unexpired button token; CallbackRefused otherwise."""
    parts = str(token or "").split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit() or parts[1] not in CARD_ACTIONS:
        raise CallbackRefused("im.forged_button", 403)
    task_id, action, expires = int(parts[0]), parts[1], int(parts[2])
    if not hmac.compare_digest(parts[3], _mac(task_id, action, expires)):
        raise CallbackRefused("im.forged_button", 403)
    if expires < now:
        raise CallbackRefused("im.button_expired", 403)
    return task_id, action


# ============================================================================ cards out
def card_for(
    work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any], lang: str
) -> dict[str, Any] | None:
    """The card part of a robot payload: the ticket's open task (at the origin's node if it names one)
    with a token per button; None when the notification concerns no open task."""
    if value.get("card") != "approval":
        return None
    T = Task.__table__
    q = select(T.c.id, T.c.node_id).where(
        T.c.instance_id == work.instance.id, T.c.status == "open", T.c.kind == "approval"
    )
    if origin.get("node"):
        q = q.where(T.c.node_id == origin["node"])
    task = work.conn.execute(q.order_by(T.c.id.desc()).limit(1)).first()
    if task is None:
        return None
    expires = int(work.now.timestamp()) + BUTTON_TTL_S
    return {
        "kind": "approval",
        "task": task.id,
        "number": work.ticket.number,
        "buttons": [
            {"action": a, "label": t(f"im.{a}", lang), "value": button_token(task.id, a, expires)}
            for a in CARD_ACTIONS
        ],
        "open_label": t("im.open", lang),
    }


def _buttons(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((payload.get("card") or {}).get("buttons") or ())


#: Where DingTalk's in-app sign-in starts (server/sso.py ``/h5/<provider>``, docs/sso.md).
DINGTALK_H5 = "/h5/dingtalk"
TICKET_PATH = "/tickets/"


def dingtalk_h5_url(link: str, **query: str) -> str:
    """The ticket ``link`` (absolute, under GONGDAN_BASE_URL) opened through DingTalk's in-app sign-in:
    ``<base>/h5/dingtalk?next=<the ticket's local path, with query>``, ``next`` encoded whole (its
    ``?``, ``&`` and ``=`` as %3F, %26, %3D). A link to no ticket page is left as it is."""
    base, found, rest = link.rpartition(TICKET_PATH)
    if not found:
        return link
    path = TICKET_PATH + rest
    if query:
        path += ("&" if "?" in path else "?") + urlencode(query)
    return f"{base}{DINGTALK_H5}?{urlencode({'next': path})}"


def dingtalk_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An ActionCard with one button per action and one to the ticket. A group robot's buttons can
    only open a URL: each goes through DingTalk's in-app sign-in (:func:`dingtalk_h5_url`) to the
    ticket page with ``act`` and ``button`` (our token), where the signed-in assignee confirms the
    action in one tap (server/pages/ticket.py); Open goes the same way to the plain ticket page. The
    same token comes back from an app's interactive card through /im/callback/dingtalk."""
    card, link = payload["card"], str(payload.get("link") or "")
    title = str(payload.get("title") or "")
    btns = [
        {"title": b["label"], "actionURL": dingtalk_h5_url(link, act=b["action"], button=b["value"])}
        for b in _buttons(payload)
    ]
    btns.append(
        {
            "title": card.get("open_label") or t("im.open", payload.get("lang")),
            "actionURL": dingtalk_h5_url(link),
        }
    )
    return {
        "msgtype": "actionCard",
        "actionCard": {
            "title": title,
            "text": f"### {title}\n\n{payload.get('text') or ''}",
            "btnOrientation": "1",
            "btns": btns,
        },
    }


def wecom_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A template card of type button_interaction: each button's ``key`` is our token."""
    card = payload["card"]
    return {
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {
                "title": str(payload.get("title") or "")[:36],
                "desc": str(card.get("number") or ""),
            },
            "sub_title_text": str(payload.get("text") or "")[:200],
            "card_action": {"type": 1, "url": str(payload.get("link") or "")},
            "task_id": f"gongdan-{card['task']}-{int(time.time())}",
            "button_list": [
                {"text": b["label"], "style": 1 if b["action"] == "approve" else 2, "key": b["value"]}
                for b in _buttons(payload)
            ],
        },
    }


def feishu_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An interactive card whose action buttons carry ``value: {"button": token}``."""
    card = payload["card"]
    actions: list[dict[str, Any]] = [
        {
            "tag": "button",
            "text": {"tag": "plain_text", "content": b["label"]},
            "type": "primary" if b["action"] == "approve" else "danger",
            "value": {"button": b["value"]},
        }
        for b in _buttons(payload)
    ]
    actions.append(
        {
            "tag": "button",
            "text": {"tag": "plain_text", "content": card.get("open_label") or "Open"},
            "type": "default",
            "url": str(payload.get("link") or ""),
        }
    )
    return {
        "msg_type": "interactive",
        "card": _feishu_body(
            str(payload.get("title") or ""), str(payload.get("text") or ""), actions, "blue"
        ),
    }


def _feishu_body(title: str, text: str, actions: list[dict[str, Any]], color: str) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]
    if actions:
        elements.append({"tag": "action", "actions": actions})
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": color},
        "elements": elements,
    }


CARD_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "dingtalk": dingtalk_card,
    "wecom": wecom_card,
    "feishu": feishu_card,
}


def build_card(channel: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The vendor message for a payload that carries a card; None for a plain one."""
    if not payload.get("card") or channel not in CARD_BUILDERS:
        return None
    return CARD_BUILDERS[channel](payload)


# ============================================================================ presses in
@dataclass
class Press:
    """A verified button press: who (the IM user ids to look up), which button, the replay key."""

    provider: str
    nonce: str
    subjects: list[str]
    token: str
    context: dict[str, Any] = field(default_factory=dict)  # what the reply needs (WeCom ids, schema)
    answer: dict[str, Any] | None = None  # a verification challenge: answered at once, nothing done


@dataclass(frozen=True)
class Pressed:
    task_id: int
    action: str
    user_id: int
    user_name: str
    number: str

    def done_text(self, lang: str | None = None) -> str:
        return t(f"im.done.{self.action}", lang, name=self.user_name)


@dataclass(frozen=True)
class Callback:
    """The raw request, as the server got it."""

    method: str
    body: bytes
    headers: Mapping[str, str]
    args: Mapping[str, str]
    now: float


Reader = Callable[[Callback], Press]
Replier = Callable[[Press, Pressed], tuple[bytes, str]]
READERS: dict[str, Reader] = {}
REPLIES: dict[str, Replier] = {}


def provider(name: str, reply: Replier) -> Callable[[Reader], Reader]:
    def register_reader(fn: Reader) -> Reader:
        READERS[name] = fn
        REPLIES[name] = reply
        return fn

    return register_reader


def _setting(name: str, vendor: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CallbackRefused("im.not_configured", 401, setting=name, provider=vendor)
    return value


def check_window(stamp: Any, now: float, per_second: int) -> None:
    """Refuse a signed callback whose timestamp (``per_second`` units) is outside the window (shared with
    engine.org_events)."""
    try:
        seconds = int(str(stamp)) / per_second
    except ValueError:
        raise CallbackRefused("im.expired") from None
    if abs(now - seconds) > WINDOW_S:
        raise CallbackRefused("im.expired")


def json_object(body: bytes) -> dict[str, Any]:
    """A callback body that must be a JSON object, else CallbackRefused (400)."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRefused("im.bad_body", 400, reason=type(exc).__name__) from None
    if not isinstance(data, dict):
        raise CallbackRefused("im.bad_body", 400, reason="not a JSON object")
    return data


# ---------------------------------------------------------------------------- DingTalk
def dingtalk_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _dingtalk_reply(press: Press, done: Pressed) -> tuple[bytes, str]:
    text = done.done_text()
    body = {
        "cardData": {"cardParamMap": {"status": done.action, "status_text": text}},
        "cardUpdateOptions": {"updateCardDataByKey": True},
        "text": text,
    }
    return json.dumps(body, ensure_ascii=False).encode(), "application/json"


@provider("dingtalk", _dingtalk_reply)
def read_dingtalk(cb: Callback) -> Press:
    """DingTalk's interactive card callback: headers ``timestamp`` (ms) and ``sign``; the body's
    ``content`` holds ``cardPrivateData.params.button`` (our token), ``userId`` the presser."""
    secret = os.environ.get(DINGTALK_SECRET) or os.environ.get(DINGTALK_CLIENT_SECRET) or ""
    secret = secret or _setting(DINGTALK_SECRET, "DingTalk")  # neither set: refused, naming ours
    stamp, given = cb.headers.get("timestamp"), cb.headers.get("sign")
    if not stamp or not given:
        raise CallbackRefused("im.no_signature", what="timestamp, sign", provider="DingTalk")
    if not hmac.compare_digest(given.strip(), dingtalk_sign(stamp, secret)):
        raise CallbackRefused("im.bad_signature", setting=DINGTALK_SECRET, provider="DingTalk")
    check_window(stamp, cb.now, 1000)
    data = json_object(cb.body)
    content = data.get("content") or data.get("value") or {}
    if isinstance(content, str):
        content = json_object(content.encode())
    params = (content.get("cardPrivateData") or {}).get("params") or content.get("params") or {}
    user = data.get("userId") or data.get("staffId")
    return Press(
        "dingtalk",
        f"{stamp}:{hashlib.sha256(cb.body).hexdigest()[:40]}",  # two presses in one ms differ by body
        [str(user)] if user else [],
        str(params.get("button") or ""),
        {"outTrackId": data.get("outTrackId")},
    )


# ---------------------------------------------------------------------------- WeCom
def wecom_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def _wecom_key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")


def wecom_encrypt(plain: bytes, aes_key: str, receive_id: str, random16: bytes | None = None) -> str:
    """WeCom's message encryption: AES-256-CBC (IV = first 16 key bytes), PKCS#7 to 32-byte blocks,
    over random(16) + length(4, network order) + message + receive id."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = _wecom_key(aes_key)
    raw = (random16 or os.urandom(16)) + struct.pack(">I", len(plain)) + plain + receive_id.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def wecom_decrypt(encrypted: str, aes_key: str) -> tuple[bytes, str]:
    """(message, receive id) of a WeCom ciphertext; CallbackRefused if it does not decrypt."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        key = _wecom_key(aes_key)
        dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        raw = dec.update(base64.b64decode(encrypted)) + dec.finalize()
        raw = raw[: -raw[-1]] if 0 < raw[-1] <= 32 else raw
        (length,) = struct.unpack(">I", raw[16:20])
        return raw[20 : 20 + length], raw[20 + length :].decode()
    except (ValueError, struct.error, IndexError, UnicodeDecodeError):
        raise CallbackRefused("im.bad_body", 400, reason="cannot decrypt") from None


def xml_fields(text: bytes) -> dict[str, str]:
    """The child elements of a vendor's XML callback body (tag → text), else CallbackRefused (400)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CallbackRefused("im.bad_body", 400, reason=f"XML: {exc}") from None
    return {child.tag: (child.text or "") for child in root}


def _wecom_reply(press: Press, done: Pressed) -> tuple[bytes, str]:
    """The passive reply that relabels the pressed button ("已由 X 同意"), encrypted and signed."""
    token, aes_key = os.environ[WECOM_TOKEN], os.environ[WECOM_AES_KEY]
    corp = press.context.get("corp", "")
    stamp = str(int(time.time()))
    plain = (
        f"<xml><ToUserName><![CDATA[{press.context.get('user', '')}]]></ToUserName>"
        f"<FromUserName><![CDATA[{corp}]]></FromUserName><CreateTime>{stamp}</CreateTime>"
        "<MsgType><![CDATA[update_button]]></MsgType>"
        f"<Button><ReplaceName><![CDATA[{done.done_text()}]]></ReplaceName></Button></xml>"
    ).encode()
    encrypted = wecom_encrypt(plain, aes_key, corp)
    nonce = secrets.token_hex(8)
    signature = wecom_signature(token, stamp, nonce, encrypted)
    body = (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{stamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    )
    return body.encode(), "application/xml"


@provider("wecom", _wecom_reply)
def read_wecom(cb: Callback) -> Press:
    """WeCom's app callback: ``msg_signature``, ``timestamp``, ``nonce`` in the query; the XML body's
    ``Encrypt`` decrypts to a ``template_card_event`` whose ``EventKey`` is our token. A GET is the
    URL check: its ``echostr`` is answered decrypted."""
    token = _setting(WECOM_TOKEN, "WeCom")
    aes_key = _setting(WECOM_AES_KEY, "WeCom")
    corp = os.environ.get(WECOM_CORP_ID)
    signature, stamp, nonce = (cb.args.get(k) for k in ("msg_signature", "timestamp", "nonce"))
    if not signature or not stamp or not nonce:
        raise CallbackRefused("im.no_signature", what="msg_signature, timestamp, nonce", provider="WeCom")
    encrypted = (cb.args.get("echostr") if cb.method == "GET" else xml_fields(cb.body).get("Encrypt")) or ""
    if not hmac.compare_digest(signature, wecom_signature(token, stamp, nonce, encrypted)):
        raise CallbackRefused("im.bad_signature", setting=WECOM_TOKEN, provider="WeCom")
    check_window(stamp, cb.now, 1)
    plain, receiver = wecom_decrypt(encrypted, aes_key)
    if corp and receiver != corp:
        raise CallbackRefused("im.bad_signature", setting=WECOM_CORP_ID, provider="WeCom")
    if cb.method == "GET":
        return Press("wecom", "", [], "", answer={"text": plain.decode()})
    event = xml_fields(plain)
    user = event.get("FromUserName")
    return Press(
        "wecom",
        f"{stamp}:{nonce}",
        [user] if user else [],
        event.get("EventKey") or "",
        {"corp": receiver, "user": user or "", "task": event.get("TaskId")},
    )


# ---------------------------------------------------------------------------- Feishu
def feishu_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def feishu_encrypt(plain: bytes, encrypt_key: str) -> str:
    """Feishu's encrypted body: AES-256-CBC with key SHA256(encrypt key), a random IV in front, PKCS#7."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, iv = hashlib.sha256(encrypt_key.encode()).digest(), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    raw = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(raw) + enc.finalize()).decode()


def feishu_decrypt(encrypted: str, encrypt_key: str) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        data = base64.b64decode(encrypted)
        key = hashlib.sha256(encrypt_key.encode()).digest()
        dec = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
        raw = dec.update(data[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(raw) + unpadder.finalize()
    except ValueError:
        raise CallbackRefused("im.bad_body", 400, reason="cannot decrypt") from None


def _feishu_reply(press: Press, done: Pressed) -> tuple[bytes, str]:
    """The updated card (no buttons left, "approved by X"); schema 2.0 callbacks get a toast too."""
    text = done.done_text()
    color = "green" if done.action == "approve" else "red"
    card = _feishu_body(f"{done.number} · {text}", text, [], color)
    if press.context.get("schema") == "2.0":
        body: dict[str, Any] = {
            "toast": {"type": "success", "content": text},
            "card": {"type": "raw", "data": card},
        }
    else:
        body = card
    return json.dumps(body, ensure_ascii=False).encode(), "application/json"


@provider("feishu", _feishu_reply)
def read_feishu(cb: Callback) -> Press:
    """Feishu's card action callback: ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and
    ``X-Lark-Signature`` over the raw body with the encrypt key; an ``encrypt`` body is decrypted.
    ``action.value.button`` is our token; ``user_id`` / ``open_id`` the presser."""
    encrypt_key = _setting(FEISHU_ENCRYPT_KEY, "Feishu")
    stamp = cb.headers.get("X-Lark-Request-Timestamp")
    nonce = cb.headers.get("X-Lark-Request-Nonce")
    given = cb.headers.get("X-Lark-Signature")
    if not stamp or not nonce or not given:
        raise CallbackRefused("im.no_signature", what="X-Lark-Signature", provider="Feishu")
    if not hmac.compare_digest(given.strip(), feishu_signature(stamp, nonce, encrypt_key, cb.body)):
        raise CallbackRefused("im.bad_signature", setting=FEISHU_ENCRYPT_KEY, provider="Feishu")
    check_window(stamp, cb.now, 1)
    data = json_object(cb.body)
    if "encrypt" in data:
        data = json_object(feishu_decrypt(str(data["encrypt"]), encrypt_key))
    if data.get("type") == "url_verification":
        return Press("feishu", "", [], "", answer={"challenge": data.get("challenge")})
    schema = data.get("schema")
    event = data.get("event") if schema == "2.0" and isinstance(data.get("event"), dict) else data
    who = event.get("operator") if isinstance(event.get("operator"), dict) else event
    action = event.get("action") if isinstance(event.get("action"), dict) else {}
    value = action.get("value") if isinstance(action.get("value"), dict) else {}
    subjects = [str(who[k]) for k in ("user_id", "open_id", "union_id") if who.get(k)]
    return Press("feishu", f"{stamp}:{nonce}", subjects, str(value.get("button") or ""), {"schema": schema})


# ---------------------------------------------------------------------------- acting
def read(name: str, cb: Callback) -> Press:
    reader = READERS.get(name)
    if reader is None:
        raise CallbackRefused("im.unknown_provider", 404, provider=name[:40], known=", ".join(READERS))
    return reader(cb)


def press(runtime: Any, found: Press, now: float) -> Pressed:
    """Do what a verified press asks, once: the button's token, the replay check, the presser being the
    task's assignee, then the Runtime's action. A refused or failed press leaves no trace."""
    task_id, action = read_token(found.token, now)
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    db = runtime.db
    try:
        with db.write() as conn:
            conn.execute(
                delete(CallbackNonce).where(
                    CallbackNonce.seen_at < moment - dt.timedelta(seconds=4 * WINDOW_S)
                )
            )
            conn.execute(
                insert(CallbackNonce).values(provider=found.provider, nonce=found.nonce[:191], seen_at=moment)
            )
    except IntegrityError:
        raise CallbackRefused("im.replayed", 409) from None
    try:
        done = _act(runtime, found, task_id, action)
    except BaseException:
        with db.write() as conn:  # not done: a genuine retry of the same press may try again
            conn.execute(
                delete(CallbackNonce).where(
                    CallbackNonce.provider == found.provider, CallbackNonce.nonce == found.nonce[:191]
                )
            )
        raise
    return done


def _act(runtime: Any, found: Press, task_id: int, action: str) -> Pressed:
    from engine.org_sync import event_id_provider  # org_sync -> jobs -> channels -> this module

    with runtime.db.read() as conn:
        user = None
        if found.subjects:
            user = conn.execute(
                select(User.id, User.display_name)
                .join(UserIdentity, UserIdentity.user_id == User.id)
                .where(  # DingTalk names the presser by userid; sign-in and sync link people by unionId
                    UserIdentity.provider.in_((found.provider, event_id_provider(found.provider))),
                    UserIdentity.subject.in_(found.subjects),
                    User.is_active.is_(True),
                )
            ).first()
        if user is None:
            subject = found.subjects[0] if found.subjects else "?"
            raise CallbackRefused("im.unknown_user", 403, provider=found.provider, subject=subject[:64])
        task = conn.execute(
            select(Task.status, Task.assignee_id, Task.delegated_from).where(Task.id == task_id)
        ).first()
    if task is None or task.status != "open":
        raise CallbackRefused("im.task_not_open", 409, status=task.status if task else "gone")
    if user.id not in (task.assignee_id, task.delegated_from):
        raise CallbackRefused("im.not_assignee", 403, name=user.display_name)
    ticket = runtime.act(task_id, action, None, user.id)
    return Pressed(task_id, action, user.id, user.display_name, ticket.number)


__all__ = [
    "CARD_BUILDERS",
    "READERS",
    "Callback",
    "CallbackRefused",
    "Press",
    "Pressed",
    "build_card",
    "button_token",
    "card_for",
    "press",
    "read",
    "read_token",
]
