"""Drafts of app definitions that business users edit in the designer, and publishing them.

Every app has at most one shared draft (``app_drafts``): created from the running version the first
time someone opens the designer, saved with compare-and-set on its ``revision`` (a stale save is
refused with what differs), checked in full on every save (schema, cross-references, compiling —
the loader's checks) and published through the same path as an import after its scenario tests
pass. Nothing a draft holds reaches running tickets until it is published.

Who may design: admins, and in an app the members of its role ``designer`` (an app that wants
non-admin designers lists that role). Only admins create or copy apps.

Changing fields is guarded: a field that is removed or renamed in a save while the rest of the
definition still uses it is refused with every use and its path; one that tickets hold data for is
refused unless the save says what to do with that data (``migrate: {old: new}`` marks the new field
``renamed_from: old`` so tickets carry their values over when they move to the new version, or
``{old: null}`` to drop it on purpose).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

import engine.designer_messages  # noqa: F401  (its messages)
from engine import auth
from engine.access import Principal
from engine.admin import change_dict
from engine.auth import ForbiddenError
from engine.definitions.diff import Change
from engine.definitions.diff import diff as compute_diff
from engine.definitions.loader import Loaded, canonical_data, load_definition
from engine.definitions.source import read_source
from engine.errors import DefinitionError, GongdanError, InputError, NotFoundError, Problem
from engine.i18n import Message, t, text_of
from engine.store.db import Database
from engine.store.models import App, AppDraft, AppVersion, Record, User
from engine.store.types import utcnow

DESIGNER_ROLE = "designer"
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Shipped app definitions a new app may start from (plus "empty").
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "app_definitions"
TEMPLATE_KEYS = ("complaint", "it_ops", "bugfix", "empty")
EMPTY_TEMPLATE: dict[str, Any] = {
    "app": "empty",
    "name": {"zh": "空白应用", "en": "Empty app"},
    "roles": {"agent": {"name": {"zh": "处理人", "en": "Agent"}, "scope": "all"}},
    "ticket_types": {
        "request": {
            "name": {"zh": "请求", "en": "Request"},
            "form": {
                "sections": [
                    {
                        "id": "main",
                        "title": {"zh": "基本信息", "en": "Basics"},
                        "fields": [
                            {
                                "key": "title",
                                "type": "text",
                                "label": {"zh": "标题", "en": "Title"},
                                "required": True,
                                "max_length": 200,
                            }
                        ],
                    }
                ]
            },
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "name": {"zh": "提交", "en": "Submitted"}},
                    {
                        "id": "handle",
                        "type": "task",
                        "name": {"zh": "处理", "en": "Handle"},
                        "assignee": {"role": "agent"},
                    },
                    {"id": "end", "type": "end", "name": {"zh": "已关闭", "en": "Closed"}},
                ],
                "edges": [
                    ["start", "handle"],
                    {"from": "handle", "to": "end", "action": "close", "name": {"zh": "关闭", "en": "Close"}},
                ],
            },
        }
    },
}


# ============================================================================ errors
class DraftConflict(GongdanError):
    """A save or publish of a stale revision: the answer says which revision is stored, who saved
    it and how the stored draft differs from what the editor sent."""

    code = "designer.conflict"
    http_status = 409

    def __init__(self, revision: int, sent: int, changes: list[Change], updated_by: str | None):
        self.revision, self.changes, self.updated_by = revision, changes, updated_by
        super().__init__(revision=revision, sent=sent, who=updated_by or "")

    def message(self, lang: str | None = None) -> str:
        who = self.params.get("who") or t("designer.someone", lang)
        return t(self.code, lang, **{**self.params, "who": who})

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            **super().as_dict(lang),
            "revision": self.revision,
            "changes": [change_dict(c) for c in self.changes],
            "updated_by": self.updated_by,
        }


class DraftRefused(GongdanError):
    """A draft that would not load, or a change that would break uses or lose data: nothing stored."""

    code = "designer.refused"
    http_status = 422


class PublishRefused(GongdanError):
    """Scenario tests failed: nothing published. ``scenarios`` is the whole report."""

    code = "designer.publish_failed_scenarios"
    http_status = 422

    def __init__(self, problems: list[Problem], scenarios: dict[str, Any]):
        self.scenarios = scenarios
        super().__init__(problems=problems, count=len(problems))

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {**super().as_dict(lang), "scenarios": self.scenarios}


# ============================================================================ who may design
def can_design(principal: Principal | None, app_key: str) -> bool:
    return principal is not None and (principal.is_admin or principal.has_role(app_key, DESIGNER_ROLE))


def can_create_apps(principal: Principal | None) -> bool:
    return principal is not None and principal.is_admin


def require_designer(db: Database, principal: Principal | None, app_key: str) -> None:
    """403 unless ``principal`` may design ``app_key`` (404 first when there is no such app at all)."""
    if not KEY.match(app_key or ""):
        raise NotFoundError("designer.unknown_app", app=app_key)
    if principal is not None and principal.is_admin:
        with db.read() as conn:
            if _app(conn, app_key) is None and _draft_row(conn, app_key) is None:
                raise NotFoundError("designer.unknown_app", app=app_key)
        return
    if not can_design(principal, app_key):
        raise ForbiddenError("designer.forbidden", app=app_key)


def require_creator(principal: Principal | None) -> None:
    if not can_create_apps(principal):
        raise ForbiddenError("designer.create_forbidden")


# ============================================================================ drafts
@dataclass(frozen=True)
class Draft:
    app_key: str
    revision: int
    base_version: int | None
    definition: dict[str, Any]
    updated_at: dt.datetime
    updated_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_key,
            "revision": self.revision,
            "base_version": self.base_version,
            "definition": self.definition,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


def _app(conn: Connection, app_key: str) -> Any:
    return conn.execute(select(App.id, App.current_version).where(App.key == app_key)).first()


def _draft_row(conn: Connection, app_key: str, lock: bool = False) -> Any:
    query = select(AppDraft).where(AppDraft.app_key == app_key)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def _username(conn: Connection, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return conn.execute(select(User.username).where(User.id == user_id)).scalar()


def _as_draft(conn: Connection, row: Any) -> Draft:
    return Draft(
        row.app_key,
        row.revision,
        row.base_version,
        row.definition,
        row.updated_at,
        _username(conn, row.updated_by),
    )


def _running(conn: Connection, app_key: str) -> tuple[int, dict[str, Any]] | None:
    row = _app(conn, app_key)
    if row is None:
        return None
    data = conn.execute(
        select(AppVersion.definition).where(
            AppVersion.app_id == row.id, AppVersion.version == row.current_version
        )
    ).scalar_one()
    return row.current_version, data


def load_draft(db: Database, app_key: str, actor: int | None = None) -> Draft:
    """The app's draft; while nobody has saved one, an unstored copy of the running version
    (revision 1). Looking writes nothing: :func:`save_draft` stores the draft at the first change."""
    with db.read() as conn:
        row = _draft_row(conn, app_key)
        if row is not None:
            return _as_draft(conn, row)
        running = _running(conn, app_key)
    if running is None:
        raise NotFoundError("designer.unknown_app", app=app_key)
    version, data = running
    return Draft(app_key, 1, version, data, utcnow(), None)


def _store_running_copy(db: Database, app_key: str, actor: int | None) -> None:
    """Store the running version as the draft's revision 1 (the copy :func:`load_draft` showed)."""
    try:
        with db.write() as conn:
            running = _running(conn, app_key)
            if running is None:
                raise NotFoundError("designer.unknown_app", app=app_key)
            _insert_draft(conn, app_key, running[0], running[1], actor)
    except IntegrityError:  # someone else saved first at the same moment: theirs is revision 1 now
        pass


