"""Incremental organisation sync: the contact change events DingTalk, WeCom and Feishu push.

``/org/events/<provider>`` (server/org_events.py) hands the raw request to :func:`receive`. The
provider's reader (``READERS``) checks the vendor's signature and the 5-minute window with the
crypto engine.im_cards already has (DingTalk and WeCom: SHA1 signature + AES with the
EncodingAESKey; Feishu: ``X-Lark-Signature`` + AES with the Encrypt Key), answers the vendor's URL
check, and decodes the event into :class:`Change` s: which people or departments, and whether they
were deleted. A replay (one ``callback_nonces`` row per accepted event) is refused. Events carry ids
only, so each person or department is fetched from the provider's API (``Provider.user`` /
``Provider.department``; a department nobody here knows is fetched with its parents) before ONE
transaction applies them through :func:`engine.org_sync.apply_changes` — the full sync's rules:
people and membership created or updated, a leaver deactivated and their open tasks handed on,
roles set in Gongdan never touched, a deleted department's people kept. Each applied event leaves
an ``OrgSyncRun`` row (source ``<provider>:event``) beside the sync runs on /admin/sso.

LDAP pushes nothing: the scheduled full sync (GONGDAN_ORG_SYNC) keeps it up to date.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

import engine.org_events_messages  # noqa: F401  (the words)
from engine import auth
from engine.config import Settings
from engine.identity import open_provider
from engine.identity.base import Http, OrgSnapshot, Provider
from engine.im_cards import (
    WINDOW_S,
    Callback,
    CallbackRefused,
    check_window,
    feishu_decrypt,
    feishu_signature,
    json_object,
    wecom_decrypt,
    wecom_encrypt,
    wecom_signature,
    xml_fields,
)
from engine.org_sync import apply_changes, event_id_provider
from engine.store.db import Database
from engine.store.models import CallbackNonce, Department, OrgSyncRun, UserIdentity
from engine.store.types import utcnow

D, UI, R, CN = (m.__table__ for m in (Department, UserIdentity, OrgSyncRun, CallbackNonce))

#: The most people and departments one event may name; a bigger change is left to the full sync.
MAX_CHANGES = 50
#: The most unknown parent departments fetched for one event (a deeper tree stops there).
MAX_PARENTS = 64


@dataclass(frozen=True)
class Change:
    """One person (``user``) or department an event names, by the vendor's id."""

    kind: str
    ident: str
    gone: bool = False  # deleted / left: applied without asking the provider


@dataclass
class Delivery:
    """A verified, decoded event: what changed, the replay key and what the vendor expects back."""

    provider: str
    event: str
    reply: tuple[bytes, str]
    nonce: str = ""
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Received:
    reply: tuple[bytes, str]  # (content, mimetype)
    run_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Provider, Callback], Delivery]
READERS: dict[str, Reader] = {}


