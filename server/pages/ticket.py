"""The ticket page: everything about one ticket for the person looking at it, and what they may do.

``GET /tickets/<id>`` shows the header (number, title, stage, status, who holds it now, SLA), the
form at its stage with the viewer's permissions (values to read; the fields the task they hold
lets them fill in), the flow drawn with the current stage highlighted, the timeline (the customer's
story, every event for staff: engine.timeline), comments, watchers and linked records. A ticket
the viewer may not see is a 404 page.

Every button posts to an endpoint here that makes one call on the Runtime (or engine.tickets,
which checks who may do what) and answers with the page again: a redirect to it when the command
went through, or the page with the reason when it was refused (409/422). The forms work without
script; with it, htmx posts them and swaps the page in place (ticket.js).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Blueprint, g, redirect, request, url_for
from markupsafe import Markup, escape

import server.pages.ticket_messages  # noqa: F401  (registers the page's texts)
from engine import tickets
from engine.errors import ActionError, ConflictError, FormError, GongdanError, NotFoundError
from engine.flowdraw import draw
from engine.flows.stepping import primary_action, required_fields
from engine.flows.ticket_actions import may_cancel, may_close, may_hand_on, withdraw_refusal
from engine.forms.directory import form_directory
from engine.forms.fields import option_values, sanitize_html
from engine.forms.permissions import EDITABLE, HIDDEN, READONLY, FieldAccess
from engine.forms.render import form_styles, render_form
from engine.i18n import t, text_of
from engine.im_cards import CallbackRefused, read_token
from engine.people import user_id
from engine.portal import ticket_title
from engine.ticket_view import (
    TicketView,
    action_label,
    pool_label,
    ticket_type_spec,
    ticket_view,
    user_names,
)
from engine.timeline import Author, Entry, Folded, is_internal, is_requester
from server.app import platform
from server.auth import current
from server.forms import FILE_TYPES, parse_form
from server.web import local_time, page, signed_in

bp = Blueprint("ticket", __name__)

#: ``?done=`` notices a redirect after a command may show.
DONE = frozenset(
    {
        "saved", "acted", "claimed", "released", "returned", "transferred", "signer", "withdrawn",
        "cancelled", "closed", "reopened", "commented", "watching", "unwatched",
    }
)  # fmt: skip
MENTION = re.compile(r"(?<![\w@])@([\w.\-]{1,64})")
FIELD_OF_PATH = re.compile(r"[.\[]")  # "items[0].qty" is at the field items
ATTACHMENT_URL = "/api/v1/attachments/{id}"
SECOND = dt.timedelta(seconds=1)


# --------------------------------------------------------------------------- the page
@bp.get("/tickets/<int:ticket_id>")
@signed_in
def show(ticket_id: int):
    return _page(ticket_id)


def _page(
    ticket_id: int,
    status: int = 200,
    error: str | None = None,
    posted: bool = False,
    problems: Iterable[Any] = (),
    comment: str = "",
) -> tuple[str, int]:
    principal = current()
    runtime = platform().runtime
    view = ticket_view(runtime, principal, ticket_id)
    lang = g.lang
    ticket, tspec = view.ticket, view.tspec
    values = (
        parse_form(tspec.definition.form.fields, request.form, request.form.get("_tz")) if posted else None
    )
    problems = list(problems)
    editable = {f.key for f in tspec.definition.form.fields if view.access.level(f.key) == EDITABLE}
    shown = Shown(view, lang)
    form_html, files = (
        _input_form(view, editable, values, problems, lang, needed_notes(view, shown))
        if view.editing
        else (None, [])
    )
    done = request.args.get("done")
    notice = None
    if done in DONE:
        notice = t(f"done.{done}", lang)
    return page(
        "pages/ticket.html",
        status,
        v=view,
        ticket=ticket,
        title=ticket_title(tspec, ticket.data),
        shown=shown,
        details=shown.details(exclude=editable if form_html is not None else set()),
        form_html=form_html,
        styles=form_styles(),
        files=files,
        problems=shown.problems(problems, editable if form_html is not None else set()),
        state_url=url_for("forms.live_state", app=ticket.app, ticket_type=ticket.ticket_type),
        flow_svg=Markup(
            draw(
                tspec.flow,
                current=view.tokens,
                visited=view.visited,
                lang=lang,
                title=t("ticket.flow", lang),
            )
        ),
        timeline=shown.timeline(),
        comments=shown.comments(),
        may_note=not is_requester(principal, ticket.app),
        error=error,
        notice=notice,
        comment=comment,
        watching=principal.user_id in view.watchers,
        is_submitter=view.submitter == principal.user_id,
        is_admin=principal.is_admin,
        offered=ticket_commands(view, principal),
        may_transfer=may_transfer(principal, ticket.app, view.submitter),
        pickable=pickable(view, principal),
        primary={
            task.id: primary_action(tspec.flow, task.node_id, [c.key for c in task.actions])
            for task in view.tasks
            if task.actions
        },
        keep=kept_lang(),
        card=card_prompt(view, principal, lang) if request.method == "GET" else None,
    )


def ticket_commands(view: TicketView, principal: Any) -> set[str]:
    """The ticket-level commands (withdraw, cancel, close, reopen) the viewer may use now: offered
    by the rule the Runtime enforces (engine/flows/ticket_actions.py), so no button is refused."""
    ticket, flow, me = view.ticket, view.tspec.flow, principal.user_id
    out: set[str] = set()
    if ticket.status == "open":
        if withdraw_refusal(view.events, me) is None:
            out.add("withdraw")
        if may_cancel(flow, view.tasks, me, view.submitter, principal.is_admin):
            out.add("cancel")
        if may_close(flow, view.tasks, me, view.submitter, principal.is_admin):
            out.add("close")
    elif ticket.status == "closed" and (view.submitter == me or principal.is_admin):
        out.add("reopen")
    return out


def may_transfer(principal: Any, app_key: str, submitter: int | None) -> bool:
    """Transfer (转派) as the engine allows it (engine.flows.ticket_actions.may_hand_on): a customer
    holding her own task (a rating, more information) answers it herself."""
    if principal.is_admin:
        return True
    return may_hand_on(principal.user_id, submitter, is_requester(principal, app_key))


class _PersonField:
    """A stand-in ``user`` field, to ask the form pickers' directory whom the viewer may name."""

    key, type = "to", "user"

    def get(self, name: str, default: Any = None) -> Any:
        return default