def _insert_draft(
    conn: Connection, app_key: str, base_version: int | None, definition: Mapping[str, Any], actor: int | None
) -> None:
    now = utcnow()
    conn.execute(
        insert(AppDraft).values(
            app_key=app_key,
            base_version=base_version,
            revision=1,
            definition=dict(definition),
            created_at=now,
            updated_at=now,
            updated_by=actor,
        )
    )


# ---------------------------------------------------------------------------- validation
def validate(definition: Any, app_key: str | None = None) -> Loaded:
    """Every check the loader runs (schema, cross-references, compiling); the app key must stay."""
    if not isinstance(definition, Mapping):
        raise DraftRefused(
            problems=[
                Problem(
                    "definition",
                    "schema.type",
                    {"title": "", "expected": "object", "actual": type(definition).__name__},
                )
            ],
            count=1,
        )
    try:
        loaded = load_definition(definition)
    except DefinitionError as exc:
        problems = list(exc.problems)
        if app_key is not None and definition.get("app") != app_key:
            problems.insert(0, _key_problem(app_key, definition.get("app")))
        raise DraftRefused(problems=problems, count=len(problems)) from None
    if app_key is not None and loaded.app.key != app_key:
        raise DraftRefused(problems=[_key_problem(app_key, loaded.app.key)], count=1)
    return loaded


