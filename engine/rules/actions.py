"""Actions, as a registry: what automatic steps, escalations and reminders (and later rules) do.

Each action is ``fn(work, value, origin)``: ``work`` is the command's flow work (engine.flows.work),
``value`` the action's definition, ``origin`` says which node/step ran it (for events and keys).
Every action changes the ticket only through ``work``, so its effects are events in the same
transaction, and external effects go to the outbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.definitions.model import thaw
from engine.errors import ActionError
from engine.expressions import ExprError, compile_expr
from engine.reactions import OutboxItem

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
    values = {key: _evaluate(work, source, "set", origin) for key, source in value.items()}
    work.set_fields(json_safe(values), rule=origin.get("rule"))


@action("assign")
def _assign(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.reassign(value, node=origin.get("node"))


@action("notify")
def _notify(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.notify(dict(value), origin)


@action("comment")
def _comment(work: FlowWork, value: str, origin: Mapping[str, Any]) -> None:
    work.events.append(("comment_added", {"body": str(value), "system": True, **origin}))


def _evaluate(work: FlowWork, source: Any, action_name: str, origin: Mapping[str, Any]) -> Any:
    try:
        return compile_expr(str(source))(work.context())
    except ExprError as exc:
        raise ActionError("flow.action_failed", action=action_name, detail=exc.message(), **origin) from None


_SETTING = re.compile(r"\$\{settings\.([a-z][a-z0-9_]*)\}")


def _with_settings(work: FlowWork, text: str) -> str:
    settings = work.spec.app.settings
    return _SETTING.sub(lambda m: str(settings.get(m.group(1), "")), text)


@action("call")
def _call(work: FlowWork, item: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    """Call an HTTP API through the outbox; its JSON answer is mapped into fields when it comes."""
    value = item["call"]
    query = {k: _evaluate(work, v, "call", origin) for k, v in (value.get("query") or {}).items()}
    payload = {
        "url": _with_settings(work, value["url"]),
        "method": value.get("method", "GET"),
        "query": {k: v for k, v in query.items() if v is not None},
        "body": thaw(value.get("body")),
        "headers": {k: _with_settings(work, str(v)) for k, v in (value.get("headers") or {}).items()},
        "timeout_s": value.get("timeout_s", 10),
        "map": dict(item.get("map") or {}),
        "record_id": work.ticket.record_id,
        "origin": dict(origin),
    }
    key = f"call:{work.ticket.record_id}:{work.ticket.number}:{len(work.events)}:{origin.get('rule', '')}"
    work.outbox.append(OutboxItem("call", json_safe(payload), key))
    work.events.append(("call_queued", {"url": payload["url"], **origin}))


@action("create")
def _create(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    """Create a linked record (in this app or another), its fields from expressions."""
    data = {k: _evaluate(work, v, "create", origin) for k, v in (value.get("fields") or {}).items()}
    app = value.get("app") or work.ticket.app_key
    new_id = work.create_linked(work, app, value["type"], json_safe(data))
    work.events.append(("record_created", {"app": app, "ticket_type": value["type"], "id": new_id, **origin}))


@action("watch")
def _watch(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.add_watchers(value)


@action("todo")
def _todo(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.add_todo(value["assignee"], value["title"], value.get("due"))


@action("escalate")
def _escalate(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    """Raise the ticket's escalation level; ``assign``/``notify`` inside say what else happens."""
    level = int(work.instance.state.get("escalation_level", 0)) + 1
    work.instance.state["escalation_level"] = level
    work.events.append(("escalated", {"level": level, **origin}))
    if value.get("assign"):
        work.reassign(value["assign"])
    if value.get("notify"):
        work.notify(dict(value["notify"]), origin)


@action("flow")
def _flow_action(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    work.perform(str(value["action"]), value.get("node"))


@action("webhook")
def _webhook(work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]) -> None:
    body = {
        "app": work.ticket.app_key,
        "ticket_type": work.ticket.ticket_type,
        "ticket": {"id": work.ticket.record_id, "number": work.ticket.number, "data": work.ticket.data},
        "origin": dict(origin),
        "at": work.now.isoformat(),
    }
    key = f"webhook-action:{work.ticket.record_id}:{len(work.events)}:{origin.get('rule', '')}"
    work.outbox.append(OutboxItem("webhook", json_safe({"url": value["url"], "body": body}), key))


def json_safe(value: Any) -> Any:
    """Values as JSON can hold them (dates as ISO text, Decimal as text)."""
    return json.loads(json.dumps(thaw(value), default=str))


def run_actions(work: FlowWork, actions: Any, origin: Mapping[str, Any]) -> list[str]:
    """Run a list of action definitions in order; returns the kinds that ran (skipped ``if``s left out)."""
    done = []
    for item in actions or ():
        kind = next((k for k in item if k not in ("if", "map")), None)
        fn = ACTIONS.get(kind or "")
        if fn is None:
            raise ActionError("flow.action_unavailable", action=kind)
        condition = item.get("if")
        if condition and not compile_expr(str(condition))(work.context()):
            continue
        fn(work, item[kind] if kind != "call" else item, origin)
        done.append(str(kind))
    return done
