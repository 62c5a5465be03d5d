"""The form pages: render, submit (all problems beside their fields, or a ticket), live state."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine.bootstrap import open_platform
from engine.config import load_settings
from engine.definitions.loader import load_definition
from engine.definitions.model import FieldDef, freeze, text
from engine.forms.state import form_state
from engine.runtime import count_records
from engine.specs import compile_app
from engine.store.models import Record
from server import create_app
from server.forms import parse_form

ROOT = Path(__file__).resolve().parents[2]
FORM = "/forms/complaint/complaint"
STATE = "/api/v1/forms/complaint/complaint/state"


@pytest.fixture
def site(database_url, tmp_path, complaint_app):
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url})
    platform = open_platform(settings, immediate=True)
    yield create_app(platform).test_client(), platform
    platform.close()


def field_html(page: str, key: str) -> str:
    """The markup of one field's wrapper (wrappers never nest: cells are not wrappers)."""
    start = page.index(f'data-field="{key}"')
    ends = [i for i in (page.find('<div class="gd-field', start), page.find("</fieldset>", start)) if i != -1]
    return page[start : min(ends)]


def good_post(**changes: str) -> MultiDict:
    data = MultiDict(
        [
            ("customer", "ACME 有限公司"),
            ("phone", "13800138000"),
            ("vip", "false"),  # disabled on the page; a browser would not send it, the parser must not care
            ("product", "phone"),
            ("product", "screen"),
            ("category", "billing"),
            ("priority", "P1"),
            ("summary", "退款未到账"),
            ("refund", "120.00"),
            ("items[0][sku]", "A-1"),
            ("items[0][qty]", "2"),
            ("items[0][price]", "10.50"),
            ("items[1][sku]", ""),  # a row added and left blank
            ("items[1][qty]", ""),
            ("items[1][price]", ""),
            ("_tz", "+08:00"),
        ]
    )
    data.pop("vip")
    for key, value in changes.items():
        data.setlist(key, [value])
    return data


# --------------------------------------------------------------------------- pages
def test_the_form_page_renders_in_the_language(site):
    client, _ = site
    en = client.get(FORM + "?lang=en")
    zh = client.get(FORM, headers={"Accept-Language": "zh-CN"})
    assert en.status_code == zh.status_code == 200
    page = en.get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Customer complaint</h1>" in page
    assert (
        '<form method="post" novalidate data-state-url="/api/v1/forms/complaint/complaint/state?lang=en">'
        in page
    )
    assert '<label for="f-customer" id="f-customer-label" class="gd-label">Customer' in page
    assert '<script src="/static/form.js" defer></script>' in page and ".gd-grid" in page
    assert "客户名称" in zh.get_data(as_text=True)


def test_the_script_is_served(site):
    client, _ = site
    answer = client.get("/static/form.js")
    assert answer.status_code == 200 and "stateUrl" in answer.get_data(as_text=True)
    answer.close()


