"""Assignee strategies, as a registry: each turns a node's assignee spec into a user or a group.

Returns ``(assignee_id, candidates)``: a named user, or nobody yet plus who may claim the task.
Dispatch and load balancing belong to the flow-engine issue; here they leave the task in the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from engine.definitions.model import thaw
from engine.store.models import User

Resolved = tuple[int | None, dict[str, Any]]
Strategy = Callable[[Connection, Any, Mapping[str, Any], int | None], Resolved]
STRATEGIES: dict[str, Strategy] = {}


def strategy(name: str) -> Callable[[Strategy], Strategy]:
    def deco(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return deco


@strategy("user")
def _named_user(conn: Connection, username: Any, data: Mapping[str, Any], submitter: int | None) -> Resolved:
    user_id = conn.execute(select(User.id).where(User.username == str(username))).scalar()
    return (user_id, {}) if user_id is not None else (None, {"user": username})


@strategy("submitter")
def _submitter(conn: Connection, _value: Any, data: Mapping[str, Any], submitter: int | None) -> Resolved:
    return submitter, {}


@strategy("field")
def _user_field(conn: Connection, field: Any, data: Mapping[str, Any], submitter: int | None) -> Resolved:
    value = data.get(field)
    return (value, {}) if isinstance(value, int) else (None, {"field": field})


def _group(kind: str) -> Strategy:
    def resolve(conn: Connection, value: Any, data: Mapping[str, Any], submitter: int | None) -> Resolved:
        return None, {kind: thaw(value)}

    return resolve


for _kind in ("role", "department", "manager_of", "expr", "dispatch"):
    STRATEGIES[_kind] = _group(_kind)


def resolve_assignee(
    conn: Connection, spec: Mapping[str, Any] | None, data: Mapping[str, Any], submitter: int | None
) -> Resolved:
    if not spec:
        return None, {}
    for kind, value in spec.items():
        if kind in STRATEGIES:
            return STRATEGIES[kind](conn, value, data, submitter)
    return None, {}