def pickable(view: TicketView, principal: Any) -> list[tuple[int, str, str]]:
    """(id, username, label) of the people a task can be transferred to or signed by: the list the
    form's user fields offer (engine/forms/directory.py). Empty when the viewer has no such button."""
    if not any(x.holds and x.kind != "todo" for x in view.tasks):
        return []
    if not (
        may_transfer(principal, view.ticket.app, view.submitter)
        or any(x.holds and x.add_signer for x in view.tasks)
    ):
        return []
    with platform().db.read() as conn:
        listed = form_directory(conn, principal, view.ticket.app, [_PersonField()], {}).get("user", [])
        names = user_names(conn, [uid for uid, _ in listed])
    return [(uid, names[uid][0], label) for uid, label in listed if uid in names]


# --------------------------------------------------------------------------- a card's button
def card_prompt(view: TicketView, principal: Any, lang: str) -> dict[str, Any] | None:
    """What a DingTalk card's Approve / Reject button (``?act=approve&button=TOKEN``, engine/im_cards.py)
    asks of the page: the question with a Confirm that posts the page's own action form, or why it
    cannot be done. Opening the link never acts by itself (IM clients prefetch and unfurl links)."""
    act, token = request.args.get("act"), request.args.get("button")
    if act is None and token is None:
        return None
    try:
        task_id, action = read_token(token, time.time())
    except CallbackRefused as exc:
        return {"refused": exc.message(lang), "why": exc.code}
    task = next(
        (x for x in platform().runtime.tasks(view.ticket.id, status=None) if x["id"] == task_id), None
    )
    if task is None or act != action:  # a token of another ticket's task, or an edited ``act``
        return {"refused": t("im.forged_button", lang), "why": "im.forged_button"}
    shown = Shown(view, lang)
    if task["status"] == "waiting":
        return {"refused": t("ticket.card.waiting", lang), "why": "waiting"}
    if task["status"] != "open":
        return {"refused": t("ticket.card.decided", lang), "why": "decided"}
    if principal.user_id not in (task["assignee_id"], task["delegated_from"]):
        holder = shown.person(task["assignee_id"]) if task["assignee_id"] is not None else "-"
        return {"refused": t("ticket.card.not_yours", lang, holder=holder), "why": "not_assignee"}
    return {
        "task": task_id,
        "action": action,
        "question": t(f"ticket.card.ask.{action}", lang, number=view.ticket.number),
        "stage": shown.node(task["node_id"]),
        "confirm": t(f"ticket.card.confirm.{action}", lang),
    }


