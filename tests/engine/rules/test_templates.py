"""Notification templates: rendering per language, HTML escaping, the sandbox, the definition check with
its path and line, and the built-in and generic fallbacks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engine.definitions.loader import load_definition
from engine.definitions.source import read_source
from engine.definitions.template_checks import notify_actions
from engine.errors import DefinitionError
from engine.rules.templates import BUILTIN, MAX_OUTPUT, find_template, render_message

ROOT = Path(__file__).resolve().parents[3]
APPS = sorted((ROOT / "app_definitions").glob("*.yaml"))
CONTEXT: dict[str, Any] = {
    "ticket": {
        "number": "IT-000042",
        "id": 42,
        "type_name": "IT 请求",
        "stage_name": "处理",
        "title": "VPN 无法连接",
        "url": "http://127.0.0.1:8000/tickets/42",
    },
    "fields": {"summary": "VPN <script>alert(1)</script> & co", "priority": "P1"},
    "labels": {"summary": "Summary", "priority": "Priority"},
    "event": {"node": "process", "target": "resolution", "level": 80},
    "lang": "en",
}
APP_TEMPLATES = {
    "escalated": {
        "subject": {"zh": "工单 {{ ticket.number }} 已升级", "en": "Ticket {{ ticket.number }} escalated"},
        "text": {
            "zh": "{{ labels.summary }}:{{ fields.summary }}",
            "en": "{{ labels.summary }}: {{ fields.summary }}\n{{ ticket.url }}",
        },
        "html": "<p>{{ fields.summary }}</p><a href='{{ ticket.url }}'>{{ ticket.number }}</a>",
        "card": {"title": "⚠ {{ ticket.number }}", "text": "**{{ fields.priority }}** {{ fields.summary }}"},
    }
}


def render(template: Any, lang: str = "en", context: dict[str, Any] | None = None):
    source = {"t": template} if not isinstance(template, str) else {"t": {"subject": "s", "text": template}}
    return render_message(find_template(source, "t"), context or CONTEXT, lang)


def test_a_template_renders_in_the_recipients_language():
    tmpl = find_template(APP_TEMPLATES, "escalated")
    en, zh = render_message(tmpl, CONTEXT, "en"), render_message(tmpl, CONTEXT, "zh")
    assert en.subject == "Ticket IT-000042 escalated"
    assert en.text == "Summary: VPN <script>alert(1)</script> & co\nhttp://127.0.0.1:8000/tickets/42"
    assert zh.subject == "工单 IT-000042 已升级"
    assert (en.card_title, en.card_text) == ("⚠ IT-000042", "**P1** VPN <script>alert(1)</script> & co")


def test_a_template_written_in_one_language_serves_both():
    assert (
        render({"subject": {"en": "Only {{ ticket.number }}"}, "text": "x"}, "zh").subject == "Only IT-000042"
    )


def test_html_escapes_the_tickets_values_and_text_does_not():
    msg = render_message(find_template(APP_TEMPLATES, "escalated"), CONTEXT, "en")
    assert "<p>VPN &lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p>" in msg.html
    assert "<a href='http://127.0.0.1:8000/tickets/42'>IT-000042</a>" in msg.html
    assert "<script>" in msg.text


def test_a_card_defaults_to_subject_and_text():
    msg = render({"subject": "S {{ ticket.number }}", "text": "T"})
    assert (msg.card_title, msg.card_text) == ("S IT-000042", "T")


def test_a_subject_is_one_line():
    assert render({"subject": "a\n  b\n{{ ticket.number }}", "text": "x"}).subject == "a b IT-000042"


def test_missing_values_render_empty_instead_of_failing():
    msg = render("[{{ fields.nothing }}][{{ fields.nothing.deeper }}][{{ nope }}]")
    assert (msg.text, msg.template) == ("[][][]", "t")


@pytest.mark.parametrize(
    "attempt",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ fields.__class__.__init__.__globals__['os'].system('id') }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ fields.pop('summary') }}",
        "{% set x = fields.update({'a': 1}) %}",
        "{{ 'a' * 100000000 }}",
        "{{ 10 ** 100000000 }}",
        "{{ '%100000000s' % 'x' }}",
        "{{ 'x' | center(100000000) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{{ range(10 ** 9) | list | length }}",
    ],
)
def test_leaving_the_sandbox_or_exhausting_the_server_fails_safely_into_the_generic_message(attempt):
    started = time.monotonic()
    msg = render(attempt)
    assert time.monotonic() - started < 2
    assert msg.template == "generic"
    assert msg.subject == "Ticket IT-000042: an update"
    assert "uid=" not in msg.text and "<class" not in msg.text


def test_reading_private_attributes_shows_nothing():
    msg = render(
        "[{{ ''.__class__ }}][{{ fields.__dict__ }}][{{ ticket.__init__ }}][{{ '{0.__class__}'.format(1) }}]"
    )
    assert msg.text == "[][][][]"


def test_output_is_bounded():
    msg = render("{% for i in range(5000) %}0123456789{% endfor %}")
    assert len(msg.text) <= MAX_OUTPUT + 1 and msg.text.endswith("…")


def test_an_unknown_name_falls_back_to_the_generic_message_in_both_languages():
    tmpl = find_template({}, "does_not_exist")
    assert tmpl is BUILTIN["generic"]
    zh, en = render_message(tmpl, CONTEXT, "zh"), render_message(tmpl, CONTEXT, "en")
    assert zh.subject == "工单 IT-000042 有新动态" and en.subject == "Ticket IT-000042: an update"
    assert "http://127.0.0.1:8000/tickets/42" in zh.text and "VPN 无法连接" in en.text


def test_built_in_templates_speak_both_languages():
    msg = render_message(find_template({}, "it_sla_warning"), CONTEXT, "zh")
    assert msg.subject == "工单 IT-000042 即将超时"
    assert "解决时限已用去 80%" in msg.text
    en = render_message(find_template({}, "bug_sla_breached"), CONTEXT, "en")
    assert en.subject == "Ticket IT-000042 is overdue" and "resolution deadline" in en.text


def test_the_apps_own_template_wins_over_a_built_in_one():
    own = {"sla_warning": {"subject": "Own {{ ticket.number }}", "text": "x"}}
    assert render_message(find_template(own, "sla_warning"), CONTEXT, "en").subject == "Own IT-000042"


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.stem)
def test_every_template_a_shipped_app_names_is_defined_in_both_languages(app):
    data = read_source(app).data
    templates = data.get("templates") or {}
    names = {n["template"] for _, n in notify_actions(data["ticket_types"], ()) if n.get("template")}
    assert names <= set(templates)
    for name in names:
        for part in ("subject", "text"):
            assert set(templates[name][part]) == {"zh", "en"}, (name, part)


# ----------------------------------------------------------------------------- the definition check
BROKEN = """\
app: tmpl
name: Templates
templates:
  ok_one:
    subject: "Ticket {{ ticket.number }}"
    text: "fine"
  broken:
    subject: {zh: "工单 {{ ticket.number }}", en: "Ticket {{ ticket.number"}
    text: |
      Line one is fine: {{ ticket.number }}
      Line two is not: {% if fields.x %}
