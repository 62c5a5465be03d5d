"""Forms rendered as HTML, and the live form state the page asks for."""

from __future__ import annotations

import html as htmllib
from functools import cache
from pathlib import Path

import pytest
from jinja2.runtime import Macro

from engine.definitions.loader import load_definition
from engine.errors import Problem
from engine.forms.fields import FIELD_TYPES
from engine.forms.permissions import access_at
from engine.forms.render import FIELD_MACROS, field_macro, render_form
from engine.forms.state import form_state
from engine.i18n import text_of
from engine.specs import AppSpec, compile_app

APPS = Path(__file__).resolve().parents[3] / "app_definitions"
SHIPPED = sorted(p.stem for p in APPS.glob("*.yaml"))

#: One field of every type, two tabs, three columns, a formula and a condition that can fail.
ALL_TYPES = {
    "app": "all_types",
    "name": {"zh": "全部字段", "en": "Every field"},
    "option_sets": {
        "tree": [
            {"value": "a", "label": {"zh": "甲", "en": "A's"}, "children": [{"value": "a1", "label": "A1"}]},
            {"value": "b", "label": "B"},
        ]
    },
    "ticket_types": {
        "thing": {
            "name": {"zh": "东西", "en": "Thing"},
            "form": {
                "sections": [
                    {
                        "id": "main",
                        "title": {"zh": "主要", "en": "Main"},
                        "columns": 3,
                        "fields": [
                            {
                                "key": "title",
                                "type": "text",
                                "label": {"zh": "标题", "en": "Title"},
                                "required": True,
                            },
                            {"key": "body", "type": "textarea", "label": "Body"},
                            {"key": "rich", "type": "richtext", "label": "Rich"},
                            {"key": "mail", "type": "email", "label": "Mail"},
                            {"key": "tel", "type": "phone", "label": "Tel"},
                            {"key": "site", "type": "url", "label": "Site"},
                            {"key": "qty", "type": "number", "label": "Qty", "min": 0, "precision": 0},
                            {"key": "amount", "type": "money", "label": "Amount", "currency": "CNY"},
                            {"key": "stars", "type": "rating", "label": "Stars", "max": 3},
                            {"key": "day", "type": "date", "label": "Day"},
                            {"key": "moment", "type": "datetime", "label": "Moment"},
                            {"key": "flag", "type": "checkbox", "label": "Flag"},
                            {"key": "pick", "type": "select", "label": "Pick", "options": ["x", "y"]},
                            {"key": "one", "type": "radio", "label": "One", "options": ["x", "y"]},
                            {
                                "key": "many",
                                "type": "multiselect",
                                "label": "Many",
                                "options": ["x", "y", "z"],
                            },
                            {"key": "path", "type": "cascade", "label": "Path", "options_from": "tree"},
                        ],
                    },
                    {
                        "id": "people",
                        "title": "People",
                        "tab": {"zh": "人员", "en": "People"},
                        "fields": [
                            {"key": "who", "type": "user", "label": "Who"},
                            {"key": "dept", "type": "department", "label": "Dept", "multiple": True},
                            {
                                "key": "other",
                                "type": "link",
                                "label": "Other",
                                "target": {"app": "all_types", "ticket_type": "thing"},
                            },
                        ],
                    },
                    {
                        "id": "files",
                        "title": "Files",
                        "tab": {"zh": "文件", "en": "Files"},
                        "fields": [
                            {"key": "doc", "type": "attachment", "label": "Doc", "accept": [".pdf", ".docx"]},
                            {"key": "pic", "type": "image", "label": "Pic", "multiple": True},
                            {
                                "key": "rows",
                                "type": "subtable",
                                "label": "Rows",
                                "fields": [
                                    {"key": "name", "type": "text", "label": "Name"},
                                    {"key": "ok", "type": "checkbox", "label": "OK"},
                                ],
                            },
                            {"key": "ratio", "type": "formula", "label": "Ratio", "expr": "100 / qty"},
                            {"key": "note", "type": "text", "label": "Note", "visible_if": "100 / qty > 1"},
                            {"key": "ref", "type": "autonumber", "label": "Ref", "format": "R-{seq:3}"},
                        ],
                    },
                ]
            },
        }
    },
}