def needed_notes(view: TicketView, shown: Shown) -> dict[str, str]:
    """Field key → "Needed for “Submit for review”": the fields an action of the task being filled in
    requires (its edge's ``requires``), marked before anyone is refused for leaving one empty."""
    task, lang = view.editing, shown.lang
    if task is None:
        return {}
    wanted: dict[str, list[str]] = {}
    for choice in task.actions:
        for key in required_fields(view.tspec.flow, task.node_id, choice.key):
            name = t("ticket.quoted", lang, text=shown.action(choice.label, choice.key))
            wanted.setdefault(key, []).append(name)
    sep = t("ticket.list_sep", lang)
    return {key: t("ticket.needed_for", lang, actions=sep.join(names)) for key, names in wanted.items()}


def _input_form(
    view: TicketView,
    editable: set[str],
    values: Mapping[str, Any] | None,
    problems: list[Any],
    lang: str,
    notes: Mapping[str, str],
) -> tuple[Markup | None, list[tuple[str, str]]]:
    """The form of the fields the viewer fills in now (the rest is shown as values), and the files
    already in them. Its problems are shown beside their fields; the page sums them up once above."""
    if not editable:
        return None, []
    only_editable = FieldAccess({k: (v if v != READONLY else HIDDEN) for k, v in view.access.levels.items()})
    record = {**view.ticket.data, **(values or {})}
    with platform().db.read() as conn:  # whom the user / department fields can name, by name
        directory = form_directory(
            conn,
            current(),
            view.ticket.app,
            view.tspec.definition.form.fields,
            record,
            lambda key: only_editable.level(key) == EDITABLE,
        )
    html = render_form(
        view.tspec,
        record,
        problems,
        lang,
        permissions=only_editable,
        option_sets=view.spec.app.option_sets,
        directory=directory,
        notes=notes,
        summary=False,
    )
    return Markup(html), file_inputs(view.tspec, record, view.access)  # render_form escaped every value


def file_inputs(tspec: Any, values: Mapping[str, Any], access: Any) -> list[tuple[str, str]]:
    """Hidden inputs keeping the files already in the editable file fields: (field key, JSON reference)."""
    out = []
    for f in tspec.definition.form.fields:
        if f.type not in FILE_TYPES or access.level(f.key) != EDITABLE:
            continue
        value = values.get(f.key)
        for ref in value if isinstance(value, list) else ([value] if value else []):
            if isinstance(ref, Mapping):
                out.append((f.key, json.dumps(dict(ref), ensure_ascii=False)))
    return out


