"""The OpenAPI 3.1 document, built from the declared operations (server.api.core.OPERATIONS) and
the forms' JSON Schemas; Swagger UI (from npm, node_modules/swagger-ui-dist) at /api/docs."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template_string, url_for

from server.api.core import ERROR_SCHEMA, MAX_ID, OPERATIONS, Operation, api

docs_bp = Blueprint("api_docs", __name__)

_PARAM = re.compile(r"<(?:(int|path|string):)?([a-z_]+)>")
_STATUS_TEXT = {
    400: "Bad request (malformed input; problems name each path)",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found (or not visible to you)",
    409: "Conflict (changed by someone else, or not allowed in this state)",
    412: "Precondition failed (If-Match does not match the current version)",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Rejected input (every problem with its path)",
    429: "Too many requests",
}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for kind, name in _PARAM.findall(rule):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID} if kind == "int" else {"type": "string"}
        )
        if kind != "int":
            schema["pattern"] = "^[^/]+$" if kind != "path" else ".+"
            schema["minLength"] = 1
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return "/api/v1" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def _schema(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if callable(value):
        return {"type": "object", "description": "Depends on the ticket type: see its schema.json."}
    return dict(value)


def operation_doc(op: Operation) -> tuple[str, dict[str, Any]]:
    path, params = _path(op.rule)
    params += [
        {"name": name, "in": "query", "required": name in op.required_query, "schema": dict(schema)}
        for name, schema in op.query.items()
    ]
    params += [
        {
            "name": name,
            "in": "header",
            "required": bool(h.get("required")),
            "schema": dict(h.get("schema") or {"type": "string"}),
            **({"description": h["description"]} if h.get("description") else {}),
        }
        for name, h in op.headers.items()
    ]
    doc: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description
    if op.scope is None:
        doc["security"] = []
    body = _schema(op.body)
    if body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    elif op.consumes:
        doc["requestBody"] = {
            "required": True,
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in op.consumes},
        }
    if op.produces:
        shape = _schema(op.response) or {"type": "string"}  # e.g. YAML: what the text parses to
        ok = {"description": "OK", "content": {m: {"schema": shape} for m in op.produces}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": _schema(op.response) or {}}}}
    if op.links:
        ok["links"] = {
            lk.target: {
                "operationId": lk.target,
                "parameters": dict(lk.parameters),
                **({"description": lk.description} if lk.description else {}),
            }
            for lk in op.links
        }
    doc["responses"][str(op.status)] = ok
    codes = set(op.errors)
    if op.scope is not None:
        codes |= {401, 403}
    if op.query or body is not None:
        codes.add(400)
    if body is not None:
        codes.add(415)
    for code in sorted(codes):
        if code < 400:  # another success answer (e.g. 200 for a repeated delivery)
            doc["responses"][str(code)] = ok
            continue
        doc["responses"][str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return path, doc


def openapi_document() -> dict[str, Any]:
    names = {op.name for op in OPERATIONS}
    broken = [(op.name, lk.target) for op in OPERATIONS for lk in op.links if lk.target not in names]
    if broken:
        raise ValueError(f"links to operations that do not exist: {broken}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path, doc = operation_doc(op)
        paths.setdefault(path, {})[op.method.lower()] = doc
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gongdan API",
            "version": "1",
            "description": "Tickets, tasks, apps, reports and administration of a Gongdan site. "
            "Authenticate with a session cookie (pages; send X-CSRF-Token on writes) or a personal "
            "API token: `Authorization: Bearer gd_…`. Errors share one shape (Error).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (gd_…)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "gongdan_session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }


@api(
    "GET",
    "/openapi.json",
    summary="This OpenAPI 3.1 document",
    tag="meta",
    scope=None,
    response={"type": "object", "required": ["openapi", "paths"]},
)
def openapi_json():
    cache = current_app.extensions.setdefault("gongdan_openapi", {})
    if "doc" not in cache:
        cache["doc"] = openapi_document()
    return jsonify(cache["doc"])


DOCS_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>Gongdan API</title>
<link rel="stylesheet" href="{{ url_for('assets.vendor', path='swagger-ui-dist/swagger-ui.css') }}"></head>
<body><div id="swagger-ui"></div>
<script src="{{ url_for('assets.vendor', path='swagger-ui-dist/swagger-ui-bundle.js') }}"></script>
<script src="{{ url_for('assets.static', path='api-docs.js') }}" data-spec="{{ spec }}"></script>
</body></html>"""


@docs_bp.get("/api/docs")
def swagger_ui():
    return render_template_string(DOCS_PAGE, lang=g.lang, spec=url_for("api.openapi_json"))
