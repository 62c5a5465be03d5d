"""Rules before they go live: a dry run on a new or existing ticket and a replay over past
tickets (both write nothing); and the inbound message webhooks, documented here (their views
live in server/inbound.py because they authenticate by signature, not by user)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify

from engine.access import can_see
from engine.errors import NotFoundError
from engine.rules.inbound import CHANNELS
from server.api.core import OPERATIONS, Operation, api
from server.app import platform
from server.auth import current

_DEFINITION = {
    "type": "object",
    "description": "A changed app definition whose rules to try instead of the running ones.",
}
DRY_RUN_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "data": {
            "type": "object",
            "description": "Form data of a new ticket, or the change to an existing one.",
        },
        "ticket_id": {"type": "integer", "minimum": 1, "description": "Try on this existing ticket."},
        "definition": _DEFINITION,
    },
}
DRY_RUN_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["ticket", "events", "rule_runs", "outbox"],
    "properties": {
        "ticket": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "rule_runs": {"type": "array", "items": {"type": "object"}},
        "outbox": {"type": "array", "items": {"type": "object"}},
    },
}
REPLAY_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 366, "default": 30},
        "definition": _DEFINITION,
    },
}
REPLAY_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["items", "since", "until"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object", "required": ["rule"]}},
        "since": {"type": "string"},
        "until": {"type": "string"},
    },
}


@api(
    "POST",
    "/apps/<key>/ticket_types/<ticket_type>/rules/dry_run",
    summary="What the rules would do on a new ticket or a change to one (nothing is written)",
    tag="rules",
    scope="write",
    body=DRY_RUN_BODY,
    response=DRY_RUN_ANSWER,
    errors=(404, 409, 422),
)
def rules_dry_run(key: str, ticket_type: str, data: dict[str, Any]):
    principal = current()
    runtime = platform().runtime
    runtime.type_spec(key, ticket_type)  # 404 for an unknown app or type
    ticket_id = data.get("ticket_id")
    if ticket_id is not None:
        with platform().db.read() as conn:
            if not can_see(conn, principal, ticket_id):
                raise NotFoundError("not_found", what="ticket", ident=ticket_id)
    result = runtime.rules_dry_run(
        key,
        ticket_type,
        data=data.get("data"),
        record_id=ticket_id,
        candidate=data.get("definition"),
        actor=principal.user_id,
    )
    return jsonify(result)


@api(
    "POST",
    "/apps/<key>/ticket_types/<ticket_type>/rules/replay",
    summary="What each rule would have matched over the tickets of the last days (read only)",
    tag="rules",
    scope="admin",
    body=REPLAY_BODY,
    response=REPLAY_ANSWER,
    errors=(404, 422),
)
def rules_replay(key: str, ticket_type: str, data: dict[str, Any]):
    runtime = platform().runtime
    runtime.type_spec(key, ticket_type)
    until = runtime.clock()
    since = until - dt.timedelta(days=int(data.get("days", 30)))
    items = runtime.rules_replay(key, ticket_type, candidate=data.get("definition"), since=since, until=until)
    return jsonify({"items": items, "since": since.isoformat(), "until": until.isoformat()})


OPERATIONS.append(
    Operation(
        method="POST",
        rule="/inbound/<app>/<channel>",
        name="receive_message",
        summary="A message becomes a ticket (or a comment on one): signed webhook, e-mail relay, IM robots",
        tag="inbound",
        scope=None,
        consumes=("application/json",),
        response={
            "type": "object",
            "description": f"channels: {', '.join(CHANNELS)}; DingTalk answers the robot's reply instead",
        },
        status=201,
        errors=(200, 400, 401, 404, 413, 422),
        description="Authenticated by the channel's signature (X-Gongdan-Signature for the generic "
        "webhook; the vendors' own signatures for DingTalk and Feishu). See docs/inbound.md.",
    )
)