# --------------------------------------------------------------------------- what is shown
class Shown:
    """Values, people and events as the page shows them, in the viewer's language."""

    def __init__(self, view: TicketView, lang: str):
        self.view, self.lang = view, lang
        self.fields = {f.key: f for f in view.tspec.definition.form.fields}
        self.ctx = {"option_sets": view.spec.app.option_sets}

    # people and pools
    def person(self, uid: Any) -> str:
        if uid is None:
            return t("ticket.system", self.lang)
        found = self.view.users.get(uid) if isinstance(uid, int) else None
        return found[1] or found[0] if found else f"#{uid}"

    def holder(self, task: Any) -> str:
        if task.assignee_id is not None:
            return self.person(task.assignee_id)
        label = pool_label(task.pool, self.view.spec, self.view.departments, self.lang)
        if not label and task.pool.get("users"):
            label = t("ticket.people", self.lang, count=len(task.pool["users"]))
        return t("ticket.pool", self.lang, pool=label or "-")

    def owners(self) -> list[str]:
        return list(dict.fromkeys(self.holder(task) for task in self.view.tasks if task.status == "open"))

    def clocks(self) -> list[tuple[str, str]]:
        out = []
        for c in self.view.clocks:
            target = t(f"sla.{c.target}", self.lang)
            due = local_time(c.due_at) if c.due_at else "-"
            out.append((c.state, t(f"sla.{c.state}", self.lang, target=target, due=due)))
        return out

    def node(self, node_id: Any) -> str:
        node = self.view.tspec.flow.nodes.get(node_id) if isinstance(node_id, str) else None
        return text_of(node.name, self.lang) if node is not None else str(node_id or "")

    def action(self, label: Any, key: str) -> str:
        if isinstance(label, Mapping) or (isinstance(label, str) and label != key):
            return text_of(label, self.lang)
        return t(f"action.{key}", self.lang) if key in ("complete", "approve", "reject", "done") else key

    # field values
    def value(self, key: str, value: Any) -> Markup:
        """A field's value as text (escaped), with names for options, people and files."""
        f = self.fields.get(key)
        if f is None:
            return escape(_plain(value))
        return self._value(f, value)

    def _value(self, f: Any, value: Any) -> Markup:
        if value is None or value == "" or value == []:
            return Markup("—")
        kind = f.type
        if kind == "checkbox":
            return escape(t("ticket.yes" if value is True else "ticket.no", self.lang))
        if kind in ("select", "radio", "multiselect", "cascade"):
            labels = _option_labels(option_values(f, self.ctx), self.lang)
            items = value if isinstance(value, list) else [value]
            sep = " / " if kind == "cascade" else ", "
            return escape(sep.join(labels.get(str(v), str(v)) for v in items))
        if kind == "user":
            return escape(", ".join(self.person(v) for v in _listed(value)))
        if kind == "department":
            return escape(", ".join(str(v) for v in _listed(value)))
        if kind == "link":
            return Markup(", ").join(
                Markup('<a href="/tickets/{0}">#{0}</a>').format(v)
                for v in _listed(value)
                if isinstance(v, int)
            )
        if kind in FILE_TYPES:
            return files_html(_listed(value))
        if kind == "richtext":
            return Markup(sanitize_html(str(value)))  # stored cleaned; cleaned again on the way out
        if kind == "rating":
            top = int(f.get("max", 5))
            n = int(value) if isinstance(value, int | float) else 0
            return escape(f"{'★' * n}{'☆' * max(top - n, 0)} ({value}/{top})")
        if kind == "money":
            return escape(f"{value} {f.get('currency') or ''}".strip())
        if kind == "datetime":
            return escape(local_time(str(value)))
        if kind == "subtable":
            return self._table(f, value)
        return escape(_plain(value))

    def _table(self, f: Any, rows: Any) -> Markup:
        cols = list(f.fields)
        head = Markup("").join(
            Markup("<th>{}</th>").format(text_of(c.label, self.lang) or c.key) for c in cols
        )
        body = Markup("").join(
            Markup("<tr>{}</tr>").format(
                Markup("").join(Markup("<td>{}</td>").format(self._value(c, row.get(c.key))) for c in cols)
            )
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, Mapping)
        )
        return Markup(
            '<table class="list tk-sub"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
        ).format(head, body)

    def problems(self, problems: Iterable[Any], on_form: set[str]) -> list[dict[str, str]]:
        """Each problem of a refused command with the label of the field it is at (a link to that
        field when the form shows it): the one summary above the page."""
        out = []
        for p in problems:
            key = FIELD_OF_PATH.split(p.path or "", maxsplit=1)[0]
            f = self.fields.get(key)
            out.append(
                {
                    "key": key,
                    "label": (text_of(f.label, self.lang) or key) if f is not None else "",
                    "anchor": f"f-{key}" if f is not None and key in on_form else "",
                    "message": p.message(self.lang),
                }
            )
        return out

    def details(self, exclude: set[str]) -> list[dict[str, Any]]:
        """Sections of the visible fields that have a value (those being filled in left out)."""
        out = []
        data, access = self.view.ticket.data, self.view.access
        for s in self.view.tspec.definition.form.sections:
            rows = [
                {
                    "key": f.key,
                    "label": text_of(f.label, self.lang) or f.key,
                    "value": self._value(f, data.get(f.key)),
                }
                for f in s.fields
                if access.level(f.key) != HIDDEN
                and f.key not in exclude
                and data.get(f.key) not in (None, "", [])
            ]
            if rows:
                out.append({"title": text_of(s.title, self.lang), "fields": rows})
        return out

    # events
    def timeline(self) -> list[dict[str, Any]]:
        """The viewer's timeline (engine.timeline chose the events and whom each is credited to);
        a command's machinery is one item with its ``folded`` entries."""
        out: list[dict[str, Any]] = []
        before = None
        for item in self.view.timeline:
            if isinstance(item, Folded):
                folded = [self._entry(entry, entry.event["at"]) for entry in item.entries]
                count = len(folded)
                summary = t("ticket.folded" if count > 1 else "ticket.folded_one", self.lang, count=count)
                out.append({"folded": folded, "summary": summary})
            else:
                out.append(self._entry(item, before))
            last = item.entries[-1] if isinstance(item, Folded) else item
            before = last.event["at"]
        return out

    def _entry(self, entry: Entry, before: Any) -> dict[str, Any]:
        e, at = entry.event, entry.event["at"]
        return {
            "seq": e["seq"],
            "type": e["type"],
            "label": t(f"event.{e['type']}", self.lang),
            "who": self.credit(entry.author),
            "by": entry.author.kind,
            "when": local_time(at, "%Y-%m-%d %H:%M:%S"),
            "iso": at.isoformat() if isinstance(at, dt.datetime) else str(at),
            "since": _span(at - before, self.lang) if before is not None and at - before >= SECOND else "",
            "what": self.what(e),
            "internal": is_internal(e),
        }

    def credit(self, author: Author) -> str:
        """Whom the timeline credits: the person, the rule, the system, or no one (the flow moving on)."""
        if author.kind == "person":
            return self.person(author.user_id)
        if author.kind == "rule":
            return t("ticket.by_rule", self.lang, rule=author.rule)
        return t("ticket.system", self.lang) if author.kind == "system" else ""

    def what(self, e: Mapping[str, Any]) -> list[Markup]:
        """What an event changed, in a few short pieces (nothing the viewer may not see)."""
        p, kind, lang = e["payload"], e["type"], self.lang
        node = self.node(p.get("node")) if p.get("node") else ""
        parts: list[Any] = []
        if kind == "field_changed":
            f = self.fields.get(p.get("field"))
            label = text_of(f.label, lang) if f is not None else str(p.get("field"))
            parts.append(
                Markup("{}: {} → {}").format(
                    label, self.value(p.get("field"), p.get("old")), self.value(p.get("field"), p.get("new"))
                )
            )
        elif kind == "updated":
            labels = [
                text_of(self.fields[k].label, lang) if k in self.fields else k for k in p.get("fields") or ()
            ]
            parts.append(", ".join(labels))
        elif kind in ("task_completed", "stage_left") and p.get("action"):
            parts += [node, self.action(_edge_label(self.view, p.get("node"), p["action"]), p["action"])]
        elif kind in ("task_created", "task_claimed", "task_reassigned"):
            who = p.get("assignee", p.get("to"))
            parts += [node, self.person(who) if who is not None else ""]
        elif kind in ("task_transferred", "task_delegated"):
            parts += [node, f"{self.person(p.get('from'))} → {self.person(p.get('to'))}"]
        elif kind == "signer_added":
            parts += [node, self.person(p.get("signer"))]
        elif kind == "returned":
            parts += [f"{self.node(p.get('from'))} → {self.node(p.get('to'))}"]
        elif kind in ("withdrawn", "reopened"):
            parts += [self.node(p.get("to"))]
        elif kind in ("watchers_added", "watchers_removed"):
            parts.append(", ".join(self.person(u) for u in p.get("users") or ()))
        elif kind == "comment_added":
            body = str(p.get("body") or "")
            parts.append(body if len(body) <= 120 else body[:119] + "…")
        elif kind == "approval_decided":
            parts += [
                node,
                t(f"event.outcome.{p['outcome']}", lang) if p.get("outcome") in ("approve", "reject") else "",
            ]
        elif kind.startswith("sla_") and p.get("target") in ("response", "resolution"):
            parts += [node, t(f"sla.{p['target']}", lang)]
        elif kind == "record_created" and isinstance(p.get("id"), int):
            parts.append(Markup('<a href="/tickets/{0}">#{0}</a>').format(p["id"]))
        elif node:
            parts.append(node)
        if p.get("comment") and kind != "comment_added":
            parts.append(str(p["comment"]))
        return [x if isinstance(x, Markup) else escape(x) for x in parts if x]

    def comments(self) -> list[dict[str, Any]]:
        """The comments of the viewer's timeline (a customer's has no internal notes), oldest first."""
        entries = [
            x for item in self.view.timeline for x in (item.entries if isinstance(item, Folded) else [item])
        ]
        events = [x.event for x in entries]
        return [
            {
                "seq": e["seq"],
                "internal": is_internal(e),
                "who": self.person(e["actor_id"])
                if not e["payload"].get("system")
                else t("ticket.system", self.lang),
                "when": local_time(e["at"]),
                "body": mentions_html(str(e["payload"].get("body") or "")),
                "files": files_html(e["payload"].get("attachments") or ()),
            }
            for e in events
            if e["type"] == "comment_added"
        ]


