"""Tickets: create (idempotent), read, update with If-Match, list and search, history, as of a moment,
comments and watchers. The work is engine.tickets' and engine.listing's; this module only speaks HTTP."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import has_request_context, jsonify, request, url_for

from engine import tickets
from engine.errors import ConflictError, FormError, GongdanError, InputError, NotFoundError, Problem
from engine.i18n import register
from engine.listing import MINE, SORTS, TicketQuery, TicketRow, list_tickets
from server.api.core import (
    CURSOR_QUERY,
    LIMIT_QUERY,
    api,
    current,
    decode_cursor,
    encode_cursor,
    link,
    page_schema,
    plain,
)
from server.app import platform

register(
    {
        "api.if_match_required": {
            "zh": '修改工单须带 If-Match 请求头,值为读取工单时得到的 ETag(例如 "3")。',
            "en": 'Changing a ticket needs an If-Match header with the ETag you read it with (e.g. "3").',
        },
        "api.idempotency_key": {
            "zh": "Idempotency-Key 须为 1 到 255 个可打印 ASCII 字符。",
            "en": "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        },
        "api.bad_time": {
            "zh": "时间须为 ISO-8601 格式,例如 2026-12-01T09:00:00+08:00。",
            "en": "Times are ISO-8601, e.g. 2026-12-01T09:00:00+08:00.",
        },
        "api.nul_character": {
            "zh": "文本中不能含有 NUL 字符(\\u0000)。",
            "en": "Text cannot contain the NUL character (\\u0000).",
        },
        "api.at_required": {
            "zh": "请用 at 参数给出时刻(ISO-8601)。",
            "en": "Give the moment as the at parameter (ISO-8601).",
        },
    }
)


class PreconditionFailed(GongdanError):
    """If-Match names a version the ticket no longer has."""

    code = "api.precondition"
    http_status = 412


class PreconditionRequired(GongdanError):
    code = "api.if_match_required"
    http_status = 428


# ----------------------------------------------------------------------------- schemas
NO_NUL = "^[^\\u0000]*$"
DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 40}
TIME_OUT = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def text_query(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NO_NUL}


TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "app": {"type": "string"},
        "ticket_type": {"type": "string"},
        "version": {"type": "integer", "description": "The app version the ticket runs on"},
        "stage": {"type": ["string", "null"], "description": "Current flow node; null once finished"},
        "status": {"type": "string", "description": "open, closed or cancelled"},
        "data": {"type": "object", "description": "The form fields you may see at this stage"},
        "row_version": {"type": "integer", "description": "Also sent as the ETag"},
        "created_by": {"type": ["integer", "null"]},
        "created_at": TIME_OUT,
        "updated_at": TIME_OUT,
        "closed_at": NULLABLE_TIME,
    },
}
TICKET_SCHEMA["required"] = list(TICKET_SCHEMA["properties"])
TASK_SCHEMA = {
    "type": "object",
    "required": ["id", "node", "kind", "status", "assignee", "pool", "due_at"],
    "properties": {
        "id": {"type": "integer"},
        "node": {"type": "string"},
        "kind": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "waiting"]},
        "assignee": {"type": ["integer", "null"]},
        "pool": {"type": ["string", "null"], "description": "role:KEY, department:ID or users"},
        "due_at": NULLABLE_TIME,
    },
}
ACTION_SCHEMA = {
    "type": "object",
    "required": ["action", "task_id"],
    "properties": {"action": {"type": "string"}, "task_id": {"type": ["integer", "null"]}},
}
TICKET_VIEW_SCHEMA = {
    "type": "object",
    "required": [*TICKET_SCHEMA["required"], "tasks", "actions", "watching"],
    "properties": {
        **TICKET_SCHEMA["properties"],
        "tasks": {"type": "array", "items": TASK_SCHEMA},
        "actions": {"type": "array", "items": ACTION_SCHEMA},
        "watching": {"type": "boolean"},
    },
}
EVENT_SCHEMA = {
    "type": "object",
    "required": ["seq", "type", "actor_id", "at", "payload"],
    "properties": {
        "seq": {"type": "integer"},
        "type": {"type": "string"},
        "actor_id": {"type": ["integer", "null"]},
        "at": TIME_OUT,
        "payload": {"type": "object"},
    },
}
AS_OF_SCHEMA = {
    "type": "object",
    "required": ["id", "number", "at", "stage", "status", "data", "owners", "sla", "seq"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "at": TIME_OUT,
        "stage": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "data": {"type": "object"},
        "owners": {"type": "array", "items": {"type": "integer"}},
        "sla": {"type": "object"},
        "seq": {"type": "integer"},
    },
}
COMMENT_BODY = {
    "type": "object",
    "required": ["body"],
    "additionalProperties": False,
    "properties": {
        "body": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": NO_NUL},
        "attachments": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "minLength": 1, "maxLength": 80, "pattern": NO_NUL},
            "description": "File ids from POST /attachments",
        },
        "internal": {
            "type": "boolean",
            "default": False,
            "description": "An internal note: read by the app's staff and admins only, never shown or "
            "notified to the customer, and no SLA response. Only staff may write one (else 422 at "
            "`internal`).",
        },
    },
}
FILE_REF_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "size", "mime"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "size": {"type": "integer"},
        "mime": {"type": "string"},
    },
}
COMMENT_SCHEMA = {
    "type": "object",
    "required": ["ticket", "comment"],
    "properties": {
        "ticket": TICKET_SCHEMA,
        "comment": {
            "type": "object",
            "required": ["body"],
            "properties": {
                "body": {"type": "string"},
                "mentions": {"type": "array", "items": {"type": "integer"}},
                "attachments": {"type": "array", "items": FILE_REF_SCHEMA},
                "internal": {"type": "boolean", "description": "Present (true) on an internal note"},
            },
        },
    },
}
WATCHER_SCHEMA = {
    "type": "object",
    "required": ["id", "username", "display_name", "added_at"],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "added_at": TIME_OUT,
    },
}
WATCH_RESULT = {
    "type": "object",
    "required": ["user_id", "watching", "changed"],
    "properties": {
        "user_id": {"type": "integer"},
        "watching": {"type": "boolean"},
        "changed": {"type": "boolean"},
    },
}
LIST_QUERY: dict[str, dict[str, Any]] = {
    "app": text_query(40),
    "ticket_type": text_query(40),
    "status": text_query(16),
    "stage": text_query(40),
    "mine": {"type": "string", "enum": list(MINE)},
    "created_from": DATE_TIME,
    "created_to": DATE_TIME,
    "q": {"type": "string", "maxLength": 200, "pattern": NO_NUL},
    "sort": {"type": "string", "enum": list(SORTS), "default": "created_at"},
    "order": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
    "limit": LIMIT_QUERY,
    "cursor": CURSOR_QUERY,
}


# ----------------------------------------------------------------------------- helpers


def ticket_json(row: TicketRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "app": row.app,
        "ticket_type": row.ticket_type,
        "version": row.app_version,
        "stage": row.stage,
        "status": row.status,
        "data": row.data,
        "row_version": row.row_version,
        "created_by": row.created_by,
        "created_at": plain(row.created_at),
        "updated_at": plain(row.updated_at),
        "closed_at": plain(row.closed_at),
    }


def with_etag(response: Any, row_version: int) -> Any:
    response.headers["ETag"] = f'"{row_version}"'
    return response


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """An aware datetime from ISO-8601 (a time without a zone is taken as UTC); 400 naming ``name``."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError("api.query_invalid", problems=[Problem(name, "api.bad_time")], count=1) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _known(*names: str) -> None:
    """A path argument PostgreSQL could not even compare (NUL) names nothing: 404."""
    if any("\x00" in n for n in names):
        raise NotFoundError(what="ticket type", ident="-")


