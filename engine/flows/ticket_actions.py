"""Who may withdraw, close or cancel a ticket now: one rule, read by the Runtime that enforces it and
by the ticket page and the API that offer the buttons, so nothing is offered that would be refused.

- **withdraw** (撤回): the person whose step (or submission) was the last one, while nobody else has
  acted on what followed.
- **close** (end the flow now): an admin, or whoever holds an open task at a ``task`` node and is not
  the ticket's submitter. An approver decides with approve / reject (closing would overrule the other
  signers); the submitter's way to stop their own ticket is cancel, and their own steps (answering,
  rating) end with the step's action.
- **cancel**: an admin, or the submitter — unless the ticket waits for the submitter's own finishing
  step (a task they hold whose every edge leads to an end, such as rating a resolved complaint):
  the work is done, and the step's own action ends the ticket.

``tasks`` are the ticket's open tasks: anything with ``node_id``, ``status``, ``assignee_id`` and
``delegated_from`` (database rows or the page's task views).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.flows.spec import FlowSpec

if TYPE_CHECKING:
    from engine.specs import AppSpec, TypeSpec

#: Events by which someone acts on what followed a step (so it can no longer be withdrawn).
ACTED_ON = frozenset(
    {"task_claimed", "task_completed", "task_transferred", "task_delegated", "returned", "comment_added"}
)


def withdraw_refusal(events: Sequence[Mapping[str, Any]], actor: int | None) -> str | None:
    """Why ``actor`` may not withdraw (a message code), or None when they may. ``events``: the
    ticket's events, oldest first (``type``, ``actor_id``)."""
    last = next((e for e in reversed(events) if e["type"] in ("task_completed", "created")), None)
    if last is None or actor is None or last["actor_id"] != actor:
        return "flow.withdraw.not_yours"
    later = list(events)[list(events).index(last) + 1 :]
    if any(e["type"] in ACTED_ON and e["actor_id"] != actor for e in later):
        return "flow.withdraw.acted"
    return None


def _held(tasks: Iterable[Any], actor: int | None) -> list[Any]:
    return [
        t
        for t in tasks
        if t.status == "open" and actor is not None and actor in (t.assignee_id, t.delegated_from)
    ]


def finishing(flow: FlowSpec, node_id: str) -> bool:
    """Whether every way out of ``node_id`` ends the flow (its action is the ticket's last step)."""
    edges = flow.outgoing.get(node_id, ())
    return bool(edges) and all(flow.nodes[e.target].type == "end" for e in edges)


def may_close(
    flow: FlowSpec, tasks: Iterable[Any], actor: int | None, submitter: int | None, admin: bool
) -> bool:
    if actor is None or admin:
        return True
    if actor == submitter:
        return False
    return any(
        (node := flow.nodes.get(t.node_id)) is not None and node.type == "task" for t in _held(tasks, actor)
    )


def may_cancel(
    flow: FlowSpec, tasks: Iterable[Any], actor: int | None, submitter: int | None, admin: bool
) -> bool:
    if actor is None or admin:
        return True
    if actor != submitter:
        return False
    return not any(t.node_id in flow.nodes and finishing(flow, t.node_id) for t in _held(tasks, actor))


def may_hand_on(actor: int | None, submitter: int | None, requester: bool) -> bool:
    """Transfer or delegate a held task: whoever holds it may (an agent, a manager asked by name),
    except a requester — no role in the app — on her own ticket: her steps (answering, rating) are hers."""
    return not (requester and actor is not None and actor == submitter)


def action_label(spec: AppSpec, tspec: TypeSpec, node_id: str, action: str) -> Any:
    """The name of the edge an action follows out of ``node_id`` (as written in the definition),
    else the action's key (generic actions are named by the catalogue)."""
    raw = ((spec.app.raw.get("ticket_types") or {}).get(tspec.key) or {}).get("flow") or {}
    for edge in raw.get("edges") or ():
        named = isinstance(edge, Mapping) and edge.get("name")
        if named and edge.get("from") == node_id and edge.get("action") == action:
            return dict(edge["name"]) if isinstance(edge["name"], Mapping) else edge["name"]
    return action
