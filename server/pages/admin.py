"""Admin pages at /admin (admins only; others get the 403 page): users (list, search, create, edit,
reset password, CSV import with its problem list), the department tree, role members per app, apps
(versions, import with a dry-run diff, export, diff, roll back), channel addresses (masked, set,
clear), dead letters (retry), rule run logs and the audit log.

Plain server-rendered forms: each POST carries the CSRF field, calls engine/admin.py (or
engine/channel_settings.py) and redirects back with a notice, or shows the page again with the
problems — or, for a new password, shows it once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, redirect, request

import server.pages.admin_messages  # noqa: F401  (its words)
from engine import admin, channel_settings
from engine.auth import ForbiddenError
from engine.errors import FormError, GongdanError, InputError, NotFoundError
from engine.i18n import t
from engine.jobs.outbox import dead_rows
from server.api.core import decode_cursor, encode_cursor
from server.app import platform
from server.auth import client_ip, current
from server.web import page, signed_in

bp = Blueprint("admin", __name__)

SECTIONS = (
    "users",
    "departments",
    "roles",
    "apps",
    "imports",
    "channels",
    "sso",
    "dead",
    "rule_runs",
    "audit",
)
#: Notices a redirect may name (?done=...), each a message code admin.page.done.<name>.
NOTICES = frozenset(
    {
        "user_saved",
        "department_created",
        "department_saved",
        "department_deleted",
        "members_saved",
        "channel_set",
        "channel_cleared",
        "retried",
        "published",
        "rolled_back",
        "unchanged",
    }
)
PAGE = 50
MAX_ID = 2**31 - 1


def admin_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in (else to /login) and an admin (else the 403 page)."""

    @signed_in
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current().is_admin:
            raise ForbiddenError("auth.forbidden")
        return view(*args, **kwargs)

    return wrapped


def show(template: str, section: str, status: int = 200, **values: Any) -> Any:
    notice = request.args.get("done", "")
    return page(
        template,
        status=status,
        section=section,
        sections=SECTIONS,
        notice=t(f"admin.page.done.{notice}", g.lang, **_notice_params()) if notice in NOTICES else None,
        **values,
    )


def _notice_params() -> dict[str, str]:
    return {k: request.args.get(k, "")[:100] for k in ("name", "count", "version")}


def back(path: str, done: str, **params: Any) -> Any:
    query = urlencode({"done": done, **{k: v for k, v in params.items() if v is not None}})
    return redirect(f"{path}?{query}", code=303)


#: The label (message code) of each field an admin form's problems name; a path an engine gives as an
#: id (``manager_id``) belongs to the form's input named without it.
FIELD_LABELS = {
    "username": "admin.page.username",
    "display_name": "admin.page.display_name",
    "email": "admin.page.email",
    "phone": "admin.page.phone",
    "department_id": "admin.page.department",
    "manager": "admin.page.manager",
    "lang": "admin.page.lang",
    "tz": "admin.page.tz",
    "password": "admin.page.initial_password",
    "is_admin": "admin.page.is_admin",
    "is_active": "admin.page.active",
    "is_away": "admin.page.away",
    "name": "admin.page.department_name",
    "parent_id": "admin.page.parent",
    "head": "admin.page.head",
}
INPUT_OF = {"manager_id": "manager", "head_id": "head"}


def problems_of(exc: GongdanError) -> dict[str, Any]:
    """What a page shows of a refused change: the message, each problem (its field's label, or its
    path, and message) and ``field_errors``: input name → the messages to show beside that input."""
    problems: list[dict[str, Any]] = []
    field_errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        shown = problem.as_dict(g.lang)
        name = INPUT_OF.get(problem.path, problem.path)
        if name in FIELD_LABELS:
            shown["label"] = t(FIELD_LABELS[name], g.lang)
            field_errors.setdefault(name, []).append(shown["message"])
        problems.append(shown)
    return {"error": exc.message(g.lang), "problems": problems, "field_errors": field_errors}


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def _in_range(value: int, code: str) -> None:
    if value > MAX_ID:
        raise NotFoundError(code, ident=value)


def _cursor(name: str = "cursor") -> int | None:
    try:
        value = decode_cursor(request.args.get(name) or None)
    except InputError:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _older(items: list[dict[str, Any]]) -> str | None:
    return encode_cursor(min(i["id"] for i in items)) if len(items) >= PAGE else None


# ============================================================================ index
@bp.get("/admin")
@admin_page
def index():
    return redirect("/admin/users", code=303)


# ============================================================================ users
def _departments() -> list[dict[str, Any]]:
    return admin.flat_departments(admin.department_tree(platform().db))


