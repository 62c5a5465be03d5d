"""Administration API (admins only; API tokens need the ``admin`` scope): users and their CSV import,
departments, role members, channel addresses (write-only), apps (import with dry-run diff, export,
diff, roll back), dead letters, rule run logs and the audit log. The work is engine/admin.py's and
engine/channel_settings.py's; every write is audited with the caller's address."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from engine import admin, channel_settings
from engine.errors import InputError, NotFoundError
from engine.jobs.outbox import dead_rows
from server.api.core import (
    CURSOR_QUERY,
    LIMIT_QUERY,
    api,
    current,
    decode_cursor,
    encode_cursor,
    link,
    page_schema,
    plain,
)
from server.app import platform
from server.auth import client_ip

#: Text must not hold NUL (PostgreSQL stores no such character): a 400, not a failure later.
NO_NUL = "^[^\\u0000]*$"
MAX_ID = 2**31 - 1
#: Ids of BIGINT tables (outbox rows, tickets).
MAX_BIG_ID = 2**63 - 1
NULLABLE_INT = {"type": ["integer", "null"]}
REF = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
NULLABLE_STR = {"type": ["string", "null"]}
STAMP = {"type": ["string", "null"], "format": "date-time"}

USER: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "username",
        "display_name",
        "is_admin",
        "is_active",
        "is_away",
        "lang",
        "tz",
        "locked",
    ],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "email": NULLABLE_STR,
        "phone": NULLABLE_STR,
        "department_id": NULLABLE_INT,
        "department": NULLABLE_STR,
        "manager_id": NULLABLE_INT,
        "manager": NULLABLE_STR,
        "is_admin": {"type": "boolean"},
        "is_active": {"type": "boolean"},
        "is_away": {"type": "boolean"},
        "lang": {"type": "string"},
        "tz": {"type": "string"},
        "locked": {"type": "boolean", "description": "Locked after repeated wrong passwords"},
        "created_at": STAMP,
    },
}
USER_DETAIL: dict[str, Any] = {
    **USER,
    "required": [*USER["required"], "roles"],
    "properties": {
        **USER["properties"],
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["app", "role", "weight"],
                "properties": {
                    "app": {"type": "string"},
                    "role": {"type": "string"},
                    "weight": {"type": "integer"},
                },
            },
        },
    },
}


def text(max_length: int, min_length: int = 1, nullable: bool = False) -> dict[str, Any]:
    kind: Any = ["string", "null"] if nullable else "string"
    return {"type": kind, "minLength": min_length, "maxLength": max_length, "pattern": NO_NUL}


PROFILE_PROPERTIES: dict[str, Any] = {
    "display_name": text(100),
    "email": text(254, 0, nullable=True),
    "phone": text(32, 0, nullable=True),
    "department_id": REF,
    "manager_id": REF,
    "is_admin": {"type": "boolean"},
    "lang": {"type": "string", "enum": ["zh", "en"]},
    "tz": text(64),
}
DEPARTMENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "parent_id", "users", "children"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "parent_id": NULLABLE_INT,
        "head": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "integer"}, "username": NULLABLE_STR, "display_name": NULLABLE_STR},
        },
        "users": {"type": "integer", "description": "Direct members"},
        "children": {"type": "array", "items": {"type": "object"}, "description": "Departments below, alike"},
    },
}
MEMBER: dict[str, Any] = {
    "type": "object",
    "required": ["user_id", "username", "display_name", "weight"],
    "properties": {
        "user_id": {"type": "integer"},
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "is_active": {"type": "boolean"},
        "weight": {"type": "integer"},
    },
}
CHANNEL: dict[str, Any] = {
    "type": "object",
    "required": ["name", "kind", "env", "source", "url"],
    "properties": {
        "name": {"type": "string", "description": "smtp, sms or robot.<name>"},
        "kind": {"type": "string", "enum": ["smtp", "sms", "robot"]},
        "env": {"type": "string", "description": "The environment variable it falls back to"},
        "source": {"type": "string", "enum": ["admin", "env", "unset"]},
        "url": {**NULLABLE_STR, "description": "The address in force, masked (secrets as ***)"},
        "env_url": {**NULLABLE_STR, "description": "The environment's address, masked"},
        "updated_at": STAMP,
        "updated_by": NULLABLE_INT,
    },
}
CHANGE: dict[str, Any] = {
    "type": "object",
    "required": ["path", "kind", "text"],
    "properties": {
        "path": {"type": "string"},
        "kind": {"type": "string", "enum": ["added", "removed", "changed"]},
        "old": {},
        "new": {},
        "text": {"type": "string"},
    },
}
PUBLISHED: dict[str, Any] = {
    "type": "object",
    "required": ["app", "version", "previous", "published", "unchanged", "dry_run", "changes"],
    "properties": {
        "app": {"type": "string"},
        "version": {"type": "integer", "description": "The new version (or, unchanged, the running one)"},
        "previous": NULLABLE_INT,
        "published": {"type": "boolean"},
        "unchanged": {"type": "boolean"},
        "dry_run": {"type": "boolean"},
        "changes": {"type": "array", "items": CHANGE},
    },
}
IMPORT_REPORT: dict[str, Any] = {
    "type": "object",
    "required": ["dry_run", "created", "updated", "unchanged", "departments_created", "roles_added"],
    "properties": {
        "dry_run": {"type": "boolean"},
        "created": {"type": "array", "items": {"type": "string"}},
        "updated": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["username", "fields"],
                "properties": {
                    "username": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "unchanged": {"type": "array", "items": {"type": "string"}},
        "departments_created": {"type": "array", "items": {"type": "string"}},
        "roles_added": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "username": {"type": "string"},
                    "app": {"type": "string"},
                    "role": {"type": "string"},
                },
            },
        },
    },
}
DEAD: dict[str, Any] = {
    "type": "object",
    "required": ["id", "channel", "attempts"],
    "properties": {
        "id": {"type": "integer"},
        "channel": {"type": "string"},
        "record_id": NULLABLE_INT,
        "attempts": {"type": "integer"},
        "last_error": {**NULLABLE_STR, "description": "Why the last attempt failed, in the caller's words."},
        "last_error_texts": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "string"},
            "description": "The same in every language (zh, en); null when there is no error.",
        },
        "created_at": STAMP,
    },
}
RULE_RUN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "rule", "matched"],
    "properties": {
        "id": {"type": "integer"},
        "app_id": {"type": "integer"},
        "app_version": {"type": "integer"},
        "ticket_type": {"type": "string"},
        "rule": {"type": "string"},
        "record_id": NULLABLE_INT,
        "trigger": {"type": "string"},
        "event_seq": NULLABLE_INT,
        "matched": {"type": "boolean"},
        "actions": {"type": "array"},
        "error": NULLABLE_STR,
        "duration_ms": {"type": "number"},
        "at": STAMP,
    },
}
AUDIT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "at", "action"],
    "properties": {
        "id": {"type": "integer"},
        "at": STAMP,
        "actor_id": NULLABLE_INT,
        "actor": NULLABLE_STR,
        "action": {"type": "string"},
        "target": NULLABLE_STR,
        "details": {"type": "object"},
        "ip": NULLABLE_STR,
    },
}
PAGE_QUERY = {"limit": LIMIT_QUERY, "cursor": CURSOR_QUERY}
DRY_RUN_QUERY = {"type": "boolean", "default": False}


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


def _known(*names: str) -> None:
    """A path argument PostgreSQL could not even compare (NUL) names nothing: 404."""
    if any("\x00" in n for n in names):
        raise NotFoundError("runtime.unknown_app", app="-")


def _id_in_range(value: int, code: str) -> None:
    """An id no row can have (beyond the column's range) names nothing: 404, before any query."""
    if value > MAX_ID:
        raise NotFoundError(code, ident=value)


def _actor() -> int:
    return current().user_id


def _cursor_id(q: dict[str, Any]) -> int | None:
    value = decode_cursor(q.get("cursor"))
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_BIG_ID:
        raise InputError("api.bad_cursor")
    return value


def _page(items: list[dict[str, Any]], next_id: int | None) -> Response:
    return jsonify(
        {"items": [_row(i) for i in items], "next_cursor": encode_cursor(next_id) if next_id else None}
    )


def _older_page(items: list[dict[str, Any]], limit: int) -> Response:
    """A newest-first page: the next cursor is the oldest id shown when the page is full."""
    next_id = min(i["id"] for i in items) if len(items) >= limit and items else None
    return _page(items, next_id)


# ============================================================================ users
@api(
    "GET",
    "/admin/users",
    summary="Users, by id; ?q= searches usernames and display names",
    tag="admin",
    scope="admin",
    query={"q": text(100, 0), **PAGE_QUERY},
    response=page_schema(USER),
)
def admin_users(q: dict[str, Any]):
    rows, next_id = admin.list_users(platform().db, q.get("q"), q["limit"], _cursor_id(q))
    return _page(rows, next_id)


@api(
    "POST",
    "/admin/users",
    links=(
        link("admin_user", user_id="$response.body#/id"),
        link("admin_update_user", user_id="$response.body#/id"),
        link("admin_reset_password", user_id="$response.body#/id"),
    ),
    summary="Create a user (a random initial password is answered once unless one is given)",
    tag="admin",
    scope="admin",
    status=201,
    body={
        "type": "object",
        "required": ["username"],
        "additionalProperties": False,
        "properties": {
            "username": text(64),
            "password": {"type": "string", "minLength": 10, "maxLength": 500},
            **PROFILE_PROPERTIES,
        },
    },
    errors=(409, 422),
    response={
        "type": "object",
        "required": ["user", "password"],
        "properties": {
            "user": USER_DETAIL,
            "password": {**NULLABLE_STR, "description": "The generated initial password, shown once"},
        },
    },
)
def admin_create_user(data: dict[str, Any]):
    values = {k: v for k, v in data.items() if k != "password"}
    db = platform().db
    uid, password = admin.create_user(db, _actor(), values, data.get("password"), ip=client_ip())
    return jsonify({"user": _row(admin.get_user(db, uid)), "password": password}), 201


@api(
    "GET",
    "/admin/users/<int:user_id>",
    summary="One user with their roles",
    tag="admin",
    scope="admin",
    errors=(404,),
    response=USER_DETAIL,
)
def admin_user(user_id: int):
    _id_in_range(user_id, "admin.user_not_found")
    return jsonify(_row(admin.get_user(platform().db, user_id)))


@api(
    "PATCH",
    "/admin/users/<int:user_id>",
    summary="Change a user (deactivating ends their sessions)",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            **PROFILE_PROPERTIES,
            "is_active": {"type": "boolean"},
            "is_away": {"type": "boolean", "description": "On leave: dispatch skips them"},
        },
    },
    errors=(404, 422),
    response=USER_DETAIL,
)
def admin_update_user(user_id: int, data: dict[str, Any]):
    _id_in_range(user_id, "admin.user_not_found")
    return jsonify(_row(admin.update_user(platform().db, _actor(), user_id, data, ip=client_ip())))


