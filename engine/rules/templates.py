"""Notification templates: Jinja2 sources in the app definition (``templates:``), rendered in a sandbox
per language, with built-in templates for the common names and a generic message for any other.

A template is ``{subject, text, html?, card?: {title, text}}``; each part is a Jinja2 source, plain
or per language (``{zh, en}``). Rendering never fails a command: a template that breaks at run time
(or tries to leave the sandbox) is replaced by the generic message, and the problem is logged.
Definitions are checked statically (engine.definitions.template_checks) so syntax errors never
get this far.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

from engine.i18n import LANGS, current_lang

log = logging.getLogger("gongdan.rules")

PARTS = ("subject", "text", "html")
#: Bounds of one rendering: characters per part, loop iterations over ``range``, sizes of ``*``/``**``.
MAX_OUTPUT = 20_000
MAX_SUBJECT = 200
LOOP_BUDGET = 10_000
MAX_REPEAT = 10_000
MAX_EXPONENT = 64
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, also bounded in time and memory: ``range`` draws on a per-render
    loop budget, ``*``/``**``/``%`` may not build huge values, ``str.format`` is not reachable."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_REPEAT
                ):
                    raise SecurityError("repetition too large")
        if operator == "%" and isinstance(left, str) and re.search(r"\d{4,}", left):
            raise SecurityError("format width too large")
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in ("format", "format_map"):
            return False
        return super().is_safe_attribute(obj, attr, value)


def _bounded_range(*args: int) -> range:
    found = range(*args)
    budget = _budget.get([LOOP_BUDGET])
    budget[0] -= len(found)
    if budget[0] < 0:
        raise SecurityError(f"loops of more than {LOOP_BUDGET} steps in one message")
    return found


def _width(fn: Any) -> Any:
    def bounded(value: Any, width: Any = 80, *args: Any, **kw: Any) -> Any:
        if isinstance(width, int) and width > 200:
            raise SecurityError("width too large")
        return fn(value, width, *args, **kw)

    return bounded


def _environment(html: bool) -> _Sandbox:
    env = _Sandbox(autoescape=html, undefined=jinja2.ChainableUndefined, keep_trailing_newline=False)
    env.globals = {"range": _bounded_range}  # no lipsum, cycler, joiner, namespace, dict
    env.filters.pop("format", None)  # printf-style widths could build huge strings
    env.filters["center"] = _width(env.filters["center"])
    env.filters["indent"] = _width(env.filters["indent"])
    return env


TEXT_ENV = _environment(html=False)
HTML_ENV = _environment(html=True)


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> jinja2.Template:
    """Compile once, render many: templates are keyed by their source."""
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def syntax_problem(source: str) -> tuple[int, str] | None:
    """(line in the template, reason) when ``source`` is not valid Jinja2, else None."""
    try:
        TEXT_ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno, exc.message or "syntax error"
    return None


def _render(source: str, context: Mapping[str, Any], html: bool, limit: int) -> str:
    token = _budget.set([LOOP_BUDGET])
    try:
        out: list[str] = []
        size = 0
        for chunk in _compiled(source, html).generate(context):
            out.append(chunk)
            size += len(chunk)
            if size > limit:
                return "".join(out)[:limit] + "…"
        return "".join(out)
    finally:
        _budget.reset(token)


# ----------------------------------------------------------------------------- templates
Sources = Mapping[str, str]  # language → Jinja2 source


def _sources(value: Any) -> Sources:
    if value is None:
        return MappingProxyType({})
    if isinstance(value, str):
        return MappingProxyType(dict.fromkeys(LANGS, value))
    return MappingProxyType({k: v for k, v in value.items() if isinstance(v, str)})


def pick(sources: Sources, lang: str) -> str | None:
    """The source for ``lang``, else the other language's (a template written only in one)."""
    if lang in sources:
        return sources[lang]
    return next((sources[other] for other in LANGS if other in sources), None)


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    subject: Sources
    text: Sources
    html: Sources = field(default_factory=lambda: MappingProxyType({}))
    card_title: Sources = field(default_factory=lambda: MappingProxyType({}))
    card_text: Sources = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_definition(cls, name: str, raw: Mapping[str, Any]) -> MessageTemplate:
        card = raw.get("card") or {}
        return cls(
            name=name,
            subject=_sources(raw.get("subject")),
            text=_sources(raw.get("text")),
            html=_sources(raw.get("html")),
            card_title=_sources(card.get("title")),
            card_text=_sources(card.get("text")),
        )

    def sources(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Every Jinja2 source with its path inside the template (``("text", "zh")``, …)."""
        for part, texts in (
            (("subject",), self.subject),
            (("text",), self.text),
            (("html",), self.html),
            (("card", "title"), self.card_title),
            (("card", "text"), self.card_text),
        ):
            yield from ((part, source) for source in dict.fromkeys(texts.values()))


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    card_title: str
    card_text: str
    template: str  # the template used: its name, or "generic" after a fallback


BUILTIN: dict[str, MessageTemplate] = {}
_FOOTER = {
    "zh": "\n\n标题:{{ ticket.title }}\n阶段:{{ ticket.stage_name }}\n查看工单:{{ ticket.url }}",
    "en": "\n\nTitle: {{ ticket.title }}\nStage: {{ ticket.stage_name }}\nOpen the ticket: {{ ticket.url }}",
}
_TARGET = {
    "zh": "{% if event.target == 'response' %}响应{% else %}解决{% endif %}",
    "en": "{% if event.target == 'response' %}response{% else %}resolution{% endif %}",
}


def builtin(names: tuple[str, ...], zh: tuple[str, str], en: tuple[str, str]) -> None:
    """Register a built-in template (subject, body per language; the body gets the ticket's title,
    stage and link appended) under each of ``names``, used when an app does not define the name."""
    subject = MappingProxyType({"zh": zh[0], "en": en[0]})
    text = MappingProxyType({"zh": zh[1] + _FOOTER["zh"], "en": en[1] + _FOOTER["en"]})
    for name in names:
        BUILTIN[name] = MessageTemplate(name, subject, text)


builtin(
    ("generic",),
    zh=(
        "工单 {{ ticket.number }} 有新动态",
        "工单 {{ ticket.number }}({{ ticket.type_name }})有新动态,请查看。",
    ),
    en=(
        "Ticket {{ ticket.number }}: an update",
        "Ticket {{ ticket.number }} ({{ ticket.type_name }}) has an update.",
    ),
)
builtin(
    ("sla_warning", "it_sla_warning"),
    zh=(
        "工单 {{ ticket.number }} 即将超时",
        "工单 {{ ticket.number }} 的" + _TARGET["zh"] + "时限已用去 {{ event.level }}%,请尽快处理。",
    ),
    en=(
        "Ticket {{ ticket.number }} is close to its deadline",
        "Ticket {{ ticket.number }} has used {{ event.level }}% of its " + _TARGET["en"] + " time. Act soon.",
    ),
)
builtin(
    ("sla_breached", "it_sla_breached", "bug_sla_breached"),
    zh=(
        "工单 {{ ticket.number }} 已超时",
        "工单 {{ ticket.number }} 已超过" + _TARGET["zh"] + "时限,请跟进处理人或重新分派。",
    ),
    en=(
        "Ticket {{ ticket.number }} is overdue",
        "Ticket {{ ticket.number }} missed its " + _TARGET["en"] + " deadline. Follow up or reassign it.",
    ),
)
builtin(
    ("reminder", "it_reminder"),
    zh=(
        "提醒:工单 {{ ticket.number }} 等待您处理",
        "工单 {{ ticket.number }} 仍在「{{ ticket.stage_name }}」等待您处理。",
    ),
    en=(
        "Reminder: ticket {{ ticket.number }} is waiting for you",
        'Ticket {{ ticket.number }} is still waiting for you at "{{ ticket.stage_name }}".',
    ),
)
builtin(
    ("due_soon", "it_due_soon"),
    zh=("工单 {{ ticket.number }} 即将到期", "工单 {{ ticket.number }} 即将到期,请在期限前完成。"),
    en=(
        "Ticket {{ ticket.number }} is due soon",
        "Ticket {{ ticket.number }} is due soon. Finish it in time.",
    ),
)
builtin(
    ("request_accepted", "it_request_accepted"),
    zh=("您的工单 {{ ticket.number }} 已受理", "您提交的工单 {{ ticket.number }} 已受理,正在处理中。"),
    en=(
        "Your ticket {{ ticket.number }} has been accepted",
        "Your ticket {{ ticket.number }} has been accepted and is being worked on.",
    ),
)
builtin(
    ("alert", "p1_alert", "it_major_incident", "blocker_alert"),
    zh=(
        "紧急:工单 {{ ticket.number }} 需要立即处理",
        "紧急工单 {{ ticket.number }}:{{ ticket.title }}。请立即处理。",
    ),
    en=(
        "Urgent: ticket {{ ticket.number }} needs attention now",
        "Urgent ticket {{ ticket.number }}: {{ ticket.title }}. Please act now.",
    ),
)
GENERIC = BUILTIN["generic"]


def known_names(app_templates: Mapping[str, Any]) -> list[str]:
    return sorted(set(app_templates) | set(BUILTIN))


def find_template(app_templates: Mapping[str, Any], name: str | None) -> MessageTemplate:
    """The app's template ``name``, else the built-in one, else the generic message."""
    if name and name in app_templates:
        return MessageTemplate.from_definition(name, app_templates[name])
    return BUILTIN.get(name or "", GENERIC)


def html_from_text(text: str, link: str | None, label: str) -> str:
    """A plain HTML body for a template without ``html``: the text escaped, paragraphs kept, a link."""
    paragraphs = "".join(
        f"<p>{Markup('<br>').join(escape(line) for line in block.splitlines())}</p>"
        for block in re.split(r"\n\s*\n", text.strip())
        if block.strip()
    )
    button = f'<p><a href="{escape(link)}">{escape(label)}</a></p>' if link else ""
    return f"<!doctype html><html><body>{paragraphs}{button}</body></html>"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_SUBJECT]


def _render_parts(template: MessageTemplate, context: Mapping[str, Any], lang: str) -> RenderedMessage:
    def part(sources: Sources, html: bool = False) -> str:
        source = pick(sources, lang)
        return _render(source, context, html, MAX_OUTPUT) if source else ""

    subject = _one_line(part(template.subject))
    text = part(template.text).strip()
    return RenderedMessage(
        subject=subject,
        text=text,
        html=part(template.html, html=True),
        card_title=_one_line(part(template.card_title)) or subject,
        card_text=part(template.card_text).strip() or text,
        template=template.name,
    )


def render_message(
    template: MessageTemplate, context: Mapping[str, Any], lang: str | None = None
) -> RenderedMessage:
    """Render every part in ``lang``; on any failure, the generic message (never an exception)."""
    lang = current_lang(lang)
    try:
        return _render_parts(template, context, lang)
    except Exception as exc:
        log.warning(
            "template %s failed (%s: %s); the generic message was sent",
            template.name,
            type(exc).__name__,
            exc,
        )
        return _render_parts(GENERIC, context, lang)