def _users_page(status: int = 200, **values: Any) -> Any:
    search = request.args.get("q", "").strip()[:100].replace("\x00", "")
    rows, next_id = admin.list_users(platform().db, search or None, PAGE, _cursor())
    more = urlencode({"q": search, "cursor": encode_cursor(next_id)}) if next_id else None
    return show(
        "pages/admin_users.html",
        "users",
        status=status,
        users=rows,
        q=search,
        more=more,
        departments=_departments(),
        managers=admin.manager_choices(platform().db, _named_manager(values.get("form"))),
        **values,
    )


@bp.get("/admin/users")
@admin_page
def users():
    return _users_page()


def _profile_form(form: Any, *, flags: tuple[str, ...]) -> dict[str, Any]:
    """A user form's fields as engine values (empty text → None, ids as ints, checkboxes)."""
    values: dict[str, Any] = {}
    for key in ("display_name", "email", "phone"):
        if key in form:
            values[key] = form.get(key, "").strip() or None
    for key in ("lang", "tz"):
        if form.get(key):
            values[key] = form[key].strip()
    if "department_id" in form:
        values["department_id"] = _int(form.get("department_id"))
    if "manager" in form:
        values["manager"] = form.get("manager", "")  # a username: the engine finds them, or says not
    for flag in flags:
        values[flag] = form.get(flag) == "1"
    return values


@bp.post("/admin/users")
@admin_page
def create_user():
    form = request.form
    password = form.get("password") or None
    try:
        values = {"username": form.get("username", "").strip(), **_profile_form(form, flags=("is_admin",))}
        if values.get("display_name") is None:
            values.pop("display_name", None)
        uid, generated = admin.create_user(platform().db, current().user_id, values, password, ip=client_ip())
    except GongdanError as exc:
        return _users_page(status=exc.http_status, create=problems_of(exc), form=form)
    user = admin.get_user(platform().db, uid)
    return show("pages/admin_password.html", "users", user=user, password=generated, created=True)


def _named_manager(form: Any) -> str | None:
    """The username a re-shown form names as manager (kept in the picker even if unknown)."""
    return (form.get("manager") or "").strip() or None if form is not None else None


def _user_page(user_id: int, status: int = 200, **values: Any) -> Any:
    user = admin.get_user(platform().db, user_id)
    form = values.get("form")
    named = _named_manager(form) if form is not None else user["manager"]
    return show(
        "pages/admin_user.html",
        "users",
        status=status,
        user=user,
        departments=_departments(),
        managers=admin.manager_choices(platform().db, named, exclude=user_id),
        **values,
    )


@bp.get("/admin/users/<int:user_id>")
@admin_page
def user(user_id: int):
    _in_range(user_id, "admin.user_not_found")
    return _user_page(user_id)


@bp.post("/admin/users/<int:user_id>")
@admin_page
def save_user(user_id: int):
    _in_range(user_id, "admin.user_not_found")
    try:
        values = _profile_form(request.form, flags=("is_admin", "is_active", "is_away"))
        if values.get("display_name") is None:
            values["display_name"] = ""  # required: the engine says so
        admin.update_user(platform().db, current().user_id, user_id, values, ip=client_ip())
    except FormError as exc:
        return _user_page(user_id, status=422, **problems_of(exc), form=request.form)
    return back(f"/admin/users/{user_id}", "user_saved")


@bp.post("/admin/users/<int:user_id>/password")
@admin_page
def reset_password(user_id: int):
    _in_range(user_id, "admin.user_not_found")
    password = admin.reset_password(platform().db, current().user_id, user_id, ip=client_ip())
    user = admin.get_user(platform().db, user_id)
    return show("pages/admin_password.html", "users", user=user, password=password, created=False)


@bp.route("/admin/users/import", methods=["GET", "POST"])
@admin_page
def import_users():
    if request.method == "GET":
        return show("pages/admin_import_users.html", "users", report=None)
    file = request.files.get("file")
    dry_run = request.form.get("dry_run") == "1"
    if file is None or not file.filename:
        return show(
            "pages/admin_import_users.html",
            "users",
            status=400,
            report=None,
            error=t("admin.page.no_file", g.lang),
        )
    try:
        report = admin.import_users(
            platform().db, current().user_id, file.read(), dry_run=dry_run, ip=client_ip()
        )
    except FormError as exc:
        return show("pages/admin_import_users.html", "users", status=422, report=None, **problems_of(exc))
    return show("pages/admin_import_users.html", "users", report=report)


# ============================================================================ departments
def _departments_page(status: int = 200, **values: Any) -> Any:
    tree = admin.department_tree(platform().db)
    return show(
        "pages/admin_departments.html",
        "departments",
        status=status,
        tree=tree,
        flat=admin.flat_departments(tree),
        **values,
    )


@bp.get("/admin/departments")
@admin_page
def departments():
    return _departments_page()