@api(
    "POST",
    "/admin/users/<int:user_id>/password",
    summary="Reset a user's password: a new random one, answered once; unlocks and signs them out",
    tag="admin",
    scope="admin",
    errors=(404,),
    response={"type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}},
)
def admin_reset_password(user_id: int):
    _id_in_range(user_id, "admin.user_not_found")
    return jsonify({"password": admin.reset_password(platform().db, _actor(), user_id, ip=client_ip())})


def _upload(field: str = "file") -> bytes:
    """The uploaded file (multipart field ``field``) or the raw body."""
    if request.mimetype == "multipart/form-data":
        file = request.files.get(field)
        if file is None:
            raise InputError("admin.import_body")
        return file.read()
    return request.get_data(cache=False)


@api(
    "POST",
    "/admin/users/import",
    summary="Create or update users from a CSV file, all or nothing (?dry_run=true only reports)",
    tag="admin",
    scope="admin",
    query={"dry_run": DRY_RUN_QUERY},
    consumes=("multipart/form-data", "text/csv"),
    errors=(422,),
    response=IMPORT_REPORT,
    description="Columns: username, display_name, email, phone, department (a path like 客服部/一组, "
    "created if missing), manager (a username), roles (app:role;app:role). UTF-8 (with or without "
    "BOM) or GBK. Every row is checked first; any problem answers 422 with each problem's row and "
    "column and nothing is written. Existing users are updated (empty cells keep their values; roles "
    "are added).",
)
def admin_import_users(q: dict[str, Any]):
    report = admin.import_users(platform().db, _actor(), _upload(), dry_run=q["dry_run"], ip=client_ip())
    return jsonify(report.as_dict())


# ============================================================================ departments
@api(
    "GET",
    "/admin/departments",
    summary="The department tree",
    tag="admin",
    scope="admin",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": DEPARTMENT}},
    },
)
def admin_departments():
    return jsonify({"items": admin.department_tree(platform().db)})


