"""Actions, as a registry: what automatic steps, escalations and reminders (and later rules) do.

Each action is ``fn(work, value, origin)``: ``work`` is the command's flow work (engine.flows.work),
``value`` the action's definition, ``origin`` says which node/step ran it (for events and keys).
Every action changes the ticket only through ``work``, so its effects are events in the same
transaction, and external effects go to the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.errors import ActionError
from engine.expressions import ExprError, compile_expr

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

Action = Callable[["FlowWork", Any, Mapping[str, Any]], None]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def deco(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return deco


@action("set")
def _set_fields(work: FlowWork, value: Mapping[str, str], origin: Mapping[str, Any]) -> None:
    ctx = work.context()
    changes = {}
    for key, source in value.items():
        try:
            changes[key] = compile_expr(str(source))(ctx)
        except ExprError as exc:
            raise ActionError("flow.action_failed", action="set", detail=exc.message(), **origin) from None
    work.set_fields(changes)


@action("assign")
def _assign(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.reassign(value, node=origin.get("node"))


@action("notify")
def _notify(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.notify(dict(value), origin)


@action("comment")
def _comment(work: FlowWork, value: str, origin: Mapping[str, Any]) -> None:
    work.events.append(("comment_added", {"body": str(value), "system": True, **origin}))


def run_actions(work: FlowWork, actions: Any, origin: Mapping[str, Any]) -> None:
    """Run a list of action definitions in order; one without a registered kind is refused."""
    for item in actions or ():
        kind = next((k for k in item if k not in ("if", "map")), None)
        fn = ACTIONS.get(kind or "")
        if fn is None:
            raise ActionError("flow.action_unavailable", action=kind)
        condition = item.get("if")
        if condition and not compile_expr(str(condition))(work.context()):
            continue
        fn(work, item[kind], origin)
