"""Tasks and actions: the inbox lists (my todos, my team's queue, overdue), saved views, one task,
and every flow action on a task or a ticket. Each action is one Runtime command; a ticket the
caller may not see is a 404, an action its state or the caller's role does not allow a 409."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import g, jsonify

from engine import inbox
from engine.access import Principal, can_see
from engine.errors import GongdanError, NotFoundError
from server.api.core import (
    CURSOR_QUERY,
    LIMIT_QUERY,
    api,
    decode_cursor,
    encode_cursor,
    link,
    page_schema,
    plain,
)
from server.app import platform
from server.auth import current

# ----------------------------------------------------------------------------- schemas
#: Free text must not hold NUL (PostgreSQL stores no such character): a 400, not a failure later.
NO_NUL = "^[^\\u0000]*$"
TEXT = {"type": "string", "maxLength": 100, "pattern": NO_NUL}
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_TEXT = {"type": ["string", "null"]}

TICKET_IN_ROW: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "number",
        "app",
        "app_name",
        "ticket_type",
        "type_name",
        "title",
        "stage",
        "stage_name",
        "status",
        "priority",
        "priority_label",
    ],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "app": {"type": "string"},
        "app_name": {"type": "string"},
        "ticket_type": {"type": "string"},
        "type_name": {"type": "string"},
        "title": {**NULLABLE_TEXT, "description": "The summary (or title) field, unless hidden from you"},
        "stage": NULLABLE_TEXT,
        "stage_name": NULLABLE_TEXT,
        "status": {"type": "string"},
        "priority": {**NULLABLE_TEXT, "description": "The value of the priority field, if the form has one"},
        "priority_label": NULLABLE_TEXT,
    },
}

INBOX_ITEM: dict[str, Any] = {
    "type": "object",
    "required": [
        "task",
        "kind",
        "status",
        "node",
        "node_name",
        "assignee",
        "claimable",
        "created_at",
        "due_at",
        "sla",
        "ticket",
    ],
    "properties": {
        "task": {"type": "integer"},
        "kind": {"type": "string", "description": "task, approval or todo"},
        "status": {"type": "string", "enum": ["open", "waiting", "done", "cancelled"]},
        "node": {"type": "string"},
        "node_name": {"type": "string"},
        "assignee": {"type": ["integer", "null"]},
        "claimable": {"type": "boolean", "description": "Unassigned and in a pool you may claim from"},
        "created_at": MOMENT,
        "due_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "The task's deadline: its own, else its node's running SLA clock's",
        },
        "sla": {
            "type": "object",
            "required": ["state", "target"],
            "properties": {
                "state": {"type": "string", "enum": list(inbox.SLA_STATES)},
                "target": {"type": ["string", "null"], "description": "response or resolution"},
            },
        },
        "ticket": TICKET_IN_ROW,
    },
}

TASK_DETAIL: dict[str, Any] = {
    **INBOX_ITEM,
    "required": [*INBOX_ITEM["required"], "actions", "returns"],
    "properties": {
        **INBOX_ITEM["properties"],
        "actions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What /complete accepts as action here (approve, reject, an edge's action)",
        },
        "returns": {
            "type": "array",
            "description": "Earlier nodes /return may send the ticket back to",
            "items": {
                "type": "object",
                "required": ["node", "name"],
                "properties": {"node": {"type": "string"}, "name": {"type": "string"}},
            },
        },
    },
}

FILTERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "app": TEXT,
        "ticket_type": TEXT,
        "node": {**TEXT, "description": "APP:NODE, or a bare node id (that node in every app)"},
        "priority": TEXT,
        "overdue": {"type": "boolean"},
        "q": {"type": "string", "maxLength": 200, "pattern": NO_NUL},
    },
}

FILTER_QUERY: dict[str, dict[str, Any]] = {
    "app": {**TEXT, "description": "Only tasks of this app (its key)"},
    "ticket_type": {**TEXT, "description": "Only this ticket type"},
    "node": {
        **TEXT,
        "description": "Only tasks at this stage: APP:NODE (e.g. complaint:fix; node ids repeat across "
        "apps), or a bare node id for that node in every app",
    },
    "priority": {**TEXT, "description": "Only tickets whose priority field has this value"},
    "overdue": {"type": "boolean", "description": "Only tasks past their deadline"},
    "q": {
        "type": "string",
        "maxLength": 200,
        "pattern": NO_NUL,
        "description": "Text in the ticket number or title",
    },
}

VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "filters", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "filters": FILTERS,
        "created_at": MOMENT,
    },
}

TICKET_BRIEF: dict[str, Any] = {
    "type": "object",
    "required": ["id", "number", "app", "ticket_type", "stage", "status", "row_version"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "app": {"type": "string"},
        "ticket_type": {"type": "string"},
        "stage": NULLABLE_TEXT,
        "status": {"type": "string"},
        "row_version": {"type": "integer"},
    },
}
ACTION_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["ticket"],
    "properties": {"ticket": TICKET_BRIEF},
}

COMMENT = {"type": "string", "maxLength": 4000, "pattern": NO_NUL}
USER_ID = {"type": "integer", "minimum": 1, "maximum": inbox.MAX_INT_ID}
TASK_ID = {"type": "integer", "minimum": 1, "maximum": inbox.MAX_ID}


def _body(properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": dict(properties),
    }


ACT_BODY = _body(
    {"data": {"type": "object", "description": "Fields to save with the action"}, "comment": COMMENT}
)
COMPLETE_BODY = _body(
    {
        "action": {
            **TEXT,
            "description": "The edge's action (e.g. dispatch, ask_customer), approve or "
            "reject; default: complete (approve at an approval, done for a todo)",
        },
        "data": {"type": "object", "description": "Fields to save with the action"},
        "comment": COMMENT,
    }
)
COMMENT_BODY = _body({"comment": COMMENT})
TO_BODY = _body({"to": USER_ID, "comment": COMMENT}, ("to",))
SIGNER_BODY = _body(
    {"user": USER_ID, "position": {"type": "string", "enum": ["before", "after"]}, "comment": COMMENT},
    ("user", "position"),
)
RETURN_BODY = _body(
    {"to": {**TEXT, "minLength": 1, "description": "The node to send it back to"}, "comment": COMMENT},
    ("to",),
)
BULK_BODY: dict[str, Any] = {
    **_body(
        {
            "action": {"type": "string", "enum": ["claim", "transfer"]},
            "tasks": {"type": "array", "items": TASK_ID, "minItems": 1, "maxItems": 100, "uniqueItems": True},
            "to": USER_ID,
            "comment": COMMENT,
        },
        ("action", "tasks"),
    ),
    "if": {"properties": {"action": {"const": "transfer"}}},
    "then": {"required": ["to"]},
}
BULK_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["task", "ok"],
                "properties": {
                    "task": {"type": "integer"},
                    "ok": {"type": "boolean"},
                    "ticket": TICKET_BRIEF,
                    "status": {"type": "integer", "description": "The HTTP status this task alone would get"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        }
    },
}
COUNTS: dict[str, Any] = {
    "type": "object",
    "required": ["todos", "queue", "overdue"],
    "properties": {k: {"type": "integer", "minimum": 0} for k in ("todos", "queue", "overdue")},
}

ACTION_ERRORS = (404, 409, 422)


# ----------------------------------------------------------------------------- helpers


def brief(ticket: Any) -> dict[str, Any]:
    """What an action answers: where the ticket stands now (no field values: they may be hidden)."""
    return {
        "id": ticket.id,
        "number": ticket.number,
        "app": ticket.app,
        "ticket_type": ticket.ticket_type,
        "stage": ticket.stage,
        "status": ticket.status,
        "row_version": ticket.row_version,
    }


def _page(tab: str, q: dict[str, Any]):
    principal = current()
    runtime = platform().runtime
    with platform().db.read() as conn:
        found = inbox.inbox(
            conn,
            principal,
            tab,
            runtime.spec_for,
            filters=inbox.Filters.of(q),
            now=runtime.clock(),
            lang=g.lang,
            limit=q["limit"],
            cursor=decode_cursor(q.get("cursor")),
        )
    nxt = encode_cursor(found.next_cursor) if found.next_cursor is not None else None
    return jsonify({"items": plain(found.items), "next_cursor": nxt})


LIST_QUERY = {**FILTER_QUERY, "limit": LIMIT_QUERY, "cursor": CURSOR_QUERY}


def _seen_task(principal: Principal, task_id: int) -> None:
    with platform().db.read() as conn:
        inbox.visible_task(conn, principal, task_id)


def _seen_ticket(principal: Principal, ticket_id: int) -> None:
    with platform().db.read() as conn:
        if ticket_id > inbox.MAX_ID or not can_see(conn, principal, ticket_id):
            raise NotFoundError(what="ticket", ident=ticket_id)


def _on_task(task_id: int, command: Callable[[Principal], Any]):
    """Run one Runtime command on a task the caller can see; answer where its ticket stands."""
    principal = current()
    _seen_task(principal, task_id)
    return jsonify({"ticket": brief(command(principal))})


def _on_ticket(ticket_id: int, command: Callable[[Principal], Any]):
    principal = current()
    _seen_ticket(principal, ticket_id)
    return jsonify({"ticket": brief(command(principal))})


# ----------------------------------------------------------------------------- the inbox
@api(
    "GET",
    "/inbox/todos",
    links=(
        link("get_task", task_id="$response.body#/items/0/task"),
        link("complete_task", task_id="$response.body#/items/0/task"),
        link("approve_task", task_id="$response.body#/items/0/task"),
        link("reject_task", task_id="$response.body#/items/0/task"),
        link("release_task", task_id="$response.body#/items/0/task"),
    ),
    summary="My todos: open tasks assigned to me",
    tag="inbox",
    query=LIST_QUERY,
    response=page_schema(INBOX_ITEM),
)
def inbox_todos(q: dict[str, Any]):
    """Open tasks assigned to me in every app — work, approvals and todos — overdue first, then by
    deadline (none last), then oldest first."""
    return _page("todos", q)


@api(
    "GET",
    "/inbox/queue",
    links=(
        link("get_task", task_id="$response.body#/items/0/task"),
        link("claim_task", task_id="$response.body#/items/0/task"),
    ),
    summary="My team's queue: unassigned tasks I may claim",
    tag="inbox",
    query=LIST_QUERY,
    response=page_schema(INBOX_ITEM),
)
def inbox_queue(q: dict[str, Any]):
    """Open unassigned tasks in the pools I may claim from: my roles' pools in each app, my
    department's, and groups naming me. Claim one with POST /tasks/{task_id}/claim."""
    return _page("queue", q)