@cache
def app_spec(name: str) -> AppSpec:
    source = ALL_TYPES if name == "all_types" else APPS / f"{name}.yaml"
    return compile_app(load_definition(source).app)


def render(app: str, ticket_type: str | None = None, **kw) -> str:
    spec = app_spec(app)
    tspec = spec.types[ticket_type or next(iter(spec.types))]
    return render_form(tspec, option_sets=spec.app.option_sets, **kw)


def field_html(page: str, key: str) -> str:
    """The markup of one field's wrapper (wrappers never nest: cells are not wrappers)."""
    start = page.index(f'data-field="{key}"')
    ends = [i for i in (page.find('<div class="gd-field', start), page.find("</fieldset>", start)) if i != -1]
    return page[start : min(ends)]


def complaint():
    return app_spec("complaint").types["complaint"]


# --------------------------------------------------------------------------- rendering
def test_every_field_type_has_a_macro():
    missing = sorted(set(FIELD_TYPES) - set(FIELD_MACROS))
    assert not missing, f"field types without a macro in FIELD_MACROS: {missing}"
    for ftype in FIELD_TYPES:
        assert isinstance(field_macro(FIELD_MACROS[ftype]), Macro), ftype


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("app", SHIPPED)
def test_each_shipped_form_renders_every_field_and_section_in_the_language(app, lang):
    spec = app_spec(app)
    for key, tspec in spec.types.items():
        page = render(app, key, lang=lang)
        for section in tspec.definition.form.sections:
            assert f"<legend>{htmllib.escape(text_of(section.title, lang))}</legend>" in page
            for f in section.fields:
                wrapper = field_html(page, f.key)
                assert htmllib.escape(text_of(f.label, lang), quote=False) in wrapper
                assert f'id="f-{f.key}-label"' in wrapper
                if f.type not in ("radio", "rating", "subtable"):
                    assert f'<label for="f-{f.key}"' in wrapper and f'id="f-{f.key}"' in wrapper


def test_labels_help_and_placeholders_follow_the_language():
    zh, en = render("complaint", lang="zh"), render("complaint", lang="en")
    assert "客户名称" in zh and ">Customer<" not in zh
    assert ">Customer<" in en and "客户名称" not in en
    assert "由 CRM 规则自动设置" in field_html(zh, "vip")
    vip = field_html(en, "vip")
    assert 'aria-describedby="f-vip-help"' in vip and 'id="f-vip-help">Set by the CRM lookup rule<' in vip
    assert 'placeholder="e.g. SO-20261201-0001"' in field_html(en, "order_no")


def test_required_fields_are_marked():
    page = render("complaint", lang="en")
    customer = field_html(page, "customer")
    assert 'aria-required="true"' in customer and '<span class="gd-req">' in customer
    assert '<span class="gd-req" hidden>' in field_html(page, "email")