def _ticket_body(key: str, ticket_type: str) -> dict[str, Any]:
    """A new ticket's body: an object. Submitting answers 404 for an unknown app or type, and the form
    engine checks the fields themselves (422 with each field's path and message, in the caller's
    language); the type's JSON Schema is published at ``.../schema.json``."""
    _known(key, ticket_type)
    return {"type": "object"}


def refuse_nul(data: Any) -> Any:
    """``data`` unless a text in it holds NUL, which no database column can keep: 422 with its paths."""
    if has_request_context() and request.is_json and b"\\u0000" not in request.get_data(cache=True):
        return data  # JSON writes NUL in a text only as \u0000 (a raw one is refused by the parser)
    problems: list[Problem] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            if "\x00" in value:
                problems.append(Problem(path or "(body)", "api.nul_character"))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k, path or "(body)")
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(data, "")
    if problems:
        raise FormError(problems=problems[:50], count=len(problems))
    return data


_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _idempotency_key() -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if _KEY.fullmatch(raw.strip()) is None:
        raise InputError("api.idempotency_key", problems=[Problem("Idempotency-Key", "api.idempotency_key")])
    return raw.strip()


_TAG = re.compile(r'\s*(?:W/)?"(\d{1,18})"\s*')


def _expected_version() -> int | None:
    """The row version If-Match names (None for ``*``); 428 without If-Match."""
    raw = request.headers.get("If-Match")
    if raw is None or not raw.strip():
        raise PreconditionRequired()
    if raw.strip() == "*":
        return None
    m = _TAG.fullmatch(raw.split(",")[0])
    return int(m.group(1)) if m else -1


