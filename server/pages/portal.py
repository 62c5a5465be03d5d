"""The portal for end users: pick a ticket type, fill its form, follow my tickets.

``/portal`` shows the apps and their ticket types as cards; ``/portal/<app>/<type>/new`` is the
generated form with the fields the person may fill at the flow's start (live conditions through
form.js and the state endpoint of server/forms.py); a good submission becomes a ticket of the
signed-in person and leads to its page, a rejected one comes back with every problem beside its
field and writes nothing. ``/my`` lists the tickets I submitted, newest change first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, redirect, request, url_for
from markupsafe import Markup

from engine.access import check_may_submit
from engine.errors import FormError, InputError
from engine.forms.directory import form_directory
from engine.forms.permissions import EDITABLE
from engine.forms.render import form_styles, render_form
from engine.i18n import register
from engine.portal import catalog
from engine.portal import my_tickets as mine
from server.api.core import decode_cursor, encode_cursor
from server.app import platform
from server.auth import current
from server.forms import parse_form
from server.pages.ticket import file_inputs, kept_lang
from server.web import page, signed_in

bp = Blueprint("portal", __name__)
PAGE_SIZE = 20

register(
    {
        "portal.title": {"zh": "提交工单", "en": "New ticket"},
        "portal.intro": {
            "zh": "选择要提交的工单类型,填写表单后即可跟踪处理进度。",
            "en": "Choose what you need, fill in the form, and follow your ticket to the end.",
        },
        "portal.start": {"zh": "填写", "en": "Start"},
        "portal.no_apps": {"zh": "还没有可以提交的工单类型。", "en": "There is nothing to submit yet."},
        "portal.new_title": {"zh": "新建:{name}", "en": "New: {name}"},
        "portal.submit": {"zh": "提交", "en": "Submit"},
        "portal.back": {"zh": "返回工单类型", "en": "Back to ticket types"},
        "portal.my_title": {"zh": "我的工单", "en": "My tickets"},
        "portal.my_empty": {
            "zh": "您还没有提交过工单。",
            "en": "You have not submitted any tickets yet.",
        },
        "portal.col_number": {"zh": "编号", "en": "Number"},
        "portal.col_title": {"zh": "标题", "en": "Title"},
        "portal.col_type": {"zh": "类型", "en": "Type"},
        "portal.col_stage": {"zh": "阶段", "en": "Stage"},
        "portal.col_status": {"zh": "状态", "en": "Status"},
        "portal.col_updated": {"zh": "更新时间", "en": "Updated"},
        "portal.next_page": {"zh": "下一页", "en": "Next page"},
        "portal.first_page": {"zh": "第一页", "en": "First page"},
        "portal.upload": {"zh": "上传文件", "en": "Upload a file"},
    }
)


@bp.get("/portal")
@signed_in
def portal():
    """The apps and the ticket types one may submit, as cards."""
    return page("pages/portal.html", catalog=catalog(platform().runtime, current()))


@bp.route("/portal/<app>/<ticket_type>/new", methods=["GET", "POST"])
@signed_in
def new_ticket(app: str, ticket_type: str):
    """The empty form; on POST, the ticket (then its page) or the form with every problem."""
    principal = current()
    runtime = platform().runtime
    spec, tspec = runtime.type_spec(app, ticket_type)
    with platform().db.read() as conn:  # a type its `submitters` keep from this person: 403
        check_may_submit(conn, spec.app, tspec.definition, principal.user_id)
    values: dict[str, Any] | None = None
    problems: list[Any] = []
    if request.method == "POST":
        values = parse_form(tspec.definition.form.fields, request.form, request.form.get("_tz"))
        try:
            ticket = runtime.submit(app, ticket_type, values, actor=principal.user_id)
        except FormError as exc:
            problems = exc.problems
        else:
            return redirect(url_for("ticket.show", ticket_id=ticket.id, **kept_lang()), 303)
    # What the submitter may fill in is what the flow's start node allows them.
    access = tspec.access(tspec.flow.start, principal.roles_in(app))
    with platform().db.read() as conn:  # whom the user / department fields can name, by name
        directory = form_directory(
            conn,
            principal,
            app,
            tspec.definition.form.fields,
            values,
            lambda key: access.level(key) == EDITABLE,
        )
    html = render_form(
        tspec,
        values,
        problems,
        g.lang,
        permissions=access,
        option_sets=spec.app.option_sets,
        directory=directory,
    )
    return page(
        "pages/portal_new.html",
        422 if problems else 200,
        app_name=spec.app.name,
        type_name=tspec.definition.name,
        form_html=Markup(html),  # render_form has escaped every value
        styles=form_styles(),
        files=file_inputs(tspec, values or {}, access),
        state_url=url_for("forms.live_state", app=app, ticket_type=ticket_type),
    )


@bp.get("/my")
@signed_in
def my_tickets():
    """The tickets I submitted, the most recently changed first, a page at a time."""
    after = _position(request.args.get("after"))
    rows, more = mine(platform().runtime, current(), after, PAGE_SIZE)
    cursor = None
    if more is not None:
        value, last_id = more
        cursor = encode_cursor([value.isoformat() if isinstance(value, dt.datetime) else value, last_id])
    return page("pages/portal_my.html", rows=rows, next_cursor=cursor, paged=after is not None)


def _position(cursor: str | None) -> tuple[dt.datetime, int] | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    try:
        moment, last_id = value
        return dt.datetime.fromisoformat(moment), int(last_id)
    except (TypeError, ValueError):
        raise InputError("api.bad_cursor") from None
