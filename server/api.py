"""REST API, version 1. Each view parses, calls the Runtime, renders; the web issue grows this."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from engine.definitions.schema import app_schema
from engine.errors import InputError
from server.app import platform

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/schemas/app.json")
def definition_schema():
    """The published JSON Schema of the app-definition format."""
    return jsonify(app_schema())


@bp.get("/apps")
def list_apps():
    return jsonify({"items": platform().runtime.apps()})


@bp.get("/apps/<key>")
def get_app(key: str):
    version = request.args.get("version", type=int)
    number, data = platform().runtime.definition(key, version)
    return jsonify({"key": key, "version": number, "definition": data})


@bp.get("/apps/<key>/ticket_types/<ticket_type>/schema.json")
def ticket_type_schema(key: str, ticket_type: str):
    """The JSON Schema (2020-12) of a ticket type's form input, titles in the caller's language."""
    from engine.forms.describe import form_json_schema

    spec, tspec = platform().runtime.type_spec(key, ticket_type)
    return jsonify(form_json_schema(tspec.definition, spec.app.option_sets, lang=g.lang))


@bp.get("/apps/<key>/versions")
def app_versions(key: str):
    return jsonify({"items": platform().runtime.versions(key)})


@bp.post("/apps/validate")
def validate_definition():
    """Check a definition (JSON body) without writing anything."""
    from engine.definitions.loader import load_definition

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("api.body_not_object")
    load_definition(body)
    return jsonify({"valid": True})
