"""Generated forms on pages: posted fields as typed values, and the live state form.js asks for.

The portal (server/pages/portal.py) and the ticket page (server/pages/ticket.py) render a ticket
type's form with :func:`engine.forms.render.render_form`; what a browser posts back is read here
(:func:`parse_form`) into the values the JSON API would have been sent, then handed to the
Runtime. ``/api/v1/forms/<app>/<ticket_type>/state`` answers what is visible, required and
read-only for the values typed so far (form.js asks it on every change). The old address of the
form, ``/forms/<app>/<ticket_type>``, now leads to the portal.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from itertools import takewhile
from typing import Any

from flask import Blueprint, g, jsonify, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from engine.definitions.model import FieldDef
from engine.errors import InputError
from engine.forms.spec import Env
from engine.forms.state import form_state
from engine.tickets import ticket_row
from server.app import platform
from server.auth import current

bp = Blueprint("forms", __name__)

#: A sub-table cell as the page names it: ``items[0][qty]``.
CELL_NAME = re.compile(r"^([a-z][a-z0-9_]*)\[(\d{1,6})\]\[([a-z][a-z0-9_]*)\]$")
#: The browser's UTC offset, which form.js puts in the ``_tz`` field: ``+08:00``.
ZONE = re.compile(r"^([+-])(\d{2}):(\d{2})$")
DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
NO_INPUT = frozenset({"formula", "autonumber"})
#: Files are uploaded first (POST /api/v1/attachments); the page posts the JSON references it got.
FILE_TYPES = frozenset({"attachment", "image"})
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
    ``tz`` (else the server's); attachment and image fields carry the JSON file references the
    upload endpoint returned (one per input, or a list). Values that do not parse stay text, for
    the form to report.
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
    if f.type in FILE_TYPES:
        return _files(raw)
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
    if f.type in ("user", "department", "link") and f.get("multiple"):  # a picker's choices, or "3, 4"
        return [_number(v) for one in filled for v in re.split(r"[\s,，、]+", one.strip()) if v]
    if f.type in NUMERIC:
        return _number(text)
    if f.type == "datetime":
        return _with_zone(text, tz)
    return text


def _files(raw: list[str]) -> Any:
    refs: list[Any] = []
    for text in (v.strip() for v in raw):
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            value = text  # not a reference: the form says so
        refs.extend(value if isinstance(value, list) else [value])
    return refs or _SKIP


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
@bp.get("/forms/<app>/<ticket_type>")
def form_page(app: str, ticket_type: str):
    """The form's old address: the portal's page for a new ticket of this type."""
    platform().runtime.type_spec(app, ticket_type)  # 404 for an unknown app or type
    lang = {"lang": request.args["lang"]} if request.args.get("lang") else {}
    return redirect(url_for("portal.new_ticket", app=app, ticket_type=ticket_type, **lang), 308)


@bp.post("/api/v1/forms/<app>/<ticket_type>/state")
def live_state(app: str, ticket_type: str):
    """What is visible, required and read-only for these values, and the formula values.

    Body: ``{"values": {key: value}}`` (typed, like the API), or ``{"form": [[name, value], …]}``
    (the page's fields as posted; form.js sends this and it is parsed like a submission).
    With ``"ticket": id`` (the ticket page) the ticket's values the person may see fill in what
    the page does not post (read-only fields). Signed-in people only: ``user`` in the form's
    expressions is the one asking.
    """
    principal = current()
    _, tspec = platform().runtime.type_spec(app, ticket_type)
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
    if isinstance(body.get("ticket"), int) and not isinstance(body["ticket"], bool):
        row = ticket_row(platform().runtime, principal, body["ticket"])  # 404 unless visible
        if (row.app, row.ticket_type) == (app, ticket_type):
            values = {**row.data, **values}
    user = {
        "id": principal.user_id,
        "username": principal.username,
        "name": principal.display_name,
        "department": principal.department_id,
        "roles": sorted(principal.roles_in(app)),
    }
    env = Env(user=user, ticket={"app": app, "ticket_type": ticket_type})
    return jsonify(form_state(tspec, values, env=env, lang=g.lang))
