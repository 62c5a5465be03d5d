"""The published JSON Schema of the app-definition format, and its errors as Problems."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from engine.definitions.source import PathT, Source
from engine.errors import Problem


@cache
def app_schema() -> dict[str, Any]:
    """The schema as shipped in the package (also served by the API)."""
    return json.loads((files("engine.definitions") / "schema" / "app.schema.json").read_text("utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(app_schema())


@cache
def _fast_validator() -> Any:
    """The same schema in jsonschema-rs (compiled Rust): a few hundred times faster at saying *whether*
    a definition is valid, so a valid one — what the designer saves all day — costs well under a
    millisecond. Only an invalid one goes through the Python validator, for its paths and messages.
    Formats are not asserted, as in the Python validator."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(app_schema(), validate_formats=False)


def is_valid(data: Any) -> bool | None:
    """Whether ``data`` meets the schema; None when the fast validator cannot tell (data that is not
    plain JSON, such as dates YAML parsed)."""
    try:
        return bool(_fast_validator().is_valid(data))
    except (ValueError, TypeError, OverflowError):
        return None


def _short(value: Any, limit: int = 60) -> str:
    shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def _type_name(value: Any) -> str:
    return "null" if value is None else JSON_TYPES.get(type(value), type(value).__name__)


def _deepest(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, the branch error that went furthest into the data, when it says more."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        candidate = best_match(error.context)
        if len(candidate.relative_path) == 0 and candidate.validator in ("type", "oneOf", "anyOf"):
            break
        error = candidate
    return error


def _problems_of(error: ValidationError, src: Source) -> list[Problem]:
    error = _deepest(error)
    path: PathT = tuple(error.absolute_path)
    kind, value, inst, schema = error.validator, error.validator_value, error.instance, error.schema
    title = schema.get("title") or ""
    if kind == "additionalProperties" and isinstance(inst, dict):
        allowed = ", ".join(sorted(schema.get("properties", {})))
        extra = [k for k in inst if k not in schema.get("properties", {})]
        return [src.problem((*path, k), "schema.unknown_key", key=k, allowed=allowed) for k in extra]
    if kind == "required" and isinstance(inst, dict):
        return [src.problem(path, "schema.required", key=k) for k in value if k not in inst]
    params: dict[str, Any] = {"title": title}
    code = {
        "type": "schema.type",
        "enum": "schema.enum",
        "const": "schema.enum",
        "pattern": "schema.pattern",
        "minLength": "schema.min_length",
        "maxLength": "schema.max_length",
        "minimum": "schema.minimum",
        "exclusiveMinimum": "schema.minimum",
        "maximum": "schema.maximum",
        "exclusiveMaximum": "schema.maximum",
        "minItems": "schema.min_items",
        "maxItems": "schema.max_items",
        "minProperties": "schema.min_properties",
        "maxProperties": "schema.max_properties",
        "uniqueItems": "schema.unique_items",
        "oneOf": "schema.one_of",
        "anyOf": "schema.one_of",
    }.get(kind, "schema.other")
    if kind == "type":
        params.update(
            expected=value if isinstance(value, str) else " / ".join(value), actual=_type_name(inst)
        )
    elif kind in ("enum", "const"):
        options = value if kind == "enum" else [value]
        params.update(value=_short(inst), options=", ".join(map(str, options)))
    elif kind == "pattern":
        params.update(value=_short(inst), pattern=value, hint=schema.get("description", ""))
    elif kind in ("oneOf", "anyOf"):
        params.update(value=_short(inst), hint=schema.get("description", ""))
    elif code == "schema.other":
        params.update(detail=error.message)
    else:
        params.update(limit=value, value=_short(inst))
    return [src.problem(path, code, **params)]


def schema_problems(src: Source) -> list[Problem]:
    """Every way ``src.data`` breaks the schema, each with its path and position."""
    if is_valid(src.data):
        return []
    out: list[Problem] = []
    for error in _validator().iter_errors(src.data):
        out.extend(_problems_of(error, src))
    return out
