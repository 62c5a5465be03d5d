"""The designer's draft API under /api/v1 (docs/designer.md): read, save (compare-and-set on the
revision), check, expression check, form preview, scenario tests, diff with affected tickets,
publish, discard, roll back; new apps from templates and copies.

Scope "write"; only people who may design the app (admins, or members of its ``designer`` role)
get past :func:`_designer`; creating and copying apps is for admins. The work is engine/designer.py's.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from engine import admin, designer
from server.api.admin import CHANGE, MAX_ID, NO_NUL
from server.api.core import api, current
from server.app import platform
from server.auth import client_ip

KEY = {"type": "string", "pattern": designer.KEY.pattern}
NAME = {
    "type": "object",
    "required": ["zh", "en"],
    "additionalProperties": False,
    "properties": {
        "zh": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_NUL},
        "en": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_NUL},
    },
}
REVISION = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DEFINITION = {"type": "object", "description": "An app definition (docs/app-format.md) as JSON"}
PROBLEM = {
    "type": "object",
    "required": ["path", "code", "message"],
    "properties": {
        "path": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "severity": {"type": "string", "enum": ["error", "warning"]},
    },
}
DRAFT = {
    "type": "object",
    "required": ["app", "revision", "base_version", "definition", "updated_at", "updated_by"],
    "properties": {
        "app": {"type": "string"},
        "revision": {"type": "integer"},
        "base_version": {"type": ["integer", "null"]},
        "definition": {"type": "object"},
        "updated_at": {"type": "string", "format": "date-time"},
        "updated_by": {"type": ["string", "null"]},
    },
}
PUBLISHED = {
    "type": "object",
    "required": ["app", "version", "previous", "published", "unchanged", "changes"],
    "properties": {
        "app": {"type": "string"},
        "version": {"type": "integer"},
        "previous": {"type": ["integer", "null"]},
        "published": {"type": "boolean"},
        "unchanged": {"type": "boolean"},
        "changes": {"type": "array", "items": CHANGE},
        "scenarios": {"type": "object"},
    },
}
DRAFT_PATH = "/apps/<key>/draft"


def _designer(key: str) -> int:
    """The caller's id, once they may design ``key`` (404 for no such app, 403 for no right)."""
    principal = current()
    designer.require_designer(platform().db, principal, key)
    return principal.user_id


def _problems(items: list[Any]) -> list[dict[str, Any]]:
    return [{**p.as_dict(g.lang), "severity": "error"} for p in items]


@api(
    "GET",
    DRAFT_PATH,
    summary="The app's draft (the running version, not stored, until someone saves a change)",
    tag="designer",
    scope="write",
    errors=(403, 404),
    response=DRAFT,
)
def draft_get(key: str):
    actor = _designer(key)
    return jsonify(designer.load_draft(platform().db, key, actor).as_dict())


@api(
    "PUT",
    DRAFT_PATH,
    summary="Save the draft if `revision` is still the stored one (409 with what differs otherwise)",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["revision", "definition"],
        "additionalProperties": False,
        "properties": {
            "revision": REVISION,
            "definition": DEFINITION,
            "migrate": {
                "type": "object",
                "description": "For fields tickets hold data in: old key → new key (renamed), or null (drop)",
                "additionalProperties": {"type": ["string", "null"], "maxLength": 40},
            },
        },
    },
    errors=(403, 404, 409, 422),
    response={
        "type": "object",
        "required": ["revision", "problems"],
        "properties": {"revision": {"type": "integer"}, "problems": {"type": "array", "items": PROBLEM}},
    },
)
def draft_put(key: str, data: dict[str, Any]):
    actor = _designer(key)
    saved = designer.save_draft(
        platform().db, key, data["revision"], data["definition"], actor, data.get("migrate")
    )
    return jsonify({"revision": saved.revision, "problems": []})


@api(
    "DELETE",
    DRAFT_PATH,
    summary="Discard the draft (the running version stays as it is)",
    tag="designer",
    scope="write",
    status=204,
    errors=(403, 404),
)
def draft_delete(key: str):
    _designer(key)
    designer.discard_draft(platform().db, key)
    return "", 204


@api(
    "POST",
    DRAFT_PATH + "/check",
    summary="Every problem the definition would be refused for (nothing stored)",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["definition"],
        "additionalProperties": False,
        "properties": {"definition": DEFINITION},
    },
    errors=(403, 404),
    response={
        "type": "object",
        "required": ["ok", "problems"],
        "properties": {"ok": {"type": "boolean"}, "problems": {"type": "array", "items": PROBLEM}},
    },
)
def draft_check(key: str, data: dict[str, Any]):
    _designer(key)
    problems = _problems(designer.check_problems(data["definition"], key))
    return jsonify({"ok": not problems, "problems": problems})


@api(
    "POST",
    DRAFT_PATH + "/expression",
    summary="Check one expression against a ticket type's fields (of the given definition, else the draft)",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["ticket_type", "expression"],
        "additionalProperties": False,
        "properties": {
            "ticket_type": {"type": "string", "maxLength": 40},
            "expression": {"type": "string", "maxLength": 2000},
            "kind": {"type": "string", "enum": ["condition", "value"], "default": "condition"},
            "definition": DEFINITION,
        },
    },
    errors=(403, 404),
    response={
        "type": "object",
        "required": ["ok", "problems", "names"],
        "properties": {
            "ok": {"type": "boolean"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["message", "column"],
                    "properties": {"message": {"type": "string"}, "column": {"type": "integer"}},
                },
            },
            "names": {"type": "array", "items": {"type": "string"}},
        },
    },
)
def draft_expression(key: str, data: dict[str, Any]):
    actor = _designer(key)
    definition = data.get("definition") or designer.load_draft(platform().db, key, actor).definition
    answer = designer.check_expression_text(
        definition, key, data["ticket_type"], data["expression"], data.get("kind", "condition"), g.lang
    )
    return jsonify(answer)


