"""Apps, their versions and ticket types (read side); import/publish/roll back live in admin."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from engine.definitions.schema import app_schema
from engine.errors import InputError
from server.api.core import api
from server.app import platform

APP_ITEM: dict[str, Any] = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}


@api(
    "GET",
    "/schemas/app.json",
    summary="The JSON Schema of the app-definition format",
    tag="apps",
    scope=None,
    response={"type": "object"},
)
def definition_schema():
    """The published JSON Schema of the app-definition format."""
    return jsonify(app_schema())


@api(
    "GET",
    "/apps",
    summary="List the apps",
    tag="apps",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": APP_ITEM}},
    },
)
def list_apps():
    return jsonify({"items": platform().runtime.apps()})


@api(
    "GET",
    "/apps/<key>",
    summary="An app's definition (current or ?version=N)",
    tag="apps",
    query={"version": {"type": "integer", "minimum": 1}},
    errors=(404,),
    response={
        "type": "object",
        "required": ["key", "version", "definition"],
        "properties": {
            "key": {"type": "string"},
            "version": {"type": "integer"},
            "definition": {"type": "object"},
        },
    },
)
def get_app(key: str, q: dict[str, Any]):
    number, data = platform().runtime.definition(key, q.get("version"))
    return jsonify({"key": key, "version": number, "definition": data})


@api(
    "GET",
    "/apps/<key>/ticket_types/<ticket_type>/schema.json",
    summary="The JSON Schema (2020-12) of a ticket type's form input",
    tag="apps",
    errors=(404,),
    response={"type": "object"},
)
def ticket_type_schema(key: str, ticket_type: str):
    """The JSON Schema of a ticket type's form input, titles in the caller's language."""
    from engine.forms.describe import form_json_schema

    spec, tspec = platform().runtime.type_spec(key, ticket_type)
    return jsonify(form_json_schema(tspec.definition, spec.app.option_sets, lang=g.lang))


@api(
    "GET",
    "/apps/<key>/versions",
    summary="The published versions of an app",
    tag="apps",
    errors=(404,),
    response={"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}},
)
def app_versions(key: str):
    return jsonify({"items": platform().runtime.versions(key)})


@api(
    "POST",
    "/apps/validate",
    summary="Check an app definition without writing anything",
    tag="apps",
    body={"type": "object"},
    errors=(400, 415, 422),
    response={"type": "object", "required": ["valid"], "properties": {"valid": {"type": "boolean"}}},
)
def validate_definition(data: Any):
    """Check a definition (JSON body) without writing anything; 422 lists every problem with its path."""
    from engine.definitions.loader import load_definition

    if not isinstance(data, dict):
        raise InputError("api.body_not_object")
    load_definition(data)
    return jsonify({"valid": True})
