"""Form pages: fill in a ticket type's form and submit it; the live state that form.js asks for.

The views stay thin: parse the posted fields into typed values (:func:`parse_form`), call the
Runtime, render with :func:`engine.forms.render.render_form`. A rejected submission writes
nothing and comes back with every problem beside its field (status 422).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from itertools import takewhile
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from engine.definitions.model import FieldDef
from engine.errors import FormError, InputError
from engine.forms.render import form_styles, render_form
from engine.forms.spec import Env
from engine.forms.state import form_state
from engine.i18n import t, text_of
from server.app import platform

bp = Blueprint("forms", __name__)

#: A sub-table cell as the page names it: ``items[0][qty]``.
CELL_NAME = re.compile(r"^([a-z][a-z0-9_]*)\[(\d{1,6})\]\[([a-z][a-z0-9_]*)\]$")
#: The browser's UTC offset, which form.js puts in the ``_tz`` field: ``+08:00``.
ZONE = re.compile(r"^([+-])(\d{2}):(\d{2})$")
DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
NO_INPUT = frozenset({"attachment", "image", "formula", "autonumber"})  # files: no upload store yet
NUMERIC = frozenset({"number", "rating", "user", "department", "link"})
_SKIP = object()


# --------------------------------------------------------------------------- parsing
def parse_form(
    fields: tuple[FieldDef, ...], form: MultiDict[str, Any], tz: str | None = None
) -> dict[str, Any]:
    """Typed values of a posted HTML form: what the JSON API would have been sent.

    Empty fields are left out (a default or "required" then applies); checkboxes are booleans
    (the page sends a hidden ``false`` before each box); multi-selects and cascades are lists;
    ``items[3][qty]`` cells become rows, in index order, blank rows dropped; whole numbers and
    decimals become numbers (money stays text: it is exact); a date-time without a zone gets
    ``tz`` (else the server's). Values that do not parse stay text, for the form to report.
    """
    cells: dict[str, dict[int, MultiDict[str, Any]]] = {}
    for name, value in form.items(multi=True):
        match = CELL_NAME.match(name)
        if match:
            table, index, column = match.groups()
            cells.setdefault(table, {}).setdefault(int(index), MultiDict()).add(column, value)
    out: dict[str, Any] = {}
    for f in fields:
        if f.type == "subtable":
            rows = [parse_form(f.fields, row, tz) for _, row in sorted(cells.get(f.key, {}).items())]
            value = [r for r in rows if r] or _SKIP
        else:
            value = _value(f, [v for v in form.getlist(f.key) if isinstance(v, str)], tz)
        if value is not _SKIP:
            out[f.key] = value
    return out


def _value(f: FieldDef, raw: list[str], tz: str | None) -> Any:
    if f.type in NO_INPUT:
        return _SKIP
    if f.type == "checkbox":
        return raw[-1].strip().lower() in ("true", "on", "1") if raw else _SKIP
    if f.type == "multiselect":
        return [v for v in raw if v.strip()] or _SKIP
    if f.type == "cascade":
        return list(takewhile(lambda v: v.strip() != "", raw)) or _SKIP
    filled = [v for v in raw if v.strip()]
    if not filled:
        return _SKIP
    text = filled[-1]
    if f.type in ("user", "department", "link") and f.get("multiple"):
        return [_number(v) for v in re.split(r"[\s,，、]+", text.strip()) if v]
    if f.type in NUMERIC:
        return _number(text)
    if f.type == "datetime":
        return _with_zone(text, tz)
    return text


def _number(text: str) -> Any:
    text = text.strip()
    if not DECIMAL.match(text):
        return text
    return float(text) if "." in text else int(text)


def _with_zone(text: str, tz: str | None) -> str:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if moment.tzinfo is not None:
        return text.strip()
    match = ZONE.match(tz or "")
    if match and int(match[2]) <= 14 and int(match[3]) < 60:
        offset = dt.timedelta(hours=int(match[2]), minutes=int(match[3]))
        zone: dt.tzinfo = dt.timezone(-offset if match[1] == "-" else offset)
    else:
        zone = dt.datetime.now().astimezone().tzinfo or dt.UTC
    return moment.replace(tzinfo=zone).isoformat()


# --------------------------------------------------------------------------- views
def _specs(app: str, ticket_type: str) -> tuple[Any, Any]:
    """The running version's AppSpec and the TypeSpec of ``ticket_type`` (404 if unknown)."""
    return platform().runtime.type_spec(app, ticket_type)


def _lang_arg() -> dict[str, str]:
    """Keep an explicit ``?lang=`` across redirects and links."""
    return {"lang": request.args["lang"]} if request.args.get("lang") else {}


def _lang_url(lang: str) -> str:
    return request.path + "?" + urlencode({**request.args.to_dict(), "lang": lang})


def _page(spec: Any, tspec: Any, status: int = 200, **content: Any) -> tuple[str, int]:
    lang = g.lang
    html = render_template(
        "form_page.html",
        lang=lang,
        t=lambda code, **params: t(code, lang, **params),
        title=text_of(tspec.definition.name, lang),
        app_name=text_of(spec.app.name, lang),
        styles=form_styles(),
        lang_url=_lang_url,
        **content,
    )
    return html, status


@bp.route("/forms/<app>/<ticket_type>", methods=["GET", "POST"])
def form_page(app: str, ticket_type: str):
    """The empty form; on POST, submit it: a ticket and its number, or the form with its problems."""
    spec, tspec = _specs(app, ticket_type)
    values: dict[str, Any] | None = None
    problems: list[Any] = []
    if request.method == "POST":
        values = parse_form(tspec.definition.form.fields, request.form, request.form.get("_tz"))
        try:
            ticket = platform().runtime.submit(app, ticket_type, values)
        except FormError as exc:
            problems = exc.problems
        else:
            where = url_for(
                ".submitted", app=app, ticket_type=ticket_type, number=ticket.number, **_lang_arg()
            )
            return redirect(where, 303)
    # What the submitter may fill in is what the flow's start node allows.
    access = tspec.access(tspec.flow.start)
    body = render_form(tspec, values, problems, g.lang, permissions=access, option_sets=spec.app.option_sets)
    return _page(
        spec,
        tspec,
        422 if problems else 200,
        form_html=Markup(body),  # render_form has escaped every value
        state_url=url_for(".live_state", app=app, ticket_type=ticket_type, **_lang_arg()),
    )


@bp.get("/forms/<app>/<ticket_type>/submitted")
def submitted(app: str, ticket_type: str):
    spec, tspec = _specs(app, ticket_type)
    back = url_for(".form_page", app=app, ticket_type=ticket_type, **_lang_arg())
    return _page(spec, tspec, number=request.args.get("number", "")[:64], back_url=back)


@bp.post("/api/v1/forms/<app>/<ticket_type>/state")
def live_state(app: str, ticket_type: str):
    """What is visible, required and read-only for these values, and the formula values.

    Body: ``{"values": {key: value}}`` (typed, like the API), or ``{"form": [[name, value], …]}``
    (the page's fields as posted; form.js sends this and it is parsed like a submission).
    """
    _, tspec = _specs(app, ticket_type)
    body = request.get_json(silent=True)
    if isinstance(body, Mapping) and isinstance(body.get("values"), Mapping):
        values = dict(body["values"])
    elif isinstance(body, Mapping) and isinstance(body.get("form"), list):
        pairs = body["form"]
        if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
            raise InputError("render.state_body")
        form = MultiDict([tuple(p) for p in pairs])
        values = parse_form(tspec.definition.form.fields, form, form.get("_tz"))
    else:
        raise InputError("render.state_body")
    env = Env(user={"id": None}, ticket={"app": app, "ticket_type": ticket_type})
    return jsonify(form_state(tspec, values, env=env, lang=g.lang))
