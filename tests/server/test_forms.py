"""Forms on pages: posted fields become typed values (also files), the live state answers form.js."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine.definitions.loader import load_definition
from engine.definitions.model import FieldDef, freeze, text
from engine.forms.state import form_state
from engine.runtime import count_records
from engine.specs import compile_app
from engine.store.models import Record
from server.forms import parse_form
from tests.support import complaint_form

ROOT = Path(__file__).resolve().parents[2]
PORTAL_NEW = "/portal/complaint/complaint/new"
STATE = "/api/v1/forms/complaint/complaint/state"


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


@pytest.fixture
def client(web):
    web.user("cathy")
    return web.client("cathy")


# --------------------------------------------------------------------------- the page's posts
def test_the_script_is_served(web):
    answer = web.anonymous().get("/assets/form.js")
    assert answer.status_code == 200 and "stateUrl" in answer.get_data(as_text=True)
    answer.close()


def test_a_posted_form_becomes_a_ticket_with_typed_values(web, client):
    answer = client.post(PORTAL_NEW + "?lang=en", data=good_post())
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/tickets/")
    assert count_records(web.db) == 1
    with web.db.read() as conn:
        data = conn.execute(select(Record.data)).scalar_one()
    assert data["product"] == ["phone", "screen"]
    assert data["items"] == [{"sku": "A-1", "qty": 2, "price": "10.50"}]
    assert data["total"] == "21.00" and data["refund"] == "120.00" and data["vip"] is False


def test_problems_in_sub_table_rows_are_shown_in_their_cells(web, client):
    data = good_post(refund="")
    data.setlist("items[0][qty]", ["0"])
    data.setlist("items[0][sku]", [""])
    answer = client.post(PORTAL_NEW + "?lang=en", data=data)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    items = field_html(page, "items")
    assert 'id="f-items-0-qty-error" role="alert"><p>Must be at least 1.</p>' in items
    assert 'id="f-items-0-sku-error" role="alert"><p>SKU is required.</p>' in items
    refund = field_html(page, "refund")
    assert "<p>Refund amount is required.</p>" in refund  # required_if: billing and P1
    assert '<option value="billing" selected>' in field_html(page, "category")
    assert count_records(web.db) == 0


# --------------------------------------------------------------------------- live state
def test_the_state_endpoint_answers_like_form_state(client):
    tspec = compile_app(load_definition(ROOT / "app_definitions" / "complaint.yaml").app).types["complaint"]
    values = {"category": "billing", "priority": "P1", "items": [{"sku": "A", "qty": 3, "price": "2.50"}]}
    answer = client.post(STATE + "?lang=en", json={"values": values})
    assert answer.status_code == 200
    assert answer.json == form_state(tspec, values, lang="en")
    assert answer.json["visible"]["refund"] and answer.json["required"]["refund"]
    assert answer.json["values"] == {"total": "7.50"}


def test_the_state_endpoint_reads_the_pages_fields(client):
    pairs = [
        ["category", "quality"],
        ["items[0][sku]", "A"],
        ["items[0][qty]", "4"],
        ["items[0][price]", "1.25"],
    ]
    state = client.post(STATE, json={"form": pairs}).json
    assert not state["visible"]["refund"] and state["values"] == {"total": "5.00"}


def test_the_state_endpoint_fills_in_what_the_ticket_page_does_not_post(web, client):
    """On the ticket page read-only fields are not posted: the ticket's own values count instead."""
    form = complaint_form(web.runtime.definition("complaint")[1], category="billing", priority="P3")
    ticket = web.runtime.submit("complaint", "complaint", form, actor=web.id("cathy"))
    state = client.post(STATE, json={"form": [["priority", "P1"]], "ticket": ticket.id}).json
    assert state["visible"]["refund"] and state["required"]["refund"]  # billing (the ticket's) and P1 (typed)
    web.user("dora")
    other = web.client("dora").post(STATE, json={"form": [], "ticket": ticket.id})
    assert other.status_code == 404  # not a way to read someone else's ticket


def test_the_state_endpoint_refuses_a_body_it_cannot_read(client):
    for body in ([1, 2], {"form": [["a"]]}, {"nothing": 1}):
        answer = client.post(STATE + "?lang=en", json=body)
        assert answer.status_code == 400 and answer.json["code"] == "render.state_body"


def test_the_state_endpoint_answers_signed_in_people_only(web):
    answer = web.anonymous().post(STATE, json={"values": {}})
    assert answer.status_code == 401


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
    field("pics", "image", multiple=True),
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
            ("doc", '{"id": "f1", "name": "report.pdf", "size": 10, "mime": "application/pdf"}'),
            ("pics", '[{"id": "p1", "name": "a.png", "size": 1, "mime": "image/png"}]'),
            ("pics", '{"id": "p2", "name": "b.png", "size": 2, "mime": "image/png"}'),
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
        "doc": [{"id": "f1", "name": "report.pdf", "size": 10, "mime": "application/pdf"}],
        "pics": [
            {"id": "p1", "name": "a.png", "size": 1, "mime": "image/png"},
            {"id": "p2", "name": "b.png", "size": 2, "mime": "image/png"},
        ],
        "rows": [{"sku": "A", "qty": 1.5, "ok": True}, {"sku": "B"}],
    }


def test_empty_and_unreadable_fields():
    form = MultiDict(
        [("name", " "), ("count", "twelve"), ("tags", ""), ("path", ""), ("when", "soon"), ("doc", "x.pdf")]
    )
    expected = {"count": "twelve", "when": "soon", "doc": ["x.pdf"]}
    assert parse_form(FIELDS, form) == expected  # the form reports these
    zoned = parse_form(FIELDS, MultiDict([("when", "2026-12-01T09:30-05:00")]), "+08:00")
    assert zoned == {"when": "2026-12-01T09:30-05:00"}
    local = parse_form(FIELDS, MultiDict([("when", "2026-12-01T09:30")]), "nonsense")["when"]
    assert local.startswith("2026-12-01T09:30:00") and local[19] in "+-"
