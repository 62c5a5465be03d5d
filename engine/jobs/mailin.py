"""Mail-in: an IMAP poller that turns the unread mails of a folder into tickets (or comments).

``GONGDAN_IMAP_URL`` names the mailbox, e.g. ``imaps://user:pass@host:993/INBOX?app=complaint`` (or
``imap+starttls://…:143/…``; several mailboxes: several URLs separated by spaces). On every tick of the
worker: log in, select the folder, ``UID SEARCH UNSEEN``, and for each mail (oldest first, at most
``BATCH``) fetch it with ``BODY.PEEK[]`` — which leaves it unread — hand it to
``engine.rules.inbound.receive``, and mark it ``\\Seen`` only after that command committed. A mail
whose command fails stays unread and is tried again next tick; automatic mail (auto-replies, bounces,
our own notifications) is marked read and skipped, so two robots never answer each other forever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import imaplib
import logging
import os
import re
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import engine.rules.inbound_messages  # noqa: F401  (the poller's messages)
from engine.config import mask_url
from engine.errors import GongdanError
from engine.jobs.queue import tick_handler
from engine.rules.inbound import receive
from engine.store.db import Database

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime import Runtime

log = logging.getLogger("gongdan.mailin")

IMAP_URL = "GONGDAN_IMAP_URL"
IMAP_SECURITY = {"imaps": ("tls", 993), "imap+starttls": ("starttls", 143)}
BATCH = 50  # mails taken per mailbox and tick; the rest wait for the next one
TIMEOUT_S = 30
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
#: Charsets Chinese mail is labelled with, read as their superset (GB2312 mail often holds GBK).
CHINESE = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030"}
#: Senders of automatic mail that must never become tickets (RFC 3834 and common practice).
BULK_PRECEDENCE = {"bulk", "junk", "auto_reply"}


class MailinError(GongdanError):
    """A mailbox that could not be read (address, login, folder, connection); its mails wait a tick."""

    code = "mailin.failed"


@dataclass(frozen=True, repr=False)
class Mailbox:
    """One ``GONGDAN_IMAP_URL``, parsed."""

    host: str
    port: int
    security: str  # tls | starttls
    user: str
    password: str
    folder: str
    app: str
    cafile: str | None = None
    url: str = ""

    @classmethod
    def parse(cls, url: str) -> Mailbox:
        def bad(reason: str) -> MailinError:
            return MailinError("mailin.bad_url", reason=reason)

        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise bad(str(exc)) from None
        if parts.scheme not in IMAP_SECURITY:
            raise bad(f"scheme {parts.scheme or '(none)'}; use imaps or imap+starttls")
        if not parts.hostname:
            raise bad("no host")
        if not parts.username or parts.password is None:
            raise bad("no user and password")
        query = dict(parse_qsl(parts.query))
        if not query.get("app"):
            raise bad("no app: add ?app=APP_KEY")
        security, default_port = IMAP_SECURITY[parts.scheme]
        return cls(
            host=parts.hostname,
            port=port or default_port,
            security=security,
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            app=query["app"],
            cafile=query.get("cafile"),
            url=url,
        )

    @property
    def name(self) -> str:
        return f"{self.user}@{self.host}/{self.folder}"

    def __repr__(self) -> str:
        return f"Mailbox({mask_url(self.url)})"


@dataclass
class Polled:
    """What one poll of a mailbox did."""

    created: int = 0
    commented: int = 0
    duplicates: int = 0
    ignored: int = 0  # automatic mail, marked read
    failed: int = 0  # left unread, tried again next tick


def mailboxes(env: dict[str, str] | None = None) -> list[Mailbox]:
    """The mailboxes ``GONGDAN_IMAP_URL`` names (none when it is unset)."""
    value = (os.environ if env is None else env).get(IMAP_URL) or ""
    return [Mailbox.parse(url) for url in value.split()]


@tick_handler
def poll_mailboxes(db: Database, now: dt.datetime) -> int:
    """The worker's tick: poll every configured mailbox; one that fails does not stop the others."""
    from engine.runtime import Runtime

    boxes = mailboxes()
    if not boxes:
        return 0
    runtime = Runtime.for_database(db)
    taken = 0
    for box in boxes:
        try:
            polled = poll(runtime, box)
        except MailinError as exc:
            log.warning("%s", exc.message("en"))
            continue
        taken += polled.created + polled.commented
    return taken