DEPARTMENT_BODY = {"name": text(100), "parent_id": REF, "head_id": REF}
DEPARTMENT_ROW = {
    "type": "object",
    "required": ["id", "name", "parent_id"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "parent_id": NULLABLE_INT,
        "head_id": NULLABLE_INT,
    },
}


def _department(department_id: int) -> dict[str, Any]:
    node = next(
        (d for d in admin.flat_departments(admin.department_tree(platform().db)) if d["id"] == department_id),
        None,
    )
    if node is None:
        raise NotFoundError("admin.department_not_found", ident=department_id)
    head = node.get("head") or {}
    return {"id": node["id"], "name": node["name"], "parent_id": node["parent_id"], "head_id": head.get("id")}


@api(
    "POST",
    "/admin/departments",
    links=(
        link("admin_update_department", department_id="$response.body#/id"),
        link("admin_delete_department", department_id="$response.body#/id"),
    ),
    summary="Create a department",
    tag="admin",
    scope="admin",
    status=201,
    body={
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": DEPARTMENT_BODY,
    },
    errors=(409, 422),
    response=DEPARTMENT_ROW,
)
def admin_create_department(data: dict[str, Any]):
    new_id = admin.create_department(
        platform().db, _actor(), data["name"], data.get("parent_id"), data.get("head_id"), ip=client_ip()
    )
    return jsonify(_department(new_id)), 201