def _key_problem(app_key: str, value: Any) -> Problem:
    return Problem("app", "designer.app_key_fixed", {"app": app_key, "value": value})


def check_problems(definition: Any, app_key: str | None = None) -> list[Problem]:
    """What :func:`validate` would refuse, as a list (empty: the draft loads)."""
    try:
        validate(definition, app_key)
    except GongdanError as exc:
        return exc.problems or [Problem("", exc.code, exc.params)]
    return []


def save_draft(
    db: Database,
    app_key: str,
    revision: int,
    definition: Mapping[str, Any],
    actor: int | None = None,
    migrate: Mapping[str, str | None] | None = None,
) -> Draft:
    """Store ``definition`` as the next revision if ``revision`` is still the stored one.

    Refused (nothing stored): a stale revision (DraftConflict, 409), a definition that does not
    load, a removed/renamed field that is still used or whose data tickets hold (DraftRefused, 422).
    """
    with db.read() as conn:
        exists = conn.execute(select(AppDraft.id).where(AppDraft.app_key == app_key)).first() is not None
    if not exists:
        _store_running_copy(db, app_key, actor)  # the draft exists from the first change on
    candidate = copy.deepcopy(dict(definition)) if migrate else dict(definition)  # migrate edits it
    with db.write() as conn:
        row = _draft_row(conn, app_key, lock=True)
        if row.revision != revision:
            raise DraftConflict(
                row.revision,
                revision,
                compute_diff(candidate, row.definition),
                _username(conn, row.updated_by),
            )
        try:  # misshapen data: the loader's checks below say where
            _apply_migrations(candidate, row.definition, migrate or {})
            problems = field_change_problems(conn, app_key, row.definition, candidate, migrate or {})
        except (AttributeError, TypeError, KeyError, IndexError):
            problems = []
        try:
            loaded = validate(candidate, app_key)
        except DraftRefused as exc:  # the uses first: they say why a name went missing
            seen = {p.path for p in problems}
            problems += [p for p in exc.problems if p.path not in seen]
            raise DraftRefused(problems=problems, count=len(problems)) from None
        if problems:
            raise DraftRefused(problems=problems, count=len(problems))
        now = utcnow()
        conn.execute(
            update(AppDraft)
            .where(AppDraft.id == row.id)
            .values(revision=row.revision + 1, definition=loaded.data, updated_at=now, updated_by=actor)
        )
        return Draft(app_key, row.revision + 1, row.base_version, loaded.data, now, _username(conn, actor))


def discard_draft(db: Database, app_key: str) -> None:
    with db.write() as conn:
        if conn.execute(delete(AppDraft).where(AppDraft.app_key == app_key)).rowcount == 0:
            raise NotFoundError("designer.no_draft", app=app_key)


# ---------------------------------------------------------------------------- field changes
def _fields(definition: Mapping[str, Any], tkey: str) -> dict[str, Mapping[str, Any]]:
    tt = (definition.get("ticket_types") or {}).get(tkey) or {}
    out: dict[str, Mapping[str, Any]] = {}
    for section in (tt.get("form") or {}).get("sections") or ():
        for f in section.get("fields") or ():
            if isinstance(f, Mapping) and isinstance(f.get("key"), str):
                out[f["key"]] = f
    return out