@bp.post("/admin/departments")
@admin_page
def create_department():
    form = request.form
    try:
        admin.create_department(
            platform().db,
            current().user_id,
            form.get("name", ""),
            _int(form.get("parent_id")),
            ip=client_ip(),
        )
    except GongdanError as exc:
        return _departments_page(status=exc.http_status, **problems_of(exc))
    return back("/admin/departments", "department_created", name=form.get("name", "").strip())


@bp.post("/admin/departments/<int:department_id>")
@admin_page
def save_department(department_id: int):
    _in_range(department_id, "admin.department_not_found")
    form = request.form
    changes: dict[str, Any] = {}
    if "name" in form:
        changes["name"] = form["name"]
    if "parent_id" in form:
        changes["parent_id"] = _int(form["parent_id"])
    if "head" in form:
        changes["head"] = form["head"]  # a username: the engine finds them, or says not
    try:
        admin.update_department(platform().db, current().user_id, department_id, changes, ip=client_ip())
    except GongdanError as exc:
        return _departments_page(status=exc.http_status, editing=department_id, **problems_of(exc))
    return back("/admin/departments", "department_saved")


@bp.post("/admin/departments/<int:department_id>/delete")
@admin_page
def delete_department(department_id: int):
    _in_range(department_id, "admin.department_not_found")
    try:
        admin.delete_department(platform().db, current().user_id, department_id, ip=client_ip())
    except GongdanError as exc:
        return _departments_page(status=exc.http_status, **problems_of(exc))
    return back("/admin/departments", "department_deleted")


# ============================================================================ roles
@bp.get("/admin/roles")
@admin_page
def roles_index():
    apps = platform().runtime.apps()
    if len(apps) == 1:
        return redirect(f"/admin/apps/{apps[0]['key']}/roles", code=303)
    return show("pages/admin_roles.html", "roles", apps=apps, app=None, roles=[])


def _roles_page(key: str, status: int = 200, **values: Any) -> Any:
    roles = admin.app_roles(platform().db, key)
    return show(
        "pages/admin_roles.html",
        "roles",
        status=status,
        apps=platform().runtime.apps(),
        app=key,
        roles=roles,
        **values,
    )


@bp.get("/admin/apps/<key>/roles")
@admin_page
def app_roles(key: str):
    return _roles_page(key)


def parse_members(text: str) -> list[dict[str, Any]]:
    """``username [weight]`` per line (or separated by commas) → [{user, weight}]."""
    members = []
    for line in text.replace(",", "\n").replace("，", "\n").splitlines():
        parts = line.split()
        if not parts:
            continue
        weight: Any = 1
        if len(parts) > 1:
            weight = int(parts[1]) if parts[1].isdigit() else parts[1]
        members.append({"user": parts[0], "weight": weight})
    return members


@bp.post("/admin/apps/<key>/roles/<role>")
@admin_page
def save_members(key: str, role: str):
    text = request.form.get("members", "")
    try:
        admin.set_role_members(
            platform().db, current().user_id, key, role, parse_members(text), ip=client_ip()
        )
    except FormError as exc:
        return _roles_page(key, status=422, editing=role, text=text, **problems_of(exc))
    return back(f"/admin/apps/{key}/roles", "members_saved", name=role)


# ============================================================================ apps
@bp.get("/admin/apps")
@admin_page
def apps():
    runtime = platform().runtime
    listed = [{**a, "versions": runtime.versions(a["key"])} for a in runtime.apps()]
    return show("pages/admin_apps.html", "apps", apps=listed, result=None)


@bp.get("/admin/apps/<key>")
@admin_page
def app(key: str):
    runtime = platform().runtime
    versions = runtime.versions(key)
    changes = None
    frm, to = _int(request.args.get("from")), _int(request.args.get("to"))
    if frm and to:
        try:
            changes = admin.app_diff(runtime, key, frm, to)
        except GongdanError as exc:
            return show("pages/admin_app.html", "apps", status=exc.http_status, key=key, versions=versions,
                        changes=None, **problems_of(exc))  # fmt: skip
    name = next((a["name"] for a in runtime.apps() if a["key"] == key), {})
    return show(
        "pages/admin_app.html", "apps", key=key, name=name, versions=versions, changes=changes, frm=frm, to=to
    )