# ----------------------------------------------------------------------------- endpoints
@api(
    "POST",
    "/apps/<key>/ticket_types/<ticket_type>/tickets",
    links=(
        link("ticket_get", ticket_id="$response.body#/id"),
        link("ticket_update", ticket_id="$response.body#/id", header_If_Match="$response.header.ETag"),
        link("ticket_events", ticket_id="$response.body#/id"),
        link("ticket_as_of", ticket_id="$response.body#/id", at="$response.body#/updated_at"),
        link("ticket_comment", ticket_id="$response.body#/id"),
        link("ticket_watchers", ticket_id="$response.body#/id"),
        link("ticket_watch", ticket_id="$response.body#/id"),
        link("ticket_unwatch", ticket_id="$response.body#/id"),
        link("withdraw_ticket", ticket_id="$response.body#/id"),
        link("close_ticket", ticket_id="$response.body#/id"),
    ),
    summary="Create a ticket",
    tag="tickets",
    scope="write",
    body=_ticket_body,
    status=201,
    response=TICKET_SCHEMA,
    errors=(403, 404, 413, 422),
    headers={
        "Idempotency-Key": {
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "Send the same key again (e.g. a retry) and get the first ticket back.",
        }
    },
)
def ticket_create(key: str, ticket_type: str, data: Any):
    """Create a ticket from its form fields (the ticket type's schema.json), as the caller. Send an
    ``Idempotency-Key`` header to make retries safe: the same key (per user) returns the first ticket.
    422 lists every field problem with its path."""
    principal = current()
    record_id, ticket = tickets.submit(
        platform().runtime, principal, key, ticket_type, refuse_nul(data), idempotency_key=_idempotency_key()
    )
    if ticket is None:  # a retry of a request that already created this ticket
        row = tickets.ticket_row(platform().runtime, principal, record_id)
    else:
        from engine.listing import visible_data

        tspec = platform().runtime.spec_of(ticket.app, ticket.app_version).types[ticket.ticket_type]
        data_shown = visible_data(tspec, principal, ticket.app, ticket.stage, ticket.data)
        row = TicketRow(
            ticket.id, ticket.number, ticket.app, ticket.ticket_type, ticket.app_version, ticket.stage,
            ticket.status, data_shown, ticket.row_version, principal.user_id, ticket.created_at,
            ticket.updated_at, None,
        )  # fmt: skip
    response = jsonify(ticket_json(row))
    response.status_code = 201
    response.headers["Location"] = url_for("api.ticket_get", ticket_id=row.id)
    if ticket is None:
        response.headers["Idempotent-Replayed"] = "true"
    return with_etag(response, row.row_version)


@api(
    "GET",
    "/tickets/<int:ticket_id>",
    links=(
        link("ticket_update", ticket_id="$request.path.ticket_id", header_If_Match="$response.header.ETag"),
        link("get_task", task_id="$response.body#/tasks/0/id"),
        link("complete_task", task_id="$response.body#/tasks/0/id"),
    ),
    summary="A ticket, its open tasks and what you may do",
    tag="tickets",
    response=TICKET_VIEW_SCHEMA,
    errors=(404,),
)
def ticket_get(ticket_id: int):
    """The ticket with the fields you may see, its open tasks, the actions open to you, and its
    row version as the ETag (send it back as If-Match to change the ticket)."""
    view = tickets.ticket_view(platform().runtime, current(), ticket_id)
    body = ticket_json(view.ticket)
    body["tasks"] = [{**t, "due_at": plain(t["due_at"])} for t in view.tasks]
    body["actions"] = view.actions
    body["watching"] = view.watching
    return with_etag(jsonify(body), view.ticket.row_version)


