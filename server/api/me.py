"""The signed-in user: their profile, language and time zone, password, and personal API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, jsonify, request

from engine import admin, auth
from engine.errors import NotFoundError
from server.api.core import api, current, link, plain
from server.app import platform
from server.auth import COOKIE, client_ip, me_json

NO_NUL = "^[^\\u0000]*$"
ME: dict[str, Any] = {
    "type": "object",
    "required": ["id", "username", "display_name", "is_admin", "lang", "tz", "roles"],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "is_admin": {"type": "boolean"},
        "department_id": {"type": ["integer", "null"]},
        "lang": {"type": "string"},
        "tz": {"type": "string"},
        "roles": {
            "type": "object",
            "description": "app key → the user's role keys in that app",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "scopes": {
            "type": "object",
            "description": "app key → the widest record scope of those roles (own, department, all)",
            "additionalProperties": {"type": "string"},
        },
    },
}

TOKEN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "prefix", "scopes", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The token's first characters, to recognise it"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": list(auth.TOKEN_SCOPES)}},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def _fresh_me() -> dict[str, Any]:
    from engine.access import load_principal

    with platform().db.read() as conn:
        return me_json(load_principal(conn, current().user_id))


@api("GET", "/me", summary="Who I am: profile, language, time zone, roles per app", tag="me", response=ME)
def get_me():
    return jsonify(me_json(current()))


@api(
    "PATCH",
    "/me",
    summary="Change my language, time zone or display name",
    tag="me",
    scope="write",
    body={
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "lang": {"type": "string", "enum": ["zh", "en"]},
            "tz": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": NO_NUL,
                "description": "IANA",
            },
            "display_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_NUL},
        },
    },
    errors=(422,),
    response=ME,
)
def patch_me(data: dict[str, Any]):
    """The time zone must be an IANA name (Asia/Shanghai, Europe/Berlin); 422 otherwise."""
    admin.update_profile(platform().db, current().user_id, data)
    return jsonify(_fresh_me())


@api(
    "POST",
    "/me/password",
    summary="Change my password (my other sessions end)",
    tag="me",
    scope="write",
    body={
        "type": "object",
        "required": ["current", "new"],
        "additionalProperties": False,
        "properties": {
            "current": {"type": "string", "maxLength": 500},
            "new": {"type": "string", "maxLength": 500},
        },
    },
    errors=(422,),
    response={
        "type": "object",
        "required": ["changed", "sessions_ended"],
        "properties": {"changed": {"type": "boolean"}, "sessions_ended": {"type": "integer"}},
    },
)
def change_my_password(data: dict[str, Any]):
    """Checks the current password; the new one has at least 10 characters. Every other session of
    mine ends (the one asking stays signed in)."""
    keep = request.cookies.get(COOKIE) if g.get("auth") == "session" else None
    ended = admin.change_password(
        platform().db, current().user_id, data["current"], data["new"], keep_session=keep, ip=client_ip()
    )
    return jsonify({"changed": True, "sessions_ended": ended})


@api(
    "GET",
    "/me/tokens",
    summary="My API tokens (never the tokens themselves)",
    tag="me",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": TOKEN}},
    },
)
def my_tokens():
    rows = auth.tokens(platform().db, current().user_id)
    return jsonify({"items": [{k: plain(v) for k, v in r.items()} for r in rows]})


@api(
    "POST",
    "/me/tokens",
    links=(link("revoke_my_token", token_id="$response.body#/id"),),
    summary="Create an API token (shown once)",
    tag="me",
    scope="write",
    status=201,
    body={
        "type": "object",
        "required": ["name", "scopes"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NO_NUL},
            "scopes": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(auth.TOKEN_SCOPES)},
            },
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
    },
    response={
        "type": "object",
        "required": ["id", "token", "name", "scopes", "expires_at"],
        "properties": {
            "id": {"type": "integer"},
            "token": {"type": "string", "description": "Shown this once: keep it"},
            "name": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
)
def create_my_token(data: dict[str, Any]):
    """Scopes: read, write and — for admins — admin. A token can only create tokens within its own
    scopes."""
    principal = current()
    scopes = list(data["scopes"])
    for scope in scopes:
        if (scope == "admin" and not principal.is_admin) or scope not in g.scopes:
            raise auth.ForbiddenError("admin.scope_not_allowed", scope=scope)
    days = data.get("expires_in_days")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    token, token_id = auth.create_token(platform().db, principal.user_id, data["name"], scopes, expires)
    body = {
        "id": token_id,
        "token": token,
        "name": data["name"],
        "scopes": sorted(scopes),
        "expires_at": plain(expires),
    }
    return jsonify(body), 201


@api(
    "DELETE",
    "/me/tokens/<int:token_id>",
    summary="Revoke one of my API tokens",
    tag="me",
    scope="write",
    errors=(404,),
    response={"type": "object", "required": ["revoked"], "properties": {"revoked": {"type": "boolean"}}},
)
def revoke_my_token(token_id: int):
    if token_id > 2**31 - 1:
        raise NotFoundError("admin.token_not_found", ident=token_id)
    if not auth.revoke_token(platform().db, current().user_id, token_id):
        raise NotFoundError("admin.token_not_found", ident=token_id)
    return jsonify({"revoked": True})