def test_every_type_draws_its_control():
    page = render(
        "all_types",
        lang="en",
        values={
            "qty": 4,
            "stars": 2,
            "moment": "2026-12-01T09:00:00+08:00",
            "pick": "y",
            "one": "x",
            "many": ["x", "z"],
            "path": ["a", "a1"],
            "flag": True,
            "dept": [3, 4],
            "pic": [{"id": "f1", "name": "shot.png"}],
            "rows": [{"name": "first", "ok": True}, {"name": "second"}],
        },
    )
    assert '<input type="text" id="f-title"' in page
    assert '<textarea id="f-body"' in page and "data-rich" in field_html(page, "rich")
    assert 'type="email" id="f-mail"' in page and 'type="tel" id="f-tel"' in page
    assert 'type="url" id="f-site"' in page
    assert 'type="number" id="f-qty" name="qty" min="0" step="1" value="4"' in page
    assert 'id="f-amount" name="amount" step="0.01"' in page and "CNY" in field_html(page, "amount")
    stars = field_html(page, "stars")
    assert 'role="radiogroup"' in stars and stars.count('type="radio"') == 3
    assert 'value="2" checked' in stars
    assert 'type="date" id="f-day"' in page
    assert 'type="datetime-local" id="f-moment" name="moment" value="2026-12-01T09:00"' in page
    flag = field_html(page, "flag")
    assert 'type="hidden" name="flag" value="false"' in flag and 'value="true" checked' in flag
    assert '<option value="y" selected>y</option>' in field_html(page, "pick")
    assert 'value="x" checked' in field_html(page, "one")
    many = field_html(page, "many")
    assert "<select multiple" in many and many.count(" selected") == 2
    path = field_html(page, "path")
    assert path.count("<select") == 2 and "data-tree='" in path
    assert "A\\u0027s" in path  # the option tree as JSON, safe inside the attribute
    assert '<option value="a1" selected>A1</option>' in path
    assert 'type="number" min="1" step="1" id="f-who"' in page
    assert 'id="f-dept" name="dept"' in page and 'value="3, 4"' in field_html(page, "dept")
    assert 'type="file" id="f-doc" name="doc" accept=".pdf,.docx"' in page
    pic = field_html(page, "pic")
    assert 'accept="image/*" multiple' in pic and "<li>shot.png</li>" in pic
    rows = field_html(page, "rows")
    assert "<table>" in rows and rows.count("<tr>") == 4  # header, two rows, the template row
    assert 'name="rows[1][name]"' in rows and 'value="second"' in rows
    assert 'name="rows[__index__][name]"' in rows and "data-add-row" in rows
    assert 'data-next-index="2"' in rows
    assert '<output id="f-ratio" class="gd-formula" data-formula="ratio"' in page
    assert ">25.0</output>" in field_html(page, "ratio")
    assert "Assigned when submitted" in field_html(page, "ref")


def test_hidden_fields_are_not_rendered_at_all():
    secret = "内部方案 s3cret"
    page = render(
        "complaint",
        lang="en",
        values={"solution": secret, "refund": "99.00", "category": "billing"},
        permissions={"solution": "hidden", "refund": "hidden"},
    )
    for key in ("solution", "refund"):
        assert f'data-field="{key}"' not in page and f'name="{key}"' not in page
    assert "s3cret" not in page and "99.00" not in page
    only = render("complaint", lang="en", permissions={"*": "hidden", "summary": "editable"})
    assert only.count('class="gd-field') == 1 and 'name="summary"' in only
    assert only.count("<fieldset") == 1  # sections with nothing left are not drawn


def test_readonly_fields_are_disabled_and_show_their_value():
    page = render(
        "complaint",
        lang="en",
        values={"summary": "打印机坏了", "items": [{"sku": "A-1", "qty": 1, "price": "2.00"}]},
        permissions={"summary": "readonly", "items": "readonly"},
    )
    summary = field_html(page, "summary")
    assert "disabled" in summary and 'value="打印机坏了"' in summary and 'data-locked="true"' in summary
    items = field_html(page, "items")
    assert 'name="items[0][sku]" disabled' in items and 'value="A-1"' in items
    assert "data-add-row" not in items and "data-remove-row" not in items
    assert "disabled" not in field_html(page, "customer")


def test_field_access_of_a_flow_stage_is_understood():
    tspec = complaint()
    node = tspec.definition.flow.node("review").options["permissions"]
    access = access_at([f.key for f in tspec.definition.form.fields], ["vip"], node)
    page = render_form(tspec, lang="en", permissions=access)
    assert all(
        "disabled" in field_html(page, f.key) for f in tspec.definition.form.fields if f.type != "formula"
    )


