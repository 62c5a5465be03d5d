"""Delivery channels: a name mapped to one ``send`` function that delivers an outbox payload or raises.

A channel is called outside any database transaction, at least once per outbox row (the receiver
de-duplicates with the idempotency key). It raises :class:`DeliveryError` for a refused delivery;
any other exception counts as a temporary failure too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx

#: How much of a refusing answer is kept in ``outbox.last_error``.
ANSWER_EXCERPT = 200
#: 4xx answers that mean "try again later" rather than "this request will never work".
RETRYABLE_4XX = frozenset({408, 409, 425, 429})

Channel = Callable[[dict[str, Any], str, float], None]
CHANNELS: dict[str, Channel] = {}


@cache
def _http() -> httpx.Client:
    """One client for every webhook: keep-alive connections and one TLS context (thread-safe)."""
    return httpx.Client(follow_redirects=False)


class DeliveryError(Exception):
    """A delivery that did not happen; ``permanent`` ones are not retried (the row goes dead)."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def channel(name: str) -> Callable[[Channel], Channel]:
    """Register ``send(payload, idempotency_key, timeout)`` as the channel called ``name``."""

    def register(fn: Channel) -> Channel:
        CHANNELS[name] = fn
        return fn

    return register


def sign(body: bytes, secret: str) -> str:
    """The ``X-Gongdan-Signature`` value: HMAC-SHA256 of the exact body bytes, hex, ``sha256=`` prefixed."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@channel("webhook")
def send_webhook(payload: dict[str, Any], idempotency_key: str, timeout: float) -> None:
    """POST ``payload["body"]`` as JSON to ``payload["url"]``; 2xx is delivered, anything else raises."""
    body = json.dumps(payload["body"], ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "User-Agent": "Gongdan",
    }
    if payload.get("secret"):
        headers["X-Gongdan-Signature"] = sign(body, payload["secret"])
    try:
        answer = _http().post(payload["url"], content=body, headers=headers, timeout=timeout)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise DeliveryError(f"bad webhook URL: {exc}"[:ANSWER_EXCERPT], permanent=True) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:ANSWER_EXCERPT]) from exc
    if answer.is_success:
        return
    status = answer.status_code
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    raise DeliveryError(f"HTTP {status}: {answer.text[:ANSWER_EXCERPT]}", permanent=permanent)
