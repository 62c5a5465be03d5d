"""Static checks of the ``inbound`` list: each entry names a ticket type that exists, fills fields its
form has (and that people may fill), with expressions over ``message`` that compile; an entry that an
earlier one always takes first is reported, since it would never be used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import engine.rules.inbound_messages  # noqa: F401  (the checks' messages)
from engine.definitions.checks import Found, check, field_map
from engine.expressions import ANY, DATE, LIST, TEXT, NameInfo, check_expression
from engine.forms.fields import FIELD_TYPES

_SENDER = NameInfo(ANY, {key: NameInfo(TEXT) for key in ("name", "email", "phone", "im_id")})
#: What an inbound entry's expressions may read (engine.rules.inbound builds the same at run time).
MESSAGE_NAMES = {
    "message": NameInfo(
        ANY,
        {
            **{key: NameInfo(TEXT) for key in ("channel", "message_id", "subject", "title", "text", "html")},
            "to": NameInfo(LIST),
            "phones": NameInfo(LIST),
            "received_at": NameInfo(DATE),
            "sender": _SENDER,
        },
    )
}


def _entries(data: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    inbound = data.get("inbound")
    for i, entry in enumerate(inbound if isinstance(inbound, list) else ()):
        if isinstance(entry, Mapping):
            yield i, entry


@check
def inbound_entries_fit_their_ticket_type(data: Mapping[str, Any]) -> Iterator[Found]:
    types = data.get("ticket_types") or {}
    for i, entry in _entries(data):
        tkey = entry.get("ticket_type")
        fields = entry.get("fields") if isinstance(entry.get("fields"), Mapping) else {}
        if isinstance(tkey, str) and tkey not in types:
            yield (
                ("inbound", i, "ticket_type"),
                "check.inbound.unknown_type",
                {"name": tkey, "known": ", ".join(types)},
            )
        known = _fields(types[tkey]) if tkey in types else None
        for key, source in fields.items():
            where = ("inbound", i, "fields", key)
            if known is not None and key not in known:
                shown = ", ".join(known) or "-"
                yield (
                    where,
                    "check.inbound.unknown_field",
                    {"field": key, "ticket_type": tkey, "known": shown},
                )
            elif known is not None and _computed(known[key]):
                yield where, "check.inbound.computed_field", {"field": key, "type": known[key]["type"]}
            if isinstance(source, str):
                for finding in check_expression(source, MESSAGE_NAMES):
                    yield where, finding.code, {**finding.params, "source": source, "column": finding.column}


@check
def inbound_entries_are_reachable(data: Mapping[str, Any]) -> Iterator[Found]:
    """Entries are tried in order: one after a catch-all of its channel, or after an entry with the same
    ``match.to``, is never used."""
    seen: dict[tuple[str, str | None], int] = {}
    for i, entry in _entries(data):
        channel = entry.get("channel")
        to = (entry.get("match") or {}).get("to") if isinstance(entry.get("match"), Mapping) else None
        to = to.lower() if isinstance(to, str) else None
        earlier = seen.get((channel, None), seen.get((channel, to)))
        if earlier is not None and isinstance(channel, str):
            shown = f" ({to})" if to else ""
            params = {"channel": channel, "earlier": f"inbound[{earlier}]", "to": shown}
            yield ("inbound", i), "check.inbound.unreachable", params
        seen.setdefault((channel, to), i)


def _fields(tt: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The form's fields by key, and by the key a field was ``renamed_from`` (so a mapping written
    before a rename keeps working, as reports do)."""
    fields = field_map(tt)
    old = {f["renamed_from"]: f for f in fields.values() if isinstance(f.get("renamed_from"), str)}
    return {**{k: f for k, f in old.items() if k not in fields}, **fields}


def _computed(f: Mapping[str, Any]) -> bool:
    ftype = FIELD_TYPES.get(f["type"])
    return ftype is not None and ftype.computed