@api(
    "GET",
    "/inbox/overdue",
    summary="My todos and team queue past their deadline",
    tag="inbox",
    query=LIST_QUERY,
    response=page_schema(INBOX_ITEM),
)
def inbox_overdue(q: dict[str, Any]):
    return _page("overdue", q)


@api(
    "GET",
    "/inbox/counts",
    summary="How many tasks each inbox tab holds",
    tag="inbox",
    query=FILTER_QUERY,
    response=COUNTS,
)
def inbox_counts(q: dict[str, Any]):
    runtime = platform().runtime
    with platform().db.read() as conn:
        found = inbox.counts(conn, current(), now=runtime.clock(), filters=inbox.Filters.of(q))
    return jsonify(found)


@api(
    "GET",
    "/inbox/views",
    summary="My saved inbox views",
    tag="inbox",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": VIEW}},
    },
)
def list_views():
    with platform().db.read() as conn:
        views = inbox.saved_views(conn, current().user_id)
    return jsonify({"items": plain(views)})


@api(
    "POST",
    "/inbox/views",
    links=(link("delete_view", view_id="$response.body#/id"),),
    summary="Save the current filters under a name",
    tag="inbox",
    scope="write",
    body=_body(
        {"name": {**TEXT, "minLength": 1}, "filters": FILTERS},
        ("name", "filters"),
    ),
    response=VIEW,
    status=201,
    errors=(409, 422),
)
def create_view(data: dict[str, Any]):
    """Names are unique per user (409 for a name you already use)."""
    runtime = platform().runtime
    with platform().db.write() as conn:
        view = inbox.save_view(
            conn, current().user_id, data["name"], inbox.Filters.of(data["filters"]), runtime.clock()
        )
    return jsonify(plain(view)), 201


