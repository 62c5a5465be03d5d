"""What an expression in a definition may name: the form's fields and the standard names.

Built from plain definition data so the loader can check every expression before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from engine.expressions import ANY, BOOL, DATE, LIST, NUMBER, TEXT, NameInfo
from engine.forms.fields import FIELD_TYPES

USER = NameInfo(
    ANY,
    MappingProxyType(
        {
            "id": NameInfo(NUMBER),
            "username": NameInfo(TEXT),
            "name": NameInfo(TEXT),
            "department": NameInfo(ANY),
            "manager": NameInfo(ANY),
            "roles": NameInfo(LIST),
        }
    ),
)
TICKET = NameInfo(
    ANY,
    MappingProxyType(
        {
            "id": NameInfo(NUMBER),
            "number": NameInfo(TEXT),
            "stage": NameInfo(TEXT),
            "status": NameInfo(TEXT),
            "created_at": NameInfo(DATE),
            "updated_at": NameInfo(DATE),
            "created_by": NameInfo(ANY),
            "app": NameInfo(TEXT),
            "ticket_type": NameInfo(TEXT),
        }
    ),
)


def _option_values(f: Mapping[str, Any], option_sets: Mapping[str, Any]) -> frozenset[Any] | None:
    if f.get("type") not in ("select", "radio", "multiselect"):
        return None
    raw = f.get("options")
    if raw is None and f.get("options_from"):
        raw = option_sets.get(f["options_from"])
    if not isinstance(raw, list):
        return None
    return frozenset(o.get("value") if isinstance(o, Mapping) else o for o in raw)


def field_info(f: Mapping[str, Any], option_sets: Mapping[str, Any]) -> NameInfo:
    ftype = FIELD_TYPES.get(f.get("type", ""))
    kind = ftype.expr_type if ftype else ANY
    if f.get("type") == "subtable":
        rows = {sub["key"]: field_info(sub, option_sets) for sub in f.get("fields") or () if "key" in sub}
        return NameInfo(LIST, MappingProxyType(rows))
    options = _option_values(f, option_sets)
    # A multiselect holds a list; `'x' in tags` checks membership against its options.
    return NameInfo(kind if kind in (TEXT, NUMBER, BOOL, DATE, LIST) else ANY, None, options)


def form_names(
    fields: Iterable[Mapping[str, Any]],
    option_sets: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    extra: Mapping[str, NameInfo] | None = None,
) -> dict[str, NameInfo]:
    """Names for expressions of one ticket type: its fields, ``old.<field>``, user, now, today, ticket."""
    option_sets = option_sets or {}
    own = {f["key"]: field_info(f, option_sets) for f in fields if isinstance(f, Mapping) and "key" in f}
    names = dict(own)
    names["old"] = NameInfo(ANY, MappingProxyType(dict(own)))
    names["user"] = USER
    names["ticket"] = TICKET
    names["now"] = NameInfo(DATE)
    names["today"] = NameInfo(DATE)
    names["settings"] = NameInfo(ANY, MappingProxyType({k: NameInfo(ANY) for k in (settings or {})}))
    names.update(extra or {})
    return names