@api(
    "PATCH",
    "/admin/departments/<int:department_id>",
    summary="Rename, move (never under itself) or set the head of a department",
    tag="admin",
    scope="admin",
    body={"type": "object", "minProperties": 1, "additionalProperties": False, "properties": DEPARTMENT_BODY},
    errors=(404, 409, 422),
    response=DEPARTMENT_ROW,
)
def admin_update_department(department_id: int, data: dict[str, Any]):
    _id_in_range(department_id, "admin.department_not_found")
    admin.update_department(platform().db, _actor(), department_id, data, ip=client_ip())
    return jsonify(_department(department_id))


@api(
    "DELETE",
    "/admin/departments/<int:department_id>",
    summary="Delete an empty department (409 while it has members or sub-departments)",
    tag="admin",
    scope="admin",
    errors=(404, 409),
    response={"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "boolean"}}},
)
def admin_delete_department(department_id: int):
    _id_in_range(department_id, "admin.department_not_found")
    admin.delete_department(platform().db, _actor(), department_id, ip=client_ip())
    return jsonify({"deleted": True})


# ============================================================================ roles
@api(
    "GET",
    "/admin/apps/<key>/roles",
    summary="The roles of an app, with their record scope and members",
    tag="admin",
    scope="admin",
    errors=(404,),
    response={
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "name", "scope", "members"],
                    "properties": {
                        "key": {"type": "string"},
                        "name": {},
                        "scope": {"type": "string", "enum": ["own", "department", "all"]},
                        "members": {"type": "array", "items": MEMBER},
                    },
                },
            }
        },
    },
)
def admin_app_roles(key: str):
    _known(key)
    return jsonify({"items": admin.app_roles(platform().db, key)})


