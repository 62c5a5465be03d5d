"""What changed between two versions of a definition, as a person reviewing an import reads it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engine.definitions.diff import Change, diff
from engine.definitions.loader import load_definition

ROOT = Path(__file__).resolve().parents[3]
IT_OPS = ROOT / "app_definitions" / "it_ops.yaml"

TT = "ticket_types.request"
SECTIONS = f"{TT}.form.sections"


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return load_definition(IT_OPS).data


@pytest.fixture
def new(base) -> dict[str, Any]:
    return copy.deepcopy(base)


def section(data: dict[str, Any], section_id: str) -> dict[str, Any]:
    return next(s for s in data["ticket_types"]["request"]["form"]["sections"] if s["id"] == section_id)


def nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["ticket_types"]["request"]["flow"]["nodes"]


def test_identical_definitions_have_no_changes(base, new):
    assert diff(base, new) == []
    assert diff(base, base) == []


def test_adding_a_field_to_a_section_is_one_added_change_naming_the_field_by_key(base, new):
    wechat = {"key": "wechat", "type": "text", "label": {"zh": "微信", "en": "WeChat"}}
    section(new, "requester")["fields"].append(wechat)

    assert diff(base, new) == [Change(f"{SECTIONS}[id=requester].fields[key=wechat]", "added", new=wechat)]


def test_inserting_a_field_first_is_still_one_added_change_not_a_cascade(base, new):
    wechat = {"key": "wechat", "type": "text"}
    section(new, "request")["fields"].insert(0, wechat)

    assert diff(base, new) == [Change(f"{SECTIONS}[id=request].fields[key=wechat]", "added", new=wechat)]


def test_removing_a_node_is_one_removed_change(base, new):
    removed = next(n for n in nodes(new) if n["id"] == "notify_user")
    nodes(new).remove(removed)

    assert diff(base, new) == [Change(f"{TT}.flow.nodes[id=notify_user]", "removed", old=removed)]


def test_changing_a_label_is_a_changed_change_with_old_and_new(base, new):
    summary = section(new, "request")["fields"][0]
    summary["label"]["en"] = "Title"

    assert diff(base, new) == [
        Change(f"{SECTIONS}[id=request].fields[key=summary].label.en", "changed", old="Summary", new="Title")
    ]


def test_reordering_fields_is_one_order_change_not_many_edits(base, new):
    fields = section(new, "requester")["fields"]
    fields.reverse()
    before = [f["key"] for f in section(base, "requester")["fields"]]

    changes = diff(base, new)

    assert changes == [Change(f"{SECTIONS}[id=requester].fields", "changed", old=before, new=before[::-1])]


def test_reordering_and_editing_reads_as_the_edit_plus_one_order_change(base, new):
    fields = section(new, "requester")["fields"]
    fields[0], fields[1] = fields[1], fields[0]
    fields[0]["required"] = False

    changes = diff(base, new)

    assert {(c.path, c.kind) for c in changes} == {
        (f"{SECTIONS}[id=requester].fields[key=requested_by].required", "changed"),
        (f"{SECTIONS}[id=requester].fields", "changed"),
    }


def test_the_same_number_written_another_way_is_no_change_but_true_for_1_is(base, new):
    # 2 from a browser's JSON and 2.0 from YAML are one number; a designer's save changes nothing
    new["ticket_types"]["request"]["form"]["sections"][0]["columns"] = 2.0
    assert diff(base, new) == []
    base["ticket_types"]["request"]["form"]["sections"][0]["columns"] = 1
    new["ticket_types"]["request"]["form"]["sections"][0]["columns"] = True  # equal in Python, not in JSON
    assert diff(base, new) == [Change(f"{SECTIONS}[id=request].columns", "changed", old=1, new=True)]


def test_change_render_starts_with_plus_minus_and_tilde(base, new):
    wechat = {"key": "wechat", "type": "text"}
    section(new, "requester")["fields"].append(wechat)
    nodes(new).remove(next(n for n in nodes(new) if n["id"] == "notify_user"))
    new["name"]["en"] = "IT requests"

    rendered = {c.kind: c.render() for c in diff(base, new)}

    assert rendered["added"] == (
        f'+ {SECTIONS}[id=requester].fields[key=wechat]: {{"key": "wechat", "type": "text"}}'
    )
    assert rendered["removed"].startswith(f"- {TT}.flow.nodes[id=notify_user]: ")
    assert rendered["changed"] == '~ name.en: "IT operations request" → "IT requests"'


def test_a_long_value_is_shortened_in_the_rendered_change(base, new):
    new["description"]["en"] = "x" * 200
    (change,) = diff(base, new)
    assert change.render().startswith("~ description.en: ")
    assert change.render().endswith("…")
    assert len(change.render()) < 200
