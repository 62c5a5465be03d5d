"""Notifications: who gets one, and the message itself, rendered when it is queued.

``build_notifications(work, value, origin)`` turns a ``notify`` action into outbox items. Inside the
command (the ticket as it is now) the recipients are resolved to addresses and the template is
rendered in each recipient's language, so delivery later only sends. One item per message:

=========================  ==========================================================================
email                      ``{to: [addresses], subject, text, html, link, lang}``, one per language
sms                        ``{to: [phones], text, lang}``, one per language
dingtalk / wecom / feishu  ``{robot, title, text, link, lang, at_mobiles}``, one per robot
webhook                    ``{robot, body}``: the robot names a ``webhook+https://…`` URL
=========================  ==========================================================================

``to`` names people (comma-separated): ``assignee`` (the default for email and SMS), ``submitter``,
``manager_of_assignee``, ``watchers``, a role of the app, or a literal email address / phone number.
Of an internal note (``origin`` marked ``internal``) only the app's staff (a role in it) and admins
hear: the submitter and other customers named are left out. Nobody named → no item. People named
without the address a channel needs → one item with an empty ``to`` and their names in
``unreachable``: it goes dead with a message telling the admin whom to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.config import load_settings
from engine.i18n import current_lang, t, text_of
from engine.im_cards import card_for
from engine.reactions import OutboxItem
from engine.rules.templates import RenderedMessage, find_template, html_from_text, render_message
from engine.store.models import Role, RoleMember, Task, User, Watcher

if TYPE_CHECKING:  # pragma: no cover
    from engine.flows.work import FlowWork

T, U, W = Task.__table__, User.__table__, Watcher.__table__
LIVE = ("open", "waiting")
ROBOT_CHANNELS = ("dingtalk", "wecom", "feishu", "webhook")
#: Which address of a person each channel needs.
ADDRESS = {"email": "email", "sms": "phone"}
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
PHONE = re.compile(r"^\+?\d[\d\- ]{5,18}\d$")
TITLE_FIELDS = ("summary", "title", "subject", "name")


@dataclass(frozen=True)
class Person:
    id: int | None
    name: str
    email: str | None
    phone: str | None
    lang: str


# ----------------------------------------------------------------------------- recipients
def _live_assignees(work: FlowWork, node: str | None) -> list[int]:
    q = select(T.c.assignee_id).where(
        T.c.instance_id == work.instance.id, T.c.status.in_(LIVE), T.c.assignee_id.is_not(None)
    )
    if node:
        q = q.where(T.c.node_id == node)
    return list(dict.fromkeys(work.conn.execute(q.order_by(T.c.id)).scalars()))


def _user_ids(work: FlowWork, token: str, node: str | None, mentioned: Sequence[int] = ()) -> list[int]:
    """User ids named by one ``to`` token that is not a literal address."""
    if token == "mentioned":  # the people @-mentioned in the comment that fired the rule ...
        from engine.access import can_see, load_principal

        # ... who may see the ticket: a mention must not mail a ticket to someone outside it
        return [
            int(u)
            for u in dict.fromkeys(mentioned)
            if can_see(work.conn, load_principal(work.conn, int(u)), work.ticket.record_id)
        ]
    if token in ("assignee", "manager_of_assignee"):
        users = _live_assignees(work, node)
        if token == "manager_of_assignee" and users:
            managers = work.conn.execute(select(U.c.manager_id).where(U.c.id.in_(users))).scalars()
            users = [m for m in dict.fromkeys(managers) if m is not None]
        return users
    if token == "submitter":
        return [work.ticket.submitter] if work.ticket.submitter else []
    if token == "watchers":
        q = select(W.c.user_id).where(W.c.record_id == work.ticket.record_id).order_by(W.c.added_at)
        return list(work.conn.execute(q).scalars())
    if token in work.spec.app.roles:
        q = (
            select(RoleMember.user_id)
            .join(Role, Role.id == RoleMember.role_id)
            .where(Role.app_id == work.ticket.app_id, Role.key == token)
            .order_by(RoleMember.user_id)
        )
        return list(work.conn.execute(q).scalars())
    return []


def _phone(value: str | None) -> str | None:
    """A phone number as gateways and robots take it: digits and a leading +, no spaces or dashes."""
    cleaned = re.sub(r"[\s\-()]", "", value or "")
    return cleaned or None


def _staff(work: FlowWork, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` who are the app's staff: admins and people with a role in it."""
    roles = (
        select(RoleMember.user_id)
        .join(Role, Role.id == RoleMember.role_id)
        .where(Role.app_id == work.ticket.app_id, RoleMember.user_id.in_(ids))
    )
    admins = select(U.c.id).where(U.c.id.in_(ids), U.c.is_admin.is_(True))
    return set(work.conn.execute(roles.union(admins)).scalars())