def poll(runtime: Runtime, box: Mailbox, limit: int = BATCH) -> Polled:
    """Take the unread mails of ``box`` (at most ``limit``) into tickets; mark each read once committed."""
    polled = Polled()
    conn = _connect(box)
    try:
        _step(box, "login", conn.login, _quoted(box.user), box.password)
        _step(box, "select", conn.select, _quoted(box.folder))
        found = _step(box, "search", conn.uid, "SEARCH", "UNSEEN")
        uids = (found[0] or b"").split() if found else []
        for uid in uids[:limit]:
            fetched = _step(box, "fetch", conn.uid, "FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
            if raw is None:
                polled.failed += 1
                continue
            if _take(runtime, box, uid, raw, polled):
                _step(box, "store", conn.uid, "STORE", uid, "+FLAGS", "(\\Seen)")
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    return polled


def _take(runtime: Runtime, box: Mailbox, uid: bytes, raw: bytes, polled: Polled) -> bool:
    """Receive one mail; True when it may be marked read (taken, a duplicate, or automatic)."""
    msg = message_from_bytes(raw, policy=policy.default)
    reason = automatic(msg)
    if reason:
        log.info("mail %s in %s skipped: %s", uid.decode(), box.name, reason)
        polled.ignored += 1
        return True
    try:
        received = receive(runtime, box.app, mail_message(msg, raw))
    except (GongdanError, ValueError, LookupError) as exc:  # refused, or MIME beyond reading
        render = exc.render("en") if isinstance(exc, GongdanError) else f"{type(exc).__name__}: {exc}"
        log.warning("mail %s in %s stays unread: %s", uid.decode(), box.name, render)
        polled.failed += 1
        return False
    if received.created:
        polled.created += 1
    elif received.commented:
        polled.commented += 1
    else:
        polled.duplicates += 1
    return True


def _connect(box: Mailbox) -> imaplib.IMAP4:
    context = ssl.create_default_context(cafile=box.cafile)
    try:
        if box.security == "tls":
            return imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=TIMEOUT_S)
        conn = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT_S)
        conn.starttls(ssl_context=context)
        return conn
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailinError(mailbox=box.name, step="connect", reason=f"{type(exc).__name__}: {exc}") from None


def _step(box: Mailbox, step: str, command: Any, *args: Any) -> list[Any]:
    """One IMAP command; a NO or BAD answer, or a broken connection, is a MailinError naming the step."""
    try:
        typ, data = command(*args)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailinError(mailbox=box.name, step=step, reason=f"{type(exc).__name__}: {exc}") from None
    if typ != "OK":
        said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailinError(mailbox=box.name, step=step, reason=f"{typ} {said}"[:300])
    return data


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ----------------------------------------------------------------------------- reading a mail
def automatic(msg: EmailMessage) -> str | None:
    """Why ``msg`` is automatic mail that must not become a ticket, or None for a person's mail."""
    if msg["X-Gongdan-Idempotency-Key"]:
        return "one of our own notifications"
    auto = str(msg["Auto-Submitted"] or "no").strip().lower()
    if auto != "no":
        return f"Auto-Submitted: {auto}"
    if msg.get_content_type() == "multipart/report":
        return "a delivery report"
    if str(msg["Precedence"] or "").strip().lower() in BULK_PRECEDENCE:
        return f"Precedence: {msg['Precedence']}"
    return None


def mail_message(msg: EmailMessage, raw: bytes) -> dict[str, Any]:
    """A parsed mail as an inbound message: decoded subject and sender, text/plain preferred (HTML
    otherwise, sanitised by ``receive``), the ids it answers. A mail without a Message-ID gets one from
    its bytes, so a second delivery of it is still recognised."""
    name, address = parseaddr(_header(msg, "From"))
    text, html = _bodies(msg)
    recipients = [
        a for _, a in getaddresses([_header(msg, h) for h in ("To", "Cc", "Delivered-To", "X-Original-To")])
    ]
    own_id = _ids(_header(msg, "Message-ID"))
    return {
        "channel": "email",
        "message_id": own_id[0] if own_id else f"<{hashlib.sha256(raw).hexdigest()[:40]}@mailin.gongdan>",
        "sender": {"name": name or None, "email": address or None},
        "to": [a for a in dict.fromkeys(recipients) if a],
        "subject": _header(msg, "Subject"),
        "text": text,
        "html": html,
        "in_reply_to": next(iter(_ids(_header(msg, "In-Reply-To"))), None),
        "references": _ids(_header(msg, "References")),
        "received_at": _date(_header(msg, "Date")),
    }


def _header(msg: EmailMessage, name: str) -> str:
    """A header decoded (RFC 2047 words in any charset; raw 8-bit GBK headers read as GB18030)."""
    try:
        value = msg[name]
    except (HeaderParseError, ValueError, IndexError, LookupError):  # beyond repair: read as empty
        return ""
    text = "" if value is None else str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # undecodable bytes kept as surrogates
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", "replace")
    return " ".join(text.split())


def _bodies(msg: EmailMessage) -> tuple[str | None, str | None]:
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        return _part_text(plain), None
    rich = msg.get_body(preferencelist=("html",))
    return None, _part_text(rich) if rich is not None else None


def _part_text(part: Any) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = (part.get_content_charset() or "utf-8").lower()
    try:
        return payload.decode(CHINESE.get(charset, charset), "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", "replace")


def _ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value)


def _date(value: str) -> str | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.isoformat() if moment is not None else None
