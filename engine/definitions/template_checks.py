"""Static checks of notification templates: every template compiles, every notify names one that exists.

A syntax error is reported at load with its path (``templates.<name>.text``, ``….text.zh``) and the
line inside the template, so a broken template never reaches a running ticket.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import engine.jobs.channel_messages  # noqa: F401  (the template checks' messages)
from engine.definitions.checks import Found, check
from engine.rules.templates import known_names, syntax_problem

Path = tuple[str | int, ...]
PARTS: tuple[tuple[str, ...], ...] = (("subject",), ("text",), ("html",), ("card", "title"), ("card", "text"))


def _sources(raw: Mapping[str, Any], part: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    value: Any = raw
    for key in part:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        yield part, value
    elif isinstance(value, Mapping):
        yield from (((*part, lang), source) for lang, source in value.items() if isinstance(source, str))


@check
def templates_compile(data: Mapping[str, Any]) -> Iterator[Found]:
    templates = data.get("templates")
    for name, raw in (templates if isinstance(templates, Mapping) else {}).items():
        if not isinstance(raw, Mapping):
            continue  # the schema reports it
        for part in PARTS:
            for path, source in _sources(raw, part):
                problem = syntax_problem(source)
                if problem:
                    line, reason = problem
                    params = {"name": name, "part": ".".join(path), "line": line, "reason": reason}
                    yield ("templates", name, *path), "check.template_syntax", params


def notify_actions(value: Any, path: Path) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every ``notify`` action under ``value`` (rules, escalation steps, auto nodes, reminders, …);
    plain definition data, so leaves are skipped by their exact type."""
    if type(value) is dict:
        for key, sub in value.items():
            if key == "notify" and type(sub) is dict and "channel" in sub:
                yield (*path, key), sub
            elif type(sub) is dict or type(sub) is list:
                yield from notify_actions(sub, (*path, key))
    elif type(value) is list:
        for i, sub in enumerate(value):
            if type(sub) is dict or type(sub) is list:
                yield from notify_actions(sub, (*path, i))


@check
def notify_templates_exist(data: Mapping[str, Any]) -> Iterator[Found]:
    templates = data.get("templates")
    known = known_names(templates if isinstance(templates, Mapping) else {})
    for path, notify in notify_actions(data.get("ticket_types"), ("ticket_types",)):
        name = notify.get("template")
        if isinstance(name, str) and name not in known:
            yield (*path, "template"), "check.unknown_template", {"name": name, "known": ", ".join(known)}
