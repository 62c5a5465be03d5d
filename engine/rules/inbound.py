"""Inbound messages: a mail, webhook call or IM robot message becomes a ticket, or a comment on the
ticket it replies to.

The app definition's ``inbound`` list maps a channel (and optionally the address or robot it was sent
to) to a ticket type and its fields, each an expression over ``message``. ``receive`` does one
command: it matches the sender to a user (email, else mainland mobile), threads replies (a message id
we received or mailed, or a ``[NUMBER]`` in the subject or text), creates the ticket or adds the
comment, and records ``(channel, message_id)`` in ``inbound_messages`` in the same transaction. That
row's unique key decides between duplicate deliveries, concurrent ones too: the loser's command rolls
back and it answers with the winner's ticket.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nh3
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

import engine.rules.inbound_messages  # noqa: F401  (the messages of this module)
from engine.errors import GongdanError
from engine.expressions import compile_expr
from engine.flows import sla
from engine.forms.fields import normalize_phone, sanitize_html
from engine.i18n import Message
from engine.jobs.channels import message_id as mailed_message_id
from engine.store import models

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Runtime
    from engine.specs import AppSpec, TypeSpec

IM, R, OB, U = (m.__table__ for m in (models.InboundMessage, models.Record, models.Outbox, models.User))

CHANNELS = ("email", "webhook", "dingtalk", "wecom", "feishu")
#: Text and HTML bodies are refused above this many bytes (UTF-8), as are HTTP bodies.
MAX_BODY_BYTES = 1024 * 1024
MAX_SUBJECT = 1000
MAX_ID = 255  # the message_id column
MAX_THREAD_IDS = 50  # of In-Reply-To + References looked at
TITLE_LENGTH = 100
#: A ticket number written in brackets, as our mails' subjects carry it: ``Re: [TS-202612-0001] …``.
TICKET_NUMBER = re.compile(r"\[([^\[\]\s]{3,64})\]")
#: The Message-ID of a mail we sent, naming its ticket: ``<digest.record.gongdan@domain>``.
MAILED_ID = re.compile(r"<([0-9a-f]{32})\.([0-9]{1,18})\.gongdan@[^<>\s]+>")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
#: Where a mail client starts quoting the message replied to; the comment keeps what is above.
QUOTE_START = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|原始邮件|回复的原邮件)\s*-{2,}"
    r"|on\b.{0,200}\bwrote:|在.{0,200}写道[:：])\s*$",
    re.IGNORECASE,
)
BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|pre)\s*>")


class InboundError(GongdanError):
    """A message that cannot become a ticket: misshapen, or no inbound entry takes it."""

    code = "inbound.bad_message"
    http_status = 422


class TooLarge(InboundError):
    code = "inbound.too_large"
    http_status = 413


@dataclass(frozen=True)
class Sender:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    im_id: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A received message, checked and bounded (``parse_message`` makes one from plain data)."""

    channel: str
    message_id: str
    sender: Sender
    to: tuple[str, ...] = ()
    subject: str = ""
    text: str = ""
    html: str | None = None  # sanitised
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    received_at: dt.datetime | None = None

    @property
    def thread_ids(self) -> list[str]:
        """The message ids this one answers, nearest first, without repeats."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += reversed(self.references)
        return list(dict.fromkeys(ids))[:MAX_THREAD_IDS]

    @property
    def title(self) -> str:
        """The subject, else the first line of the text, cut to ``TITLE_LENGTH`` characters."""
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        return (self.subject.strip() or first)[:TITLE_LENGTH]

    def context(self, sender: Sender, at: dt.datetime) -> dict[str, Any]:
        """What the inbound entry's expressions see, as ``message``."""
        return {
            "message": {
                "channel": self.channel,
                "message_id": self.message_id,
                "subject": self.subject,
                "title": self.title,
                "text": self.text,
                "html": self.html,
                "to": list(self.to),
                "received_at": self.received_at or at,
                "sender": {
                    "name": sender.name,
                    "email": sender.email,
                    "phone": sender.phone,
                    "im_id": sender.im_id,
                },
                "phones": list(dict.fromkeys(MOBILE.findall(f"{self.subject}\n{self.text}")))[:10],
            }
        }