def removed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Per ticket type kept in ``new``: each field key of ``old`` that ``new`` lacks → the key that
    declares ``renamed_from`` it (a rename), or None (a removal)."""
    out: dict[str, dict[str, str | None]] = {}
    for tkey in old.get("ticket_types") or {}:
        if tkey not in (new.get("ticket_types") or {}):
            continue
        before, after = _fields(old, tkey), _fields(new, tkey)
        renamed = {f.get("renamed_from"): k for k, f in after.items() if f.get("renamed_from")}
        gone = {k: renamed.get(k) for k in before if k not in after}
        if gone:
            out[tkey] = gone
    return out


def _apply_migrations(
    candidate: dict[str, Any], stored: Mapping[str, Any], migrate: Mapping[str, str | None]
) -> None:
    """``migrate {old: new}``: mark field ``new`` as ``renamed_from: old`` where ``old`` went away."""
    for tkey, gone in removed_fields(stored, candidate).items():
        fields = _fields(candidate, tkey)
        for old, renamed_to in gone.items():
            target = migrate.get(old)
            if target and renamed_to is None and target in fields:
                fields[target]["renamed_from"] = old  # type: ignore[index]


def field_change_problems(
    conn: Connection,
    app_key: str,
    stored: Mapping[str, Any],
    new: Mapping[str, Any],
    migrate: Mapping[str, str | None],
) -> list[Problem]:
    """Uses left behind by removed/renamed fields, and data tickets hold in them without a decision."""
    from engine.designer_uses import field_uses

    problems: list[Problem] = []
    app = _app(conn, app_key)
    for tkey, gone in removed_fields(stored, new).items():
        for key, path, how in field_uses(new, tkey, gone):
            problems.append(Problem(path, "designer.field_in_use", {"field": key, "how": _how(how)}))
        fields = _fields(new, tkey)
        for old, renamed_to in gone.items():
            target = migrate.get(old)
            if target and target not in fields:
                problems.append(
                    Problem(
                        _field_path(stored, tkey, old),
                        "designer.migrate_target_missing",
                        {"field": old, "target": target},
                    )
                )
                continue
            if renamed_to is not None or old in migrate or app is None:
                continue
            count = _holding(conn, app.id, tkey, old)
            if count:
                problems.append(
                    Problem(
                        _field_path(stored, tkey, old),
                        "designer.field_has_data",
                        {"field": old, "count": count},
                    )
                )
    return problems


def _how(how: str) -> Message:
    return Message(f"designer.use.{how}", {})


def _field_path(definition: Mapping[str, Any], tkey: str, key: str) -> str:
    tt = definition["ticket_types"][tkey]
    for si, section in enumerate(tt["form"]["sections"]):
        for fi, f in enumerate(section.get("fields") or ()):
            if f.get("key") == key:
                return f"ticket_types.{tkey}.form.sections[{si}].fields[{fi}]"
    return f"ticket_types.{tkey}.form"


def _holding(conn: Connection, app_id: int, tkey: str, key: str) -> int:
    """How many tickets of the type hold a value in field ``key`` (one counting query)."""
    from engine.reports.sql import json_value

    value = json_value(conn.dialect.name, Record.data, key, "text")
    return conn.execute(
        select(func.count()).where(Record.app_id == app_id, Record.ticket_type == tkey, value.is_not(None))
    ).scalar_one()


# ============================================================================ new apps
def _templates() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in TEMPLATE_KEYS:
        if key == "empty":
            out[key] = copy.deepcopy(EMPTY_TEMPLATE)
            continue
        path = TEMPLATES_DIR / f"{key}.yaml"
        if path.is_file():
            out[key] = canonical_data(read_source(path).data)
    return out


def template_gallery(lang: str | None = None) -> list[dict[str, Any]]:
    """The templates a new app may start from, with what each holds."""
    out = []
    for key, data in _templates().items():
        counts = definition_counts(data)
        if key == "empty":
            name, description = t("designer.template.empty", lang), t("designer.template.empty_desc", lang)
        else:
            name, description = text_of(data.get("name"), lang), text_of(data.get("description") or "", lang)
        out.append({"key": key, "name": name, "description": description, **counts})
    return out


def definition_counts(data: Mapping[str, Any]) -> dict[str, int]:
    types = (data.get("ticket_types") or {}).values()
    return {
        "ticket_types": len(types),
        "fields": sum(len(_fields(data, k)) for k in data.get("ticket_types") or {}),
        "nodes": sum(len((tt.get("flow") or {}).get("nodes") or ()) for tt in types),
        "rules": sum(len(tt.get("rules") or ()) for tt in types),
        "reports": sum(len(tt.get("reports") or ()) for tt in types),
    }


def _free_key(conn: Connection, key: str) -> None:
    if not KEY.match(key or ""):
        raise InputError("designer.bad_key", problems=[Problem("key", "designer.bad_key")])
    if _app(conn, key) is not None or _draft_row(conn, key) is not None:
        raise InputError(
            "designer.app_exists", problems=[Problem("key", "designer.app_exists", {"app": key})], app=key
        )


def _new_draft(
    db: Database, key: str, name: Mapping[str, str], data: dict[str, Any], actor: int | None
) -> Draft:
    data = {**data, "app": key, "name": dict(name)}
    validate(data, key)  # a template or a copy always loads; a check costs little and keeps it true
    try:
        with db.write() as conn:
            _free_key(conn, key)
            _insert_draft(conn, key, None, data, actor)
    except IntegrityError:
        raise InputError(
            "designer.app_exists", problems=[Problem("key", "designer.app_exists", {"app": key})], app=key
        ) from None
    with db.read() as conn:
        return _as_draft(conn, _draft_row(conn, key))


def new_app(
    db: Database, key: str, name: Mapping[str, str], template: str = "empty", actor: int | None = None
) -> Draft:
    """A draft of a new, never-published app, started from a template."""
    templates = _templates()
    if template not in templates:
        raise InputError(
            "designer.unknown_template",
            problems=[
                Problem(
                    "template",
                    "designer.unknown_template",
                    {"template": template, "known": ", ".join(templates)},
                )
            ],
            template=template,
            known=", ".join(templates),
        )
    with db.read() as conn:
        _free_key(conn, key)
    return _new_draft(db, key, name, templates[template], actor)


def copy_app(
    db: Database, source_key: str, key: str, name: Mapping[str, str], actor: int | None = None
) -> Draft:
    """A draft of a new app holding the source app's draft (or running version) under a new key."""
    source = load_draft(db, source_key, actor)
    with db.read() as conn:
        _free_key(conn, key)
    return _new_draft(db, key, name, copy.deepcopy(source.definition), actor)


