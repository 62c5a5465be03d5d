"""Ticket import and export: upload a sheet and check it (the dry run), run the job, follow its
progress, keep column mappings, download a ticket type as XLSX. Admins only: an import writes
history into the system. The check and the run are tasks on the job queue (``import_job``): the
requests answer at once, and a worker killed meanwhile costs a couple of minutes, not the job."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import UnsupportedMediaType

from engine.errors import InputError, Problem
from engine.sheets import max_bytes
from engine.ticket_export import export_xlsx
from engine.ticket_import import (
    Importer,
    job_row,
    job_view,
    keep_upload,
    kept_source,
    list_mappings,
    mapping_name,
    save_mapping,
    saved_mapping,
    targets,
)
from server.api.attachments import content_disposition
from server.api.core import api, current
from server.app import BODY_LIMITS, platform

log = logging.getLogger("gongdan.imports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAME = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[a-z][a-z0-9_]*$"}

JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "app",
        "ticket_type",
        "status",
        "total_rows",
        "done_rows",
        "created_rows",
        "error_rows",
    ],
    "properties": {
        "id": {"type": "integer"},
        "app": {"type": "string"},
        "ticket_type": {"type": "string"},
        "filename": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["checking", "checked", "running", "done", "failed"],
            "description": "checking (done_rows: rows checked so far) → checked → running (done_rows: "
            "rows imported so far) → done; failed: the reason is the errors of row 0",
        },
        "total_rows": {"type": "integer"},
        "done_rows": {"type": "integer"},
        "created_rows": {"type": "integer"},
        "error_rows": {"type": "integer"},
        "valid_rows": {"type": "integer"},
        "existing_rows": {"type": "integer"},
        "progress": {"type": "number"},
        "columns": {"type": "object", "additionalProperties": {"type": "string"}},
        "header": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["row", "column", "message"],
                "properties": {
                    "row": {"type": "integer"},
                    "column": {"type": "string"},
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["columns"],
    "properties": {
        "columns": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 40}}
    },
}
TARGETS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["targets", "mappings"],
    "properties": {
        "targets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "label", "type", "required"],
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "string"},
                    "type": {"type": "string"},
                    "required": {"type": "boolean"},
                },
            },
        },
        "mappings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "mapping"],
                "properties": {"name": {"type": "string"}, "mapping": MAPPING_SCHEMA},
            },
        },
    },
}


def shown(job_id: int) -> dict[str, Any]:
    from engine.ticket_import import job_summary

    job = job_view(platform().db, job_id, g.get("lang"))
    return {**job, "summary": job_summary(job, g.get("lang"))}


def enqueue(job_id: int, token: str) -> None:
    """Hand the job's check or run to the job queue; should the queue refuse it, the minute tick
    takes the job up once its claim is stale (engine/jobs/queue.py ``resume_imports``)."""
    try:
        platform().queue.import_job(job_id, token)
    except Exception:
        log.warning("import job %s could not be queued; the tick will take it up", job_id, exc_info=True)


def upload_limit() -> int:
    """How large an uploaded sheet may be: the Flask config's GONGDAN_IMPORT_MAX_BYTES, else the
    environment's (256 MiB by default) — not the 16 MiB every other request may carry."""
    return int(current_app.config.get("GONGDAN_IMPORT_MAX_BYTES") or max_bytes())


@api(
    "GET",
    "/imports/<app>/<ticket_type>/targets",
    summary="What sheet columns can fill, and the saved mappings",
    tag="imports",
    scope="admin",
    response=TARGETS_SCHEMA,
    errors=(404,),
)
def import_targets(app: str, ticket_type: str):
    """The fields of the ticket type a column can be mapped to (plus the special columns: ticket
    number, created/closed at, stage, status, submitter, current assignee), and the mappings saved for it."""
    from engine.i18n import text_of

    _, tspec = platform().runtime.type_spec(app, ticket_type)
    lang = g.get("lang")
    found = [
        {
            "key": x.key,
            "label": text_of(x.label, lang) or x.key,
            "type": x.type,
            "required": bool(x.fdef is not None and x.fdef.required),
        }
        for x in targets(tspec).values()
    ]
    return {"targets": found, "mappings": list_mappings(platform().db, app, ticket_type)}


@api(
    "PUT",
    "/imports/<app>/<ticket_type>/mappings/<name>",
    summary="Save a column mapping under a name",
    tag="imports",
    scope="admin",
    body=MAPPING_SCHEMA,
    response=MAPPING_SCHEMA,
    errors=(400, 404),
)
def import_save_mapping(app: str, ticket_type: str, name: str, data: dict[str, Any]):
    """Keep ``columns`` ({sheet header: field key or special target}) as the mapping ``name``, so the
    next sheet of the same shape maps itself (``mapping_name`` on upload)."""
    platform().runtime.type_spec(app, ticket_type)
    save_mapping(platform().db, app, ticket_type, name, data, current().user_id)
    return {"columns": dict(data["columns"])}


