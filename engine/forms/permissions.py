"""Field permissions by flow stage and role: editable, read-only or hidden.

A flow node's ``permissions`` map a field key (or ``"*"`` for the rest) to a level, either for
everyone (``solution: editable``) or per role (``refund: {cs_lead: editable, "*": readonly}``).
A viewer with several roles gets the most open level any of them grants. The Runtime enforces
the result: input to a field that is not editable is refused, hidden fields never leave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

EDITABLE, READONLY, HIDDEN = "editable", "readonly", "hidden"
_OPENNESS = {HIDDEN: 0, READONLY: 1, EDITABLE: 2}


@dataclass(frozen=True)
class FieldAccess:
    """The level of every field for one viewer at one stage (fields not listed are editable)."""

    levels: Mapping[str, str]
    stage: str | None = None

    def level(self, key: str) -> str:
        return self.levels.get(key, EDITABLE)

    def locked(self) -> Mapping[str, str]:
        """Fields that refuse input here, with their level."""
        return {k: v for k, v in self.levels.items() if v != EDITABLE}

    def hidden(self) -> frozenset[str]:
        return frozenset(k for k, v in self.levels.items() if v == HIDDEN)

    def filter(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` without the fields this viewer may not see."""
        hidden = self.hidden()
        return {k: v for k, v in data.items() if k not in hidden} if hidden else dict(data)


EVERYTHING = FieldAccess(MappingProxyType({}))


def needs_roles(node_permissions: Mapping[str, Any] | None) -> bool:
    """Whether a node's permissions depend on roles (else no role lookup is needed)."""
    return any(isinstance(v, Mapping) for v in (node_permissions or {}).values())


def _level_for(entry: Any, roles: frozenset[str]) -> str:
    if isinstance(entry, str):
        return entry
    granted = [entry[r] for r in roles if r in entry]
    if not granted:
        return entry.get("*", EDITABLE)
    return max(granted, key=_OPENNESS.__getitem__)


@lru_cache(maxsize=4096)
def _resolve(
    field_keys: tuple[str, ...],
    readonly_keys: frozenset[str],
    permissions: tuple[tuple[str, Any], ...],
    roles: frozenset[str],
    stage: str | None,
) -> FieldAccess:
    perms = {k: dict(v) if isinstance(v, tuple) else v for k, v in permissions}
    default = perms.get("*")
    levels: dict[str, str] = {}
    for key in field_keys:
        entry = perms.get(key, default)
        level = EDITABLE if entry is None else _level_for(entry, roles)
        if key in readonly_keys and level == EDITABLE:
            level = READONLY
        if level != EDITABLE:
            levels[key] = level
    return FieldAccess(MappingProxyType(levels), stage)


def _hashable(permissions: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    def freeze(v: Any) -> Any:
        return tuple(sorted(v.items())) if isinstance(v, Mapping) else v

    return tuple(sorted((k, freeze(v)) for k, v in (permissions or {}).items()))


def access_at(
    field_keys: Iterable[str],
    readonly_keys: Iterable[str],
    node_permissions: Mapping[str, Any] | None,
    roles: Iterable[str] = (),
    stage: str | None = None,
) -> FieldAccess:
    """Levels for a viewer with ``roles`` at a node whose permissions are ``node_permissions``."""
    return _resolve(
        tuple(field_keys), frozenset(readonly_keys), _hashable(node_permissions), frozenset(roles), stage
    )