# ============================================================================ expressions, preview
def _ticket_type(definition: Mapping[str, Any], app_key: str, ticket_type: str) -> Mapping[str, Any]:
    types = definition.get("ticket_types") or {}
    if ticket_type not in types:
        unknown_ticket_type(app_key, ticket_type, types)
    return types[ticket_type]


def unknown_ticket_type(app_key: str, ticket_type: str, known: Iterable[str] = ()) -> None:
    raise NotFoundError(
        "designer.unknown_ticket_type", app=app_key, ticket_type=ticket_type, known=", ".join(known)
    )


def check_expression_text(
    definition: Mapping[str, Any],
    app_key: str,
    ticket_type: str,
    expression: str,
    kind: str,
    lang: str | None,
) -> dict[str, Any]:
    """Problems of one expression as the form/flow/rules of ``ticket_type`` would see it, and the names
    it may use (for completion)."""
    from engine.expressions import BOOL, check_expression
    from engine.forms.names import form_names

    tt = _ticket_type(definition, app_key, ticket_type)
    fields = list(_fields(definition, ticket_type).values())
    names = form_names(fields, definition.get("option_sets") or {}, definition.get("settings") or {})
    if not (tt and expression.strip()):
        findings = []
    else:
        findings = check_expression(expression, names, want=BOOL if kind == "condition" else None)
    problems = [
        {"message": t(f.code, lang, **{"source": expression, **f.params}), "column": int(f.column or 1)}
        for f in findings
    ]
    return {"ok": not problems, "problems": problems, "names": sorted(names)}