def test_an_unknown_app_or_ticket_type_is_404(site):
    client, _ = site
    assert client.get("/forms/nope/complaint?lang=en").status_code == 404
    answer = client.get("/forms/complaint/nope?lang=en")
    assert answer.status_code == 404 and "nope" in answer.get_data(as_text=True)
    as_json = client.get("/forms/complaint/nope?lang=en", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json["code"] == "runtime.unknown_ticket_type"


def test_a_bad_post_shows_every_problem_beside_its_field_and_writes_nothing(site):
    client, platform = site
    data = good_post(customer="", phone="call me", refund="", summary="<script>alert(1)</script>")
    data.setlist("product", [""])
    data.setlist("items[0][qty]", ["0"])
    data.setlist("items[0][sku]", [""])
    answer = client.post(FORM + "?lang=en", data=data)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    expected = {
        "customer": "Customer is required.",
        "phone": "Enter a valid phone number.",
        "product": "Product / module is required.",
        "refund": "Refund amount is required.",  # required_if: billing and P1
    }
    for key, message in expected.items():
        wrapper = field_html(page, key)
        assert f'<div class="gd-error" id="f-{key}-error" role="alert"><p>{message}</p>' in wrapper, key
        assert 'aria-invalid="true"' in wrapper
    items = field_html(page, "items")
    assert 'id="f-items-0-qty-error" role="alert"><p>Must be at least 1.</p>' in items
    assert 'id="f-items-0-sku-error" role="alert"><p>SKU is required.</p>' in items
    assert "6 problem(s)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in field_html(page, "summary")  # the input is kept
    assert '<option value="billing" selected>' in field_html(page, "category")
    assert count_records(platform.db) == 0


def test_a_good_post_creates_the_ticket_and_shows_its_number(site):
    client, platform = site
    answer = client.post(FORM + "?lang=en", data=good_post())
    assert answer.status_code == 303
    where = urlsplit(answer.headers["Location"])
    assert where.path == FORM + "/submitted"
    number = parse_qs(where.query)["number"][0]
    assert number.startswith("TS-") and number.endswith("-0001")
    assert parse_qs(where.query)["lang"] == ["en"]
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Ticket {number} has been submitted." in shown
    assert count_records(platform.db) == 1
    with platform.db.read() as conn:
        data = conn.execute(select(Record.data)).scalar_one()
    assert data["product"] == ["phone", "screen"]
    assert data["items"] == [{"sku": "A-1", "qty": 2, "price": "10.50"}]
    assert data["total"] == "21.00" and data["refund"] == "120.00" and data["vip"] is False


def test_the_submitted_page_speaks_chinese_too(site):
    client, _ = site
    page = client.get(FORM + "/submitted?number=TS-202611-0042&lang=zh").get_data(as_text=True)
    assert "工单 TS-202611-0042 已提交" in page


# --------------------------------------------------------------------------- live state
def test_the_state_endpoint_answers_like_form_state(site):
    client, _ = site
    tspec = compile_app(load_definition(ROOT / "app_definitions" / "complaint.yaml").app).types["complaint"]
    values = {"category": "billing", "priority": "P1", "items": [{"sku": "A", "qty": 3, "price": "2.50"}]}
    answer = client.post(STATE + "?lang=en", json={"values": values})
    assert answer.status_code == 200
    assert answer.json == form_state(tspec, values, lang="en")
    assert answer.json["visible"]["refund"] and answer.json["required"]["refund"]
    assert answer.json["values"] == {"total": "7.50"}


def test_the_state_endpoint_reads_the_pages_fields(site):
    client, _ = site
    pairs = [
        ["category", "quality"],
        ["items[0][sku]", "A"],
        ["items[0][qty]", "4"],
        ["items[0][price]", "1.25"],
    ]
    state = client.post(STATE, json={"form": pairs}).json
    assert not state["visible"]["refund"] and state["values"] == {"total": "5.00"}


def test_the_state_endpoint_refuses_a_body_it_cannot_read(site):
    client, _ = site
    for body in ([1, 2], {"form": [["a"]]}, {"nothing": 1}):
        answer = client.post(STATE + "?lang=en", json=body)
        assert answer.status_code == 400 and answer.json["code"] == "render.state_body"


# --------------------------------------------------------------------------- parsing posts
def field(key: str, ftype: str, *columns: FieldDef, **options) -> FieldDef:
    return FieldDef(key, ftype, text(key), freeze(options), tuple(columns))


FIELDS = (
    field("name", "text"),
    field("count", "number"),
    field("price", "money"),
    field("stars", "rating"),
    field("flag", "checkbox"),
    field("off", "checkbox"),
    field("tags", "multiselect"),
    field("path", "cascade"),
    field("owner", "user"),
    field("teams", "department", multiple=True),
    field("when", "datetime"),
    field("doc", "attachment"),
    field("rows", "subtable", field("sku", "text"), field("qty", "number"), field("ok", "checkbox")),
)


def test_posted_fields_become_typed_values():
    form = MultiDict(
        [
            ("name", "  x  "),
            ("count", "12"),
            ("price", "3.50"),
            ("stars", "4"),
            ("flag", "false"),
            ("flag", "true"),
            ("off", "false"),
            ("tags", "a"),
            ("tags", "c"),
            ("path", "hw"),
            ("path", "printer"),
            ("path", ""),
            ("owner", "7"),
            ("teams", "3, 4，5"),
            ("when", "2026-12-01T09:30"),
            ("doc", "report.pdf"),
            ("rows[10][sku]", "B"),
            ("rows[2][sku]", "A"),
            ("rows[2][qty]", "1.5"),
            ("rows[2][ok]", "false"),
            ("rows[2][ok]", "true"),
            ("rows[5][sku]", ""),
            ("unknown", "x"),
        ]
    )
    assert parse_form(FIELDS, form, "+08:00") == {
        "name": "  x  ",
        "count": 12,
        "price": "3.50",
        "stars": 4,
        "flag": True,
        "off": False,
        "tags": ["a", "c"],
        "path": ["hw", "printer"],
        "owner": 7,
        "teams": [3, 4, 5],
        "when": "2026-12-01T09:30:00+08:00",
        "rows": [{"sku": "A", "qty": 1.5, "ok": True}, {"sku": "B"}],
    }


def test_empty_and_unreadable_fields():
    form = MultiDict([("name", " "), ("count", "twelve"), ("tags", ""), ("path", ""), ("when", "soon")])
    assert parse_form(FIELDS, form) == {"count": "twelve", "when": "soon"}  # the form reports these
    zoned = parse_form(FIELDS, MultiDict([("when", "2026-12-01T09:30-05:00")]), "+08:00")
    assert zoned == {"when": "2026-12-01T09:30-05:00"}
    local = parse_form(FIELDS, MultiDict([("when", "2026-12-01T09:30")]), "nonsense")["when"]
    assert local.startswith("2026-12-01T09:30:00") and local[19] in "+-"