@api(
    "PATCH",
    "/tickets/<int:ticket_id>",
    links=(
        link("ticket_get", ticket_id="$request.path.ticket_id"),
        link("ticket_events", ticket_id="$request.path.ticket_id"),
    ),
    summary="Change fields of a ticket (If-Match required)",
    tag="tickets",
    scope="write",
    body={"type": "object", "description": "Some form fields: only those you may edit at this stage"},
    response=TICKET_SCHEMA,
    errors=(403, 404, 412, 413, 422, 428),
    headers={
        "If-Match": {
            "required": True,
            "schema": {"type": "string", "maxLength": 100},
            "description": 'The ETag read with the ticket, e.g. "3" (412 when the ticket changed since).',
        }
    },
)
def ticket_update(ticket_id: int, data: Any):
    """Change some fields. If-Match must carry the ETag you read (428 without it, 412 when the ticket
    changed since). Fields you may not edit at this stage refuse with 422 and their path. Who may
    change a ticket: an admin, a holder of one of its open tasks, its submitter while it is open."""
    principal = current()
    runtime = platform().runtime
    expected = _expected_version()
    try:
        tickets.update(runtime, principal, ticket_id, refuse_nul(data), expected)
    except ConflictError as exc:
        if exc.code != "record.conflict":
            raise
        sent = request.headers.get("If-Match", "")[:40]
        raise PreconditionFailed(current=exc.params.get("actual"), sent=sent) from None
    row = tickets.ticket_row(runtime, principal, ticket_id)
    return with_etag(jsonify(ticket_json(row)), row.row_version)


@api(
    "GET",
    "/tickets",
    links=(
        link("ticket_get", ticket_id="$response.body#/items/0/id"),
        link("ticket_events", ticket_id="$response.body#/items/0/id"),
        link(
            "ticket_create",
            "Another ticket of the first one's type",
            key="$response.body#/items/0/app",
            ticket_type="$response.body#/items/0/ticket_type",
        ),
    ),
    summary="List and search tickets",
    tag="tickets",
    query=LIST_QUERY,
    response=page_schema(TICKET_SCHEMA),
)
def tickets_list(q: dict[str, Any]):
    """The tickets you may see, newest first by default. Across apps the list shows, per app, the
    tickets your roles there let you see (filter with ``app`` to list one). ``q`` searches the number
    and the text fields you may see; ``mine`` narrows to tickets you submitted, hold a task of, or
    watch. Pages: pass ``next_cursor`` back as ``cursor`` (with the same filters)."""
    principal = current()
    sort, descending = q["sort"], q["order"] == "desc"
    after = _after(decode_cursor(q.get("cursor")), sort, descending)
    query = TicketQuery(
        app=q.get("app"),
        ticket_type=q.get("ticket_type"),
        status=q.get("status"),
        stage=q.get("stage"),
        mine=q.get("mine"),
        created_from=parse_time(q.get("created_from"), "created_from"),
        created_to=parse_time(q.get("created_to"), "created_to"),
        q=q.get("q") or None,
        sort=sort,
        descending=descending,
        limit=q["limit"],
        after=after,
    )
    runtime = platform().runtime
    with runtime.db.read() as conn:
        page = list_tickets(conn, runtime, principal, query)
    cursor = None
    if page.after is not None:
        value, last_id = page.after
        shown = value.isoformat() if isinstance(value, dt.datetime) else value
        cursor = encode_cursor([sort, "desc" if descending else "asc", shown, last_id])
    return jsonify({"items": [ticket_json(r) for r in page.items], "next_cursor": cursor})


def _after(cursor: Any, sort: str, descending: bool) -> tuple[Any, int] | None:
    """The keyset position of a cursor made for this sort and order; 400 for any other."""
    if cursor is None:
        return None
    ok = (
        isinstance(cursor, list)
        and len(cursor) == 4
        and cursor[:2] == [sort, "desc" if descending else "asc"]
        and isinstance(cursor[2], str)
        and isinstance(cursor[3], int)
        and not isinstance(cursor[3], bool)
    )
    if not ok:
        raise InputError("api.bad_cursor")
    if sort == "number":
        return cursor[2], cursor[3]
    try:
        moment = dt.datetime.fromisoformat(cursor[2])
    except ValueError:
        raise InputError("api.bad_cursor") from None
    if moment.tzinfo is None:
        raise InputError("api.bad_cursor")
    return moment, cursor[3]


@api(
    "GET",
    "/tickets/<int:ticket_id>/events",
    summary="A ticket's history, oldest first",
    tag="tickets",
    query={"limit": LIMIT_QUERY, "cursor": CURSOR_QUERY},
    response=page_schema(EVENT_SCHEMA),
    errors=(404,),
    description="Staff read every event. The ticket's customer (no role in its app) reads the story the "
    "ticket page tells them — submitted, stage moves, comments, decisions, closed — without the machinery "
    "(SLA clocks, timers, rule runs, calls, task bookkeeping) and without internal notes (a `comment_added` "
    "whose payload has `internal: true`), so a page may hold fewer than `limit` events and still have a "
    "`next_cursor`.",
)
def ticket_events(ticket_id: int, q: dict[str, Any]):
    """Every event of the ticket (who, when, what changed), without values of fields hidden from you."""
    after = decode_cursor(q.get("cursor"))
    if after is None:
        after = 0
    elif not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InputError("api.bad_cursor")
    events, last = tickets.events_page(platform().runtime, current(), ticket_id, after, q["limit"])
    items = [{**e, "at": plain(e["at"])} for e in events]
    return jsonify({"items": items, "next_cursor": encode_cursor(last) if last is not None else None})


