"""Bringing existing tickets in from the sheets companies keep today (XLSX or CSV).

A sheet is read as a header row plus data rows (engine/sheets.py: XLSX and CSV, streamed where
large). A *mapping* names, per column, the field it fills or one of the special targets
(``_number`` the sheet's ticket number, ``_created_at``, ``_closed_at``, ``_stage``, ``_status``,
``_created_by``, ``_assignee``); each value is converted by its field type's converter
(engine/ticket_values.py: Chinese dates, option labels, users by name or mobile …) and the row is
then cleaned by the form
engine's own validation (its compiled fast path), so an imported ticket obeys the same rules as a
submitted one.

:meth:`Importer.check` is the dry run: every row's problems (row number, column, message) and
nothing written but the job. :meth:`Importer.run` imports the valid rows in batches (``BATCH``
rows, one transaction each, with the job's ``done_rows`` in the same transaction): a crash loses at
most the batch in flight and a re-run goes on after ``done_rows``. On the site both are tasks on the
job queue (:func:`work`): an upload leaves its job ``checking`` (:meth:`Importer.open_check`), a run
leaves it ``running`` (:meth:`Importer.begin`), each under a claim token; the worker holding the
token writes progress and the heartbeat (``updated_at``) as it goes, and the minute tick hands a job
whose heartbeat stopped to another worker under a new token (:func:`claim_stale`), which goes on
where it stopped. Every ticket carries
``external_ref`` (the sheet's ticket number, else a hash of the row), so a re-run — or importing
the same file again, or an export of it — creates nothing new. Each imported ticket gets one
``imported`` event (the truth its metrics are folded from) and its ``ticket_metrics`` row, so last
year's tickets show up in reports. An open ticket's flow enters the sheet's stage through the flow
engine (engine/ticket_import_flow.py): its tasks, approvals and SLA clocks exist as if it had arrived
there. No rules run and nobody is notified: the tickets happened before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

import engine.ticket_import_messages  # noqa: F401  (registers the messages)
from engine.definitions.model import FieldDef
from engine.errors import ConflictError, FormError, GongdanError, InputError, NotFoundError, Problem
from engine.flows.commands import SAVE_INSTANCE
from engine.flows.spec import PEOPLE, WAITING
from engine.forms.spec import Env, is_empty
from engine.i18n import t, text_of
from engine.reports.metrics import Fact, fold, new_state, row_of, times_of
from engine.sheets import (  # noqa: F401  (re-exported: the import's public names)
    DEFAULT_MAX_ROWS,
    MAX_ROWS_ENV,
    OPENERS,
    STREAM_ENV,
    Sheet,
    max_rows,
    open_sheet,
)
from engine.sheets import cell_text as _text
from engine.store.models import (
    App,
    Counter,
    Event,
    FlowInstance,
    ImportJob,
    ImportMapping,
    Record,
    TicketMetrics,
    TicketStageTime,
    UniqueValue,
)
from engine.store.types import utcnow
from engine.ticket_import_flow import FlowEntry
from engine.ticket_import_flow import Ticket as FlowTicket
from engine.ticket_values import (
    CONVERTERS,
    Context,
    ConvertError,
    Directory,
    convert,
    parse_day,
    parse_moment,
)

log = logging.getLogger("gongdan.imports")

R, E, FI, TM, TS, UV, J = (
    m.__table__ for m in (Record, Event, FlowInstance, TicketMetrics, TicketStageTime, UniqueValue, ImportJob)
)

#: Rows written per transaction: small enough for short locks, large enough to be fast.
BATCH = 1000
#: Row problems kept on the job (the count is always exact; a sheet with more shows the first ones).
STORED_ERRORS = 2000
REF_LIMIT = 128
#: A job checking or running whose heartbeat (``updated_at``) stopped this long ago was cut off (its
#: worker killed or recycled): the minute tick hands it to another worker, and a new run may take it.
STALE_RUN = dt.timedelta(minutes=2)
#: The statuses a worker holds a job in.
ACTIVE = ("checking", "running")
DEFAULT_TZ = "Asia/Shanghai"
SPECIAL = ("_number", "_created_at", "_closed_at", "_stage", "_status", "_created_by", "_assignee")
#: Field types a sheet cannot fill: files need uploads, computed values are Gongdan's own.
NOT_IMPORTABLE = frozenset({"attachment", "image", "formula", "autonumber"})
#: Headers recognised for the special targets, besides their own names and labels.
SPECIAL_ALIASES = {
    "_number": ("工单号", "编号", "单号", "工单编号", "number", "ticket number", "ticket no", "no", "id"),
    "_created_at": ("创建时间", "提交时间", "创建日期", "created", "created at", "created_at", "date"),
    "_closed_at": ("关闭时间", "完成时间", "结案时间", "closed", "closed at", "closed_at"),
    "_stage": ("阶段", "当前阶段", "环节", "stage"),
    "_status": ("状态", "处理状态", "status"),
    "_created_by": ("提交人", "创建人", "发起人", "submitter", "created by", "created_by"),
    "_assignee": ("当前处理人", "处理人", "负责人", "受理人", "经办人", "assignee", "handler", "assigned to"),
}
#: Several people in one assignee cell (the signers of a countersign): 张三、李四 / 张三, 李四.
PEOPLE_SEPARATORS = re.compile(r"\s*[,,、;;/|]\s*")
STATUS_WORDS = {
    "open": ("open", "处理中", "进行中", "未关闭", "待处理", "打开", "新建", "new", "in progress"),
    "closed": ("closed", "已关闭", "关闭", "已完成", "完成", "已解决", "解决", "done", "resolved"),
    "cancelled": ("cancelled", "canceled", "已取消", "取消", "作废", "已作废"),
}


# =============================================================================== mapping
@dataclass(frozen=True)
class Target:
    key: str
    type: str
    label: Mapping[str, str]
    fdef: FieldDef | None = None


def targets(tspec: Any) -> dict[str, Target]:
    """What a column may fill: the importable fields of the type, then the special targets."""
    out = {
        f.key: Target(f.key, f.type, dict(f.label), f)
        for f in tspec.definition.form.fields
        if f.type not in NOT_IMPORTABLE
    }
    for key in SPECIAL:
        code = f"import.target.{key}"
        out[key] = Target(key, key, {"zh": t(code, "zh"), "en": t(code, "en")})
    return out


def auto_mapping(header: Sequence[str], tspec: Any) -> dict[str, str]:
    """Columns whose header is a field's key or label (or a special target's usual name) → it."""
    names: dict[str, str] = {}
    for key, target in targets(tspec).items():
        for name in (key, *target.label.values(), *SPECIAL_ALIASES.get(key, ())):
            if name:
                names.setdefault(str(name).strip().lower(), key)
    out: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        key = names.get(column.strip().lower())
        if key and key not in used:
            out[column] = key
            used.add(key)
    return out


def mapping_columns(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    """``{"columns": {header: target}}`` (or the inner dict itself) → {header: target}, unmapped dropped."""
    if not mapping:
        return {}
    columns = mapping.get("columns", mapping) if isinstance(mapping, Mapping) else {}
    return {str(k): str(v) for k, v in dict(columns).items() if v}


def check_mapping(columns: Mapping[str, str], header: Sequence[str], tspec: Any) -> None:
    """Every problem of a mapping at once (InputError), before any row is read."""
    known = targets(tspec)
    all_fields = {f.key: f for f in tspec.definition.form.fields}
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for column, target in columns.items():
        where = f"mapping.columns.{column}"
        if column not in header:
            problems.append(
                Problem(
                    where,
                    "import.mapping_unknown_column",
                    {"column": column, "known": ", ".join(header)[:300]},
                )
            )
        if target in all_fields and target not in known:
            ftype = all_fields[target].type
            problems.append(
                Problem(where, "import.mapping_not_importable", {"target": target, "type": ftype})
            )
        elif target not in known:
            shown = ", ".join(known)[:300]
            problems.append(
                Problem(
                    where,
                    "import.mapping_unknown_target",
                    {"column": column, "target": target, "known": shown},
                )
            )
        elif target in first:
            problems.append(
                Problem(
                    where,
                    "import.mapping_twice",
                    {"target": target, "first": first[target], "column": column},
                )
            )
        else:
            first[target] = column
    for f in tspec.definition.form.fields:
        if f.required and f.key not in first and f.key in known and "default" not in f.options:
            label = text_of(dict(f.label))
            problems.append(
                Problem(
                    "mapping.columns", "import.mapping_missing_required", {"field": f.key, "label": label}
                )
            )
    if problems:
        raise InputError("import.mapping_invalid", problems=problems, count=len(problems))


# =============================================================================== rows
@dataclass
class Row:
    """One data row, converted and cleaned by the form, or with its problems."""

    number: int
    ref: str
    data: dict[str, Any] | None
    created_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    status: str = "open"
    stage: str | None = None
    created_by: int | None = None
    assignees: tuple[int, ...] = ()
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def problem(
    row: int, column: str, code: str, params: Mapping[str, Any], fieldkey: str = ""
) -> dict[str, Any]:
    """A row problem as stored on the job: row, column, field, message code and its parameters."""
    safe = {k: v if isinstance(v, int | float | str) or v is None else str(v) for k, v in params.items()}
    return {"row": row, "column": column, "field": fieldkey, "code": code, "params": safe}


def problem_text(p: Mapping[str, Any], lang: str | None = None) -> str:
    return t(p["code"], lang, **(p.get("params") or {}))


class Plan:
    """A mapping applied to one sheet and ticket type: what each column does, built once per run."""

    def __init__(
        self, spec: Any, tspec: Any, header: Sequence[str], columns: Mapping[str, str], ctx: Context
    ):
        self.spec, self.tspec, self.ctx = spec, tspec, ctx
        known = targets(tspec)
        self.cells = [(header.index(c), c, known[target]) for c, target in columns.items() if c in header]
        self.column_of = {target.key: column for _, column, target in self.cells}
        self.has_ref = "_number" in self.column_of
        stages = {}
        for node in tspec.definition.flow.nodes:
            if node.type != "start":
                for name in (node.id, *dict(node.name).values()):
                    stages.setdefault(str(name).strip().lower(), node.id)
        self.stages = stages
        self.stage_ids = [n.id for n in tspec.definition.flow.nodes if n.type in (*WAITING, "end")]
        self.workable = ", ".join(
            f"{n.id} ({text_of(dict(n.name))})" if n.name else n.id
            for n in tspec.definition.flow.nodes
            if n.type in PEOPLE
        )
        self.statuses = {w.lower(): s for s, words in STATUS_WORDS.items() for w in words}
        self.env = Env({"id": None}, None, {"app": spec.key, "ticket_type": tspec.key})

    def row(self, number: int, values: Sequence[Any]) -> Row | None:
        """The row converted and validated; None for a row with nothing in it."""
        if all(v is None or v == "" for v in values):
            return None
        problems: list[dict[str, Any]] = []
        data: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for index, column, target in self.cells:
            value = values[index] if index < len(values) else None
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                if target.fdef is not None:
                    data[target.key] = convert(value, target.fdef, self.ctx)
                else:
                    meta[target.key] = self._special(target.key, value)
            except ConvertError as exc:
                problems.append(problem(number, column, exc.code, exc.params, target.key))
        ref = _text(meta.get("_number", "")) if self.has_ref else ""
        row = Row(number, ref, None, meta.get("_created_at"), meta.get("_closed_at"))
        row.created_by = meta.get("_created_by")
        row.assignees = meta.get("_assignee") or ()
        row.stage = meta.get("_stage")
        row.status = meta.get("_status") or ("closed" if row.closed_at else "open")
        if row.stage is not None and _is_end(self.tspec, row.stage) and "_status" not in meta:
            row.status = "closed"
        if row.status != "open":  # who held it once does not matter (they may have left since)
            row.assignees = ()
            problems = [p for p in problems if p["field"] != "_assignee"]
        elif row.stage is not None and self._node_type(row.stage) not in PEOPLE:
            column = self.column_of["_stage"]
            params = {"column": column, "value": row.stage, "allowed": self.workable}
            problems.append(problem(number, column, "import.stage_not_workable", params, "_stage"))
        if len(ref) > REF_LIMIT:
            problems.append(
                problem(number, self.column_of["_number"], "import.ref_too_long", {"limit": REF_LIMIT})
            )
        self._check_times(row, problems)
        try:
            env = Env({"id": row.created_by}, row.created_at, self.env.ticket)
            row.data = self.tspec.form.validate(data, env=env)
        except FormError as exc:
            for p in exc.problems:
                key = re.split(r"[.\[]", p.path, maxsplit=1)[0]
                column = self.column_of.get(key) or key
                problems.append(problem(number, column, p.code, p.params, key))
        if not self.has_ref and row.data is not None:
            row.ref = "row:" + _row_hash(values)
        row.problems = problems
        return row

    def columns(self) -> dict[str, str]:
        """The mapping in use, {header: target} (kept on the job so a resumed run maps the same)."""
        return {column: target.key for _, column, target in self.cells}

    def ref_of(self, values: Sequence[Any]) -> str:
        """A row's external reference without converting it (rows a resumed run passes over)."""
        if all(v is None or v == "" for v in values):
            return ""
        if self.has_ref:
            index = next(i for i, _, target in self.cells if target.key == "_number")
            return _text(values[index]) if index < len(values) else ""
        return "row:" + _row_hash(values)

    def _node_type(self, node_id: str) -> str:
        return self.tspec.flow.nodes[node_id].type

    def _special(self, key: str, value: Any) -> Any:
        if key in ("_created_at", "_closed_at"):
            return parse_moment(value, self.ctx.tz)
        if key == "_created_by":
            return self.ctx.directory.user(value)
        if key == "_assignee":
            names = [n for n in PEOPLE_SEPARATORS.split(_text(value).strip()) if n]
            return tuple(dict.fromkeys(self.ctx.directory.user(n) for n in names))
        text = _text(value)
        if key == "_stage":
            found = self.stages.get(text.lower())
            if found is None:
                raise ConvertError("import.bad_stage", value=text[:60], known=", ".join(self.stage_ids))
            return found
        if key == "_status":
            found = self.statuses.get(text.lower())
            if found is None:
                raise ConvertError("import.bad_status", value=text[:60])
            return found
        return text  # _number

    def _check_times(self, row: Row, problems: list[dict[str, Any]]) -> None:
        if row.status != "open" and row.closed_at is None:
            column = self.column_of.get("_closed_at") or self.column_of.get("_status") or ""
            problems.append(problem(row.number, column, "import.closed_without_date", {}, "_closed_at"))
        if row.status == "open":
            row.closed_at = None
        if row.closed_at and row.created_at and row.closed_at < row.created_at:
            params = {"closed": row.closed_at.isoformat(), "created": row.created_at.isoformat()}
            problems.append(
                problem(
                    row.number,
                    self.column_of.get("_closed_at", ""),
                    "import.closed_before_created",
                    params,
                    "_closed_at",
                )
            )