def test_problems_are_shown_beside_their_field_in_the_language():
    problems = [
        Problem("customer", "form.required", {"field": "customer"}),
        Problem("phone", "field.phone", {"field": "phone"}),
        Problem("items[0].qty", "field.too_small", {"field": "qty", "min": 1}),
        Problem("items", "field.too_many_rows", {"field": "items", "max": 50}),
        Problem("colour", "form.unknown_field", {"field": "colour"}),
    ]
    values = {"items": [{"sku": "A", "qty": 0}]}
    en = render("complaint", lang="en", values=values, problems=problems)
    zh = render("complaint", lang="zh", values=values, problems=problems)
    customer = field_html(en, "customer")
    assert (
        'aria-invalid="true"' in customer
        and 'aria-describedby="f-customer-error f-customer-count"' in customer
    )
    assert '<div class="gd-error" id="f-customer-error" role="alert"><p>Customer is required.</p>' in customer
    assert "客户名称 为必填项。" in field_html(zh, "customer")
    assert "Enter a valid phone number." in field_html(en, "phone")
    assert "请输入有效的电话号码。" in field_html(zh, "phone")
    items = field_html(en, "items")
    assert 'id="f-items-0-qty-error" role="alert"><p>Must be at least 1.</p>' in items
    assert 'id="f-items-error" role="alert"><p>At most 50 row(s).</p>' in items
    assert "Enter a valid phone number." not in field_html(en, "customer")
    summary = en[: en.index("<fieldset")]
    assert 'role="alert"' in summary and "5 problem(s)" in summary
    assert "The form has no field colour" in summary and "Customer is required" not in summary


def test_values_are_escaped():
    evil = "<script>alert('x')</script>"
    page = render(
        "complaint",
        lang="en",
        values={"summary": evil, "detail": evil, "order_no": '" onfocus="alert(1)', "items": [{"sku": evil}]},
        problems=[Problem("summary", "field.not_an_option", {"value": evil, "options": "a"})],
    )
    assert "<script>" not in page and 'onfocus="alert' not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in field_html(page, "summary")
    assert "&lt;script&gt;" in field_html(page, "detail") and "&lt;script&gt;" in field_html(page, "items")


def test_sections_have_columns_and_tabs_have_tab_roles():
    page = render("it_ops", lang="en")
    assert page.count("gd-grid gd-cols-2") == 2 and "gd-grid gd-cols-1" in page
    assert page.count('role="tablist"') == 1 and page.count('role="tab"') == 1
    assert (
        '<button type="button" role="tab" id="gd-tab-1" aria-controls="gd-panel-1" aria-selected="true"'
        in page
    )
    panel = page[page.index('role="tabpanel"') :]
    assert 'aria-labelledby="gd-tab-1"' in panel[:200]
    assert "<legend>Handling</legend>" in panel and "<legend>Confirmation</legend>" in panel
    assert "<legend>Request</legend>" not in panel  # untabbed sections stay outside


def test_the_tab_holding_a_problem_is_the_one_shown():
    plain = render("all_types", lang="en", values={"qty": 4})
    assert 'id="gd-tab-1" aria-controls="gd-panel-1" aria-selected="true"' in plain
    assert 'id="gd-panel-2" aria-labelledby="gd-tab-2" tabindex="0" hidden' in plain
    bad = render(
        "all_types",
        lang="en",
        values={"qty": 4, "rows": [{"name": "x" * 2000}]},
        problems=[Problem("rows[0].name", "field.too_long", {"max": 1000, "length": 2000})],
    )
    assert "At most 1000 characters" in field_html(bad, "rows")
    assert 'id="gd-tab-2" aria-controls="gd-panel-2" aria-selected="true"' in bad
    assert 'id="gd-panel-1" aria-labelledby="gd-tab-1" tabindex="0" hidden' in bad