def preview_form(
    definition: Mapping[str, Any],
    app_key: str,
    ticket_type: str,
    stage: str | None = None,
    data: Mapping[str, Any] | None = None,
    lang: str | None = None,
    db: Database | None = None,
    principal: Principal | None = None,
) -> str:
    """The form of ``ticket_type`` as the real form engine renders it (at ``stage``'s permissions
    for someone holding every role), so the preview is exactly what people will get.

    Given ``db`` and the designer's ``principal``, its user and department fields are the pickers
    of names the ticket pages draw (whom ``principal`` may name, as on a ticket); without them they
    are the bare id boxes of a form rendered without a directory.

    The draft is built and rendered as it is, without the app-wide checks (the check endpoint runs
    them beside it): a problem in a rule or a report must not hide the form being drawn. A draft
    that cannot even be built is answered with the checks' problems (422)."""
    from engine.definitions.build import build_app
    from engine.forms.directory import form_directory
    from engine.forms.permissions import EDITABLE
    from engine.forms.render import render_form
    from engine.specs import compile_app

    _ticket_type(definition, app_key, ticket_type)
    try:
        app = build_app(canonical_data(definition))
        tspec = compile_app(app).types[ticket_type]
    except Exception:  # whatever breaks, the checks say why in the designer's words
        validate(definition)
        raise
    permissions = None
    if stage:
        if stage not in tspec.flow.nodes:
            raise NotFoundError(
                "designer.unknown_stage",
                ticket_type=ticket_type,
                stage=stage,
                known=", ".join(tspec.flow.nodes),
            )
        permissions = tspec.access(stage, app.roles)
    directory = None
    if db is not None and principal is not None:
        access = permissions

        def editable(key: str) -> bool:
            return access is None or access.level(key) == EDITABLE

        with db.read() as conn:
            directory = form_directory(
                conn, principal, app_key, tspec.definition.form.fields, dict(data or {}), editable
            )
    try:
        return render_form(
            tspec,
            dict(data or {}),
            (),
            lang,
            permissions=permissions,
            option_sets=app.option_sets,
            directory=directory,
        )
    except Exception:  # as above
        validate(definition)
        raise


# ============================================================================ publish
def _scenario_report(
    db: Database, definition: Mapping[str, Any], lang: str | None
) -> tuple[bool, dict[str, Any], list[Problem]]:
    """Run the app's scenario tests (engine/scenarios.py) on a throw-away database; the apps its
    rules create tickets in come from their running versions in ``db`` (only read)."""
    from engine.scenarios import run_app_scenarios

    report = run_app_scenarios(dict(definition), lang, db=db)
    problems = list(report.problems)
    for result in report.results:
        problems += [
            Problem(
                p.path, "designer.scenario_failed", {"name": result.name, "detail": Message(p.code, p.params)}
            )
            for p in result.problems
        ]
    return report.passed, report.as_dict(lang), problems


def run_scenarios(db: Database, app_key: str, lang: str | None = None) -> dict[str, Any]:
    """The draft's scenario report (nothing stored)."""
    draft = load_draft(db, app_key)
    validate(draft.definition, app_key)
    ok, data, problems = _scenario_report(db, draft.definition, lang)
    return {**data, "ok": ok, "problems": [p.as_dict(lang) for p in problems]}


def draft_diff(db: Database, app_key: str) -> dict[str, Any]:
    """What publishing the draft would change, and which running tickets that touches."""
    draft = load_draft(db, app_key)
    with db.read() as conn:
        running = _running(conn, app_key)
        changes = compute_diff(running[1] if running else {}, draft.definition)
        affected = _affected(conn, app_key, draft.definition) if running else {}
    return {"changes": [change_dict(c) for c in changes], "affected": affected}


