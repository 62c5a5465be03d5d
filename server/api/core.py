"""The REST API's one way to declare an endpoint, and what every endpoint shares.

``@api("GET", "/tickets/<int:ticket_id>", summary=..., tag=..., scope="read", response=SCHEMA)``
registers a view on the ``/api/v1`` blueprint *and* an :class:`Operation` the OpenAPI document is
built from (server/api/openapi.py), so the document cannot drift from the code. The decorator:

- checks credentials: ``scope`` "read"/"write"/"admin" (None = public, e.g. login);
- parses and checks the JSON body against ``body`` (a JSON Schema, or a callable giving one from
  the URL arguments, e.g. a ticket type's form schema): 415 for a non-JSON content type, 400 with
  the path of each problem otherwise;
- checks ``query`` parameters (name → JSON Schema) and passes them typed as ``q``;
- ``links``: what a successful answer lets the caller do next (:func:`link`), published as OpenAPI
  links, e.g. a created ticket's ``id`` → get, change, comment on it. Schemathesis follows them.

Errors have one shape everywhere: ``{"code", "message", "problems": [{"path", "code", "message"}]}``.
Lists are paginated with opaque cursors (:func:`encode_cursor` / :func:`decode_cursor`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Blueprint, request
from jsonschema import Draft202012Validator
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import UnsupportedMediaType

from engine.errors import InputError, NotFoundError, Problem
from engine.i18n import register
from server.auth import current, require_scope

bp = Blueprint("api", __name__, url_prefix="/api/v1")

register(
    {
        "api.body_invalid": {
            "zh": "请求体有 {count} 处错误,未写入任何内容:",
            "en": "The request body has {count} problem(s); nothing was written:",
        },
        "api.schema_problem": {"zh": "{reason}", "en": "{reason}"},
        "api.query_invalid": {
            "zh": "查询参数有 {count} 处错误:",
            "en": "The query parameters have {count} problem(s):",
        },
        "api.query_required": {
            "zh": "缺少查询参数 {name}。",
            "en": "The query parameter {name} is missing.",
        },
        "api.bad_cursor": {
            "zh": "分页游标无效,请从第一页重新开始(去掉 cursor 参数)。",
            "en": "The page cursor is invalid; start again from the first page (drop the cursor parameter).",
        },
        "api.not_json": {
            "zh": "请求体须为 JSON(Content-Type: application/json)。",
            "en": "The request body must be JSON (Content-Type: application/json).",
        },
        "api.login_body": {
            "zh": "请以 JSON 发送 username 和 password。",
            "en": "Send username and password as JSON.",
        },
        "api.precondition": {
            "zh": "记录已被他人修改(版本 {current},您提交的是 {sent})。请重新读取后再保存。",
            "en": "The record was changed by someone else (version {current}, you sent {sent}). "
            "Read it again, then save.",
        },
    }
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "problems"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "code", "message"],
                "properties": {
                    "path": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                },
            },
        },
    },
}

#: The largest id any table holds (INTEGER columns on PostgreSQL); larger path ids are 404 at once.
MAX_ID = 2**31 - 1

Schema = Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from an operation's success answer to the operation ``target`` (its view's name):
    each parameter of the target (``ticket_id``, ``header.If-Match``) from a runtime expression over
    the answer or the request (``$response.body#/id``, ``$response.header.ETag``, ``$request.path.key``)."""

    target: str
    parameters: Mapping[str, str]
    description: str = ""


def link(target: str, description: str = "", /, **parameters: str) -> Link:
    """``link("ticket_get", ticket_id="$response.body#/id")``; a header parameter is spelt
    ``header_If_Match`` (``header.If-Match``)."""
    named = {
        ("header." + k.removeprefix("header_").replace("_", "-")) if k.startswith("header_") else k: v
        for k, v in parameters.items()
    }
    return Link(target, named, description)


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Flask rule under /api/v1
    name: str
    summary: str
    tag: str
    scope: str | None
    body: Schema = None
    response: Schema = None
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    status: int = 200
    errors: tuple[int, ...] = ()
    #: a non-JSON answer (file download, CSV): its media types
    produces: tuple[str, ...] = ()
    #: a non-JSON request body (upload): its media types
    consumes: tuple[str, ...] = ()
    description: str = ""
    #: request headers the operation reads: name → {"schema", "required", "description"} (documentation)
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: query parameters that must be given
    required_query: tuple[str, ...] = ()
    #: what the success answer lets the caller do next (OpenAPI links)
    links: tuple[Link, ...] = ()


OPERATIONS: list[Operation] = []