def reader(name: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return register


# ---------------------------------------------------------------------------- receiving
def receive(
    settings: Settings, db: Database, name: str, cb: Callback, *, http: Http | None = None
) -> Received:
    """Check, decode and apply one change event of provider ``name``; a refused or failed event
    writes nothing."""
    read = READERS.get(name)
    if read is None:
        raise CallbackRefused(
            "org.events_unknown_provider", 404, provider=name[:40], known=", ".join(READERS)
        )
    adapter = open_provider(settings, db, name, purpose="sync", http=http)
    delivery = read(adapter, cb)
    if not delivery.changes:  # a URL check, or an event about something we do not keep
        return Received(delivery.reply)
    if len(delivery.changes) > MAX_CHANGES:
        raise CallbackRefused("org.events_too_many", 413, limit=MAX_CHANGES, provider=name)
    key = f"org-{name}"
    with db.read() as conn:
        if conn.execute(select(CN.c.nonce).where(CN.c.provider == key, CN.c.nonce == delivery.nonce)).first():
            raise CallbackRefused("im.replayed", 409)
    snapshot = _fetch(adapter, db, name, delivery.changes)
    now = utcnow()
    with db.write() as conn:
        conn.execute(
            delete(CN).where(CN.c.provider == key, CN.c.seen_at < now - dt.timedelta(seconds=4 * WINDOW_S))
        )
        try:
            with conn.begin_nested():
                conn.execute(insert(CN).values(provider=key, nonce=delivery.nonce, seen_at=now))
        except IntegrityError:
            raise CallbackRefused("im.replayed", 409) from None
        counts: dict[str, Any] = dict(apply_changes(settings, conn, name, snapshot))
        counts.update(event=delivery.event, ids=[c.ident for c in delivery.changes][:10])
        run_id = conn.execute(
            insert(R)
            .values(source=f"{name}:event", status="done", started_at=now, ended_at=now, counts=counts)
            .returning(R.c.id)
        ).scalar_one()
        auth.audit(conn, None, "org.event", f"org:{name}", {"run": run_id, **counts})
    return Received(delivery.reply, run_id, counts)


def _fetch(adapter: Provider, db: Database, source: str, changes: list[Change]) -> OrgSnapshot:
    """The change list of an event: each named person / department as the provider has them now,
    and the departments they sit in that nobody here knows yet (with their parents)."""
    snapshot = OrgSnapshot(complete=False)
    with db.read() as conn:
        known = set(conn.execute(select(D.c.external_id).where(D.c.source == source)).scalars())
    wanted: list[str] = []
    seen: set[tuple[str, str]] = set()
    for change in changes:
        if (change.kind, change.ident) in seen:
            continue
        seen.add((change.kind, change.ident))
        if change.kind == "department":
            if change.gone:
                snapshot.gone_departments.append(change.ident)
            else:
                wanted.append(change.ident)
            continue
        person = None if change.gone else adapter.user(change.ident)
        if person is None:  # left, or deleted
            snapshot.gone.extend(_subjects(db, source, change.ident))
            continue
        snapshot.users.append(person)
        wanted.extend(d for d in person.department_ids if d not in known)
    fetched: set[str] = set()
    parents = 0
    while wanted:
        ident = wanted.pop(0)
        if ident in fetched:
            continue
        fetched.add(ident)
        department = adapter.department(ident)
        if department is None:
            continue
        snapshot.departments.append(department)
        parent = department.parent_id
        if parent and parent not in known and parent not in fetched and parents < MAX_PARENTS:
            parents += 1
            wanted.append(parent)
    return snapshot


def _subjects(db: Database, source: str, ident: str) -> list[str]:
    """The subjects of the person an event names by ``ident``: through the kept event id where the
    source has one (DingTalk's userid), else ``ident`` itself."""
    alias = UI.alias("alias")
    with db.read() as conn:
        found = (
            conn.execute(
                select(UI.c.subject)
                .join(alias, alias.c.user_id == UI.c.user_id)
                .where(
                    alias.c.provider == event_id_provider(source),
                    alias.c.subject == ident,
                    UI.c.provider == source,
                )
            )
            .scalars()
            .all()
        )
    return list(found) or [ident]


def _needed(adapter: Provider, key: str, vendor: str) -> str:
    value = adapter.config.get(key)
    if not value:
        raise CallbackRefused("org.events_not_configured", 401, setting=_env(adapter, key), provider=vendor)
    return value


def _env(adapter: Provider, key: str) -> str:
    return next(s for s in adapter.settings if s.key == key).env(adapter.name)


def _ids(value: Any) -> list[str]:
    """An event's id field: one id or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if v not in (None, "")]


def _open_sealed(
    adapter: Provider,
    cb: Callback,
    vendor: str,
    encrypted_of: Callable[[], str],
    receivers: tuple[str | None, ...],
    receiver_setting: str,
    per_second: int,
) -> tuple[str, str, str, str, bytes, str]:
    """DingTalk's and WeCom's envelope (the same scheme): ``msg_signature`` (DingTalk also says
    ``signature``), ``timestamp`` and ``nonce`` in the query, a SHA1 signature over the token, them
    and the ciphertext, AES with the EncodingAESKey, and the receiver the plaintext names. Checked in
    that order; (token, AES key, timestamp, nonce, plaintext, receiver)."""
    token = _needed(adapter, "event_token", vendor)
    aes_key = _needed(adapter, "event_aes_key", vendor)
    signature = cb.args.get("msg_signature") or cb.args.get("signature")
    stamp, nonce = cb.args.get("timestamp"), cb.args.get("nonce")
    if not signature or not stamp or not nonce:
        raise CallbackRefused("im.no_signature", what="msg_signature, timestamp, nonce", provider=vendor)
    encrypted = encrypted_of()
    if not hmac.compare_digest(signature, wecom_signature(token, stamp, nonce, encrypted)):
        raise CallbackRefused("im.bad_signature", setting=_env(adapter, "event_token"), provider=vendor)
    check_window(stamp, cb.now, per_second)
    plain, receiver = wecom_decrypt(encrypted, aes_key)
    if receiver not in receivers:
        raise CallbackRefused(
            "org.events_wrong_receiver",
            401,
            receiver=receiver[:64],
            setting=_env(adapter, receiver_setting),
            provider=vendor,
        )
    return token, aes_key, stamp, nonce, plain, receiver


# ---------------------------------------------------------------------------- DingTalk
DINGTALK_USER = {
    "user_add_org": False,
    "user_modify_org": False,
    "user_active_org": False,
    "user_leave_org": True,
}
DINGTALK_DEPT = {"org_dept_create": False, "org_dept_modify": False, "org_dept_remove": True}


@reader("dingtalk")
def read_dingtalk(adapter: Provider, cb: Callback) -> Delivery:
    """DingTalk's event subscription (HTTP push): ``msg_signature`` (or ``signature``),
    ``timestamp`` (ms) and ``nonce`` in the query, ``{"encrypt": ...}`` in the body, encrypted like
    WeCom's with the app's key (or, for older apps, the CorpId) as receiver. Every answer, the
    ``check_url`` handshake too, is an encrypted "success"."""
    token, aes_key, stamp, nonce, plain, receiver = _open_sealed(
        adapter,
        cb,
        "DingTalk",
        lambda: str(json_object(cb.body).get("encrypt") or ""),
        (adapter.config["client_id"], adapter.config.get("corp_id")),
        "client_id",
        per_second=1000,
    )
    data = json_object(plain)
    event = str(data.get("EventType") or "")
    changes: list[Change] = []
    if event in DINGTALK_USER:
        changes = [Change("user", i, DINGTALK_USER[event]) for i in _ids(data.get("UserId"))]
    elif event in DINGTALK_DEPT:
        changes = [Change("department", i, DINGTALK_DEPT[event]) for i in _ids(data.get("DeptId"))]
    return Delivery(
        "dingtalk", event, dingtalk_success(token, aes_key, receiver, cb.now), f"{stamp}:{nonce}", changes
    )


def dingtalk_success(token: str, aes_key: str, receiver: str, now: float) -> tuple[bytes, str]:
    """DingTalk's expected answer: "success", encrypted and signed."""
    stamp, nonce = str(int(now * 1000)), secrets.token_hex(8)
    encrypted = wecom_encrypt(b"success", aes_key, receiver)
    body = {
        "msg_signature": wecom_signature(token, stamp, nonce, encrypted),
        "timeStamp": stamp,
        "nonce": nonce,
        "encrypt": encrypted,
    }
    return json.dumps(body).encode(), "application/json"


# ---------------------------------------------------------------------------- WeCom
WECOM_CHANGES = {
    "create_user": ("user", False),
    "update_user": ("user", False),
    "delete_user": ("user", True),
    "create_party": ("department", False),
    "update_party": ("department", False),
    "delete_party": ("department", True),
}


@reader("wecom")
def read_wecom(adapter: Provider, cb: Callback) -> Delivery:
    """WeCom's contact change callback: ``msg_signature``, ``timestamp``, ``nonce`` in the query; the
    XML body's ``Encrypt`` decrypts to a ``change_contact`` event (``ChangeType``, ``UserID`` or
    ``Id``). A GET is the URL check: its ``echostr`` is answered decrypted."""
    _, _, stamp, nonce, plain, _ = _open_sealed(
        adapter,
        cb,
        "WeCom",
        lambda: (cb.args.get("echostr") if cb.method == "GET" else xml_fields(cb.body).get("Encrypt")) or "",
        (adapter.config["corp_id"],),
        "corp_id",
        per_second=1,
    )
    if cb.method == "GET":
        return Delivery("wecom", "verify", (plain, "text/plain"))
    data = xml_fields(plain)
    change = str(data.get("ChangeType") or "")
    changes: list[Change] = []
    if data.get("Event") == "change_contact" and change in WECOM_CHANGES:
        kind, gone = WECOM_CHANGES[change]
        ident = data.get("NewUserID") or data.get("UserID") if kind == "user" else data.get("Id")
        changes = [Change(kind, i, gone) for i in _ids(ident)]
    return Delivery(
        "wecom",
        change or str(data.get("Event") or ""),
        (b"success", "text/plain"),
        f"{stamp}:{nonce}",
        changes,
    )


# ---------------------------------------------------------------------------- Feishu
FEISHU_CHANGES = {
    "contact.user.created_v3": ("user", False),
    "contact.user.updated_v3": ("user", False),
    "contact.user.deleted_v3": ("user", True),
    "contact.department.created_v3": ("department", False),
    "contact.department.updated_v3": ("department", False),
    "contact.department.deleted_v3": ("department", True),
}


@reader("feishu")
def read_feishu(adapter: Provider, cb: Callback) -> Delivery:
    """Feishu's event v2: ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and
    ``X-Lark-Signature`` over the raw body with the Encrypt Key; ``{"encrypt": ...}`` decrypts to the
    event (``header.event_type``, ``header.event_id`` — the replay key — and ``event.object``). The
    ``url_verification`` challenge is answered (Feishu does not sign it; it must decrypt, and carry
    the Verification Token when one is set)."""
    encrypt_key = _needed(adapter, "encrypt_key", "Feishu")
    expected_token = adapter.config.get("verification_token")
    stamp = cb.headers.get("X-Lark-Request-Timestamp")
    nonce = cb.headers.get("X-Lark-Request-Nonce")
    given = cb.headers.get("X-Lark-Signature")
    signed = bool(stamp and nonce and given)
    if signed and not hmac.compare_digest(
        str(given).strip(), feishu_signature(str(stamp), str(nonce), encrypt_key, cb.body)
    ):
        raise CallbackRefused("im.bad_signature", setting=_env(adapter, "encrypt_key"), provider="Feishu")
    data = json_object(cb.body)
    if "encrypt" in data:
        data = json_object(feishu_decrypt(str(data["encrypt"]), encrypt_key))
    header = data.get("header") if isinstance(data.get("header"), dict) else {}
    token = header.get("token") or data.get("token")
    if expected_token and not hmac.compare_digest(str(token or ""), expected_token):
        raise CallbackRefused(
            "im.bad_signature", setting=_env(adapter, "verification_token"), provider="Feishu"
        )
    if data.get("type") == "url_verification":
        return Delivery(
            "feishu",
            "url_verification",
            (json.dumps({"challenge": data.get("challenge")}).encode(), "application/json"),
        )
    if not signed:
        raise CallbackRefused("im.no_signature", what="X-Lark-Signature", provider="Feishu")
    check_window(stamp, cb.now, 1)
    event = str(header.get("event_type") or "")
    body = data.get("event") if isinstance(data.get("event"), dict) else {}
    thing = body.get("object") if isinstance(body.get("object"), dict) else {}
    changes: list[Change] = []
    if event in FEISHU_CHANGES:
        kind, gone = FEISHU_CHANGES[event]
        ident = thing.get("open_id") if kind == "user" else thing.get("open_department_id")
        changes = [Change(kind, i, gone) for i in _ids(ident)]
    replay = str(header.get("event_id") or f"{stamp}:{nonce}")[:191]
    return Delivery("feishu", event, (b"{}", "application/json"), replay, changes)
