"""Delivery channels: a name mapped to one ``send`` function that delivers an outbox payload or raises.

A channel is called outside any database transaction, at least once per outbox row (the receiver
de-duplicates with the idempotency key). It raises :class:`DeliveryError` for a refused delivery;
any other exception counts as a temporary failure too (logged with its URLs masked).

Channels: ``webhook`` (signed JSON POST), ``email`` (SMTP), ``sms`` (a JSON gateway or Aliyun),
``dingtalk``/``wecom``/``feishu`` (group robots, as message cards with a link to the ticket) and
``admin`` (flow errors, mailed to the active admins). Their addresses are read at send time through
engine.channel_settings.channel_url: an admin's setting first, else the environment (engine.config;
docs/channels.md); every HTTP call goes through the outbound guard.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

from engine.channel_settings import channel_url, hook_secret
from engine.config import HOOK_PREFIX, MASK, ROBOT_PREFIX, SECRET_PLACEHOLDER, Settings, load_settings, redact
from engine.i18n import Message, current_lang, t, text_of
from engine.im_cards import build_card
from engine.jobs.outbound import (
    ANSWER_EXCERPT,
    RETRYABLE_4XX,
    DeliveryError,
    OutboundResponse,
    http_failure,
    safe_http_request,
)

__all__ = ["ANSWER_EXCERPT", "CHANNELS", "RETRYABLE_4XX", "DeliveryError", "channel", "sign"]

log = logging.getLogger("gongdan.jobs")

Channel = Callable[[dict[str, Any], str, float], Any]
CHANNELS: dict[str, Channel] = {}


def channel(name: str) -> Callable[[Channel], Channel]:
    """Register ``send(payload, idempotency_key, timeout)`` as the channel called ``name``.

    An unexpected exception becomes a temporary DeliveryError whose text (and the logged traceback)
    has every URL masked: channel URLs carry tokens and keys.
    """

    def register(fn: Channel) -> Channel:
        @functools.wraps(fn)
        def send(payload: dict[str, Any], idempotency_key: str, timeout: float) -> Any:
            filled: list[str] = []  # the secrets filled in below: masked wherever an error shows them
            token = _FILLED.set(filled)
            try:
                return fn(with_secrets(name, payload, filled), idempotency_key, timeout)
            except DeliveryError as exc:
                if filled:
                    clean = exc.scrubbed(lambda text: scrub(text, filled))
                    if (clean.reason, clean.params) != (exc.reason, exc.params):
                        raise clean from None
                raise
            except Exception as exc:
                trace = scrub("".join(traceback.format_exception(exc)), filled)
                log.error("channel %s crashed:\n%s", name, redact(trace))
                raise DeliveryError(scrub(f"{type(exc).__name__}: {exc}", filled)) from None
            finally:
                _FILLED.reset(token)

        CHANNELS[name] = send
        return send

    return register


def sign(body: bytes, secret: str) -> str:
    """The ``X-Gongdan-Signature`` value: HMAC-SHA256 of the exact body bytes, hex, ``sha256=`` prefixed."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def header_key(key: str) -> str:
    """An idempotency key as an HTTP header can carry it (ASCII): characters outside printable ASCII,
    such as a Chinese rule name in the key, percent-encoded — the same key always gives the same
    header, so the receiver still recognises a repeat."""
    return "".join(c if " " <= c <= "~" else quote(c, safe="") for c in key)


def _post_json(
    url: str, body: bytes, idempotency_key: str, timeout: float, **headers: str
) -> OutboundResponse:
    """POST JSON through the guard (a delivery follows no redirect); a non-2xx answer raises."""
    answer = safe_http_request(
        "POST",
        url,
        content=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": header_key(idempotency_key),
            "User-Agent": "Gongdan",
            **headers,
        },
        timeout=timeout,
        max_redirects=0,
    )
    if not answer.is_success:
        raise http_failure(answer.status, answer.body)
    return answer


