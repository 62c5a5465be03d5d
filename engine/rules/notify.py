"""Notifications: who gets one, and the message itself, rendered when it is queued.

``build_notifications(work, value, origin)`` turns a ``notify`` action into outbox items. The
message is rendered inside the command (the ticket as it is now), so delivery later only sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.reactions import OutboxItem
from engine.store.models import Task, User

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

T = Task.__table__
LIVE = ("open", "waiting")


def recipients(work: FlowWork, to: str | None, node: str | None) -> list[int]:
    """User ids named by ``to``: assignee (default), manager_of_assignee, submitter."""
    if to in (None, "assignee", "manager_of_assignee"):
        q = select(T.c.assignee_id).where(
            T.c.instance_id == work.instance.id, T.c.status.in_(LIVE), T.c.assignee_id.is_not(None)
        )
        if node:
            q = q.where(T.c.node_id == node)
        users = list(dict.fromkeys(work.conn.execute(q).scalars()))
        if to == "manager_of_assignee":
            managers = work.conn.execute(select(User.manager_id).where(User.id.in_(users))).scalars()
            users = [m for m in dict.fromkeys(managers) if m is not None]
        return users
    if to == "submitter":
        return [work.ticket.submitter] if work.ticket.submitter else []
    return []


def build_notifications(
    work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]
) -> list[OutboxItem]:
    payload = {
        **dict(value),
        "recipients": recipients(work, value.get("to"), origin.get("node")),
        "origin": dict(origin),
        "ticket": {
            "id": work.ticket.record_id,
            "number": work.ticket.number,
            "app": work.ticket.app_key,
            "ticket_type": work.ticket.ticket_type,
            "stage": work.stage,
        },
    }
    key = f"notify:{work.ticket.record_id}:{uuid.uuid4().hex}"
    return [OutboxItem(str(value.get("channel")), payload, key)]