@bp.post("/admin/apps/import")
@admin_page
def import_app():
    """A YAML file (or the text a dry run carried over) → a dry-run diff, or a published version."""
    file = request.files.get("file")
    source: Any = (
        file.read() if file is not None and file.filename else request.form.get("source", "").encode()
    )
    dry_run = request.form.get("dry_run") == "1"
    runtime = platform().runtime
    listed = [{**a, "versions": runtime.versions(a["key"])} for a in runtime.apps()]
    if not source.strip():
        return show("pages/admin_apps.html", "apps", status=400, apps=listed, result=None,
                    error=t("admin.page.no_file", g.lang))  # fmt: skip
    try:
        result = admin.import_app(
            runtime, current().user_id, source, dry_run=dry_run, ip=client_ip(), name="upload"
        )
    except GongdanError as exc:
        return show("pages/admin_apps.html", "apps", status=exc.http_status, apps=listed, result=None,
                    **problems_of(exc))  # fmt: skip
    if dry_run:
        text = source.decode("utf-8", "replace")
        return show("pages/admin_apps.html", "apps", apps=listed, result=result, source=text)
    done = "unchanged" if result["unchanged"] else "published"
    return back(f"/admin/apps/{result['app']}", done, version=result["version"])


@bp.post("/admin/apps/<key>/rollback")
@admin_page
def rollback(key: str):
    version = _int(request.form.get("version"))
    try:
        if version is None:
            raise InputError("admin.version_not_found", app=key, version="-")
        result = admin.rollback_app(platform().runtime, current().user_id, key, version, ip=client_ip())
    except GongdanError as exc:
        runtime = platform().runtime
        return show("pages/admin_app.html", "apps", status=exc.http_status, key=key,
                    versions=runtime.versions(key), changes=None, **problems_of(exc))  # fmt: skip
    done = "unchanged" if result["unchanged"] else "rolled_back"
    return back(f"/admin/apps/{key}", done, version=result["version"])


# ============================================================================ channels
def _channels_page(status: int = 200, **values: Any) -> Any:
    items = channel_settings.list_channels(platform().db, platform().settings)
    return show("pages/admin_channels.html", "channels", status=status, channels=items, **values)


@bp.get("/admin/channels")
@admin_page
def channels():
    return _channels_page()


@bp.post("/admin/channels")
@admin_page
def set_channel():
    form = request.form
    name = form.get("name", "").strip()
    if name in ("robot.", "hook."):
        name += form.get("robot", "").strip().lower()
    try:
        channel_settings.set_channel(
            platform().db, platform().settings, current().user_id, name, form.get("url", ""), ip=client_ip()
        )
    except GongdanError as exc:
        return _channels_page(status=exc.http_status, editing=name, **problems_of(exc))
    return back("/admin/channels", "channel_set", name=name)


@bp.post("/admin/channels/<name>/clear")
@admin_page
def clear_channel(name: str):
    try:
        channel_settings.clear_channel(
            platform().db, platform().settings, current().user_id, name, ip=client_ip()
        )
    except GongdanError as exc:
        return _channels_page(status=exc.http_status, **problems_of(exc))
    return back("/admin/channels", "channel_cleared", name=name)


# ============================================================================ operations
@bp.get("/admin/dead")
@admin_page
def dead():
    rows = dead_rows(platform().db, PAGE, _cursor())
    return show("pages/admin_dead.html", "dead", rows=rows, older=_older(rows))


@bp.post("/admin/dead/retry")
@admin_page
def retry_dead():
    ids = [i for i in (_int(v) for v in request.form.getlist("id")) if i is not None]
    if not ids:
        rows = dead_rows(platform().db, PAGE, None)
        return show("pages/admin_dead.html", "dead", status=400, rows=rows, older=_older(rows),
                    error=t("admin.page.none_selected", g.lang))  # fmt: skip
    try:
        retried = admin.retry_dead_letters(platform().db, current().user_id, ids, ip=client_ip())
    except FormError as exc:
        rows = dead_rows(platform().db, PAGE, None)
        return show(
            "pages/admin_dead.html", "dead", status=422, rows=rows, older=_older(rows), **problems_of(exc)
        )
    if retried:
        platform().queue.dispatch(retried)
    return back("/admin/dead", "retried", count=len(retried))


@bp.get("/admin/rule_runs")
@admin_page
def rule_runs():
    args = request.args
    filters = {
        k: args.get(k, "").strip()[:120].replace("\x00", "") for k in ("app", "ticket_type", "rule", "record")
    }
    record = _int(filters["record"])
    keys = (filters["app"], filters["ticket_type"], filters["rule"])
    rows: list[dict[str, Any]] = []
    error = None
    try:
        if any(keys) and not all(keys):
            raise InputError("admin.rule_filter")
        rows = platform().runtime.rule_runs(record, keys if all(keys) else None, PAGE, _cursor())[::-1]  # type: ignore[arg-type]
    except GongdanError as exc:
        error = exc.message(g.lang)
    older = _older(rows)
    more = urlencode({**filters, "cursor": older}) if older else None
    return show("pages/admin_rule_runs.html", "rule_runs", rows=rows, filters=filters, more=more, error=error)


@bp.get("/admin/audit")
@admin_page
def audit():
    rows = admin.audit_entries(platform().db, PAGE, _cursor())
    return show("pages/admin_audit.html", "audit", rows=rows, older=_older(rows))