@dataclass(frozen=True)
class Received:
    """What became of a message: its ticket, and whether this delivery created it or commented on it
    (both false: a duplicate of a message already received)."""

    record_id: int
    number: str
    created: bool
    commented: bool


@dataclass(frozen=True)
class Entry:
    """One element of the app definition's ``inbound`` list."""

    channel: str
    to: str | None
    ticket_type: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def takes(self, message: InboundMessage) -> bool:
        return self.channel == message.channel and (self.to is None or self.to.lower() in message.to)

    def data(self, context: Mapping[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
        """The form input: each field's expression evaluated (empty values left to the form's defaults);
        a field named by the key it was ``renamed_from`` is filled under its new key."""
        values = {renamed.get(key, key): compile_expr(source)(context) for key, source in self.fields.items()}
        return {key: value for key, value in values.items() if value not in (None, "")}


def entries(spec: AppSpec) -> list[Entry]:
    raw = spec.app.raw.get("inbound") or ()
    return [
        Entry(e["channel"], (e.get("match") or {}).get("to"), e["ticket_type"], dict(e.get("fields") or {}))
        for e in raw
    ]


# ----------------------------------------------------------------------------- reading a message
def parse_message(data: Any) -> InboundMessage:
    """Check and bound a message given as plain data (the shape docs/inbound.md describes)."""
    if not isinstance(data, Mapping):
        raise _bad("inbound.reason.not_object", field="message")
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise _bad("inbound.reason.unknown_channel", channel=channel, known=", ".join(CHANNELS))
    message_id = _text(data, "message_id", MAX_ID).strip()
    if not message_id:
        raise _bad("inbound.reason.no_message_id")
    raw_sender = data.get("sender") or {}
    if not isinstance(raw_sender, Mapping):
        raise _bad("inbound.reason.not_object", field="sender")
    sender = Sender(
        **{
            key: _text(raw_sender, key, 254, f"sender.{key}") or None
            for key in ("name", "email", "phone", "im_id")
        }
    )
    text = _body(data, "text")
    raw_html = _body(data, "html")
    html = sanitize_html(raw_html) if raw_html.strip() else None
    if not text.strip() and raw_html:
        text = html_text(raw_html)
    subject = _text(data, "subject", MAX_SUBJECT)
    if not (subject.strip() or text.strip()):
        raise _bad("inbound.reason.empty")
    to = data.get("to")
    to = [] if to is None else [to] if isinstance(to, str) else to
    return InboundMessage(
        channel=channel,
        message_id=message_id,
        sender=sender,
        to=tuple(a.strip().lower() for a in _texts(to, "to")),
        subject=subject,
        text=text,
        html=html,
        in_reply_to=_text(data, "in_reply_to", 998) or None,
        references=_texts(data.get("references") or [], "references"),
        received_at=_time(data.get("received_at")),
    )


def html_text(source: str) -> str:
    """The readable text of an HTML body: tags dropped (scripts and styles with their content)."""
    marked = BLOCK_END.sub("\n", source)
    text = html_lib.unescape(nh3.clean(marked, tags=set()))
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def reply_text(text: str) -> str:
    """A reply without the message it quotes (``> …`` lines, and everything from "On … wrote:")."""
    kept: list[str] = []
    for line in text.splitlines():
        if QUOTE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def mainland_mobile(text: str | None) -> str | None:
    """``13800138000`` from ``+86 138-0013-8000``, ``0086…`` or ``138 0013 8000``; None for others."""
    if not text:
        return None
    text = text.strip()
    number = normalize_phone("+" + text[2:] if text.startswith("00") else text)  # 0086… is +86…
    if number and number.startswith("+86"):
        number = number[3:]
    return number if number and MOBILE.fullmatch(number) else None


def _bad(reason: str, **params: Any) -> InboundError:
    return InboundError(reason=Message(reason, params))


def _text(data: Mapping[str, Any], key: str, limit: int, name: str | None = None) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad("inbound.reason.not_text", field=name or key)
    if len(value) > limit:
        raise _bad("inbound.reason.too_long", field=name or key, limit=limit)
    return value


def _texts(values: Any, key: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise _bad("inbound.reason.not_list", field=key)
    values = values[:MAX_THREAD_IDS]
    if not all(isinstance(v, str) for v in values):
        raise _bad("inbound.reason.not_list", field=key)
    if any(len(v) > 998 for v in values):
        raise _bad("inbound.reason.too_long", field=key, limit=998)
    return tuple(v.strip() for v in values if v.strip())


def _body(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad("inbound.reason.not_text", field=key)
    size = len(value.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise TooLarge(what=key, size=size, limit=MAX_BODY_BYTES)
    return value


def _time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise _bad("inbound.reason.bad_time") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


# ----------------------------------------------------------------------------- the command
def receive(runtime: Runtime, app_key: str, message: Mapping[str, Any] | InboundMessage) -> Received:
    """Turn ``message`` into a ticket of ``app_key`` (or a comment on the ticket it answers), once.

    One transaction: the ticket or comment and the ``inbound_messages`` row commit together, so a
    delivery that fails leaves nothing and may be retried, and a second delivery gets the first's ticket.
    """
    msg = message if isinstance(message, InboundMessage) else parse_message(message)
    # The Runtime's internals (_app_row, _create, _record, _flow_work, _commit_work, _after_commit) share
    # its transaction here until it offers a hook: submit/comment taking extra events and a callback
    # run before commit.
    try:
        with runtime.db.write() as conn:
            known = _already(conn, msg)
            if known is not None:
                return known
            now = runtime.clock()
            app_id, version = runtime._app_row(conn, app_key)
            spec = runtime.spec_for(conn, app_id, version)
            actor, sender = _match_sender(conn, msg.sender)
            target = _answered_ticket(conn, app_id, msg)
            if target is None:
                entry = next((e for e in entries(spec) if e.takes(msg)), None)
                if entry is None:
                    shown = ", ".join(msg.to) or "-"
                    raise InboundError("inbound.no_mapping", app=app_key, channel=msg.channel, to=shown)
                tspec = spec.types[entry.ticket_type]  # the definition checks made sure it exists
                data = entry.data(msg.context(sender, now), _renamed(tspec))
                received = [("message_received", _received(msg, sender))]
                record_id, outbox = runtime._create(
                    conn, app_id, version, spec, tspec, data, actor, now, events=received
                )
            else:
                record_id, outbox = target, _comment(runtime, conn, target, msg, sender, actor, now)
            conn.execute(
                insert(IM).values(
                    channel=msg.channel, message_id=msg.message_id, record_id=record_id, received_at=now
                )
            )
            number = conn.execute(select(R.c.number).where(R.c.id == record_id)).scalar_one()
    except IntegrityError:  # a concurrent delivery of the same message committed first
        with runtime.db.read() as conn:
            known = _already(conn, msg)
        if known is None:
            raise
        return known
    runtime._after_commit(outbox)
    return Received(record_id, number, created=target is None, commented=target is not None)


def _received(msg: InboundMessage, sender: Sender) -> dict[str, Any]:
    """The ``message_received`` event: what rules on ``{message: CHANNEL}`` start from."""
    return {"channel": msg.channel, "message_id": msg.message_id, "sender": _who(sender)}


def _renamed(tspec: TypeSpec) -> dict[str, str]:
    fields = tspec.definition.form.fields
    keys = {f.key for f in fields}
    return {old: f.key for f in fields if (old := f.get("renamed_from")) and old not in keys}


def _already(conn: Connection, msg: InboundMessage) -> Received | None:
    row = conn.execute(
        select(IM.c.record_id, R.c.number)
        .join(R, R.c.id == IM.c.record_id)
        .where(IM.c.channel == msg.channel, IM.c.message_id == msg.message_id)
    ).first()
    return Received(row.record_id, row.number, created=False, commented=False) if row else None


def _comment(
    runtime: Runtime,
    conn: Connection,
    record_id: int,
    msg: InboundMessage,
    sender: Sender,
    actor: int | None,
    now: dt.datetime,
) -> list[int]:
    """What ``Runtime.comment`` does, in this transaction; the sender is kept when no user matched."""
    body = reply_text(msg.text) or msg.title
    rec = runtime._record(conn, record_id)
    work = runtime._flow_work(conn, rec, actor, now)
    via = {"channel": msg.channel, "message_id": msg.message_id}
    if actor is None:
        via["sender"] = _who(sender)
    work.events.append(("message_received", _received(msg, sender)))
    work.events.append(("comment_added", {"body": body, **via}))
    if actor is not None and actor != rec.created_by:
        for node_id in work.instance.tokens:
            sla.responded(work, node_id)
    _, outbox = runtime._commit_work(conn, work, rec)
    return outbox


def _who(sender: Sender) -> str:
    address = sender.email or sender.phone or sender.im_id
    if sender.name and address:
        return f"{sender.name} <{address}>"
    return sender.name or address or "-"


# ----------------------------------------------------------------------------- who and which ticket
def _match_sender(conn: Connection, sender: Sender) -> tuple[int | None, Sender]:
    """The one active user with the sender's email (any case), else mobile; the sender completed
    from that user's record. Two users sharing an address match nobody."""
    found: list[Any] = []
    if sender.email:
        found = conn.execute(
            select(U.c.id, U.c.display_name, U.c.email, U.c.phone).where(
                func.lower(U.c.email) == sender.email.strip().lower(), U.c.is_active.is_(True)
            )
        ).all()
    mobile = mainland_mobile(sender.phone)
    if not found and mobile:
        candidates = conn.execute(
            select(U.c.id, U.c.display_name, U.c.email, U.c.phone).where(
                U.c.phone.like(f"%{mobile[-4:]}"), U.c.is_active.is_(True)
            )
        ).all()
        found = [u for u in candidates if mainland_mobile(u.phone) == mobile]
    if len(found) != 1:
        return None, Sender(sender.name, sender.email, mobile or sender.phone, sender.im_id)
    user = found[0]
    return user.id, Sender(
        sender.name or user.display_name,
        sender.email or user.email,
        mobile or sender.phone or user.phone,
        sender.im_id,
    )


def _answered_ticket(conn: Connection, app_id: int, msg: InboundMessage) -> int | None:
    """The ticket of this app that ``msg`` replies to, if any: by the ids it answers (one we received,
    or a mail we sent about the ticket), else by a ``[NUMBER]`` in its subject or text."""
    ids = msg.thread_ids
    if ids:
        received = conn.execute(
            select(IM.c.record_id)
            .join(R, R.c.id == IM.c.record_id)
            .where(IM.c.message_id.in_(ids), R.c.app_id == app_id)
            .order_by(IM.c.id.desc())
            .limit(1)
        ).scalar()
        if received is not None:
            return received
        mailed = _mailed_ticket(conn, app_id, ids)
        if mailed is not None:
            return mailed
    numbers = list(dict.fromkeys(TICKET_NUMBER.findall(f"{msg.subject}\n{msg.text}")))[:20]
    if not numbers:
        return None
    rows = dict(
        conn.execute(select(R.c.number, R.c.id).where(R.c.number.in_(numbers), R.c.app_id == app_id)).all()
    )
    return next((rows[n] for n in numbers if n in rows), None)


def _mailed_ticket(conn: Connection, app_id: int, ids: Iterable[str]) -> int | None:
    """A Message-ID of a mail we sent names its ticket; it counts only when the digest in it is one of
    that ticket's mail outbox rows (so a made-up id cannot attach a message to any ticket)."""
    for mid in ids:
        match = MAILED_ID.fullmatch(mid.strip())
        if match is None:
            continue
        digest, record_id = match.group(1), int(match.group(2))
        keys = conn.execute(
            select(OB.c.idempotency_key)
            .join(R, R.c.id == OB.c.record_id)
            .where(OB.c.record_id == record_id, OB.c.channel == "email", R.c.app_id == app_id)
        ).scalars()
        if any(_digest(key) == digest for key in keys):
            return record_id
    return None


def _digest(idempotency_key: str) -> str:
    return mailed_message_id(idempotency_key, "")[1:33]


__all__ = [
    "CHANNELS",
    "MAX_BODY_BYTES",
    "InboundError",
    "InboundMessage",
    "Received",
    "Sender",
    "TooLarge",
    "html_text",
    "mainland_mobile",
    "parse_message",
    "receive",
    "reply_text",
]
