"""What a person reads for a group's key: option labels, people's and departments' names, stage names.

Keys stay as the database returned them (a drill-down filters on them); labels are looked up for the
few keys of a result only (one small query for people, one for departments).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from engine.i18n import t, text_of
from engine.reports.spec import BOOL, DEPARTMENT, LIST, STAGE, USER, Dimension
from engine.store.models import Department, User

WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def as_list(raw: Any) -> list[Any] | None:
    """A list-valued key (cascade, multiselect) as a list, whichever database returned it."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, list) else None
    return None


def _options(field_options: Mapping[str, Any], option_sets: Mapping[str, Any]) -> Iterable[Any]:
    source = field_options.get("options_from")
    if source:
        return option_sets.get(source) or ()
    return field_options.get("options") or ()


def _option_label(options: Iterable[Any], value: Any, lang: str | None) -> tuple[str, Iterable[Any]]:
    for option in options:
        if isinstance(option, Mapping):
            if str(option.get("value")) == str(value):
                return text_of(option.get("label") or option.get("value"), lang), option.get("children") or ()
        elif str(option) == str(value):
            return str(option), ()
    return str(value), ()


class Labeler:
    """Labels of one report result's keys, in one language."""

    def __init__(self, conn: Connection, app: Any, tspec: Any, lang: str | None):
        self.conn, self.app, self.tspec, self.lang = conn, app, tspec, lang

    def labels(self, dim: Dimension, keys: Iterable[Any]) -> dict[Any, str]:
        keys = [k for k in dict.fromkeys(keys) if k is not None]
        target = dim.target
        if dim.part == "weekday":
            return {k: WEEKDAYS["en" if self.lang == "en" else "zh"][int(k) - 1] for k in keys}
        if dim.part is not None:
            return {k: f"{int(k):02d}" if dim.part == "hour_of_day" else str(k) for k in keys}
        if target.kind == USER:
            return self._names(User.__table__, User.display_name, keys)
        if target.kind == DEPARTMENT:
            return self._names(Department.__table__, Department.name, keys)
        if target.kind == STAGE:
            nodes = self.tspec.flow.nodes
            return {k: text_of(nodes[k].name, self.lang) if k in nodes else str(k) for k in keys}
        if target.kind == BOOL:
            return {k: t("report.yes" if k in (True, 1, "true") else "report.no", self.lang) for k in keys}
        if target.name == "team":
            roles = self.app.roles
            return {k: text_of(roles[k], self.lang) if k in roles else str(k) for k in keys}
        if target.name == "status":
            return {k: t(f"report.status.{k}", self.lang) for k in keys}
        if target.field is not None and (
            "options" in target.field.options or "options_from" in target.field.options
        ):
            separator = " / " if target.field.type == "cascade" else "; "
            return {k: self._option_text(target.field.options, k, separator) for k in keys}
        return {k: " / ".join(map(str, as_list(k) or [])) if target.kind == LIST else str(k) for k in keys}

    def _option_text(self, field_options: Mapping[str, Any], key: Any, separator: str) -> str:
        """An option's label; a cascade's path of labels, a multiselect's labels joined."""
        values = as_list(key)
        if values is None:
            return _option_label(_options(field_options, self.app.option_sets), key, self.lang)[0]
        level: Iterable[Any] = _options(field_options, self.app.option_sets)
        parts = []
        for value in values:
            label, children = _option_label(level, value, self.lang)
            parts.append(label)
            level = children or level
        return separator.join(parts)

    def _names(self, table: Any, column: Any, keys: list[Any]) -> dict[Any, str]:
        ids = [int(k) for k in keys if str(k).lstrip("-").isdigit()]
        found = (
            dict(self.conn.execute(select(table.c.id, column).where(table.c.id.in_(ids))).all())
            if ids
            else {}
        )
        return {k: found.get(int(k), str(k)) if str(k).lstrip("-").isdigit() else str(k) for k in keys}


__all__ = ["Labeler", "as_list"]
