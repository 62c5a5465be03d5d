"""Every field type, value by value: what is stored, or which error refuses it.

Each case builds a one-field form through the real loader and compiler, submits ``{"f": value}``
and compares the stored value (or the problems, with their paths).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.definitions.loader import load_definition
from engine.errors import FormError
from engine.files import FileRefused, LocalStorage
from engine.forms.fields import FIELD_TYPES, LONG_TEXT_LIMIT
from engine.forms.spec import FormSpec
from engine.runtime import count_records
from engine.specs import compile_app
from tests.support import complaint_form

MIB = 1024 * 1024
TEN_MB_OF_TEXT = "工" * (10 * MIB // 3)  # 10 MB of UTF-8


def one_field_app(field: dict[str, Any]) -> dict[str, Any]:
    """The smallest app whose one ticket type has one field, ``f``."""
    return {
        "app": "one",
        "name": {"zh": "单字段", "en": "One field"},
        "option_sets": {"levels": ["high", "low"]},
        "ticket_types": {
            "t": {
                "name": {"zh": "工单", "en": "Ticket"},
                "number": "T-{seq:4}",
                "form": {"sections": [{"id": "main", "fields": [field]}]},
                "flow": {
                    "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
                    "edges": [["start", "end"]],
                },
            }
        },
    }


@functools.cache
def _form(field_json: str) -> FormSpec:
    loaded = load_definition(one_field_app(json.loads(field_json)))
    return compile_app(loaded.app).types["t"].form


def one_field_form(ftype: str, **options: Any) -> FormSpec:
    return _form(json.dumps({"key": "f", "type": ftype, **options}, sort_keys=True))


@dataclass(frozen=True)
class Refused:
    code: str
    path: str = "f"


def outcome(form: FormSpec, data: dict[str, Any]) -> Any:
    """The stored value of ``f``, or the set of (path, code) problems."""
    try:
        return form.validate(data).get("f")
    except FormError as err:
        return {(p.path, p.code) for p in err.problems}


# --------------------------------------------------------------------------- file references
def ref(mime: str = "image/png", size: int = 2048, name: str = "a.png", **extra: Any) -> dict[str, Any]:
    return {"id": "0123456789abcdef0123456789abcdef", "name": name, "size": size, "mime": mime, **extra}


PNG_REF, PDF_REF = ref(), ref("application/pdf", name="a.pdf")
TWO_GB_REF = ref(size=2 * 1024 * MIB, name="huge.png")


# --------------------------------------------------------------------------- the table
CASCADE = [{"value": "hw", "children": [{"value": "printer"}, {"value": "screen"}]}, {"value": "sw"}]
SUBTABLE = [{"key": "qty", "type": "number", "min": 1}, {"key": "sku", "type": "text", "required": True}]
CASES = [
    # --- text
    ("text", {}, "hello", "hello"),
    ("text", {}, 42, "42"),
    ("text", {}, True, Refused("field.not_text")),
    ("text", {}, {"a": 1}, Refused("field.not_text")),
    ("text", {}, ["a"], Refused("field.not_text")),
    ("text", {}, "x" * 1001, Refused("field.too_long")),
    ("text", {}, TEN_MB_OF_TEXT, Refused("field.too_long")),
    ("text", {"min_length": 3}, "ab", Refused("field.too_short")),
    ("text", {"pattern": "^[A-Z]{2}-[0-9]+$"}, "IT-42", "IT-42"),
    ("text", {"pattern": "^[A-Z]{2}-[0-9]+$"}, "it 42", Refused("field.pattern")),
    # --- textarea
    ("textarea", {}, "第一行\n第二行", "第一行\n第二行"),
    ("textarea", {}, TEN_MB_OF_TEXT, Refused("field.too_long")),
    ("textarea", {"max_length": 5}, "123456", Refused("field.too_long")),
    ("textarea", {}, 3.5, "3.5"),
    ("textarea", {}, None, None),
    # --- richtext: cleaned, then measured
    ("richtext", {}, "<p>hi <b>there</b></p>", "<p>hi <b>there</b></p>"),
    ("richtext", {}, "<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
    ("richtext", {}, "<script>alert(1)</script>", None),
    ("richtext", {}, "<style>p{}</style><p onclick='steal()'>x</p>", "<p>x</p>"),
    (
        "richtext",
        {},
        '<p><a href="javascript:alert(1)">x</a></p>',
        '<p><a rel="noopener noreferrer nofollow">x</a></p>',
    ),
    (
        "richtext",
        {},
        '<a href="https://example.com">x</a>',
        '<a href="https://example.com" rel="noopener noreferrer nofollow">x</a>',
    ),
    ("richtext", {}, '<img src="/files/abc123" alt="s">', '<img src="/files/abc123" alt="s">'),
    ("richtext", {}, '<img src="https://e.com/a.png" onerror="x()">', '<img src="https://e.com/a.png">'),
    ("richtext", {}, '<img src="data:image/png;base64,AAAA">', "<img>"),
    ("richtext", {}, '<img src="//evil.example/a.png">', "<img>"),
    ("richtext", {}, '<img src="/files/../../etc/passwd">', "<img>"),
    ("richtext", {}, "<iframe src='https://x'></iframe><h5>t</h5>", "t"),
    (
        "richtext",
        {},
        "<table><tr><td colspan=2 style='x'>1</td></tr></table>",
        '<table><tbody><tr><td colspan="2">1</td></tr></tbody></table>',
    ),
    ("richtext", {}, "a < b & c", "a &lt; b &amp; c"),
    (
        "richtext",
        {"max_length": 20},
        "<p>aaaaaaaaaa</p><script>" + "x" * 40 + "</script>",
        "<p>aaaaaaaaaa</p>",
    ),
    ("richtext", {"max_length": 20}, "<b>" + "a" * 30 + "</b>", Refused("field.too_long")),
    ("richtext", {}, TEN_MB_OF_TEXT, Refused("field.too_long")),
    ("richtext", {}, "x" * (LONG_TEXT_LIMIT + 1), Refused("field.too_long")),
    ("richtext", {}, True, Refused("field.not_text")),
    # --- email
    ("email", {}, "  a.b@example.cn ", "a.b@example.cn"),
    ("email", {}, "not-an-email", Refused("field.email")),
    ("email", {}, 5, Refused("field.email")),
    # --- phone: stored normalised
    ("phone", {}, "13800138000", "13800138000"),
    ("phone", {}, "138-0013-8000", "13800138000"),
    ("phone", {}, " 138 0013 8000 ", "13800138000"),
    ("phone", {}, 13800138000, "13800138000"),
    ("phone", {}, "+86 138 0013 8000", "+8613800138000"),
    ("phone", {}, "+1 (415) 555-2671", "+14155552671"),
    ("phone", {}, "010-12345678", "010-12345678"),
    ("phone", {}, "0755-1234567", "0755-1234567"),
    ("phone", {}, "0755-1234567-123", "0755-1234567-123"),
    ("phone", {}, "(010) 12345678", "010-12345678"),
    ("phone", {}, "01012345678", "010-12345678"),
    ("phone", {}, "０１０－１２３４５６７８", "010-12345678"),  # full-width, as typed by a Chinese IME
    ("phone", {}, "12800138000", Refused("field.phone")),  # no mobile numbers start with 12
    ("phone", {}, "1380013800", Refused("field.phone")),  # one digit short
    ("phone", {}, "+0123456789", Refused("field.phone")),
    ("phone", {}, "+123456", Refused("field.phone")),
    ("phone", {}, "+1234567890123456", Refused("field.phone")),
    ("phone", {}, "0101-1234567", Refused("field.phone")),
    ("phone", {}, "call me", Refused("field.phone")),
    ("phone", {}, True, Refused("field.not_text")),
    ("phone", {}, "1" * 40, Refused("field.too_long")),
    ("phone", {"pattern": "^[0-9]{3}$"}, "110", "110"),
    ("phone", {"pattern": "^[0-9]{3}$"}, "13800138000", Refused("field.pattern")),
    # --- url
    ("url", {}, "https://example.com/a?b=1", "https://example.com/a?b=1"),
    ("url", {}, "javascript:alert(1)", Refused("field.url")),
    ("url", {}, "ftp://example.com", Refused("field.url")),
    # --- number
    ("number", {}, 42, 42),
    ("number", {}, "42", 42),
    ("number", {}, " 3.5 ", 3.5),
    ("number", {}, "abc", Refused("field.not_number")),
    ("number", {}, "1" * 400, Refused("field.not_number")),
    ("number", {}, 10**400, Refused("field.number_too_big")),
    ("number", {}, True, Refused("field.not_number")),
    ("number", {}, float("nan"), Refused("field.not_number")),
    ("number", {}, "inf", Refused("field.not_number")),
    ("number", {}, [1], Refused("field.not_number")),
    ("number", {"min": 0}, -5, Refused("field.too_small")),
    ("number", {"max": 10}, 11, Refused("field.too_large")),
    ("number", {"precision": 0}, 1.5, Refused("field.not_integer")),
    ("number", {"precision": 2}, 1.234, 1.23),
    # --- money: exact text
    ("money", {}, "120.00", "120.00"),
    ("money", {}, 120, "120.00"),
    ("money", {}, 0.1, "0.10"),
    ("money", {}, "12.345", Refused("field.too_precise")),
    ("money", {}, 12.345, Refused("field.too_precise")),
    ("money", {}, "abc", Refused("field.not_number")),
    ("money", {}, "9" * 400, Refused("field.not_number")),
    ("money", {}, True, Refused("field.not_number")),
    ("money", {}, "1e20", Refused("field.number_too_big")),
    ("money", {"min": 0}, "-1", Refused("field.too_small")),
    # --- rating
    ("rating", {}, 4, 4),
    ("rating", {}, "5", 5),
    ("rating", {}, 6, Refused("field.rating_range")),
    ("rating", {}, 2.5, Refused("field.rating_range")),
    ("rating", {}, "many", Refused("field.not_number")),
    ("rating", {}, True, Refused("field.not_number")),
    # --- date and datetime
    ("date", {}, "2026-02-28", "2026-02-28"),
    ("date", {}, "2026-02-30", Refused("field.date")),
    ("date", {}, "tomorrow", Refused("field.date")),
    ("date", {}, True, Refused("field.date")),
    ("datetime", {}, "2026-12-01T09:00:00+08:00", "2026-12-01T09:00:00+08:00"),
    ("datetime", {}, "2026-12-01T01:00:00Z", "2026-12-01T01:00:00+00:00"),
    ("datetime", {}, "2026-12-01T09:00:00", Refused("field.datetime_zone")),
    ("datetime", {}, "2026-02-30T09:00:00+08:00", Refused("field.datetime")),
    ("datetime", {}, 1767225600, Refused("field.datetime")),
    # --- checkbox
    ("checkbox", {}, True, True),
    ("checkbox", {}, "false", False),
    ("checkbox", {}, 0, False),
    ("checkbox", {}, "yes", Refused("field.boolean")),
    ("checkbox", {}, 2, Refused("field.boolean")),
    # --- choices
    ("select", {"options": ["a", "b"]}, "a", "a"),
    ("select", {"options": ["a", "b"]}, "z", Refused("field.not_an_option")),
    ("select", {"options": ["a", "b"]}, ["a"], Refused("field.not_an_option")),
    ("select", {"options_from": "levels"}, "high", "high"),
    ("select", {"options_from": "levels"}, "urgent", Refused("field.not_an_option")),
    ("radio", {"options": [{"value": "P1"}, {"value": "P2"}]}, "P2", "P2"),
    ("radio", {"options": [{"value": "P1"}, {"value": "P2"}]}, "P9", Refused("field.not_an_option")),
    ("multiselect", {"options": ["a", "b"]}, ["a", "b"], ["a", "b"]),
    ("multiselect", {"options": ["a", "b"]}, "a", Refused("field.not_a_list")),
    ("multiselect", {"options": ["a", "b"]}, ["a", "z"], Refused("field.not_an_option")),
    ("cascade", {"options": CASCADE}, ["hw", "printer"], ["hw", "printer"]),
    ("cascade", {"options": CASCADE}, "hw/screen", ["hw", "screen"]),
    ("cascade", {"options": CASCADE}, ["hw", "scanner"], Refused("field.not_an_option")),
    ("cascade", {"options": CASCADE}, 5, Refused("field.cascade_path")),
    # --- references
    ("user", {}, 7, 7),
    ("user", {}, "7", 7),
    ("user", {}, "alice", Refused("field.reference")),
    ("user", {}, True, Refused("field.reference")),
    ("user", {"multiple": True}, [1, "2"], [1, 2]),
    ("department", {}, 3, 3),
    ("department", {}, -1, Refused("field.reference")),
    ("link", {"target": {"ticket_type": "t"}}, 12, 12),
    ("link", {"target": {"ticket_type": "t"}}, "T-0001", Refused("field.reference")),
    # --- attachments: references made by the upload endpoint from Storage.put
    ("attachment", {}, PDF_REF, [PDF_REF]),
    ("attachment", {}, [PDF_REF], [PDF_REF]),
    ("attachment", {}, ref("application/pdf", sha256="x", url="https://x"), [ref("application/pdf")]),
    ("attachment", {}, ref(name="../../x.png"), [ref(name="x.png")]),
    ("attachment", {"max_size_mb": 20}, TWO_GB_REF, Refused("field.file_too_large")),
    ("attachment", {}, ref(size=101 * MIB), Refused("field.file_too_large")),  # 100 MB without a limit
    ("attachment", {"max_size_mb": 0.5}, ref(size=MIB // 2), [ref(size=MIB // 2)]),
    ("attachment", {}, "0123456789abcdef0123456789abcdef", Refused("field.file")),
    ("attachment", {}, {"id": "0123456789abcdef0123456789abcdef"}, Refused("field.file")),
    ("attachment", {}, ref(size=True), Refused("field.file")),
    ("attachment", {}, ref(size="2048"), Refused("field.file")),
    ("attachment", {}, ref(size=-1), Refused("field.file")),
    ("attachment", {}, ref(size=10**400), Refused("field.file")),
    ("attachment", {}, ref(size=float("inf")), Refused("field.file")),
    ("attachment", {}, ref(mime="image/png" + " " * 200), Refused("field.file")),
    ("attachment", {}, ref(size=2048.0), [ref(size=2048)]),
    ("attachment", {}, dict(ref(), id="../../etc/passwd"), Refused("field.file")),
    ("attachment", {}, 42, Refused("field.file")),
    ("attachment", {}, ref("text/html", name="a.html"), Refused("field.file_type")),
    ("attachment", {}, ref("application/x-msdownload", name="a.exe"), Refused("field.file_type")),
    ("attachment", {"accept": [".pdf"]}, PDF_REF, [PDF_REF]),
    ("attachment", {"accept": [".pdf"]}, ref(name="a.pdf"), Refused("field.file_type")),  # PNG content
    ("attachment", {"accept": ["application/pdf", "image/*"]}, PNG_REF, [PNG_REF]),
    ("attachment", {"accept": ["video/*"]}, PNG_REF, Refused("field.file_type")),
    ("attachment", {}, [PDF_REF, PNG_REF], Refused("field.one_file")),
    ("attachment", {"multiple": True}, [PDF_REF, PNG_REF], [PDF_REF, PNG_REF]),
    ("attachment", {"multiple": True}, [PDF_REF] * 101, Refused("field.too_many_files")),
    # --- images
    ("image", {}, PNG_REF, [PNG_REF]),
    ("image", {}, ref("image/webp", name="a.webp"), [ref("image/webp", name="a.webp")]),
    ("image", {}, ref("application/pdf", name="photo.png"), Refused("field.not_image")),  # sniffed: a PDF
    ("image", {}, ref("image/svg+xml", name="a.svg"), Refused("field.not_image")),
    ("image", {"accept": ["image/png"]}, ref("image/jpeg", name="a.jpg"), Refused("field.file_type")),
    ("image", {"max_size_mb": 10}, TWO_GB_REF, Refused("field.file_too_large")),
    # --- sub-tables: problems point into the row
    ("subtable", {"fields": SUBTABLE}, [{"qty": "3", "sku": "A-1"}], [{"qty": 3, "sku": "A-1"}]),
    ("subtable", {"fields": SUBTABLE}, "rows", Refused("field.not_a_list")),
    (
        "subtable",
        {"fields": SUBTABLE},
        [{"qty": "many", "sku": "A"}],
        Refused("field.not_number", "f[0].qty"),
    ),
    ("subtable", {"fields": SUBTABLE}, [{"sku": "A"}, {"qty": 1}], Refused("form.required", "f[1].sku")),
    (
        "subtable",
        {"fields": SUBTABLE},
        [{"sku": "A", "colour": 1}],
        Refused("form.unknown_field", "f[0].colour"),
    ),
    (
        "subtable",
        {"fields": SUBTABLE, "max_rows": 1},
        [{"sku": "A"}, {"sku": "B"}],
        Refused("field.too_many_rows"),
    ),
    ("subtable", {"fields": SUBTABLE}, ["row"], Refused("form.not_an_object", "f[0]")),
    # --- computed: never typed in
    ("formula", {"expr": "1 + 1"}, 5, Refused("form.readonly_field")),
    ("autonumber", {"format": "N-{seq:4}"}, "N-0001", Refused("form.readonly_field")),
]


def _case_id(case: tuple[str, dict[str, Any], Any, Any]) -> str:
    ftype, options, value, expected = case
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    verdict = expected.code if isinstance(expected, Refused) else "ok"
    return f"{ftype}{'+' + ','.join(options) if options else ''}:{shown}->{verdict}"


@pytest.mark.parametrize(("ftype", "options", "value", "expected"), CASES, ids=[_case_id(c) for c in CASES])
def test_each_field_type_stores_or_refuses_each_value(ftype, options, value, expected):
    got = outcome(one_field_form(ftype, **options), {"f": value})
    if isinstance(expected, Refused):
        assert got == {(expected.path, expected.code)}
    else:
        assert got == expected


def test_every_field_type_is_in_the_table():
    tested = {ftype for ftype, *_ in CASES}
    assert set(FIELD_TYPES) <= tested, f"add cases for {sorted(set(FIELD_TYPES) - tested)}"
    refused = {ftype for ftype, _, _, expected in CASES if isinstance(expected, Refused)}
    stored = {ftype for ftype, _, _, expected in CASES if not isinstance(expected, Refused)}
    assert refused == set(FIELD_TYPES)
    assert stored == {name for name, ftype in FIELD_TYPES.items() if not ftype.computed}


def test_a_formula_is_computed_rather_than_typed_in():
    assert outcome(one_field_form("formula", expr="1 + 1"), {}) == 2


def test_unknown_field_names_are_refused_by_name():
    form = one_field_form("text")
    with pytest.raises(FormError) as caught:
        form.validate({"f": "ok", "colour": "red", "__proto__": 1})
    problems = {p.path: p for p in caught.value.problems}
    assert set(problems) == {"colour", "__proto__"}
    assert problems["colour"].code == "form.unknown_field"
    assert problems["colour"].params["field"] == "colour"
    assert "colour" in problems["colour"].message("en") and "colour" in problems["colour"].message("zh")


@pytest.mark.parametrize(
    ("ftype", "options", "value"),
    [(ftype, options, value) for ftype, options, value, expected in CASES if isinstance(expected, Refused)],
)
def test_every_refusal_explains_itself_in_both_languages(ftype, options, value):
    with pytest.raises(FormError) as caught:
        one_field_form(ftype, **options).validate({"f": value})
    for problem in caught.value.problems:
        for lang in ("zh", "en"):
            text = problem.message(lang)
            assert text and not text.startswith(problem.code) and "…" not in text, (lang, text)


# --------------------------------------------------------------------------- through the storage
@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(64)
PDF_BYTES = b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + bytes(64)


def test_an_uploaded_image_is_accepted_by_an_image_field(storage):
    reference = storage.put([PNG_BYTES], "截图.png", MIB).reference()
    assert outcome(one_field_form("image", accept=["image/*"]), {"f": reference}) == [reference]


def test_a_pdf_named_png_is_stored_as_a_pdf_and_refused_by_an_image_field(storage):
    reference = storage.put([PDF_BYTES], "photo.png", MIB).reference()
    assert reference["mime"] == "application/pdf"
    assert outcome(one_field_form("image"), {"f": reference}) == {("f", "field.not_image")}
    assert outcome(one_field_form("attachment", accept=[".pdf"]), {"f": reference}) == [reference]


def test_an_executable_named_png_never_becomes_a_reference(storage):
    with pytest.raises(FileRefused) as refused:
        storage.put([ELF_BYTES], "photo.png", MIB)
    assert refused.value.code == "file.executable"
    assert "程序" in refused.value.message("zh") and "Programs" in refused.value.message("en")


# --------------------------------------------------------------------------- end to end, both databases
@pytest.fixture
def ticket_data(runtime, complaint_app) -> dict[str, Any]:
    return complaint_form(runtime.definition("complaint")[1])


def test_submitted_values_are_stored_cleaned(runtime, ticket_data):
    screenshot = ref(name="screen.png")
    ticket = runtime.submit(
        "complaint",
        "complaint",
        dict(
            ticket_data,
            phone="138 0013 8000",
            detail="<p>退款<script>alert(1)</script></p>",
            screenshots=[screenshot],
            refund="12.5",
        ),
    )
    assert ticket.data["phone"] == "13800138000"
    assert ticket.data["detail"] == "<p>退款</p>"
    assert ticket.data["screenshots"] == [screenshot]
    assert ticket.data["refund"] == "12.50"
    assert runtime.ticket(ticket.id).data == ticket.data  # as read back from the database


def test_a_submit_with_many_bad_fields_reports_each_with_its_path_and_writes_nothing(
    runtime, db, ticket_data
):
    runtime.submit("complaint", "complaint", ticket_data)
    before = count_records(db)
    bad = dict(
        ticket_data,
        customer=True,
        phone="call me maybe",
        email="nobody",
        order_no="so 1",
        category="unknown",
        summary=TEN_MB_OF_TEXT,
        detail="<p>" + TEN_MB_OF_TEXT + "</p>",
        screenshots=[ref(name="ok.png"), TWO_GB_REF],
        items=[{"sku": "A-1", "qty": "12" * 200, "price": "9.999"}],
        colour="red",
    )
    with pytest.raises(FormError) as caught:
        runtime.submit("complaint", "complaint", bad)
    assert {p.path: p.code for p in caught.value.problems} == {
        "customer": "field.not_text",
        "phone": "field.phone",
        "email": "field.email",
        "order_no": "field.pattern",
        "category": "field.not_an_option",
        "summary": "field.too_long",
        "detail": "field.too_long",
        "screenshots": "field.file_too_large",
        "items[0].qty": "field.not_number",
        "items[0].price": "field.too_precise",
        "colour": "form.unknown_field",
    }
    rendered = caught.value.render("en")
    assert all(path in rendered for path in ("phone", "screenshots", "items[0].qty", "colour"))
    assert count_records(db) == before


def test_every_accepted_value_survives_the_database_unchanged(runtime):
    """Each accepted case of the table, stored in one ticket and read back (JSON on SQLite, JSONB
    on PostgreSQL): what the engine cleaned is exactly what the database gives back."""
    accepted = [
        (ftype, options, value, expected)
        for ftype, options, value, expected in CASES
        if not isinstance(expected, Refused)
        and ftype not in ("user", "department", "link", "formula", "autonumber")
    ]
    fields = [{**options, "key": f"f{i}", "type": ftype} for i, (ftype, options, _, _) in enumerate(accepted)]
    app = one_field_app(fields[0])
    app["ticket_types"]["t"]["form"]["sections"][0]["fields"] = fields
    runtime.publish(app)
    ticket = runtime.submit("one", "t", {f"f{i}": value for i, (_, _, value, _) in enumerate(accepted)})
    stored = runtime.ticket(ticket.id).data
    for i, (ftype, options, value, expected) in enumerate(accepted):
        assert stored.get(f"f{i}") == expected, (ftype, options, value)
