"""The ``call`` action's delivery: an HTTP API called from the outbox, its JSON answer mapped
into the ticket's fields by a follow-up command (the rule's ``map``: field → expression over
``response``). A CRM lookup therefore never holds a ticket's transaction open."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from engine.errors import GongdanError
from engine.expressions import ExprError, compile_expr
from engine.jobs.channels import DeliveryError, channel, fill_secrets, header_key
from engine.jobs.outbox import AFTER_DELIVERY
from engine.store.db import Database

log = logging.getLogger("gongdan.rules")
MAX_ANSWER = 1_000_000  # bytes of an API's answer we read at most


@channel("call")
def send_call(payload: dict[str, Any], idempotency_key: str, timeout: float) -> Any:
    from engine.jobs import outbound  # the SSRF guard: no private or metadata addresses

    try:
        answer = outbound.safe_http_request(
            payload.get("method", "GET"),
            payload["url"],
            params=_with_url_query(payload["url"], payload.get("query")),
            json=payload.get("body"),
            headers={
                **{k: fill_secrets(str(v)) for k, v in (payload.get("headers") or {}).items()},
                "Idempotency-Key": header_key(idempotency_key),
            },
            timeout=min(float(payload.get("timeout_s") or timeout), timeout),
            max_bytes=MAX_ANSWER,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    status, body = answer
    if status >= 500 or status == 429:
        raise DeliveryError(f"HTTP {status}")
    if status >= 400:
        raise DeliveryError(f"HTTP {status}", permanent=True)
    try:
        return json.loads(body) if body else None
    except ValueError:
        raise DeliveryError("the answer is not JSON", permanent=True) from None


def _with_url_query(url: str, query: dict[str, Any] | None) -> Any:
    """The call's ``query`` added to the parameters its URL already has (httpx would replace them)."""
    if not query:
        return None
    try:
        return httpx.URL(url).params.merge(query)
    except (httpx.InvalidURL, TypeError, ValueError):
        return query  # the request names the bad URL


def apply_answer(db: Database, row: Any, answer: Any) -> None:
    """Set the fields the rule maps from the answer, as a system command on the ticket."""
    from engine.runtime import Runtime

    payload = row.payload
    mapping = payload.get("map") or {}
    record_id = payload.get("record_id")
    if not mapping or record_id is None:
        return
    runtime = Runtime.for_database(db)
    ctx = {"response": answer}
    try:
        values = {key: compile_expr(str(source))(ctx) for key, source in mapping.items()}
        runtime.update(record_id, values, actor=None)
    except (ExprError, GongdanError) as exc:
        log.warning("call answer for ticket %s could not be applied: %s", record_id, exc.message("en"))
        runtime.record_flow_error(
            record_id, exc, {"call": payload.get("url"), **(payload.get("origin") or {})}
        )


AFTER_DELIVERY["call"] = apply_answer