def _affected(conn: Connection, app_key: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    from engine.definitions import impact

    return impact.publish_impact(conn, app_key, dict(definition)).as_dict()


def publish_draft(
    runtime: Any,
    app_key: str,
    revision: int,
    actor: int | None = None,
    note: str | None = None,
    lang: str | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """Validate → scenario tests → publish as the next version → drop the draft (or, when someone
    saved it meanwhile, keep theirs rebased on the new version). Audited as ``app.published``."""
    db = runtime.db
    draft = load_draft(db, app_key, actor)
    if draft.revision != revision:
        with db.read() as conn:
            stored = _draft_row(conn, app_key)
            if stored is None:  # nobody saved one: the draft is the running version, revision 1
                raise DraftConflict(draft.revision, revision, [], None)
            raise DraftConflict(stored.revision, revision, [], _username(conn, stored.updated_by))
    loaded = validate(draft.definition, app_key)
    ok, report, problems = _scenario_report(db, draft.definition, lang)
    if not ok:
        raise PublishRefused(problems, report)
    result = runtime.publish(loaded, actor=actor, note=note)
    with db.write() as conn:
        conn.execute(delete(AppDraft).where(AppDraft.app_key == app_key, AppDraft.revision == revision))
        conn.execute(update(AppDraft).where(AppDraft.app_key == app_key).values(base_version=result.version))
        if result.published:
            auth.audit(
                conn,
                actor,
                "app.published",
                f"app:{app_key}",
                {
                    "version": result.version,
                    "previous": result.previous,
                    "changes": len(result.changes),
                    "via": "designer",
                    "note": note,
                },
                ip,
            )
    return {
        "app": app_key,
        "version": result.version,
        "previous": result.previous,
        "published": result.published,
        "unchanged": result.unchanged,
        "changes": [change_dict(c) for c in result.changes],
        "scenarios": report,
    }


# ============================================================================ pages
def designable_apps(db: Database, principal: Principal, lang: str | None = None) -> list[dict[str, Any]]:
    """The apps ``principal`` may design (published ones and, for admins, drafts of new apps)."""
    with db.read() as conn:
        apps = conn.execute(select(App.key, App.name, App.current_version).order_by(App.key)).all()
        drafts = {
            r.app_key: r
            for r in conn.execute(select(AppDraft.app_key, AppDraft.revision, AppDraft.definition))
        }
    out = []
    for app in apps:
        if can_design(principal, app.key):
            d = drafts.get(app.key)
            out.append(
                {
                    "key": app.key,
                    "name": text_of(app.name, lang),
                    "version": app.current_version,
                    "draft": d.revision if d else None,
                }
            )
    if principal.is_admin:
        published = {a.key for a in apps}
        for key, d in sorted(drafts.items()):
            if key not in published:
                name = text_of(d.definition.get("name") or key, lang)
                out.append({"key": key, "name": name, "version": None, "draft": d.revision})
    return out


def draft_summary(db: Database, app_key: str, lang: str | None = None) -> dict[str, Any]:
    draft = load_draft(db, app_key)
    with db.read() as conn:
        running = _running(conn, app_key)
    types = []
    for tkey, tt in (draft.definition.get("ticket_types") or {}).items():
        types.append(
            {
                "key": tkey,
                "name": text_of(tt.get("name") or tkey, lang),
                "fields": len(_fields(draft.definition, tkey)),
                "nodes": len((tt.get("flow") or {}).get("nodes") or ()),
                "rules": len(tt.get("rules") or ()),
                "reports": len(tt.get("reports") or ()),
            }
        )
    changes = compute_diff(running[1], draft.definition) if running else []
    return {
        "types": types,
        "changes": len(changes),
        "updated_by": draft.updated_by,
        "updated_at": draft.updated_at,
    }


def field_palette(lang: str | None = None) -> list[dict[str, Any]]:
    """Every field type of the registry with its name in ``lang`` and the options it takes."""
    from engine.forms.fields import COMMON_OPTIONS, FIELD_TYPES

    return [
        {
            "type": name,
            "name": t(f"designer.field_type.{name}", lang),
            "options": sorted(ft.options - COMMON_OPTIONS),
            "computed": ft.computed,
            "needs": [sorted(group) for group in ft.required_options],
        }
        for name, ft in FIELD_TYPES.items()
    ]


def version_list(db: Database, app_key: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        app = _app(conn, app_key)
        if app is None:
            return []
        rows = conn.execute(
            select(AppVersion.version, AppVersion.published_at, AppVersion.published_by, AppVersion.note)
            .where(AppVersion.app_id == app.id)
            .order_by(AppVersion.version.desc())
        ).all()
        return [
            {
                "version": r.version,
                "published_at": r.published_at,
                "published_by": _username(conn, r.published_by),
                "note": r.note,
                "running": r.version == app.current_version,
            }
            for r in rows
        ]
