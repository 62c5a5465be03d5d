"""The JSON Schema of a form's input: valid schemas, titles per language, and agreement with the engine.

API clients validate a ticket before they send it with the schema of ``form_json_schema``; a
document the engine would take must never fail there, and the schema should refuse what the
engine refuses wherever JSON Schema can say so.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from benchmarks.ticket30 import LINE_ITEM, SCHEMA, make_invalid, make_valid
from engine.definitions.loader import load_definition
from engine.errors import FormError
from engine.forms import describe, fields
from engine.forms.describe import DEFAULT_PATTERNS, DESCRIBERS, anchored, form_json_schema
from engine.forms.fields import FIELD_TYPES
from engine.specs import compile_app

ROOT = Path(__file__).resolve().parents[3]
SHIPPED_APPS = sorted((ROOT / "app_definitions").glob("*.yaml"))
BENCH30 = ROOT / "benchmarks" / "bench30.yaml"


def _types(path: Path):
    """(app, ticket type key) of every ticket type an app file defines."""
    app = load_definition(path).app
    return [(app, key) for key in app.ticket_types]


def _bench30():
    app = load_definition(BENCH30).app
    spec = compile_app(app).types["ticket"].form
    schema = form_json_schema(app.ticket_type("ticket"), app.option_sets, "en")
    return spec, Draft202012Validator(schema)


def _engine_accepts(spec, doc) -> bool:
    try:
        spec.validate(doc)
    except FormError:
        return False
    return True


@pytest.mark.parametrize("path", [*SHIPPED_APPS, BENCH30], ids=lambda p: p.stem)
def test_every_shipped_form_describes_as_a_valid_draft_2020_12_schema(path):
    for app, key in _types(path):
        for lang in ("zh", "en"):
            schema = form_json_schema(app.ticket_type(key), app.option_sets, lang)
            Draft202012Validator.check_schema(schema)
            assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
            assert "$id" not in schema
            assert schema["type"] == "object"
            assert schema["additionalProperties"] is False
            assert json.loads(json.dumps(schema)) == schema  # plain JSON
            assert '"$ref"' not in json.dumps(schema)  # self-contained, property by property


def test_every_field_type_has_a_describer():
    assert set(DESCRIBERS) == set(FIELD_TYPES)


def test_default_patterns_are_the_cleaners_own():
    """The describer copies them (fields.py keeps them inside its cleaner factories): no drift."""
    for name, pattern in DEFAULT_PATTERNS.items():
        factory = FIELD_TYPES[name].make_cleaner
        cells = dict(zip(factory.__code__.co_freevars, factory.__closure__ or (), strict=True))
        assert cells["default_pattern"].cell_contents == pattern
    assert fields._FILE_ID.pattern == describe._FILE_ID


def test_whitespace_of_the_patterns_is_what_the_cleaners_strip():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert set(re.findall(r"\s", every)) == {c for c in every if c.isspace()}


def test_titles_follow_the_language():
    app = load_definition(ROOT / "app_definitions" / "it_ops.yaml").app
    tt = app.ticket_type("request")
    zh = form_json_schema(tt, app.option_sets, "zh")
    en = form_json_schema(tt, app.option_sets, "en")
    assert (zh["title"], en["title"]) == ("IT 运维请求", "IT operations request")
    assert zh["properties"]["summary"]["title"] == "标题"
    assert en["properties"]["summary"]["title"] == "Summary"
    assert en["properties"]["category"]["x-gongdan-options"][0] == {"value": "network", "title": "Network"}
    assert zh["properties"]["category"]["x-gongdan-options"][0] == {"value": "network", "title": "网络"}


def test_titles_default_to_the_current_language(monkeypatch):
    app = load_definition(ROOT / "app_definitions" / "it_ops.yaml").app
    monkeypatch.setenv("GONGDAN_LANG", "en")
    assert form_json_schema(app.ticket_type("request"), app.option_sets)["title"] == "IT operations request"


def test_required_lists_only_the_fields_a_client_must_send():
    app = load_definition(ROOT / "app_definitions" / "it_ops.yaml").app
    schema = form_json_schema(app.ticket_type("request"), app.option_sets, "en")
    # impact / urgency are required but have defaults; requested_by takes the user's department.
    assert schema["required"] == ["summary", "category", "description"]
    props = schema["properties"]
    assert props["impact"]["default"] == "low" and props["impact"]["x-gongdan-required"] is True
    assert None not in props["impact"]["enum"]  # sent, a required field must have a value


def test_bench30_requires_what_the_baseline_schema_requires():
    _, validator = _bench30()
    schema = validator.schema
    assert set(schema["required"]) == set(SCHEMA["required"])
    # The Gongdan form also computes items_total (a read-only formula no input may carry).
    assert set(schema["properties"]) == set(SCHEMA["properties"]) | {"items_total"}
    assert schema["properties"]["items_total"]["readOnly"] is True
    rows = schema["properties"]["line_items"]
    assert (rows["minItems"], rows["maxItems"]) == (1, 50)
    assert set(rows["items"]["required"]) == set(LINE_ITEM["required"])
    assert rows["items"]["additionalProperties"] is False


def test_conditions_are_annotated_with_their_expressions():
    app = load_definition(ROOT / "app_definitions" / "complaint.yaml").app
    schema = form_json_schema(app.ticket_type("complaint"), app.option_sets, "en")
    refund = schema["properties"]["refund"]
    assert refund["x-gongdan-visible-if"] == "category == 'billing'"
    assert refund["x-gongdan-required-if"] == "priority == 'P1' and category == 'billing'"
    assert "refund" not in schema["required"]


def test_read_only_and_computed_fields_are_shown_but_refused():
    app = load_definition(ROOT / "app_definitions" / "complaint.yaml").app
    tt = app.ticket_type("complaint")
    schema = form_json_schema(tt, app.option_sets, "en")
    validator = Draft202012Validator(schema)
    spec = compile_app(app).types["complaint"].form
    read_only = [f for f in tt.form.fields if f.get("readonly") or FIELD_TYPES[f.type].computed]
    assert {f.type for f in read_only} >= {"checkbox", "formula"}
    for f in read_only:
        prop = schema["properties"][f.key]
        assert prop["readOnly"] is True and prop["not"] == {}
        assert not validator.is_valid({f.key: None})
        assert not _engine_accepts(spec, {f.key: None})


def test_patterns_are_anchored_with_leading_flags_kept_in_front():
    assert anchored("a|b") == "^(?:a|b)$"
    assert anchored("(?i)ab") == "(?i)^(?:ab)$"


def test_bench30_valid_documents_pass_the_engine_and_the_schema():
    spec, validator = _bench30()
    rng = random.Random(30)
    for _ in range(200):
        doc = make_valid(rng)
        spec.validate(doc)
        assert not list(validator.iter_errors(doc))


def test_bench30_documents_the_engine_refuses_the_schema_refuses_too():
    spec, validator = _bench30()
    rng = random.Random(31)
    refused = 0
    for _ in range(300):
        doc = make_invalid(rng)
        if not _engine_accepts(spec, doc):
            refused += 1
            assert not validator.is_valid(doc), doc
        else:  # only the baseline's "amount as text" fault: money takes numeric text
            assert validator.is_valid(doc)
    assert refused > 250