def _is_end(tspec: Any, node_id: str) -> bool:
    return any(n.id == node_id and n.type == "end" for n in tspec.definition.flow.nodes)


def _row_hash(values: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps([_text(v) for v in values], ensure_ascii=False).encode()).hexdigest()[
        :40
    ]


# =============================================================================== jobs
@dataclass(frozen=True)
class Source:
    """Where a job's file is read from: a path on disk (CLI) or the file storage (uploads)."""

    path: Path
    name: str
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def saved_mapping(db: Any, app_id: int, ticket_type: str, name: str) -> dict[str, Any]:
    with db.read() as conn:
        found = conn.execute(
            select(ImportMapping.mapping).where(
                ImportMapping.app_id == app_id,
                ImportMapping.ticket_type == ticket_type,
                ImportMapping.name == name,
            )
        ).scalar()
        if found is None:
            names = conn.execute(
                select(ImportMapping.name).where(
                    ImportMapping.app_id == app_id, ImportMapping.ticket_type == ticket_type
                )
            ).scalars()
            raise NotFoundError("import.mapping_not_found", name=name, known=", ".join(names) or "—")
    return dict(found)


def mapping_name(name: str | None) -> str:
    """A mapping's name as kept (trimmed); InputError when empty or over 100 characters."""
    name = (name or "").strip()
    if not 0 < len(name) <= 100:
        raise InputError("import.mapping_name", problems=[Problem("name", "import.mapping_name")])
    return name


