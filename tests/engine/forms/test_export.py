"""Ticket values as spreadsheet cells, for every field type."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine.definitions.loader import load_definition
from engine.forms.export import EXPORTERS, export_header, export_row
from engine.forms.fields import FIELD_TYPES

APPS = Path(__file__).resolve().parents[3] / "app_definitions"


def test_every_field_type_has_an_exporter():
    assert set(EXPORTERS) == set(FIELD_TYPES)


def test_a_ticket_becomes_readable_cells_in_form_order():
    complaint = load_definition(APPS / "complaint.yaml").app.ticket_type("complaint")
    data = {
        "customer": "ACME",
        "vip": True,
        "product": ["phone", "battery"],
        "refund": "120.50",
        "detail": "<p>电池<b>鼓包</b></p>",
        "screenshots": [{"id": "f1", "name": "a.png", "size": 1, "mime": "image/png"}],
        "items": [{"sku": "A-1"}, {"sku": "A-2"}],
        "total": "20.00",
    }
    header = export_header(complaint, "en")
    cells = dict(zip(header, export_row(complaint, data, "en"), strict=True))
    assert cells["Customer"] == "ACME"
    assert cells["VIP customer"] == "yes"
    assert cells["Product / module"] == "phone / battery"
    assert cells["Refund amount"] == Decimal("120.50")
    assert cells["Details"] == "电池 鼓包"
    assert cells["Screenshots"] == "a.png"
    assert cells["Items concerned"] == 2
    assert cells["Items total"] == Decimal("20.00")
    assert cells["Phone"] is None
    assert (
        dict(zip(export_header(complaint, "zh"), export_row(complaint, data, "zh"), strict=True))["VIP 客户"]
        == "是"
    )
