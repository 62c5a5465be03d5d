"""The designer's form preview draws user and department fields as the pickers of names a ticket
page draws (not a box for a numeric id), over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.people import create_department

DRAFT = "/api/v1/apps/complaint/draft"


def _select(html: str, name: str) -> str:
    """The <select> named ``name`` in ``html`` (empty when the field is not a picker)."""
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>.*?</select>', html, re.S)
    return found.group(0) if found else ""


@pytest.fixture
def site(web):
    web.user("ann", roles={"complaint": ["agent"]})
    create_department(web.db, "客服二组")
    return web


def _with_a_department_field(definition: dict[str, Any]) -> dict[str, Any]:
    sections = definition["ticket_types"]["complaint"]["form"]["sections"]
    resolution = next(s for s in sections if s["id"] == "resolution")
    resolution["fields"].append(
        {"key": "handling_team", "type": "department", "label": {"zh": "处理部门", "en": "Handling team"}}
    )
    return definition


def test_the_preview_offers_colleagues_and_departments_by_name(site):
    admin = site.client("admin")
    definition = _with_a_department_field(admin.get(DRAFT).json["definition"])

    html = admin.post(
        DRAFT + "/preview",
        json={"definition": definition, "ticket_type": "complaint", "stage": "triage"},
    ).json["html"]
    owner = _select(html, "owner")
    assert "选择同事…" in owner
    assert "Ann (ann)" in owner and "Admin (admin)" in owner  # people by name, not an id to type
    assert 'type="number"' not in re.search(r'<div[^>]*data-field="owner".*?</div>', html, re.S).group(0)
    team = _select(html, "handling_team")
    assert "选择部门…" in team and "客服二组" in team


def test_the_preview_names_whom_sample_data_already_names(site):
    admin = site.client("admin")
    definition = admin.get(DRAFT).json["definition"]
    ann = site.id("ann")
    # At the resolve step the owner is read-only: the preview shows the chosen colleague's name.
    html = admin.post(
        DRAFT + "/preview",
        json={"definition": definition, "ticket_type": "complaint", "stage": "fix", "data": {"owner": ann}},
    ).json["html"]
    owner = _select(html, "owner")
    assert re.search(rf'<option value="{ann}" selected>Ann \(ann\)</option>', owner), owner