def _fragment_params(url: str) -> tuple[str, dict[str, str]]:
    """``https://x/y#secret=…&token=…`` → (``https://x/y``, {secret, token}): where URLs keep secrets."""
    base, _, fragment = url.partition("#")
    return base, dict(parse_qsl(fragment, keep_blank_values=True))


# ----------------------------------------------------------------------------- secrets of definitions
def stored_secret(name: str, missing: str = "channel.secret_missing") -> str:
    """The secret a definition names (``secret_ref: name``, ``${secrets.name}``), read now from the
    write-only store (engine.channel_settings.hook_secret); a permanent DeliveryError ``missing``
    when none is set, so nothing goes out without it."""
    secret = hook_secret(None, load_settings(), name)
    if not secret:
        raise DeliveryError.of(missing, True, name=name, env=HOOK_PREFIX + name.upper())
    return secret


def fill_secrets(text: str, filled: list[str] | None = None, escape: Callable[[str], str] = str) -> str:
    """``text`` with each ``${secrets.name}`` replaced by that stored secret (see stored_secret), passed
    through ``escape`` (percent-encoding in a URL); each secret used is appended to ``filled``."""

    def one(match: re.Match[str]) -> str:
        secret = stored_secret(match.group(1))
        if filled is not None:
            filled.append(secret)
        return escape(secret)

    return SECRET_PLACEHOLDER.sub(one, text)


def fill_url_secrets(url: str, filled: list[str] | None = None) -> str:
    """``url`` with its ``${secrets.name}`` (a query value, ``user:${secrets.x}@``) filled in, encoded."""
    return fill_secrets(url, filled, lambda secret: quote(secret, safe=""))


def fill_secrets_in(value: Any, filled: list[str] | None = None) -> Any:
    """A copy of JSON-shaped ``value`` (a query mapping, a body) with every text's placeholders filled in."""
    if isinstance(value, str):
        return fill_secrets(value, filled)
    if isinstance(value, Mapping):
        return {key: fill_secrets_in(item, filled) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill_secrets_in(item, filled) for item in value]
    return value


#: The parts of a channel's payload where a definition may name stored secrets (``${secrets.name}``)
#: (a URL's query values and userinfo, a call's query values, body texts and headers): filled in by
#: :func:`channel`'s wrapper just before sending, on a copy — the outbox row, its events and the
#: definition keep the placeholders; a secret set nowhere is a permanent DeliveryError (a dead letter).
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"call": ("url", "query", "body", "headers"), "webhook": ("url",)}
#: The secrets filled in for the delivery running now, masked in what httpx logs of its request line.
_FILLED: ContextVar[list[str] | None] = ContextVar("gongdan_filled_secrets", default=None)


def with_secrets(channel_name: str, payload: dict[str, Any], filled: list[str]) -> dict[str, Any]:
    """The payload to send: ``payload`` itself, or a copy with the SECRET_FIELDS' placeholders filled in."""
    wanted = [key for key in SECRET_FIELDS.get(channel_name, ()) if payload.get(key) is not None]
    if not any("${secrets." in json.dumps(payload[key], default=str) for key in wanted):
        return payload
    copy = dict(payload)
    for key in wanted:
        copy[key] = (
            fill_url_secrets(payload[key], filled)
            if key == "url" and isinstance(payload[key], str)
            else fill_secrets_in(payload[key], filled)
        )
    return copy


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (as written, percent- or form-encoded) replaced by ``***``
    (secrets shorter than 4 characters are left: masking them would garble the text, not hide much)."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, MASK)
    return text


class _ScrubFilled(logging.Filter):
    """httpx logs each request line with its full URL: mask the secrets this delivery filled into it."""

    def filter(self, record: logging.LogRecord) -> bool:
        filled = _FILLED.get()
        if filled:
            record.msg, record.args = scrub(record.getMessage(), filled), ()
        return True


logging.getLogger("httpx").addFilter(_ScrubFilled())