def api(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    scope: str | None = "read",
    body: Schema = None,
    response: Schema = None,
    query: Mapping[str, Mapping[str, Any]] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    produces: tuple[str, ...] = (),
    consumes: tuple[str, ...] = (),
    description: str = "",
    headers: Mapping[str, Mapping[str, Any]] | None = None,
    required_query: tuple[str, ...] = (),
    links: tuple[Link, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API endpoint (see the module text)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(
            method.upper(),
            rule,
            fn.__name__,
            summary,
            tag,
            scope,
            body,
            response,
            dict(query or {}),
            status,
            errors,
            produces,
            consumes,
            description or (fn.__doc__ or "").strip(),
            dict(headers or {}),
            required_query,
            links,
        )
        query_validators = {k: Draft202012Validator(v) for k, v in op.query.items()}

        @functools.wraps(fn)
        def view(**kwargs: Any) -> Any:
            for name, value in kwargs.items():
                if type(value) is int and value > MAX_ID:  # no row has it; the database would refuse it
                    raise NotFoundError("not_found", what=name, ident=value)
            if scope is not None:
                require_scope(scope)
            if query_validators:
                kwargs["q"] = parse_query(op.query, query_validators, op.required_query)
            if body is not None:
                schema = body(**kwargs) if callable(body) else body
                kwargs["data"] = json_body(schema)
            return _retrying(fn, kwargs)

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[op.method])
        OPERATIONS.append(op)
        return fn

    return deco


#: SQLSTATEs of a transaction PostgreSQL rolled back to break a deadlock or a serialization conflict:
#: nothing of it was written, so running the command again is safe (and what a client would do).
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 2


def _retrying(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Run the endpoint; once more (twice at most) when the database rolled its transaction back to
    break a deadlock — e.g. a worker firing a ticket's timer while a person acts on that ticket — so
    the person gets the answer instead of a 503."""
    for attempt in range(RETRIES + 1):
        try:
            return fn(**kwargs)
        except OperationalError as exc:
            if attempt == RETRIES or getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                raise


# ---------------------------------------------------------------------------- request parsing
def json_body(schema: Mapping[str, Any] | None = None) -> Any:
    """The request's JSON, checked against ``schema``; InputError naming every wrong path."""
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("api.not_json") from exc
    if schema:
        problems = schema_problems(schema, data)
        if problems:
            raise InputError("api.body_invalid", problems=problems, count=len(problems))
    return data


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """One validator per schema object (declared schemas live as long as the process)."""
    found = _VALIDATORS.get(id(schema))
    if found is None or found[0] is not schema:
        found = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema))
        if len(_VALIDATORS) > 1000:
            _VALIDATORS.clear()
    return found[1]


def schema_problems(schema: Mapping[str, Any], data: Any, prefix: str = "") -> list[Problem]:
    out = []
    for err in sorted(_validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(Problem(path.lstrip(".") or "(body)", "api.schema_problem", {"reason": err.message[:300]}))
        if len(out) >= 50:
            break
    return out


def parse_query(
    spec: Mapping[str, Mapping[str, Any]], validators: Mapping[str, Any], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Query parameters typed by their schema (integer, boolean, array of strings, string)."""
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, schema in spec.items():
        if name not in request.args:
            if name in required:
                problems.append(Problem(name, "api.query_required", {"name": name}))
            if "default" in schema:
                out[name] = schema["default"]
            continue
        raw: Any = request.args.getlist(name) if schema.get("type") == "array" else request.args.get(name)
        value = _typed(schema.get("type"), raw)
        errors = list(validators[name].iter_errors(value))
        if errors:
            problems.append(Problem(name, "api.schema_problem", {"reason": errors[0].message[:300]}))
        else:
            out[name] = value
    if problems:
        raise InputError("api.query_invalid", problems=problems, count=len(problems))
    return out


def _typed(kind: Any, raw: Any) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}.get(str(raw).lower(), raw)
    except (TypeError, ValueError):
        return raw
    return raw


# ---------------------------------------------------------------------------- answers
def plain(value: Any) -> Any:
    """A value as JSON: moments and dates as ISO 8601, decimals as numbers, mappings and lists within."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------- pagination
def encode_cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("api.bad_cursor") from exc


def page_schema(item: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a cursor-paginated list of ``item``."""
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


LIMIT_QUERY = {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
CURSOR_QUERY = {"type": "string", "maxLength": 500}

__all__ = [
    "CURSOR_QUERY",
    "ERROR_SCHEMA",
    "LIMIT_QUERY",
    "OPERATIONS",
    "Operation",
    "api",
    "bp",
    "current",
    "decode_cursor",
    "encode_cursor",
    "json_body",
    "page_schema",
    "plain",
    "require_scope",
]