@api(
    "DELETE",
    "/inbox/views/<int:view_id>",
    summary="Delete one of my saved views",
    tag="inbox",
    scope="write",
    errors=(404,),
    response={
        "type": "object",
        "required": ["id", "deleted"],
        "properties": {"id": {"type": "integer"}, "deleted": {"const": True}},
    },
)
def delete_view(view_id: int):
    with platform().db.write() as conn:
        inbox.delete_view(conn, current().user_id, view_id)
    return jsonify({"id": view_id, "deleted": True})


@api(
    "GET",
    "/tasks/<int:task_id>",
    links=(
        link("claim_task", task_id="$request.path.task_id"),
        link("complete_task", task_id="$request.path.task_id"),
        link("approve_task", task_id="$request.path.task_id"),
        link("reject_task", task_id="$request.path.task_id"),
        link("return_task", task_id="$request.path.task_id"),
        link("transfer_task", task_id="$request.path.task_id"),
    ),
    summary="One task with what may be done with it",
    tag="tasks",
    errors=(404,),
    response=TASK_DETAIL,
)
def get_task(task_id: int):
    """The task as an inbox row, with the actions /complete accepts and the nodes /return may go to;
    404 unless you may see its ticket."""
    principal = current()
    runtime = platform().runtime
    with platform().db.read() as conn:
        inbox.visible_task(conn, principal, task_id)
        row = inbox.task_row(conn, principal, task_id, runtime.spec_for, now=runtime.clock(), lang=g.lang)
    if row is None:
        raise NotFoundError(what="task", ident=task_id)
    return jsonify(plain(row))