@api(
    "GET",
    "/tickets/<int:ticket_id>/as_of",
    summary="A ticket as it was at a moment",
    tag="tickets",
    query={"at": DATE_TIME},
    required_query=("at",),
    response=AS_OF_SCHEMA,
    errors=(404,),
)
def ticket_as_of(ticket_id: int, q: dict[str, Any]):
    """The ticket replayed from its events up to ``at`` (ISO-8601): fields, stage, status, owners and
    SLA clocks then. 404 also when the ticket did not exist yet."""
    moment = parse_time(q.get("at"), "at")
    if moment is None:
        raise InputError("api.query_invalid", problems=[Problem("at", "api.at_required")], count=1)
    state = tickets.as_of(platform().runtime, current(), ticket_id, moment)
    return jsonify(
        {
            "id": state.id,
            "number": state.number,
            "at": plain(state.at),
            "stage": state.stage,
            "status": state.status,
            "data": state.data,
            "owners": state.owners,
            "sla": state.sla,
            "seq": state.seq,
        }
    )


@api(
    "POST",
    "/tickets/<int:ticket_id>/comments",
    links=(
        link("ticket_events", ticket_id="$request.path.ticket_id"),
        link("ticket_get", ticket_id="$request.path.ticket_id"),
    ),
    summary="Comment on a ticket",
    tag="tickets",
    scope="write",
    body=COMMENT_BODY,
    status=201,
    response=COMMENT_SCHEMA,
    errors=(404, 409, 413, 422),
)
def ticket_comment(ticket_id: int, data: Any):
    """Add a comment. ``attachments``: ids of files you uploaded. ``@username`` mentions are kept with
    the comment; when the app's staff mention someone, that person also becomes a watcher.
    ``internal``: a note for the app's staff only (the customer neither reads it nor hears of it)."""
    principal = current()
    runtime = platform().runtime
    _ticket, payload = tickets.comment(
        runtime,
        principal,
        ticket_id,
        data["body"],
        data.get("attachments"),
        internal=bool(data.get("internal")),
    )
    row = tickets.ticket_row(runtime, principal, ticket_id)
    response = jsonify({"ticket": ticket_json(row), "comment": payload})
    response.status_code = 201
    return with_etag(response, row.row_version)


@api(
    "GET",
    "/tickets/<int:ticket_id>/watchers",
    summary="Who watches a ticket",
    tag="tickets",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": WATCHER_SCHEMA}},
    },
    errors=(404,),
)
def ticket_watchers(ticket_id: int):
    rows = tickets.watchers(platform().runtime, current(), ticket_id)
    return jsonify({"items": [{**r, "added_at": plain(r["added_at"])} for r in rows]})


@api(
    "POST",
    "/tickets/<int:ticket_id>/watchers",
    links=(
        link("ticket_watchers", ticket_id="$request.path.ticket_id"),
        link("ticket_unwatch", ticket_id="$request.path.ticket_id"),
    ),
    summary="Watch a ticket (yourself; staff may add others)",
    tag="tickets",
    scope="write",
    body={
        "type": "object",
        "additionalProperties": False,
        "properties": {"user_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
    },
    response=WATCH_RESULT,
    errors=(403, 404, 409, 422),
)
def ticket_watch(ticket_id: int, data: Any):
    """Send ``{}`` to watch the ticket yourself, or ``{"user_id": N}`` (the app's staff) for someone else."""
    principal = current()
    target = data.get("user_id", principal.user_id)
    changed = tickets.watch(platform().runtime, principal, ticket_id, target)
    return jsonify({"user_id": target, "watching": True, "changed": changed})


@api(
    "DELETE",
    "/tickets/<int:ticket_id>/watchers",
    summary="Stop watching a ticket (yourself; staff may remove others)",
    tag="tickets",
    scope="write",
    query={"user_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
    response=WATCH_RESULT,
    errors=(403, 404, 409),
)
def ticket_unwatch(ticket_id: int, q: dict[str, Any]):
    principal = current()
    target = q.get("user_id", principal.user_id)
    changed = tickets.unwatch(platform().runtime, principal, ticket_id, target)
    return jsonify({"user_id": target, "watching": False, "changed": changed})