@api(
    "PUT",
    "/admin/apps/<key>/roles/<role>/members",
    summary="Replace the members of a role (user: id or username; weight 1–100 for balancing)",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "required": ["members"],
        "additionalProperties": False,
        "properties": {
            "members": {
                "type": "array",
                "maxItems": 5000,
                "items": {
                    "type": "object",
                    "required": ["user"],
                    "additionalProperties": False,
                    "properties": {
                        "user": {
                            "type": ["integer", "string"],
                            "minLength": 1,
                            "maxLength": 64,
                            "pattern": NO_NUL,
                            "maximum": MAX_ID,
                        },
                        "weight": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                    },
                },
            }
        },
    },
    errors=(404, 422),
    response={
        "type": "object",
        "required": ["members"],
        "properties": {"members": {"type": "array", "items": MEMBER}},
    },
)
def admin_set_role_members(key: str, role: str, data: dict[str, Any]):
    _known(key, role)
    members = admin.set_role_members(platform().db, _actor(), key, role, data["members"], ip=client_ip())
    return jsonify({"members": members})


# ============================================================================ channels
@api(
    "GET",
    "/admin/channels",
    summary="The channels the site sends through, with masked addresses (never a secret)",
    tag="admin",
    scope="admin",
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": CHANNEL}},
    },
)
def admin_channels():
    items = channel_settings.list_channels(platform().db, platform().settings)
    return jsonify({"items": [c.as_dict() for c in items]})


@api(
    "PUT",
    "/admin/channels/<name>",
    summary="Set a channel's address (write-only: answered masked); overrides the environment",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {"url": {**text(2000), "writeOnly": True}},
    },
    errors=(404, 422),
    response=CHANNEL,
    description="smtp: smtp://, smtp+starttls:// or smtps:// with ?from=; sms: https:// (JSON gateway) "
    "or aliyun://; robot.<name>: dingtalk+https://, wecom+https://, feishu+https://, webhook+https:// "
    "(secrets after #secret=). See docs/channels.md.",
)
def admin_set_channel(name: str, data: dict[str, Any]):
    view = channel_settings.set_channel(
        platform().db, platform().settings, _actor(), name, data["url"], ip=client_ip()
    )
    return jsonify(view.as_dict())


@api(
    "DELETE",
    "/admin/channels/<name>",
    summary="Drop the admin's address of a channel: the environment's applies again",
    tag="admin",
    scope="admin",
    errors=(404,),
    response=CHANNEL,
)
def admin_clear_channel(name: str):
    view = channel_settings.clear_channel(platform().db, platform().settings, _actor(), name, ip=client_ip())
    return jsonify(view.as_dict())


# ============================================================================ apps
def _definition_source() -> tuple[Any, str | None]:
    """The definition of an import: JSON ``{"definition": {...}}`` or an uploaded YAML/JSON file."""
    if request.mimetype == "multipart/form-data":
        file = request.files.get("file")
        if file is None:
            raise InputError("admin.import_body")
        data = file.read()
        if b"\x00" in data:
            raise InputError("admin.import_body")
        return data, (file.filename or "")[:100].replace("\x00", "") or None
    if request.is_json:
        raw = request.get_data(cache=True)
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("definition"), dict) and b"\\u0000" not in raw:
            return body["definition"], None
    raise InputError("admin.import_body")


@api(
    "POST",
    "/admin/apps/import",
    summary="Publish an app definition as a new version (?dry_run=true: only the diff)",
    tag="admin",
    scope="admin",
    query={"dry_run": DRY_RUN_QUERY},
    consumes=("application/json", "multipart/form-data"),
    errors=(413, 422),
    response=PUBLISHED,
    description='JSON {"definition": {...}} or a YAML/JSON file (multipart field "file"). A definition '
    "with problems answers 422 with every problem and its path (and line for files); nothing is written.",
)
def admin_import_app(q: dict[str, Any]):
    source, name = _definition_source()
    result = admin.import_app(
        platform().runtime, _actor(), source, dry_run=q["dry_run"], ip=client_ip(), name=name
    )
    return jsonify(result)


@api(
    "GET",
    "/admin/apps/<key>/export",
    summary="Download an app definition as YAML (imports back to the same definition)",
    tag="admin",
    scope="admin",
    query={"version": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    errors=(404,),
    produces=("application/yaml",),
    response={"type": "object", "required": ["app"], "description": "The definition, as YAML text"},
)
def admin_export_app(key: str, q: dict[str, Any]):
    _known(key)
    number, text = admin.export_app(platform().runtime, _actor(), key, q.get("version"), ip=client_ip())
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{key}-v{number}.yaml"'},
    )