# ----------------------------------------------------------------------------- task actions
@api(
    "POST",
    "/tasks/<int:task_id>/claim",
    links=(
        link("get_task", task_id="$request.path.task_id"),
        link("release_task", task_id="$request.path.task_id"),
        link("complete_task", task_id="$request.path.task_id"),
    ),
    summary="Claim a task from its pool",
    tag="tasks",
    scope="write",
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def claim_task(task_id: int):
    """Take an unassigned task from a pool you belong to; 409 when someone else holds it already."""
    return _on_task(task_id, lambda p: platform().runtime.claim(task_id, p.user_id))


@api(
    "POST",
    "/tasks/<int:task_id>/release",
    summary="Give a claimed task back to its pool",
    tag="tasks",
    scope="write",
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def release_task(task_id: int):
    return _on_task(task_id, lambda p: platform().runtime.release(task_id, p.user_id))


@api(
    "POST",
    "/tasks/<int:task_id>/complete",
    summary="Finish a task with an action, saving fields",
    tag="tasks",
    scope="write",
    body=COMPLETE_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def complete_task(task_id: int, data: dict[str, Any]):
    """Finish the task with ``action`` (one of GET /tasks/{task_id}'s ``actions``), saving ``data``
    (checked against the form and your field permissions: 422 lists every problem) and ``comment``.
    An unassigned task in your pool is claimed by acting on it."""

    def run(p: Principal) -> Any:
        if data.get("action"):
            action = data["action"]
        else:
            with platform().db.read() as conn:
                action = inbox.default_action(conn, task_id)
        return platform().runtime.act(task_id, action, data.get("data"), p.user_id, data.get("comment"))

    return _on_task(task_id, run)


def _decide(task_id: int, action: str, data: dict[str, Any]):
    return _on_task(
        task_id,
        lambda p: platform().runtime.act(task_id, action, data.get("data"), p.user_id, data.get("comment")),
    )


@api(
    "POST",
    "/tasks/<int:task_id>/approve",
    summary="Approve (an approval task)",
    tag="tasks",
    scope="write",
    body=ACT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def approve_task(task_id: int, data: dict[str, Any]):
    return _decide(task_id, "approve", data)


@api(
    "POST",
    "/tasks/<int:task_id>/reject",
    summary="Reject (an approval, or a task that allows it)",
    tag="tasks",
    scope="write",
    body=ACT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def reject_task(task_id: int, data: dict[str, Any]):
    return _decide(task_id, "reject", data)


@api(
    "POST",
    "/tasks/<int:task_id>/transfer",
    summary="Transfer (转派) a task to someone else",
    tag="tasks",
    scope="write",
    body=TO_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def transfer_task(task_id: int, data: dict[str, Any]):
    """The new holder takes over (counted as a transfer on the ticket); only the holder or an admin."""
    return _on_task(
        task_id, lambda p: platform().runtime.transfer(task_id, data["to"], p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tasks/<int:task_id>/delegate",
    summary="Delegate (委托) a task; you stay responsible",
    tag="tasks",
    scope="write",
    body=TO_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def delegate_task(task_id: int, data: dict[str, Any]):
    return _on_task(
        task_id, lambda p: platform().runtime.delegate(task_id, data["to"], p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tasks/<int:task_id>/add_signer",
    summary="Add a signer (加签) before or after you",
    tag="tasks",
    scope="write",
    body=SIGNER_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def add_signer(task_id: int, data: dict[str, Any]):
    """At an approval: ``before`` — they decide first, then your task opens again; ``after`` — they
    decide after you (or beside you, by the node's mode)."""
    return _on_task(
        task_id,
        lambda p: platform().runtime.add_signer(
            task_id, data["user"], data["position"], p.user_id, data.get("comment")
        ),
    )


@api(
    "POST",
    "/tasks/<int:task_id>/return",
    summary="Return (退回) the ticket to an earlier node",
    tag="tasks",
    scope="write",
    body=RETURN_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def return_task(task_id: int, data: dict[str, Any]):
    """Send the ticket back to one of GET /tasks/{task_id}'s ``returns``; entered data is kept."""
    return _on_task(
        task_id, lambda p: platform().runtime.return_to(task_id, data["to"], p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tasks/bulk",
    summary="Claim or transfer up to 100 tasks, each on its own",
    tag="tasks",
    scope="write",
    body=BULK_BODY,
    response=BULK_RESULT,
)
def bulk_tasks(data: dict[str, Any]):
    """Each task is its own command: one that fails (not yours, taken, not found) does not undo the
    others. ``results`` gives every task's outcome in the order sent, with the status and error it
    would have had alone."""
    return jsonify(
        {"results": bulk(current(), data["action"], data["tasks"], data.get("to"), data.get("comment"))}
    )


def bulk(
    principal: Principal, action: str, tasks: list[int], to: int | None, comment: str | None
) -> list[Any]:
    """Claim or transfer ``tasks`` one command each; the outcome of each (shared with the page)."""
    runtime = platform().runtime
    results: list[dict[str, Any]] = []
    for task_id in tasks:
        try:
            _seen_task(principal, task_id)
            if action == "claim":
                ticket = runtime.claim(task_id, principal.user_id)
            else:
                ticket = runtime.transfer(task_id, int(to or 0), principal.user_id, comment)
        except GongdanError as exc:
            results.append(
                {
                    "task": task_id,
                    "ok": False,
                    "status": exc.http_status,
                    "code": exc.code,
                    "message": exc.message(g.lang),
                }
            )
        else:
            results.append({"task": task_id, "ok": True, "ticket": brief(ticket)})
    return results


# ----------------------------------------------------------------------------- ticket actions
@api(
    "POST",
    "/tickets/<int:ticket_id>/withdraw",
    summary="Withdraw (撤回) your last step",
    tag="tasks",
    scope="write",
    body=COMMENT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def withdraw_ticket(ticket_id: int, data: dict[str, Any]):
    """Take back the step you submitted last, while nobody has acted on what followed."""
    return _on_ticket(
        ticket_id, lambda p: platform().runtime.withdraw(ticket_id, p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tickets/<int:ticket_id>/close",
    summary="Close the ticket now",
    tag="tasks",
    scope="write",
    body=COMMENT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def close_ticket(ticket_id: int, data: dict[str, Any]):
    """A current assignee or an admin: open work is cancelled and the flow ends."""
    return _on_ticket(
        ticket_id, lambda p: platform().runtime.close(ticket_id, p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tickets/<int:ticket_id>/cancel",
    summary="Cancel the ticket",
    tag="tasks",
    scope="write",
    body=COMMENT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def cancel_ticket(ticket_id: int, data: dict[str, Any]):
    """Its submitter or an admin: open work is cancelled and the flow ends."""
    return _on_ticket(
        ticket_id, lambda p: platform().runtime.cancel(ticket_id, p.user_id, data.get("comment"))
    )


@api(
    "POST",
    "/tickets/<int:ticket_id>/reopen",
    summary="Reopen a closed ticket",
    tag="tasks",
    scope="write",
    body=COMMENT_BODY,
    errors=ACTION_ERRORS,
    response=ACTION_RESULT,
)
def reopen_ticket(ticket_id: int, data: dict[str, Any]):
    """Its submitter, someone who worked on it, or an admin; it goes back to the flow's reopen node."""
    return _on_ticket(
        ticket_id, lambda p: platform().runtime.reopen(ticket_id, p.user_id, data.get("comment"))
    )