def recipients(
    work: FlowWork,
    to: str | None,
    node: str | None,
    default_lang: str,
    mentioned: Sequence[int] = (),
    staff_only: bool = False,
) -> list[Person]:
    """The people and literal addresses ``to`` names, active users only, each once, in order;
    ``staff_only``: none of the people who are no staff of the app (an internal note's readers)."""
    ids: list[int] = []
    literals: list[Person] = []
    for token in (s.strip() for s in str(to or "").split(",")):
        if not token:
            continue
        if EMAIL.match(token):
            literals.append(Person(None, token, token, None, default_lang))
        elif PHONE.match(token):
            literals.append(Person(None, token, None, _phone(token), default_lang))
        else:
            ids += _user_ids(work, token, node, mentioned)
    ids = list(dict.fromkeys(ids))
    if staff_only and ids:
        staff = _staff(work, ids)
        ids = [i for i in ids if i in staff]
    people: dict[int, Person] = {}
    if ids:
        rows = work.conn.execute(
            select(U.c.id, U.c.display_name, U.c.email, U.c.phone, U.c.lang).where(
                U.c.id.in_(ids), U.c.is_active.is_(True)
            )
        )
        for row in rows:
            name = row.display_name or str(row.id)
            people[row.id] = Person(
                row.id, name, row.email or None, _phone(row.phone), current_lang(row.lang)
            )
    return [people[i] for i in ids if i in people] + literals


# ----------------------------------------------------------------------------- rendering
def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def template_context(work: FlowWork, origin: Mapping[str, Any], lang: str, base_url: str) -> dict[str, Any]:
    """What a template sees: ``ticket``, ``fields`` (the record's data), ``labels``, ``event``/``origin``,
    ``settings``, ``lang``."""
    app = work.spec.app
    tdef = app.ticket_types.get(work.ticket.ticket_type)
    stage = work.stage
    stage_name = stage or ""
    labels: dict[str, str] = {}
    if tdef is not None:
        labels = {f.key: text_of(dict(f.label), lang) for f in tdef.form.fields}
        node = next((n for n in tdef.flow.nodes if n.id == stage), None)
        stage_name = text_of(dict(node.name), lang) if node is not None else stage_name
    data = _json_safe(dict(work.ticket.data))
    title = next((str(data[k]) for k in TITLE_FIELDS if data.get(k)), "")
    ticket = {
        "id": work.ticket.record_id,
        "number": work.ticket.number,
        "app": work.ticket.app_key,
        "app_name": text_of(dict(app.name), lang),
        "type": work.ticket.ticket_type,
        "type_name": text_of(dict(tdef.name), lang) if tdef is not None else work.ticket.ticket_type,
        "stage": stage,
        "stage_name": stage_name,
        "status": work.ticket.status,
        "title": title,
        "url": f"{base_url}/tickets/{work.ticket.record_id}",
    }
    event = _json_safe(dict(origin))
    return {
        "ticket": ticket,
        "fields": data,
        "labels": labels,
        "event": event,
        "origin": event,
        "settings": _json_safe(dict(app.settings)),
        "lang": lang,
        "now": work.now.isoformat(),
    }


class _Renderer:
    """Renders one notify action's template once per language."""

    def __init__(self, work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]):
        self.work, self.origin = work, origin
        self.base_url = load_settings().base_url
        self.template = find_template(work.spec.app.templates, value.get("template"))
        self.link = f"{self.base_url}/tickets/{work.ticket.record_id}"
        self._done: dict[str, RenderedMessage] = {}

    def __call__(self, lang: str) -> RenderedMessage:
        if lang not in self._done:
            ctx = template_context(self.work, self.origin, lang, self.base_url)
            self._done[lang] = render_message(self.template, ctx, lang)
        return self._done[lang]