# ----------------------------------------------------------------------------- webhook
@channel("webhook")
def send_webhook(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    """POST ``payload["body"]`` as JSON to ``payload["url"]`` (or the ``webhook+`` robot the payload
    names); 2xx is delivered, anything else raises. A row naming a secret (``secret_ref``) is signed
    with the one stored now (engine.channel_settings.hook_secret); none stored → dead, never unsigned.
    A ``secret`` in the payload is honoured only for rows queued before definitions lost theirs."""
    url, secret = payload.get("url"), payload.get("secret")
    ref = payload.get("secret_ref")
    if ref:
        secret = stored_secret(str(ref), "channel.hook_secret_missing")
    if not url:
        robot = robot_config(str(payload.get("robot") or "webhook"), "webhook")
        url, secret = robot.url, robot.secret
    body = _json_bytes(payload["body"])
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Gongdan-Signature"] = sign(body, secret)
    _post_json(url, body, idempotency_key, timeout, **headers)


# ----------------------------------------------------------------------------- email
SMTP_SECURITY = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True, repr=False)
class SmtpConfig:
    """GONGDAN_SMTP_URL, parsed: ``smtp+starttls://user:pass@host:587?from=noreply@x.cn``."""

    host: str
    port: int
    security: str  # plain | starttls | tls
    user: str | None
    password: str | None
    sender: str
    cafile: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        def bad(reason: str) -> DeliveryError:
            return DeliveryError.of("channel.smtp_bad_url", True, reason=reason)

        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise bad(str(exc)) from None
        if parts.scheme not in SMTP_SECURITY:
            raise bad(f"scheme {parts.scheme or '(none)'}; use smtp, smtp+starttls or smtps")
        if not parts.hostname:
            raise bad("no host")
        security, default_port = SMTP_SECURITY[parts.scheme]
        query = dict(parse_qsl(parts.query))
        user = unquote(parts.username) if parts.username else None
        sender = query.get("from") or (user if user and "@" in user else None)
        if not sender:
            raise bad("no sender: add ?from=noreply@your.domain")
        return cls(
            host=parts.hostname,
            port=port or default_port,
            security=security,
            user=user,
            password=unquote(parts.password) if parts.password is not None else None,
            sender=sender,
            cafile=query.get("cafile"),
        )

    def __repr__(self) -> str:
        return f"SmtpConfig({self.security}://{self.user or ''}@{self.host}:{self.port}, from={self.sender})"


def smtp_config(settings: Settings | None = None) -> SmtpConfig:
    url = channel_url(None, settings or load_settings(), "smtp")
    if not url:
        raise DeliveryError.of("channel.smtp_not_configured", True)
    return SmtpConfig.parse(url)