def mentions_html(body: str) -> Markup:
    """The comment escaped, each ``@username`` marked."""
    out, last = [], 0
    for m in MENTION.finditer(body):
        out.append(escape(body[last : m.start()]))
        out.append(Markup('<mark class="mention">@{}</mark>').format(m.group(1)))
        last = m.end()
    out.append(escape(body[last:]))
    return Markup("").join(out)


def files_html(refs: Iterable[Any]) -> Markup:
    items = [
        Markup('<li><a href="{}" download hx-boost="false">{}</a></li>').format(
            ATTACHMENT_URL.format(id=r["id"]), r.get("name") or r["id"]
        )
        for r in refs
        if isinstance(r, Mapping) and isinstance(r.get("id"), str)
    ]
    return Markup('<ul class="tk-files">{}</ul>').format(Markup("").join(items)) if items else Markup("")


def _edge_label(view: TicketView, node: Any, action: str) -> Any:
    return action_label(view.spec, view.tspec, str(node), action)


def _option_labels(raw: Iterable[Any], lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in raw:
        if isinstance(o, Mapping):
            out[str(o.get("value"))] = text_of(o.get("label"), lang) or str(o.get("value"))
            out.update(_option_labels(o.get("children") or (), lang))
        else:
            out[str(o)] = str(o)
    return out


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _span(delta: dt.timedelta, lang: str) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return t("ticket.after", lang, span=t("span.seconds", lang, n=seconds))
    if seconds < 3600:
        return t("ticket.after", lang, span=t("span.minutes", lang, n=seconds // 60))
    if seconds < 86400:
        return t("ticket.after", lang, span=t("span.hours", lang, n=round(seconds / 3600, 1)))
    return t("ticket.after", lang, span=t("span.days", lang, n=round(seconds / 86400, 1)))


# --------------------------------------------------------------------------- commands
def _command(ticket_id: int, run: Callable[[], Any], done: str) -> Any:
    """Run one command; back to the page with a notice, or the page with why it was refused."""
    lang, comment = g.lang, request.form.get("body", "")
    try:
        run()
    except ConflictError:
        return _refused(ticket_id, _page(ticket_id, 409, error=t("ticket.conflict", lang), comment=comment))
    except FormError as exc:
        refused = _page(
            ticket_id, 422, exc.message(lang), posted=True, problems=exc.problems, comment=comment
        )
        return _refused(ticket_id, refused)
    except NotFoundError:
        raise
    except GongdanError as exc:
        status = exc.http_status if exc.http_status in (403, 409, 422) else 409
        return _refused(ticket_id, _page(ticket_id, status, error=exc.message(lang), comment=comment))
    return redirect(url_for(".show", ticket_id=ticket_id, done=done, **kept_lang()), 303)


def _refused(ticket_id: int, answer: tuple[str, int]) -> Any:
    """The page with why a command was refused, its address set back to the ticket's for htmx (the
    posted-to address is no page; a GET there is sent to the ticket, see :func:`back_to_ticket`)."""
    body, status = answer
    return body, status, {"HX-Replace-Url": url_for(".show", ticket_id=ticket_id, **kept_lang())}


def kept_lang() -> dict[str, str]:
    """An explicit ``?lang=`` kept across a redirect."""
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("zh", "en") else {}


def _fields(ticket_id: int) -> Any:
    """The form fields of the version the ticket runs on."""
    return ticket_type_spec(platform().runtime, ticket_id).definition.form.fields


def _visible(ticket_id: int) -> Any:
    """The ticket as the viewer may see it; a 404 page otherwise."""
    return tickets.ticket_row(platform().runtime, current(), ticket_id)


def _task(ticket_id: int, task_id: int) -> dict[str, Any]:
    _visible(ticket_id)
    found = next((x for x in platform().runtime.tasks(ticket_id, status=None) if x["id"] == task_id), None)
    if found is None:
        raise NotFoundError(what="task", ident=task_id)
    return found


def _posted_data(ticket_id: int) -> dict[str, Any]:
    """The fields the page posted, typed (only the editable ones are in the form)."""
    if "row_version" not in request.form:
        return {}
    return parse_form(_fields(ticket_id), request.form, request.form.get("_tz"))


def _note() -> str | None:
    return (request.form.get("note") or "").strip()[:2000] or None


def _user_named(field: str) -> int:
    name = (request.form.get(field) or "").strip().lstrip("@")
    found = user_id(platform().db, name) if name else None
    if found is None:
        raise ActionError("ticket.no_such_user", name=name or "-")
    return found


def _row_version() -> int | None:
    raw = request.form.get("row_version", "")
    return int(raw) if raw.isdigit() else None


@bp.post("/tickets/<int:ticket_id>/save")
@signed_in
def save(ticket_id: int):
    """Save the fields the viewer may fill in now, if nobody changed the ticket meanwhile."""
    row = _visible(ticket_id)
    principal = current()

    def run() -> None:
        if ticket_view(platform().runtime, principal, ticket_id).editing is None:
            raise ActionError("ticket.edit_forbidden")
        tickets.update(
            platform().runtime,
            principal,
            ticket_id,
            _posted_data(ticket_id),
            row.row_version if _row_version() is None else _row_version(),
        )

    return _command(ticket_id, run, "saved")


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/act")
@signed_in
def act(ticket_id: int, task_id: int):
    """Finish a task with one of its actions, saving the fields filled in with it."""
    _task(ticket_id, task_id)
    action = (request.form.get("action") or "").strip()[:80]
    principal = current()
    runtime = platform().runtime

    def run() -> None:
        expected, now = _row_version(), _visible(ticket_id)
        if expected is not None and expected != now.row_version:
            raise ConflictError(number=now.number, expected=expected, actual=now.row_version)
        runtime.act(
            task_id, action, _posted_data(ticket_id) or None, actor=principal.user_id, comment=_note()
        )

    return _command(ticket_id, run, "acted")


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/claim")
@signed_in
def claim(ticket_id: int, task_id: int):
    _task(ticket_id, task_id)
    return _command(ticket_id, lambda: platform().runtime.claim(task_id, current().user_id), "claimed")


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/release")
@signed_in
def release(ticket_id: int, task_id: int):
    _task(ticket_id, task_id)
    return _command(ticket_id, lambda: platform().runtime.release(task_id, current().user_id), "released")


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/return")
@signed_in
def return_to(ticket_id: int, task_id: int):
    _task(ticket_id, task_id)
    target = (request.form.get("to") or "").strip()[:40]
    return _command(
        ticket_id,
        lambda: platform().runtime.return_to(task_id, target, actor=current().user_id, comment=_note()),
        "returned",
    )


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/transfer")
@signed_in
def transfer(ticket_id: int, task_id: int):
    """Transfer a task held to someone else, as the page offers it (the engine decides)."""
    _task(ticket_id, task_id)
    principal = current()

    def run() -> None:  # the engine refuses a customer handing on her own step (flow.staff_only)
        platform().runtime.transfer(task_id, _user_named("to"), actor=principal.user_id, comment=_note())

    return _command(ticket_id, run, "transferred")


@bp.post("/tickets/<int:ticket_id>/tasks/<int:task_id>/signer")
@signed_in
def add_signer(ticket_id: int, task_id: int):
    _task(ticket_id, task_id)
    where = "before" if request.form.get("where") == "before" else "after"
    return _command(
        ticket_id,
        lambda: platform().runtime.add_signer(
            task_id, _user_named("user"), where, actor=current().user_id, comment=_note()
        ),
        "signer",
    )


_TICKET_COMMANDS = {
    "withdraw": ("withdraw", "withdrawn"),
    "cancel": ("cancel", "cancelled"),
    "close": ("close", "closed"),
    "reopen": ("reopen", "reopened"),
}


@bp.post("/tickets/<int:ticket_id>/<any(withdraw, cancel, close, reopen):command>")
@signed_in
def ticket_command(ticket_id: int, command: str):
    """Withdraw, cancel, close or reopen the ticket (the Runtime decides who may)."""
    _visible(ticket_id)
    method, done = _TICKET_COMMANDS[command]
    runtime = platform().runtime
    return _command(
        ticket_id,
        lambda: getattr(runtime, method)(ticket_id, current().user_id, comment=_note()),
        done,
    )


@bp.post("/tickets/<int:ticket_id>/comment")
@signed_in
def add_comment(ticket_id: int):
    """A comment with ``@mentions`` and the files uploaded with it."""
    _visible(ticket_id)
    body = request.form.get("body", "")
    ids = []
    for raw in request.form.getlist("files"):
        try:
            ref = json.loads(raw)
        except ValueError:
            ref = None
        if not (isinstance(ref, Mapping) and isinstance(ref.get("id"), str)):
            unread = _page(ticket_id, 422, error=t("ticket.bad_file", g.lang), comment=body)
            return _refused(ticket_id, unread)
        ids.append(ref["id"])
    internal = request.form.get("internal") == "1"
    return _command(
        ticket_id,
        lambda: tickets.comment(platform().runtime, current(), ticket_id, body, ids, internal=internal),
        "commented",
    )


@bp.get("/tickets/<int:ticket_id>/<any(save, comment, watch, unwatch, withdraw, cancel, close, reopen):_>")
@bp.get("/tickets/<int:ticket_id>/tasks/<int:task_id>/<any(act, claim, release, return, transfer, signer):_>")
def back_to_ticket(ticket_id: int, _: str, task_id: int | None = None):
    """A command's address opened (a reload after a refused command, a bookmark): the ticket's page."""
    return redirect(url_for(".show", ticket_id=ticket_id, **kept_lang()), 303)


@bp.post("/tickets/<int:ticket_id>/<any(watch, unwatch):command>")
@signed_in
def watching(ticket_id: int, command: str):
    _visible(ticket_id)
    change = tickets.watch if command == "watch" else tickets.unwatch
    return _command(
        ticket_id,
        lambda: change(platform().runtime, current(), ticket_id),
        "watching" if command == "watch" else "unwatched",
    )