# ----------------------------------------------------------------------------- items
def _key(
    work: FlowWork, channel: str, value: Mapping[str, Any], origin: Mapping[str, Any], group: str
) -> str:
    """Unique per item and stable: derived from what the item is for, never random."""
    basis = json.dumps(
        [work.now.isoformat(), dict(origin), dict(value), len(work.events), len(work.outbox), group],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(basis.encode()).hexdigest()[:24]
    return f"notify:{work.ticket.record_id}:{channel[:20]}:{digest}"


def _by_language(people: Iterable[Person], address: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for person in people:
        where = getattr(person, address)
        if where and where not in groups.setdefault(person.lang, []):
            groups[person.lang].append(where)
    return {lang: found for lang, found in groups.items() if found}


def _direct(channel: str, people: list[Person], render: _Renderer, default_lang: str) -> list[dict[str, Any]]:
    """Email and SMS payloads: one per language of the people who have the address needed."""
    address = ADDRESS[channel]
    groups = _by_language(people, address)
    if not groups:
        unreachable = [p.name for p in people]
        return [{**_direct_payload(channel, [], default_lang, render), "unreachable": unreachable}]
    return [_direct_payload(channel, found, lang, render) for lang, found in sorted(groups.items())]


def _direct_payload(channel: str, to: list[str], lang: str, render: _Renderer) -> dict[str, Any]:
    msg = render(lang)
    if channel == "sms":
        return {"to": to, "text": _sms_text(msg), "lang": lang}
    html = msg.html or html_from_text(msg.text, render.link, t("channel.open_ticket", lang))
    return {
        "to": to,
        "subject": msg.subject,
        "text": msg.text,
        "html": html,
        "link": render.link,
        "lang": lang,
    }


def _sms_text(msg: RenderedMessage) -> str:
    text = msg.text if msg.text.startswith(msg.subject) else f"{msg.subject}\n{msg.text}"
    return text.strip()[:500]


def _robot_payload(
    value: Mapping[str, Any], people: list[Person], msg: RenderedMessage, link: str, lang: str
) -> dict[str, Any]:
    return {
        "robot": str(value.get("robot") or value.get("channel")),
        "title": msg.card_title,
        "text": msg.card_text,
        "link": link,
        "lang": lang,
        "at_mobiles": list(dict.fromkeys(p.phone for p in people if p.phone)),
        "at_names": [p.name for p in people],
    }


def build_notifications(
    work: FlowWork, value: Mapping[str, Any], origin: Mapping[str, Any]
) -> list[OutboxItem]:
    """The outbox items of one ``notify`` action (none when it names nobody)."""
    channel = str(value.get("channel") or "")
    default_lang = current_lang(None)
    to = value.get("to")
    if to is None and channel in ADDRESS:
        to = "assignee"
    internal = origin.get("internal") is True
    people = recipients(work, to, origin.get("node"), default_lang, origin.get("mentions") or (), internal)
    render = _Renderer(work, value, origin)
    if channel in ADDRESS:
        if not people:
            return []
        payloads = _direct(channel, people, render, default_lang)
    elif channel in ROBOT_CHANNELS:
        if not people and to is not None and not value.get("robot"):
            return []  # it names people, none of them exists, and no robot was asked for
        msg = render(default_lang)
        if channel == "webhook":
            payloads = [
                {
                    "robot": str(value.get("robot") or channel),
                    "body": _webhook_body(work, value, origin, msg, render.link, people),
                }
            ]
        else:
            payloads = [_robot_payload(value, people, msg, render.link, default_lang)]
            card = card_for(work, value, origin, default_lang)  # ``card: approval`` (engine/im_cards.py)
            if card is not None:
                payloads[0]["card"] = card
    else:  # an unknown channel: the outbox names it when the row goes dead
        msg = render(default_lang)
        payloads = [
            {"to": [p.name for p in people], "subject": msg.subject, "text": msg.text, "link": render.link}
        ]
    return [
        OutboxItem(
            channel,
            {**payload, "origin": _json_safe(dict(origin))},
            _key(work, channel, value, origin, str(i)),
        )
        for i, payload in enumerate(payloads)
    ]


def _webhook_body(
    work: FlowWork,
    value: Mapping[str, Any],
    origin: Mapping[str, Any],
    msg: RenderedMessage,
    link: str,
    people: list[Person],
) -> dict[str, Any]:
    return {
        "app": work.ticket.app_key,
        "ticket_type": work.ticket.ticket_type,
        "ticket": {
            "id": work.ticket.record_id,
            "number": work.ticket.number,
            "stage": work.stage,
            "link": link,
        },
        "template": value.get("template"),
        "subject": msg.subject,
        "text": msg.text,
        "to": [{"name": p.name, "email": p.email, "phone": p.phone} for p in people],
        "origin": _json_safe(dict(origin)),
        "at": work.now.isoformat(),
    }
