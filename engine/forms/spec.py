"""FormSpec: a ticket type's form compiled once, used to clean every submission.

Expressions (visible_if, required_if, formulas) are the form-engine issue's; this spec handles
types, required fields, unknown keys, defaults and read-only fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.definitions.model import FieldDef
from engine.errors import FormError, Problem
from engine.forms.fields import FIELD_TYPES, Cleaner, Invalid

_EMPTY = (None, "", [], {})


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    required: bool
    readonly: bool
    computed: bool
    default: Any
    clean: Cleaner


@dataclass(frozen=True)
class FieldsSpec:
    """A compiled list of fields: a whole form, or one sub-table row."""

    fields: tuple[FieldSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {f.key: f for f in self.fields})

    def clean(
        self, data: Any, problems: list[Problem], prefix: str = "", partial: bool = False
    ) -> dict[str, Any]:
        """Cleaned values of ``data``; every problem is appended with its path (``items[2].qty``)."""
        dot = prefix + "." if prefix else ""
        if not isinstance(data, Mapping):
            problems.append(Problem(prefix, "form.not_an_object"))
            return {}
        out: dict[str, Any] = {}
        by_key = self.by_key  # type: ignore[attr-defined]
        for key in data:
            spec = by_key.get(key)
            if spec is None:
                problems.append(Problem(dot + str(key), "form.unknown_field", {"field": key}))
            elif spec.computed or spec.readonly:
                problems.append(Problem(dot + key, "form.readonly_field", {"field": key}))
        for spec in self.fields:
            if spec.computed or spec.readonly:
                if not partial and spec.default is not None:
                    out[spec.key] = spec.default
                continue
            if spec.key in data:
                value = data[spec.key]
            elif partial:
                continue
            else:
                value = spec.default
            if value in _EMPTY:
                if spec.required:
                    problems.append(Problem(dot + spec.key, "form.required", {"field": spec.key}))
                elif spec.key in data or value is not None:
                    out[spec.key] = None
                continue
            try:
                out[spec.key] = spec.clean(value)
            except Invalid as bad:
                if bad.nested:
                    problems.extend(bad.nested)
                else:
                    problems.append(Problem(dot + spec.key, bad.code, {"field": spec.key, **bad.params}))
        return out


def compile_fields(fields: tuple[FieldDef, ...], ctx: Mapping[str, Any]) -> FieldsSpec:
    specs = []
    for f in fields:
        ftype = FIELD_TYPES[f.type]
        specs.append(
            FieldSpec(
                key=f.key,
                type=f.type,
                required=bool(f.get("required")),
                readonly=bool(f.get("readonly")),
                computed=ftype.computed,
                default=f.get("default"),
                clean=ftype.make_cleaner(f, ctx),
            )
        )
    return FieldsSpec(tuple(specs))


@dataclass(frozen=True)
class FormSpec:
    """The compiled form of one ticket type (of one app version)."""

    ticket_type: str
    body: FieldsSpec

    def validate(self, data: Any, partial: bool = False) -> dict[str, Any]:
        """Clean ``data`` or raise FormError carrying every field's problem (nothing is written)."""
        problems: list[Problem] = []
        out = self.body.clean(data, problems, partial=partial)
        if problems:
            raise FormError(problems=problems, count=len(problems))
        return out