def message_id(idempotency_key: str, sender: str) -> str:
    """The Message-ID of the mail of an outbox row: the same on every attempt, so a resent copy is
    recognisable (and mail systems that de-duplicate by Message-ID drop it)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "gongdan.local"
    return f"<{digest}.gongdan@{domain}>"


def _mail(
    cfg: SmtpConfig, to: list[str], subject: str, text: str, html: str | None, idempotency_key: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(idempotency_key, cfg.sender)
    msg["X-Gongdan-Idempotency-Key"] = idempotency_key
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text or subject)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def _smtp_refusal(code: int, reason: Any) -> DeliveryError:
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return DeliveryError.of(
        "channel.smtp_refused", 500 <= code < 600, code=code, reason=text[:ANSWER_EXCERPT]
    )


def deliver_mail(cfg: SmtpConfig, msg: EmailMessage, to: list[str], timeout: float) -> None:
    """Hand ``msg`` to the SMTP server: 5xx refusals are permanent, 4xx and connection trouble retried."""
    context = ssl.create_default_context(cafile=cfg.cafile)
    try:
        if cfg.security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        with server:
            if cfg.security == "starttls":
                server.starttls(context=context)
            if cfg.user and cfg.password is not None:
                server.login(cfg.user, cfg.password)
            refused = server.send_message(msg, from_addr=cfg.sender, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        answers = list(exc.recipients.values())
        code, reason = next((a for a in answers if a[0] < 500), answers[0])  # any 4xx: worth a retry
        raise _smtp_refusal(code, reason) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError.of("channel.smtp_unsupported", True, reason=str(exc)) from None
    except smtplib.SMTPResponseException as exc:
        raise _smtp_refusal(exc.smtp_code, exc.smtp_error) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError.of("channel.smtp_failed", False, reason=f"{type(exc).__name__}: {exc}") from None
    if refused:
        log.warning("mail %s: some recipients were refused: %s", msg["Message-ID"], sorted(refused))


def _no_address(payload: Mapping[str, Any], what: str) -> DeliveryError:
    names = ", ".join(payload.get("unreachable") or []) or "-"
    return DeliveryError.of(
        "channel.no_address", True, names=names, what=Message(f"channel.no_address.{what}", {})
    )


@channel("email")
def send_email(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    """``{to: [addresses], subject, text, html, link}`` as one multipart (text + HTML) mail."""
    to = [a for a in payload.get("to") or () if a]
    if not to:
        raise _no_address(payload, "email")
    cfg = smtp_config()
    msg = _mail(
        cfg, to, payload.get("subject") or "", payload.get("text") or "", payload.get("html"), idempotency_key
    )
    deliver_mail(cfg, msg, to, timeout)


# ----------------------------------------------------------------------------- admin
def _admin_addresses(database_url: str) -> list[tuple[str, str]]:
    """(email, language) of every active admin with an address."""
    from sqlalchemy import select
    from sqlalchemy.pool import NullPool

    from engine.store.db import make_engine
    from engine.store.models import User

    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(User.email, User.lang)
                .where(User.is_admin.is_(True), User.is_active.is_(True))
                .order_by(User.id)
            ).all()
    finally:
        engine.dispose()
    return [(row.email, current_lang(row.lang)) for row in rows if row.email]


@channel("admin")
def send_admin(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    """A flow error for the admins (queued by FlowCommands._log_flow_error): mailed to every active
    admin in their language when SMTP is configured, else written to the log (and so delivered)."""
    settings = load_settings()
    ticket, code, message = payload.get("ticket"), payload.get("code"), payload.get("message") or {}
    where = ", ".join(f"{k}={v}" for k, v in payload.items() if k not in ("ticket", "code", "message")) or "-"
    admins = _admin_addresses(settings.database_url) if channel_url(None, settings, "smtp") else []
    if not admins:
        log.warning("flow error on ticket %s (%s) at %s: %s", ticket, code, where, text_of(message, "en"))
        return
    cfg = smtp_config(settings)
    by_lang: dict[str, list[str]] = {}
    for address, lang in admins:
        by_lang.setdefault(lang, []).append(address)
    for lang, to in sorted(by_lang.items()):
        subject = t("channel.admin_subject", lang, ticket=ticket, code=code)
        body = t("channel.admin_body", lang, ticket=ticket, message=text_of(message, lang), where=where)
        deliver_mail(cfg, _mail(cfg, to, subject, body, None, f"{idempotency_key}:{lang}"), to, timeout)


# ----------------------------------------------------------------------------- SMS
@dataclass(frozen=True, repr=False)
class SmsGateway:
    """GONGDAN_SMS_URL, parsed: a generic JSON gateway (``https://…#secret=…&token=…``) or Aliyun
    (``aliyun://AccessKeyId:AccessKeySecret@dysmsapi.aliyuncs.com?sign_name=…&template_code=…``)."""

    kind: str  # http | aliyun
    url: str  # the gateway's URL (for Aliyun: the endpoint, https:// or, for a test double, http://)
    secret: str | None = None
    token: str | None = None
    access_key_id: str = ""
    access_key_secret: str = ""
    sign_name: str = ""
    template_code: str = ""
    param: str = "content"
    region: str = "cn-hangzhou"

    @classmethod
    def parse(cls, url: str) -> SmsGateway:
        def bad(reason: str) -> DeliveryError:
            return DeliveryError.of("channel.sms_bad_url", True, reason=reason)

        base, fragment = _fragment_params(url)
        try:
            parts = urlsplit(base)
        except ValueError as exc:
            raise bad(str(exc)) from None
        if parts.scheme in ("http", "https"):
            return cls("http", base, secret=fragment.get("secret"), token=fragment.get("token"))
        if parts.scheme not in ("aliyun", "aliyun+https", "aliyun+http"):
            raise bad(f"scheme {parts.scheme or '(none)'}; use https:// or aliyun://")
        query = dict(parse_qsl(parts.query))
        if not (parts.username and parts.password and parts.hostname):
            raise bad("write aliyun://AccessKeyId:AccessKeySecret@dysmsapi.aliyuncs.com")
        missing = [k for k in ("sign_name", "template_code") if not query.get(k)]
        if missing:
            raise bad("missing " + ", ".join(missing))
        scheme = "http" if parts.scheme == "aliyun+http" else "https"
        port = f":{parts.port}" if parts.port else ""
        return cls(
            "aliyun",
            f"{scheme}://{parts.hostname}{port}/",
            access_key_id=unquote(parts.username),
            access_key_secret=unquote(parts.password),
            sign_name=query["sign_name"],
            template_code=query["template_code"],
            param=query.get("param") or "content",
            region=query.get("region") or "cn-hangzhou",
        )


def aliyun_percent(value: str) -> str:
    """Percent-encoding as Aliyun's RPC signature specifies: RFC 3986 (only A-Z a-z 0-9 - _ . ~ kept,
    UTF-8, space as %20, * as %2A)."""
    return quote(value, safe="~")


def aliyun_signature(params: Mapping[str, str], access_key_secret: str, method: str = "GET") -> str:
    """Aliyun RPC signature v1: Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)) where
    StringToSign = METHOD & %2F & percent(sorted, percent-encoded ``k=v`` joined with ``&``)."""
    canonical = "&".join(f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(canonical)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


#: Aliyun codes worth another try (throttling, their side failing); any other non-OK code is final.
ALIYUN_RETRY = (
    "isp.SYSTEM_ERROR",
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling",
    "ServiceUnavailable",
    "InternalError",
)


def _aliyun_send(gw: SmsGateway, to: list[str], text: str, idempotency_key: str, timeout: float) -> None:
    params = {
        "AccessKeyId": gw.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "OutId": idempotency_key[:256],
        "PhoneNumbers": ",".join(to),
        "RegionId": gw.region,
        "SignName": gw.sign_name,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "TemplateCode": gw.template_code,
        "TemplateParam": json.dumps({gw.param: text}, ensure_ascii=False, separators=(",", ":")),
        "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
    }
    signature = aliyun_signature(params, gw.access_key_secret)
    query = f"Signature={aliyun_percent(signature)}&" + "&".join(
        f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in params.items()
    )
    answer = safe_http_request("GET", f"{gw.url}?{query}", timeout=timeout, max_redirects=0)
    try:
        data = json.loads(answer.body)
        code = str(data["Code"])
    except (ValueError, KeyError, TypeError):
        if not answer.is_success:
            raise http_failure(answer.status, answer.body) from None
        raise DeliveryError.of(
            "channel.bad_answer", True, vendor="Aliyun SMS", answer=answer.text[:ANSWER_EXCERPT]
        ) from None
    if code != "OK":
        raise DeliveryError.of(
            "channel.vendor_refused",
            not code.startswith(ALIYUN_RETRY),
            vendor="Aliyun SMS",
            code=code,
            message=str(data.get("Message", ""))[:ANSWER_EXCERPT],
        )


@channel("sms")
def send_sms(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    """``{to: [phones], text}`` through GONGDAN_SMS_URL: a JSON gateway or Aliyun SendSms."""
    to = [p for p in payload.get("to") or () if p]
    if not to:
        raise _no_address(payload, "phone")
    url = channel_url(None, load_settings(), "sms")
    if not url:
        raise DeliveryError.of("channel.sms_not_configured", True)
    gw = SmsGateway.parse(url)
    text = str(payload.get("text") or "")
    if gw.kind == "aliyun":
        _aliyun_send(gw, to, text, idempotency_key, timeout)
        return
    body = _json_bytes({"to": to, "text": text, "idempotency_key": idempotency_key})
    headers = {}
    if gw.secret:
        headers["X-Gongdan-Signature"] = sign(body, gw.secret)
    if gw.token:
        headers["Authorization"] = f"Bearer {gw.token}"
    _post_json(gw.url, body, idempotency_key, timeout, **headers)


# ----------------------------------------------------------------------------- IM robots
ROBOT_KINDS = {
    "dingtalk": "dingtalk",
    "wecom": "wecom",
    "feishu": "feishu",
    "lark": "feishu",
    "webhook": "webhook",
}


@dataclass(frozen=True, repr=False)
class RobotConfig:
    """One ``GONGDAN_ROBOT_<NAME>=kind+https://…#secret=…``."""

    name: str
    kind: str
    url: str
    secret: str | None

    def __repr__(self) -> str:
        return f"RobotConfig({self.name}, {self.kind}, {redact(self.url)})"


def robot_config(name: str, channel_name: str) -> RobotConfig:
    """The robot called ``name``, which must be of the channel's kind."""
    raw = channel_url(None, load_settings(), "robot." + name.lower())
    if not raw:
        raise DeliveryError.of(
            "channel.robot_not_configured", True, robot=name, env=ROBOT_PREFIX + name.upper()
        )
    prefix, plus, rest = raw.partition("+")
    kind = ROBOT_KINDS.get(prefix.lower()) if plus else None
    if kind is None:
        raise DeliveryError.of("channel.robot_bad_url", True, robot=name, reason=f"unknown kind {prefix!r}")
    url, fragment = _fragment_params(rest)
    if not url.startswith(("https://", "http://")):
        raise DeliveryError.of("channel.robot_bad_url", True, robot=name, reason="not an http(s) URL")
    if kind != channel_name:
        raise DeliveryError.of("channel.robot_wrong_kind", True, robot=name, kind=kind, channel=channel_name)
    return RobotConfig(name, kind, url, fragment.get("secret") or None)


def dingtalk_sign(timestamp_ms: int | str, secret: str) -> str:
    """DingTalk's robot signature: Base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(timestamp_s: int | str, secret: str) -> str:
    """Feishu/Lark's robot signature: Base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _vendor_answer(vendor: str, answer: OutboundResponse, keys: Iterable[str], retry: Iterable[int]) -> None:
    """A robot's JSON answer: code 0 is delivered; a listed code is retried, any other is final."""
    try:
        data = json.loads(answer.body)
        key = next(k for k in keys if k in data)
        code = int(data[key])
    except (ValueError, StopIteration, TypeError):
        raise DeliveryError.of(
            "channel.bad_answer", True, vendor=vendor, answer=answer.text[:ANSWER_EXCERPT]
        ) from None
    if code != 0:
        message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
        raise DeliveryError.of(
            "channel.vendor_refused",
            code not in retry,
            vendor=vendor,
            code=code,
            message=str(message)[:ANSWER_EXCERPT],
        )


def _button(payload: Mapping[str, Any]) -> str:
    return t("channel.open_ticket", payload.get("lang"))


def dingtalk_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An actionCard with a button to the ticket; markdown with ``at`` when people are @-mentioned
    (DingTalk shows mentions in text and markdown messages only)."""
    card = build_card("dingtalk", payload)  # an interactive card (``card: approval``; engine/im_cards.py)
    if card is not None:
        return card
    title, text, link = str(payload.get("title") or ""), str(payload.get("text") or ""), payload.get("link")
    mobiles = list(payload.get("at_mobiles") or ())
    if mobiles or not link:
        body = f"### {title}\n\n{text}"
        if link:
            body += f"\n\n[{_button(payload)}]({link})"
        if mobiles:
            body += "\n\n" + " ".join(f"@{m}" for m in mobiles)
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": body},
            "at": {"atMobiles": mobiles, "isAtAll": False},
        }
    return {
        "msgtype": "actionCard",
        "actionCard": {
            "title": title,
            "text": f"### {title}\n\n{text}",
            "btnOrientation": "0",
            "singleTitle": _button(payload),
            "singleURL": link,
        },
    }


DINGTALK_RETRY = (-1, 130101)  # system busy; sending too fast


@channel("dingtalk")
def send_dingtalk(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    robot = robot_config(str(payload.get("robot") or "dingtalk"), "dingtalk")
    url = robot.url
    if robot.secret:
        timestamp = int(time.time() * 1000)
        signed = urlencode({"timestamp": timestamp, "sign": dingtalk_sign(timestamp, robot.secret)})
        url += ("&" if "?" in url else "?") + signed
    answer = _post_json(url, _json_bytes(dingtalk_message(payload)), idempotency_key, timeout)
    _vendor_answer("DingTalk", answer, ("errcode",), DINGTALK_RETRY)


def wecom_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Markdown with a link to the ticket; a text message when people are @-mentioned by phone
    (WeCom mentions by phone only in text messages)."""
    card = build_card("wecom", payload)  # an interactive card (``card: approval``; engine/im_cards.py)
    if card is not None:
        return card
    title, text, link = str(payload.get("title") or ""), str(payload.get("text") or ""), payload.get("link")
    mobiles = list(payload.get("at_mobiles") or ())
    if mobiles:
        content = f"{title}\n{text}" + (f"\n{_button(payload)}: {link}" if link else "")
        return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}}
    content = f"**{title}**\n{text}" + (f"\n[{_button(payload)}]({link})" if link else "")
    return {"msgtype": "markdown", "markdown": {"content": content}}


WECOM_RETRY = (-1, 45009, 45033)  # system busy; API frequency limits


@channel("wecom")
def send_wecom(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    robot = robot_config(str(payload.get("robot") or "wecom"), "wecom")
    answer = _post_json(robot.url, _json_bytes(wecom_message(payload)), idempotency_key, timeout)
    _vendor_answer("WeCom", answer, ("errcode",), WECOM_RETRY)


def feishu_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An interactive card: the title as header, the text as lark_md, a button to the ticket."""
    card = build_card("feishu", payload)  # an interactive card (``card: approval``; engine/im_cards.py)
    if card is not None:
        return card
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": str(payload.get("text") or "")}}
    ]
    if payload.get("link"):
        button = {
            "tag": "button",
            "text": {"tag": "plain_text", "content": _button(payload)},
            "type": "primary",
            "url": payload["link"],
        }
        elements.append({"tag": "action", "actions": [button]})
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": str(payload.get("title") or "")},
                "template": "blue",
            },
            "elements": elements,
        },
    }


FEISHU_RETRY = (11232, 11233)  # frequency limits


@channel("feishu")
def send_feishu(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    robot = robot_config(str(payload.get("robot") or "feishu"), "feishu")
    message = feishu_card(payload)
    if robot.secret:
        timestamp = int(time.time())
        message = {"timestamp": str(timestamp), "sign": feishu_sign(timestamp, robot.secret), **message}
    answer = _post_json(robot.url, _json_bytes(message), idempotency_key, timeout)
    _vendor_answer("Feishu", answer, ("code", "StatusCode"), FEISHU_RETRY)