def save_mapping(
    db: Any, app_key: str, ticket_type: str, name: str, mapping: Mapping[str, Any], actor: int | None
) -> None:
    """Keep a mapping under ``name`` (replacing one of the same name), so next month's sheet maps itself."""
    name = mapping_name(name)
    columns = {"columns": mapping_columns(mapping)}
    with db.write() as conn:
        app_id = _app_id(conn, app_key)
        existing = conn.execute(
            select(ImportMapping.id).where(
                ImportMapping.app_id == app_id,
                ImportMapping.ticket_type == ticket_type,
                ImportMapping.name == name,
            )
        ).scalar()
        if existing is None:
            conn.execute(
                insert(ImportMapping).values(
                    app_id=app_id,
                    ticket_type=ticket_type,
                    name=name,
                    mapping=columns,
                    created_by=actor,
                    created_at=utcnow(),
                )
            )
        else:
            conn.execute(update(ImportMapping).where(ImportMapping.id == existing).values(mapping=columns))


def list_mappings(db: Any, app_key: str, ticket_type: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        app_id = _app_id(conn, app_key)
        rows = conn.execute(
            select(ImportMapping.name, ImportMapping.mapping)
            .where(ImportMapping.app_id == app_id, ImportMapping.ticket_type == ticket_type)
            .order_by(ImportMapping.name)
        ).all()
    return [{"name": r.name, "mapping": r.mapping} for r in rows]


def _app_id(conn: Connection, app_key: str) -> int:
    found = conn.execute(select(App.id).where(App.key == app_key)).scalar()
    if found is None:
        raise NotFoundError("runtime.unknown_app", app=app_key)
    return found


# =============================================================================== holding a job
class JobLost(Exception):
    """The job is no longer held under this worker's token (the tick gave it to another worker when
    this one fell silent): stop, and write nothing more."""


def new_token() -> str:
    return uuid.uuid4().hex


def beat(db: Any, job_id: int, token: str, **values: Any) -> None:
    """The heartbeat of the worker holding the job under ``token``, with whatever progress
    ``values`` bring; JobLost when the job is held under another token now."""
    with db.write() as conn:
        held = update(J).where(J.c.id == job_id, J.c.claim_token == token)
        if not conn.execute(held.values(updated_at=utcnow(), **values)).rowcount:
            raise JobLost(job_id)


def held_job(db: Any, job_id: int, token: str) -> dict[str, Any]:
    """The job's row (with its app's key) if it is held under ``token``, else JobLost."""
    job = job_row(db, job_id)
    if job["claim_token"] != token:
        raise JobLost(job_id)
    return job


def job_source(job: Mapping[str, Any]) -> Source:
    """The kept file a job's check or run reads (its path recorded by the upload or the last run)."""
    path = Path(str((job.get("mapping") or {}).get("path") or ""))
    if not path.name or not path.is_file():
        raise InputError("import.file_gone", ident=job.get("id"))
    return Source(path, str(job.get("filename") or path.name), str(job.get("file_sha256") or ""))


def fail_job(db: Any, job_id: int, exc: BaseException, token: str | None = None) -> None:
    """The job stopped on ``exc``: marked failed, the reason (and each of its problems, e.g. every
    problem of a mapping) kept as row-0 problems. With ``token``, only while the job is held under it."""
    code = getattr(exc, "code", None) or "error.internal"
    params = dict(getattr(exc, "params", None) or {})
    failed = [problem(0, "", code, params)]
    for p in getattr(exc, "problems", None) or []:
        failed.append(problem(0, p.path.removeprefix("mapping.columns").lstrip("."), p.code, p.params))
    with db.write() as conn:
        where = [J.c.id == job_id] + ([J.c.claim_token == token] if token else [])
        errors = conn.execute(select(J.c.errors).where(*where)).scalar()
        if errors is None:  # gone, or held by another worker now
            return
        conn.execute(
            update(J)
            .where(*where)
            .values(status="failed", errors=[*errors, *failed], updated_at=utcnow(), claim_token=None)
        )


def claim_stale(db: Any, now: dt.datetime) -> list[tuple[int, str]]:
    """Jobs left ``checking`` or ``running`` by a worker silent since ``now - STALE_RUN``, each taken
    under a new token by one conditional UPDATE (two ticks at once never both win one): (id, token)."""
    due = and_(J.c.status.in_(ACTIVE), J.c.updated_at < now - STALE_RUN)
    with db.read() as conn:
        found = conn.execute(select(J.c.id).where(due).order_by(J.c.id)).scalars().all()
    claimed = []
    for job_id in found:
        token = new_token()
        with db.write() as conn:
            taken = update(J).where(J.c.id == job_id, due).values(claim_token=token, updated_at=now)
            if conn.execute(taken).rowcount:
                claimed.append((job_id, token))
    return claimed


def work(runtime: Any, job_id: int, token: str) -> None:
    """What the job queue runs for an import job held under ``token``: its check while ``checking``,
    else its run from ``done_rows`` on. A failure marks the job failed; a lost claim just stops."""
    try:
        job = held_job(runtime.db, job_id, token)
        tz = str((job["mapping"] or {}).get("tz") or DEFAULT_TZ)
        importer = Importer(runtime, job["app"], job["ticket_type"], tz=tz)
        if job["status"] == "checking":
            importer.check_job(job_id, token)
        else:
            importer.run(job_id, job_source(job), token=token)
    except JobLost:
        log.info("import job %s is held by another worker now; this one stops", job_id)
    except GongdanError as exc:
        fail_job(runtime.db, job_id, exc, token)
    except Exception as exc:  # the job says it failed; the log has the details
        log.exception("import job %s failed", job_id)
        fail_job(runtime.db, job_id, exc, token)


class Importer:
    """One ticket type's import: the dry run (:meth:`check`) and the batched, resumable :meth:`run`."""

    def __init__(
        self, runtime: Any, app_key: str, ticket_type: str, tz: str = DEFAULT_TZ, batch: int = BATCH
    ):
        self.runtime, self.db = runtime, runtime.db
        self.spec, self.tspec = runtime.type_spec(app_key, ticket_type)
        self.app_key, self.ticket_type = app_key, ticket_type
        self.tz = ZoneInfo(tz)
        self.batch = max(1, batch)
        with self.db.read() as conn:
            self.app_id, self.version = conn.execute(
                select(App.id, App.current_version).where(App.key == app_key)
            ).one()

    # ------------------------------------------------------------------ the plan
    def plan(self, sheet: Sheet, mapping: Mapping[str, Any] | None) -> Plan:
        columns = mapping_columns(mapping) or auto_mapping(sheet.header, self.tspec)
        check_mapping(columns, sheet.header, self.tspec)
        with self.db.read() as conn:
            directory = Directory(conn)
        ctx = Context(directory, self.spec.app.option_sets, self.tz)
        return Plan(self.spec, self.tspec, sheet.header, columns, ctx)

    # ------------------------------------------------------------------ dry run
    def check(
        self,
        source: Source,
        mapping: Mapping[str, Any] | None = None,
        actor: int | None = None,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """Read every row and list every problem, here and now (the CLI); the job is kept (status
        ``checked``) to run later. A sheet or mapping that cannot be used leaves it ``failed``."""
        job_id, token = self.open_check(source, mapping, actor, file_id)
        try:
            return self.check_job(job_id, token)
        except Exception as exc:
            fail_job(self.db, job_id, exc, token)
            raise

    def open_check(
        self,
        source: Source,
        mapping: Mapping[str, Any] | None = None,
        actor: int | None = None,
        file_id: str | None = None,
        save_as: str | None = None,
    ) -> tuple[int, str]:
        """The job of a kept sheet, waiting for its check (status ``checking``, nothing of the sheet
        read yet): its id and the claim token the check runs under. ``save_as`` keeps the mapping the
        check ends up using under that name."""
        if save_as is not None:
            save_as = mapping_name(save_as)
        now = utcnow()
        token = new_token()
        kept: dict[str, Any] = {"path": str(source.path), "tz": str(self.tz)}
        kept["requested"] = list(mapping_columns(mapping).items())  # pairs: JSONB would reorder a dict
        if save_as:
            kept["save_as"] = save_as
        job = {
            "app_id": self.app_id,
            "ticket_type": self.ticket_type,
            "filename": source.name[:255],
            "file_sha256": source.sha256,
            "file_id": file_id,
            "mapping": kept,
            "status": "checking",
            "total_rows": 0,
            "done_rows": 0,
            "created_rows": 0,
            "error_rows": 0,
            "errors": [],
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
            "claim_token": token,
        }
        with self.db.write() as conn:
            job_id = conn.execute(insert(J).returning(J.c.id), job).scalar_one()
        return job_id, token

    def check_job(self, job_id: int, token: str) -> dict[str, Any]:
        """The dry run of a ``checking`` job held under ``token``: every row read and its problems
        listed, the rows checked so far kept as ``done_rows`` every ``batch`` rows (the heartbeat);
        the job ends ``checked``. JobLost when another worker took the job meanwhile."""
        job = held_job(self.db, job_id, token)
        kept = dict(job["mapping"] or {})
        source = job_source(job)
        sheet = open_sheet(source.path, source.name)
        requested = kept.get("requested")
        plan = self.plan(sheet, {"columns": dict(requested)} if requested else None)
        beat(self.db, job_id, token, total_rows=sheet.total_rows, done_rows=0)
        errors: list[dict[str, Any]] = []
        error_rows = valid = existing = 0
        seen: dict[str, int] = {}
        pending: list[Row] = []

        def take(number: int, values: list[Any]) -> None:
            nonlocal error_rows, valid
            row = plan.row(number, values)
            if row is None:
                return
            self._duplicates(row, seen, plan)
            if row.problems:
                error_rows += 1
                if len(errors) < STORED_ERRORS:
                    errors.extend(row.problems[: STORED_ERRORS - len(errors)])
                return
            valid += 1
            pending.append(row)

        def flush() -> None:
            nonlocal existing
            if pending:
                with self.db.read() as conn:
                    found = self._existing(conn, [r.ref for r in pending])
                existing += sum(1 for r in pending if r.ref in found)
                pending.clear()

        for read, (number, values) in enumerate(sheet.rows(), 1):
            take(number, values)
            if read % self.batch == 0:
                flush()
                beat(self.db, job_id, token, done_rows=read)
        flush()
        kept.pop("requested", None)
        kept.update(
            columns=plan.columns(),
            header=list(sheet.header[:500]),
            valid_rows=valid,
            existing_rows=existing,
        )
        if kept.get("save_as"):
            save_mapping(self.db, self.app_key, self.ticket_type, kept["save_as"], kept, job["created_by"])
        beat(
            self.db, job_id, token, status="checked", mapping=kept, total_rows=sheet.total_rows,
            done_rows=0, error_rows=error_rows, errors=errors, claim_token=None,
        )  # fmt: skip
        return job_view(self.db, job_id)

    def _duplicates(self, row: Row, seen: dict[str, int], plan: Plan) -> None:
        """A ticket number (or, without one, the same row) twice in one sheet: the later one is an error."""
        if row.problems or not row.ref:
            return
        first = seen.setdefault(row.ref, row.number)
        if first != row.number:
            if plan.has_ref:
                column = plan.column_of["_number"]
                row.problems.append(
                    problem(
                        row.number,
                        column,
                        "import.duplicate_ref",
                        {"ref": row.ref, "first": first},
                        "_number",
                    )
                )
            else:
                row.problems.append(problem(row.number, "", "import.duplicate_row", {"first": first}))

    def _existing(self, conn: Connection, refs: Sequence[str]) -> set[str]:
        """Which refs are tickets of this type already (imported before, or by their number)."""
        if not refs:
            return set()
        found = conn.execute(
            select(R.c.external_ref, R.c.number).where(
                R.c.app_id == self.app_id,
                R.c.ticket_type == self.ticket_type,
                or_(R.c.external_ref.in_(refs), R.c.number.in_(refs)),
            )
        ).all()
        return {r.external_ref for r in found if r.external_ref} | {r.number for r in found}

    # ------------------------------------------------------------------ the run
    def begin(self, job_id: int, source: Source) -> str:
        """Mark the job running and hold it under a new claim token, returned for the run (a job still
        checking or running is refused, unless its worker fell silent; a finished one starts over)."""
        with self.db.write() as conn:
            job = conn.execute(select(J).where(J.c.id == job_id).with_for_update()).first()
            if job is None:
                raise NotFoundError("import.job_not_found", ident=job_id)
            if job.file_sha256 != source.sha256:
                raise InputError("import.file_changed", ident=job_id)
            now = utcnow()
            if job.status in ACTIVE and job.updated_at > now - STALE_RUN:
                if job.status == "checking":
                    raise ConflictError("import.job_checking", ident=job_id, done=job.done_rows)
                raise ConflictError(
                    "import.job_running", ident=job_id, done=job.done_rows, total=job.total_rows
                )
            if "columns" not in (job.mapping or {}):
                raise ConflictError("import.job_not_checked", ident=job_id)
            token = new_token()
            values: dict[str, Any] = {
                "status": "running",
                "updated_at": now,
                "claim_token": token,
                "mapping": {**job.mapping, "path": str(source.path)},
            }
            if job.status in ("done", "checked") or job.done_rows == 0:
                # a fresh run (or the same file once more): from the first row; nothing is created twice
                values.update(done_rows=0, created_rows=0, error_rows=0, errors=[])
            conn.execute(update(J).where(J.c.id == job_id).values(**values))
        return token

    def run(
        self, job_id: int, source: Source, stop_after: int | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Import the job's valid rows after ``done_rows``, ``batch`` rows per transaction, under
        ``token`` (the job's claim; by default the run begins here and takes one).

        ``stop_after`` (tests, the benchmark) stops after that many batches, as a crash would.
        """
        if token is None:
            token = self.begin(job_id, source)
        job = held_job(self.db, job_id, token)
        sheet = open_sheet(source.path, source.name)
        plan = self.plan(sheet, job["mapping"])
        seen: dict[str, int] = {}
        done = job["done_rows"]
        # rows before done_rows were imported already; their refs still count for duplicates
        rows = sheet.rows()
        batch: list[Row] = []
        last = done
        batches = 0
        for index, (number, values) in enumerate(rows):
            if index < done:
                ref = plan.ref_of(values)
                if ref:
                    seen.setdefault(ref, number)
                continue
            row = plan.row(number, values)
            last = index + 1
            if row is not None:
                self._duplicates(row, seen, plan)
                batch.append(row)
            if last - done >= self.batch:
                self._write_batch(job_id, token, batch, last)
                batch, done = [], last
                batches += 1
                if stop_after is not None and batches >= stop_after:
                    return job_view(self.db, job_id)
        self._write_batch(job_id, token, batch, max(last, done), final=True)
        return job_view(self.db, job_id)

    def _write_batch(
        self, job_id: int, token: str, rows: list[Row], done_rows: int, final: bool = False
    ) -> None:
        """One transaction: the batch's new tickets, their events and metrics, and the job's progress
        — or nothing at all when the job is no longer held under ``token`` (JobLost)."""
        now = utcnow()
        with self.db.write() as conn:
            held = update(J).where(J.c.id == job_id, J.c.claim_token == token).values(updated_at=now)
            if not conn.execute(held).rowcount:  # first: on PostgreSQL it locks the job till commit
                raise JobLost(job_id)
            good = [r for r in rows if r.ok]
            existing = self._existing(conn, [r.ref for r in good])
            fresh = [r for r in good if r.ref not in existing]
            problems = [p for r in rows for p in r.problems]
            fresh, unique_problems = self._claims_ok(conn, fresh)
            problems += unique_problems
            created = self._insert(conn, job_id, fresh, now) if fresh else 0
            job = conn.execute(
                select(J.c.errors, J.c.error_rows, J.c.created_rows).where(J.c.id == job_id)
            ).one()
            errors = list(job.errors or [])
            errors = errors + problems[: max(0, STORED_ERRORS - len(errors))]
            bad_rows = len({p["row"] for p in problems})
            values: dict[str, Any] = {
                "done_rows": done_rows,
                "created_rows": job.created_rows + created,
                "error_rows": job.error_rows + bad_rows,
                "errors": errors,
                "updated_at": now,
            }
            if final:
                values.update(status="done", claim_token=None)
            conn.execute(update(J).where(J.c.id == job_id).values(**values))

    def _claims_ok(self, conn: Connection, rows: list[Row]) -> tuple[list[Row], list[dict[str, Any]]]:
        """Rows whose unique fields are free (in the database and within the batch); the others' problems."""
        keys = self.tspec.unique_keys
        if not keys or not rows:
            return rows, []
        from engine.forms.spec import unique_text

        ok, problems, taken = [], [], set()
        for row in rows:
            assert row.data is not None
            clash = None
            for key in keys:
                if is_empty(row.data.get(key)):
                    continue
                value = unique_text(row.data[key])
                holder = conn.execute(
                    select(UV.c.record_id).where(
                        UV.c.app_id == self.app_id,
                        UV.c.ticket_type == self.ticket_type,
                        UV.c.field == key,
                        UV.c.value == value,
                    )
                ).scalar()
                if holder is not None or (key, value) in taken:
                    clash = key
                    break
                taken.add((key, value))
            if clash is None:
                ok.append(row)
            else:
                problems.append(problem(row.number, clash, "import.not_unique", {"field": clash}, clash))
        return ok, problems

    def _insert(self, conn: Connection, job_id: int, rows: list[Row], now: dt.datetime) -> int:
        tspec = self.tspec
        for row in rows:
            row.created_at = row.created_at or now
        numbers = self._numbers(conn, rows)
        records = []
        for row, number in zip(rows, numbers, strict=True):
            open_ = row.status == "open"
            records.append(
                {
                    "app_id": self.app_id,
                    "app_version": self.version,
                    "ticket_type": self.ticket_type,
                    "number": number,
                    "stage": row.stage if open_ and row.stage and not _is_end(tspec, row.stage) else None,
                    "status": row.status,
                    "data": row.data,
                    "created_by": row.created_by,
                    "created_at": row.created_at,
                    "updated_by": row.created_by,
                    "updated_at": row.closed_at or row.created_at,
                    "closed_at": row.closed_at,
                    "row_version": 1,
                    "event_seq": 1,
                    "external_ref": row.ref,
                }
            )
        ids = list(conn.execute(insert(R).returning(R.c.id, sort_by_parameter_order=True), records).scalars())
        instance_ids = (
            conn.execute(
                insert(FI).returning(FI.c.id, sort_by_parameter_order=True),
                [
                    {
                        "record_id": rid,
                        "app_version": self.version,
                        "status": "running" if row.status == "open" else "ended",
                        "tokens": [],
                        "state": {"imported": True},
                        "parent_instance_id": None,
                        "parent_node": None,
                        "started_at": row.created_at,
                        "ended_at": None if row.status == "open" else row.closed_at,
                    }
                    for rid, row in zip(ids, rows, strict=True)
                ],
            )
            .scalars()
            .all()
        )
        events, metrics, times, claims, moved, flows = [], [], [], [], [], []
        from engine.reports.keeping import _facts

        facts = _facts(self.spec, self.ticket_type)
        entry = FlowEntry(conn, self.spec, tspec, self.app_id, now)
        for rid, iid, row, rec in zip(ids, instance_ids, rows, records, strict=True):
            payload = imported_payload(row, rec["stage"], job_id, now)
            history = [Fact(1, "imported", row.created_by, row.created_at, payload)]
            if row.status == "open":
                assert row.created_at is not None and row.data is not None
                work = entry.enter(
                    FlowTicket(rid, iid, rec["number"], row.data, row.created_by, row.created_at, row.stage,
                               row.assignees)
                )  # fmt: skip
                history += [Fact(seq, kind, None, now, p) for seq, (kind, p) in enumerate(work.events, 2)]
                record, instance = _carried_on(work, len(history), now)
                moved.append(record)
                flows.append(instance)
            events += [
                {"record_id": rid, "seq": f.seq, "type": f.type, "actor_id": f.actor, "at": f.at,
                 "payload": f.payload}
                for f in history
            ]  # fmt: skip
            state = fold(new_state(facts), facts, history)
            keys = {"record_id": rid, "app_id": self.app_id, "ticket_type": self.ticket_type}
            metrics.append({**keys, "created_by": state["creator"], **row_of(state)})
            times += [{"record_id": rid, **x} for x in times_of(state)]
            for key in tspec.unique_keys:
                if not is_empty((row.data or {}).get(key)):
                    from engine.forms.spec import unique_text

                    claims.append(
                        {
                            "app_id": self.app_id,
                            "ticket_type": self.ticket_type,
                            "field": key,
                            "value": unique_text(row.data[key]),
                            "record_id": rid,
                        }
                    )
        conn.execute(insert(E), events)
        if moved:
            conn.execute(MOVE_RECORD, moved)
            conn.execute(SAVE_INSTANCE, flows)
        conn.execute(insert(TM), metrics)
        if times:
            conn.execute(insert(TS), times)
        if claims:
            conn.execute(insert(UV), claims)
        return len(ids)

    def _numbers(self, conn: Connection, rows: list[Row]) -> list[str]:
        """Ticket numbers in the type's pattern at each ticket's own (historical) creation: one counter
        step per period for the whole batch."""
        pattern = self.tspec.number
        by_counter: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            assert row.created_at is not None
            key = f"{self.app_key}:{self.ticket_type}:{pattern.period(row.created_at)}"
            by_counter.setdefault(key, []).append(i)
        numbers = [""] * len(rows)
        for key, indexes in by_counter.items():
            last = _step(conn, key, len(indexes))
            for offset, i in enumerate(indexes):
                created = rows[i].created_at
                assert created is not None
                numbers[i] = pattern.render(created, last - len(indexes) + 1 + offset)
        return numbers


#: An imported open ticket after its flow entered its stage (its id as ``b_id``).
MOVE_RECORD = update(R).where(R.c.id == bindparam("b_id"))


def _carried_on(work: Any, last_seq: int, now: dt.datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's and the flow instance's new values once an open ticket's flow entered its stage
    (for MOVE_RECORD and SAVE_INSTANCE); a flow with nobody to wait for has ended, and closed it."""
    ended = work.instance.status == "ended"
    record = {
        "b_id": work.ticket.record_id,
        "stage": None if ended else work.stage,
        "status": "closed" if ended else "open",
        "closed_at": now if ended else None,
        "event_seq": last_seq,
    }
    instance = {
        "b_id": work.instance.id,
        "tokens": work.instance.tokens,
        "state": work.instance.state,
        "status": work.instance.status,
        "ended_at": now if ended else None,
    }
    return record, instance


_STEP = {
    name: dialect_insert(Counter)
    .values(key=bindparam("key"), value=bindparam("n"))
    .on_conflict_do_update(index_elements=[Counter.key], set_={"value": Counter.value + bindparam("n")})
    .returning(Counter.value)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _step(conn: Connection, key: str, n: int) -> int:
    """The counter ``key`` stepped by ``n`` at once; its new value (the last number of the block)."""
    return conn.execute(_STEP[conn.dialect.name], {"key": key, "n": n}).scalar_one()


def imported_payload(row: Row, stage: str | None, job_id: int, now: dt.datetime) -> dict[str, Any]:
    """The ``imported`` event: the ticket as the sheet had it (the truth its metrics fold from)."""
    return {
        "data": row.data,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "status": row.status,
        "stage": stage,
        "external_ref": row.ref,
        "sheet_row": row.number,
        "job": job_id,
        "imported_at": now.isoformat(),
    }


def job_view(db: Any, job_id: int, lang: str | None = None) -> dict[str, Any]:
    """A job as the API, the page and the CLI show it (errors with their messages in ``lang``)."""
    with db.read() as conn:
        job = conn.execute(
            select(J, App.key.label("app")).join(App, App.id == J.c.app_id).where(J.c.id == job_id)
        ).first()
    if job is None:
        raise NotFoundError("import.job_not_found", ident=job_id)
    mapping = dict(job.mapping or {})
    errors = [{**e, "message": problem_text(e, lang)} for e in job.errors or []]
    total = job.total_rows or 0
    return {
        "id": job.id,
        "app": job.app,
        "ticket_type": job.ticket_type,
        "filename": job.filename,
        "status": job.status,
        "total_rows": total,
        "done_rows": job.done_rows,
        "created_rows": job.created_rows,
        "error_rows": job.error_rows,
        "valid_rows": int(mapping.get("valid_rows") or 0),
        "existing_rows": int(mapping.get("existing_rows") or 0),
        "progress": round(job.done_rows / total, 4) if total else (1.0 if job.status == "done" else 0.0),
        "columns": dict(mapping.get("columns") or {}),
        "header": list(mapping.get("header") or []),
        "errors": errors,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def job_summary(job: Mapping[str, Any], lang: str | None = None) -> str:
    """The job in one sentence: checking (rows checked of the total), checked, failed, or imported."""
    if job["status"] == "checking":
        if not job["total_rows"]:  # no worker has opened the sheet yet
            return t("import.check_queued", lang)
        return t("import.checking", lang, done=job["done_rows"], total=job["total_rows"])
    if job["status"] == "failed" and not job["columns"]:
        return t("import.check_failed", lang)
    if job["status"] == "checked":
        return t(
            "import.checked", lang, total=job["total_rows"], valid=job["valid_rows"],
            errors=job["error_rows"], existing=job["existing_rows"],
        )  # fmt: skip
    skipped = max(0, job["done_rows"] - job["created_rows"] - job["error_rows"])
    return t(
        "import.done", lang, total=job["total_rows"], created=job["created_rows"],
        skipped=skipped, errors=job["error_rows"],
    )  # fmt: skip


__all__ = [
    "BATCH",
    "CONVERTERS",
    "Importer",
    "Sheet",
    "Source",
    "auto_mapping",
    "check_mapping",
    "file_sha256",
    "job_view",
    "open_sheet",
    "parse_day",
    "parse_moment",
]


# =============================================================================== kept files
ALLOWED_EXT = frozenset(OPENERS)


class FileTooLarge(InputError):
    """An uploaded sheet over the import's size limit (GONGDAN_IMPORT_MAX_BYTES)."""

    http_status = 413


def keep_upload(home: Path, stream: Any, name: str, limit_bytes: int) -> tuple[Source, str]:
    """Keep an uploaded sheet under ``<home>/imports/<sha256><ext>`` (the name never reaches the
    disk; the same bytes are kept once): (its source, its file id)."""
    ext = Path(name or "").suffix.lower()
    if ext not in ALLOWED_EXT:
        raise InputError("import.unknown_format", name=(name or "?")[:100])
    folder = Path(home) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    tmp = folder / f".upload-{os.getpid()}-{id(stream)}{ext}"
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > limit_bytes:
                    raise FileTooLarge("import.file_too_large", limit_mb=f"{limit_bytes / (1 << 20):.4g}")
                digest.update(chunk)
                out.write(chunk)
        file_id = digest.hexdigest() + ext
        os.replace(tmp, folder / file_id)
    finally:
        tmp.unlink(missing_ok=True)
    return Source(folder / file_id, (name or file_id)[:255], digest.hexdigest()), file_id


def kept_source(home: Path, job: Mapping[str, Any]) -> Source:
    """The kept file of a job (InputError when it is gone)."""
    file_id = str(job.get("file_id") or "")
    path = Path(home) / "imports" / file_id
    if not re.fullmatch(r"[0-9a-f]{64}\.[a-z]+", file_id) or not path.is_file():
        raise InputError("import.file_gone", ident=job.get("id"))
    return Source(path, str(job.get("filename") or file_id), str(job.get("file_sha256") or ""))


def job_row(db: Any, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(
            select(J, App.key.label("app")).join(App, App.id == J.c.app_id).where(J.c.id == job_id)
        ).first()
    if row is None:
        raise NotFoundError("import.job_not_found", ident=job_id)
    return dict(row._mapping)