@api(
    "GET",
    "/admin/apps/<key>/diff",
    summary="What changed between two versions of an app (to: the running one by default)",
    tag="admin",
    scope="admin",
    query={
        "from": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "to": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
    errors=(404,),
    response={
        "type": "object",
        "required": ["from", "to", "changes"],
        "properties": {
            "from": {"type": "integer"},
            "to": {"type": "integer"},
            "changes": {"type": "array", "items": CHANGE},
        },
    },
)
def admin_app_diff(key: str, q: dict[str, Any]):
    _known(key)
    runtime = platform().runtime
    to_version = runtime.definition(key, q.get("to"))[0]
    from_version = q.get("from") or max(to_version - 1, 1)
    changes = admin.app_diff(runtime, key, from_version, to_version)
    return jsonify({"from": from_version, "to": to_version, "changes": changes})


@api(
    "POST",
    "/admin/apps/<key>/rollback",
    summary="Publish the definition of an earlier version as a new version (running tickets keep theirs)",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": {"version": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    },
    errors=(404, 422),
    response=PUBLISHED,
)
def admin_rollback_app(key: str, data: dict[str, Any]):
    _known(key)
    return jsonify(admin.rollback_app(platform().runtime, _actor(), key, data["version"], ip=client_ip()))


# ============================================================================ operations
@api(
    "GET",
    "/admin/outbox/dead",
    summary="Dead letters: deliveries that ran out of attempts or were refused for good",
    tag="admin",
    scope="admin",
    query=PAGE_QUERY,
    response=page_schema(DEAD),
)
def admin_dead_letters(q: dict[str, Any]):
    rows = dead_rows(platform().db, q["limit"], _cursor_id(q), lang=g.lang)
    return _older_page(rows, q["limit"])


@api(
    "POST",
    "/admin/outbox/retry",
    summary="Send dead letters again with fresh attempts",
    tag="admin",
    scope="admin",
    body={
        "type": "object",
        "required": ["ids"],
        "additionalProperties": False,
        "properties": {
            "ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_BIG_ID},
            }
        },
    },
    errors=(422,),
    response={
        "type": "object",
        "required": ["retried"],
        "properties": {"retried": {"type": "array", "items": {"type": "integer"}}},
    },
)
def admin_retry_dead(data: dict[str, Any]):
    platform_ = platform()
    retried = admin.retry_dead_letters(platform_.db, _actor(), data["ids"], ip=client_ip())
    if retried:
        platform_.queue.dispatch(retried)
    return jsonify({"retried": retried})


@api(
    "GET",
    "/admin/rule_runs",
    summary="Rule run logs, newest first: of a ticket (record) or of one rule (app, ticket_type, rule)",
    tag="admin",
    scope="admin",
    query={
        "app": text(40, 0),
        "ticket_type": text(40, 0),
        "rule": text(120, 0),
        "record": {"type": "integer", "minimum": 1, "maximum": MAX_BIG_ID},
        **PAGE_QUERY,
    },
    errors=(404,),
    response=page_schema(RULE_RUN),
)
def admin_rule_runs(q: dict[str, Any]):
    rule_keys = [q.get("app"), q.get("ticket_type"), q.get("rule")]
    if any(rule_keys) and not all(rule_keys):
        raise InputError("admin.rule_filter")
    rule = tuple(rule_keys) if all(rule_keys) else None
    rows = platform().runtime.rule_runs(q.get("record"), rule, q["limit"], _cursor_id(q))  # type: ignore[arg-type]
    rows = rows[::-1]
    return _older_page(rows, q["limit"])


@api(
    "GET",
    "/admin/audit",
    summary="The audit log, newest first: who did what to which thing, from where",
    tag="admin",
    scope="admin",
    query=PAGE_QUERY,
    response=page_schema(AUDIT),
)
def admin_audit(q: dict[str, Any]):
    rows = admin.audit_entries(platform().db, q["limit"], _cursor_id(q))
    return _older_page(rows, q["limit"])