def test_conditions_are_marked_and_applied_before_any_script_runs():
    quality = render("complaint", lang="en", values={"category": "quality"})
    refund = field_html(quality, "refund")
    assert 'data-visible-if="category == &#39;billing&#39;"' in refund and "data-required-if=" in refund
    assert refund.split(">", 1)[0].endswith(" hidden")
    urgent = field_html(
        render("complaint", lang="en", values={"category": "billing", "priority": "P1"}), "refund"
    )
    assert not urgent.split(">", 1)[0].endswith(" hidden")
    assert '<span class="gd-req">' in urgent and 'aria-required="true"' in urgent


def test_formula_output_shows_the_computed_value():
    page = render("complaint", lang="en", values={"items": [{"sku": "A", "qty": 3, "price": "2.50"}]})
    assert 'data-formula="total" aria-live="polite">7.50</output>' in field_html(page, "total")


# --------------------------------------------------------------------------- form_state
def test_refund_is_visible_only_for_billing_and_required_only_when_also_p1():
    tspec = complaint()
    billing_p1 = form_state(tspec, {"category": "billing", "priority": "P1"})
    assert billing_p1["visible"]["refund"] and billing_p1["required"]["refund"]
    billing_p3 = form_state(tspec, {"category": "billing", "priority": "P3"})
    assert billing_p3["visible"]["refund"] and not billing_p3["required"]["refund"]
    quality_p1 = form_state(tspec, {"category": "quality", "priority": "P1"})
    assert not quality_p1["visible"]["refund"] and not quality_p1["required"]["refund"]
    assert not form_state(tspec, {})["visible"]["refund"]
    assert billing_p1["errors"] == {}


def test_total_is_computed_from_the_items_even_as_typed_text():
    tspec = complaint()
    typed = form_state(
        tspec, {"items": [{"sku": "A", "qty": 2, "price": "10.50"}, {"sku": "B", "qty": 1, "price": 3}]}
    )
    assert typed["values"] == {"total": "24.00"}
    as_text = form_state(tspec, {"items": [{"sku": "A", "qty": "2", "price": "10.5"}]})
    assert as_text["values"] == {"total": "21.00"}
    assert form_state(tspec, {})["values"] == {"total": "0.00"}


def test_state_lists_required_and_readonly_fields():
    state = form_state(complaint(), {"category": "billing"})
    assert state["required"]["customer"] and not state["required"]["email"]
    assert state["readonly"]["vip"] and state["readonly"]["total"] and not state["readonly"]["summary"]
    assert set(state["visible"]) == {f.key for f in complaint().definition.form.fields}


def test_expression_errors_are_reported_not_raised():
    tspec = app_spec("all_types").types["thing"]
    state = form_state(tspec, {"qty": 0}, lang="en")
    assert set(state["errors"]) == {"ratio", "note"}
    assert state["errors"]["ratio"]["code"] == "form.formula_failed"
    assert state["errors"]["note"] == {
        "code": "form.condition_failed",
        "message": "The condition of field Note could not be evaluated: Division by zero.",
    }
    assert state["values"]["ratio"] is None and not state["visible"]["note"]
    fine = form_state(tspec, {"qty": "4"})
    assert fine["errors"] == {} and fine["values"]["ratio"] == 25.0 and fine["visible"]["note"]


def test_state_ignores_unknown_computed_and_invalid_input():
    state = form_state(complaint(), {"colour": "red", "total": "999", "category": 42, "items": "nope"})
    assert state["values"] == {"total": "0.00"} and not state["visible"]["refund"]


def test_the_live_state_lists_the_options_offered_now():
    from engine.forms.state import form_state

    tspec = complaint()
    assert form_state(tspec, {"category": "billing"})["options"]["remedy"] == ["apology", "refund"]
    offered = form_state(tspec, {"category": "delivery"})["options"]["remedy"]
    assert offered == ["apology", "redelivery", "replacement"]


def test_a_row_still_being_typed_does_not_blank_the_total():
    from engine.forms.state import form_state

    rows = [{"sku": "A-1", "qty": "2", "price": "9.95"}, {"qty": "1", "price": "0.10"}]  # 2nd: no SKU yet
    assert form_state(complaint(), {"items": rows})["values"]["total"] == "19.90"