ticket_types:
  t:
    name: T
    form: {sections: [{fields: [{key: x, type: text}]}]}
    rules:
      - name: tell
        on: created
        do: [{notify: {channel: email, to: submitter, template: nowhere}}]
"""


def problems_of(text: str) -> list[Any]:
    with pytest.raises(DefinitionError) as caught:
        load_definition(text)
    return caught.value.problems


def test_a_template_syntax_error_is_reported_with_its_path_and_the_line_in_the_template():
    found = {p.path: p for p in problems_of(BROKEN)}
    text = found["templates.broken.text"]
    assert text.code == "check.template_syntax" and text.params["line"] == 2
    assert text.line == 9  # the YAML line of the text
    assert text.message("en").startswith("Template broken, text, line 2 has a syntax error:")
    assert "第 2 行有语法错误" in text.message("zh")
    subject = found["templates.broken.subject.en"]
    assert subject.params["line"] == 1 and "subject.en" in subject.message("en")
    assert "templates.broken.subject.zh" not in found and "templates.ok_one.subject" not in found


def test_a_notify_naming_an_unknown_template_is_reported_with_what_exists():
    found = {p.path: p for p in problems_of(BROKEN)}
    problem = found["ticket_types.t.rules[0].do[0].notify.template"]
    assert problem.code == "check.unknown_template"
    assert "nowhere" in problem.message("en") and "ok_one" in problem.message("en")
    assert "sla_warning" in problem.message("zh")


def test_a_definition_with_sound_templates_loads_and_keeps_them():
    good = BROKEN.replace('{{ ticket.number"}', '{{ ticket.number }}"}').replace(
        "{% if fields.x %}", "{% if fields.x %}x{% endif %}"
    )
    loaded = load_definition(good.replace("template: nowhere", "template: broken"))
    assert set(loaded.app.templates) == {"ok_one", "broken"}
    assert loaded.app.templates["broken"]["subject"]["zh"] == "工单 {{ ticket.number }}"