@api(
    "POST",
    "/imports/<app>/<ticket_type>",
    summary="Upload a sheet to be checked (the dry run, on the job queue)",
    tag="imports",
    scope="admin",
    consumes=("multipart/form-data",),
    status=202,
    response=JOB_SCHEMA,
    errors=(400, 404, 409, 413, 415),
)
def import_upload(app: str, ticket_type: str):
    """Upload an .xlsx or .csv (multipart field ``file``; CSV in UTF-8 or GBK) to be checked row by
    row: the answer is at once an import job in status ``checking`` (or already ``checked``), whose
    check runs on the job queue; follow GET /imports/jobs/{job_id} (``done_rows`` of ``total_rows``
    checked) until it is ``checked``, listing each row's problems (row number, column, message) —
    nothing is imported yet; POST /imports/jobs/{job_id}/run does — or ``failed`` (a file that cannot
    be read, a mapping that does not fit the sheet: the errors of row 0 say why). Optional fields:
    ``mapping`` (JSON ``{"columns": {header: target}}``; default: by header), ``mapping_name`` (a
    saved mapping), ``save_as`` (keep the mapping the check used under this name). The file may be as
    large as GONGDAN_IMPORT_MAX_BYTES (256 MiB by default), not just the 16 MiB of other requests;
    over it: 413."""
    principal = current()
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType()
    upload = request.files.get("file")
    if upload is None:
        raise InputError("import.no_file", problems=[Problem("file", "import.no_file")])
    importer = Importer(platform().runtime, app, ticket_type)
    mapping: dict[str, Any] | None = None
    if request.form.get("mapping_name"):
        mapping = saved_mapping(platform().db, importer.app_id, ticket_type, request.form["mapping_name"])
    elif request.form.get("mapping"):
        try:
            mapping = json.loads(request.form["mapping"])
        except ValueError:
            mapping = None
        if not isinstance(mapping, dict):
            raise InputError("api.schema_problem", problems=[Problem("mapping", "import.mapping_name")])
    save_as = mapping_name(request.form["save_as"]) if request.form.get("save_as") else None
    source, file_id = keep_upload(
        platform().settings.home, upload.stream, upload.filename or "", upload_limit()
    )
    job_id, token = importer.open_check(source, mapping, principal.user_id, file_id, save_as)
    enqueue(job_id, token)
    return shown(job_id), 202


BODY_LIMITS["api.import_upload"] = upload_limit  # the page's upload (static/imports.js) posts here too


@api(
    "POST",
    "/imports/jobs/<int:job_id>/run",
    summary="Import the checked sheet's valid rows (on the job queue)",
    tag="imports",
    scope="admin",
    status=202,
    response=JOB_SCHEMA,
    errors=(400, 404, 409),
)
def import_run(job_id: int):
    """Start importing on the job queue, 1,000 rows per transaction; follow GET
    /imports/jobs/{job_id}. Running a job again goes on where it stopped, and creates no ticket twice;
    a job whose worker died is taken up again by the next worker within a few minutes. A job still
    being checked, or running, is refused (409)."""
    job = job_row(platform().db, job_id)
    source = kept_source(platform().settings.home, job)
    importer = Importer(platform().runtime, job["app"], job["ticket_type"])
    token = importer.begin(job_id, source)  # refuses a job checking or running, before anything is queued
    enqueue(job_id, token)
    return shown(job_id), 202


@api(
    "GET",
    "/imports/jobs/<int:job_id>",
    summary="An import job's progress and row errors",
    tag="imports",
    scope="admin",
    response=JOB_SCHEMA,
    errors=(404,),
)
def import_job(job_id: int):
    """Where the job stands: rows done of the total, tickets created, and every row's problems
    (the first 2,000), with messages in your language."""
    return shown(job_id)


@api(
    "GET",
    "/imports/<app>/<ticket_type>/export",
    summary="Download the tickets of a type as XLSX",
    tag="imports",
    scope="admin",
    produces=(XLSX,),
    query={"mapping_name": {"type": "string", "maxLength": 100}},
    errors=(400, 404),
)
def import_export(app: str, ticket_type: str, q: dict[str, Any]):
    """Every ticket of the type, one row each, in the columns the import reads (a saved mapping's
    with ``mapping_name``): importing the file again finds them all and creates nothing."""
    runtime = platform().runtime
    mapping = None
    if q.get("mapping_name"):
        importer = Importer(runtime, app, ticket_type)
        mapping = saved_mapping(runtime.db, importer.app_id, ticket_type, q["mapping_name"])
    out = io.BytesIO()
    export_xlsx(runtime, app, ticket_type, out, mapping, lang=g.get("lang") or "zh")
    response = Response(out.getvalue(), mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(f"{app}-{ticket_type}.xlsx")
    return response
