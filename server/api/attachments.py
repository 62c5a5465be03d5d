"""Attachments: upload (multipart, one ``file``) and download with permission checks.

The bytes go through engine.files (type sniffed from the content, size limit, cleaned name, random
id: no path from the client ever reaches the disk); engine.attachments keeps who uploaded what and
which ticket holds it."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request
from werkzeug.exceptions import UnsupportedMediaType

from engine.attachments import downloadable, record_upload
from engine.errors import InputError, NotFoundError, Problem
from engine.files import KIND_OF_MIME, Storage, storage_for
from engine.i18n import register
from server.api.core import api, current
from server.api.tickets import FILE_REF_SCHEMA
from server.app import platform

register(
    {
        "attachment.no_file": {
            "zh": "请以 multipart/form-data 上传,文件字段名为 file。",
            "en": "Upload as multipart/form-data with the file in a field named file.",
        },
    }
)

#: What a download can be: every kind of file the storage keeps.
DOWNLOAD_TYPES = tuple(sorted(KIND_OF_MIME))


def storage() -> Storage:
    """The file storage of this site (``<GONGDAN_HOME>/files``), made once per app."""
    ext = current_app.extensions
    if "gongdan_storage" not in ext:
        ext["gongdan_storage"] = storage_for(platform().settings)  # local folder or GONGDAN_FILES_URL
    return ext["gongdan_storage"]


def upload_limit() -> int:
    return int(current_app.config.get("GONGDAN_UPLOAD_MAX_BYTES") or current_app.config["MAX_CONTENT_LENGTH"])


@api(
    "POST",
    "/attachments",
    summary="Upload a file",
    tag="attachments",
    scope="write",
    consumes=("multipart/form-data",),
    status=201,
    response={**FILE_REF_SCHEMA, "properties": {**FILE_REF_SCHEMA["properties"], "url": {"type": "string"}}},
    errors=(400, 413, 415, 507),
)
def attachment_upload():
    """Upload one file (multipart/form-data, field ``file``). Its type is judged from its content:
    programs, macro documents and unknown kinds are refused (415), too large ones too (413). The
    answer is a file reference to put into an attachment or image field, or into a comment's
    ``attachments`` (by id). Until a ticket uses it, only you can download it."""
    principal = current()
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType()
    upload = request.files.get("file")
    if upload is None:
        raise InputError("attachment.no_file", problems=[Problem("file", "attachment.no_file")])
    stored = record_upload(
        platform().db, storage(), upload.stream, upload.filename or "", principal.user_id, upload_limit()
    )
    body = {**stored.reference(), "url": f"/api/v1/attachments/{stored.id}"}
    return body, 201, {"Location": body["url"]}


@api(
    "GET",
    "/attachments/<file_id>",
    summary="Download a file",
    tag="attachments",
    produces=DOWNLOAD_TYPES,
    errors=(404,),
)
def attachment_download(file_id: str):
    """The file, to its uploader, or to whoever may see the ticket holding it and the field it is in
    (404 for everyone else, as for a file that does not exist)."""
    principal = current()
    runtime = platform().runtime
    if "\x00" in file_id or len(file_id) > 80:
        raise NotFoundError("file.not_found", id=file_id[:64].replace("\x00", ""))
    with runtime.db.read() as conn:
        info = downloadable(conn, runtime, principal, file_id)
    if info is None:
        raise NotFoundError("file.not_found", id=file_id[:64])
    stream = storage().open(file_id)
    response = Response(_chunks(stream), mimetype=info.mime, direct_passthrough=True)
    response.headers["Content-Length"] = str(info.size)
    response.headers["Content-Disposition"] = content_disposition(info.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _chunks(stream: Any, size: int = 64 * 1024):
    with stream:
        while chunk := stream.read(size):
            yield chunk


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the UTF-8 name as ``filename*`` (RFC 6266/5987)."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isprintable() and c not in '"\\;' else "_" for c in fallback).strip() or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
