"""What changed between two definitions, as paths a person can read.

Lists of objects that carry an identity (``key`` for fields, ``id`` for nodes, reports, …) are
matched by it, so moving or inserting a field reads as one change, not a cascade.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.definitions.source import format_path

IDENTITIES = ("key", "id", "name")


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added | removed | changed
    old: Any = None
    new: Any = None

    def render(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.kind]
        if self.kind == "changed":
            return f"{sign} {self.path}: {_short(self.old)} → {_short(self.new)}"
        return f"{sign} {self.path}: {_short(self.new if self.kind == 'added' else self.old)}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _identity(old: list[Any], new: list[Any]) -> str | None:
    """The key that names each item of both lists uniquely (``key``, ``id`` or ``name``), if any."""

    def unique_by(items: list[Any], ident: str) -> bool:
        if not all(isinstance(i, Mapping) and ident in i for i in items):
            return False
        return len({str(i[ident]) for i in items}) == len(items)

    for ident in IDENTITIES:
        if (old or new) and unique_by(old, ident) and unique_by(new, ident):
            return ident
    return None


def diff(old: Any, new: Any, path: tuple[Any, ...] = ()) -> list[Change]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[Change] = []
        for key in old:
            if key not in new:
                out.append(Change(format_path((*path, key)), "removed", old=old[key]))
            else:
                out += diff(old[key], new[key], (*path, key))
        out += [Change(format_path((*path, k)), "added", new=new[k]) for k in new if k not in old]
        return out
    if isinstance(old, list) and isinstance(new, list):
        ident = _identity(old, new)
        if ident is None:
            if old == new:
                return []
            if len(old) == len(new):
                return [
                    c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in diff(a, b, (*path, i))
                ]
            return [Change(format_path(path), "changed", old, new)]
        before = {str(i[ident]): i for i in old}
        after = {str(i[ident]): i for i in new}
        out = []
        base = format_path(path)
        for k, item in before.items():
            where = base + f"[{ident}={k}]"
            if k not in after:
                out.append(Change(where, "removed", old=item))
            else:
                out += [
                    Change(where + c.path[len(base) :], c.kind, c.old, c.new)
                    for c in diff(item, after[k], path)
                ]
        order_old = [k for k in before if k in after]
        order_new = [k for k in after if k in before]
        if order_old != order_new:
            out.append(Change(format_path(path), "changed", order_old, order_new))
        out += [
            Change(format_path(path) + f"[{ident}={k}]", "added", new=v)
            for k, v in after.items()
            if k not in before
        ]
        return out
    if not _same(old, new):
        return [Change(format_path(path), "changed", old, new)]
    return []


def _same(old: Any, new: Any) -> bool:
    """Equal values of the same kind. 120.0 from YAML and 120 back from a browser's JSON are the same
    number; ``true`` and ``1`` are not the same value."""
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return old == new
    return type(old) is type(new) and old == new