@api(
    "POST",
    DRAFT_PATH + "/preview",
    summary="The ticket type's form as the form engine renders it (HTML), for the given definition",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["definition", "ticket_type"],
        "additionalProperties": False,
        "properties": {
            "definition": DEFINITION,
            "ticket_type": {"type": "string", "maxLength": 40},
            "stage": {"type": "string", "maxLength": 40},
            "data": {"type": "object"},
        },
    },
    errors=(403, 404, 422),
    response={"type": "object", "required": ["html"], "properties": {"html": {"type": "string"}}},
)
def draft_preview(key: str, data: dict[str, Any]):
    _designer(key)
    html = designer.preview_form(
        data["definition"],
        key,
        data["ticket_type"],
        data.get("stage"),
        data.get("data"),
        g.lang,
        db=platform().db,
        principal=current(),
    )
    return jsonify({"html": html})


@api(
    "POST",
    DRAFT_PATH + "/test",
    summary="Run the draft's scenario tests on a throw-away database (nothing stored)",
    tag="designer",
    scope="write",
    errors=(403, 404, 422),
    response={
        "type": "object",
        "required": ["ok", "problems"],
        "properties": {"ok": {"type": "boolean"}, "problems": {"type": "array", "items": PROBLEM}},
    },
)
def draft_test(key: str):
    _designer(key)
    return jsonify(designer.run_scenarios(platform().db, key, g.lang))


@api(
    "GET",
    DRAFT_PATH + "/diff",
    summary="What publishing the draft changes, and which running tickets that affects",
    tag="designer",
    scope="write",
    errors=(403, 404),
    response={
        "type": "object",
        "required": ["changes", "affected"],
        "properties": {"changes": {"type": "array", "items": CHANGE}, "affected": {"type": "object"}},
    },
)
def draft_diff(key: str):
    _designer(key)
    return jsonify(designer.draft_diff(platform().db, key))


@api(
    "POST",
    DRAFT_PATH + "/publish",
    summary="Publish the draft as the next version once it loads and its scenario tests pass",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["revision"],
        "additionalProperties": False,
        "properties": {"revision": REVISION, "note": {"type": "string", "maxLength": 500, "pattern": NO_NUL}},
    },
    errors=(403, 404, 409, 422),
    response=PUBLISHED,
)
def draft_publish(key: str, data: dict[str, Any]):
    actor = _designer(key)
    answer = designer.publish_draft(
        platform().runtime, key, data["revision"], actor, data.get("note"), g.lang, client_ip()
    )
    return jsonify(answer)


@api(
    "POST",
    "/apps/<key>/rollback",
    summary="Publish an earlier version again as the next version (running tickets keep theirs)",
    tag="designer",
    scope="write",
    body={
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": {"version": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    },
    errors=(403, 404, 422),
    response=PUBLISHED,
)
def app_rollback(key: str, data: dict[str, Any]):
    actor = _designer(key)
    return jsonify(admin.rollback_app(platform().runtime, actor, key, data["version"], ip=client_ip()))


@api(
    "POST",
    "/apps/<key>/copy",
    summary="A draft of a new app holding a copy of this one (admins)",
    tag="designer",
    scope="write",
    status=201,
    body={
        "type": "object",
        "required": ["key", "name"],
        "additionalProperties": False,
        "properties": {"key": KEY, "name": NAME},
    },
    errors=(400, 403, 404),
    response=DRAFT,
)
def app_copy(key: str, data: dict[str, Any]):
    actor = _designer(key)
    designer.require_creator(current())
    draft = designer.copy_app(platform().db, key, data["key"], data["name"], actor)
    return jsonify(draft.as_dict()), 201


@api(
    "POST",
    "/apps",
    summary="A draft of a new app from a template (admins)",
    tag="designer",
    scope="write",
    status=201,
    body={
        "type": "object",
        "required": ["key", "name"],
        "additionalProperties": False,
        "properties": {
            "key": KEY,
            "name": NAME,
            "template": {"type": "string", "enum": list(designer.TEMPLATE_KEYS), "default": "empty"},
        },
    },
    errors=(400, 403),
    response=DRAFT,
)
def app_new(data: dict[str, Any]):
    principal = current()
    designer.require_creator(principal)
    draft = designer.new_app(
        platform().db, data["key"], data["name"], data.get("template", "empty"), principal.user_id
    )
    return jsonify(draft.as_dict()), 201


@api(
    "GET",
    "/templates",
    summary="The gallery of templates a new app may start from",
    tag="designer",
    scope="read",
    response={
        "type": "array",
        "items": {
            "type": "object",
            "required": ["key", "name", "description", "fields", "nodes", "rules", "reports"],
            "properties": {
                "key": {"type": "string"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "ticket_types": {"type": "integer"},
                "fields": {"type": "integer"},
                "nodes": {"type": "integer"},
                "rules": {"type": "integer"},
                "reports": {"type": "integer"},
            },
        },
    },
)
def templates():
    return jsonify(designer.template_gallery(g.lang))
