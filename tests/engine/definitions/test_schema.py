"""The published app-definition JSON Schema, the shipped apps and the broken fixture."""

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.definitions.source import read_source

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "app_definitions"
BROKEN_APP = ROOT / "tests" / "fixtures" / "broken_app.yaml"
SHIPPED_APPS = sorted(APP_DIR.glob("*.yaml"))

# Keywords whose value is one subschema, a list of subschemas, or a map of name -> subschema.
ONE_SUBSCHEMA = (
    "additionalProperties",
    "propertyNames",
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
)
SUBSCHEMA_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf")
SUBSCHEMA_MAPS = ("patternProperties", "dependentSchemas")
DOCUMENTED_MAPS = ("properties", "$defs")  # every entry needs a title and a description

FIELDS = ("ticket_types", "ticket", "form", "sections", 0, "fields")


def load_schema() -> dict[str, Any]:
    resource = files("engine.definitions") / "schema" / "app.schema.json"
    return json.loads(resource.read_text(encoding="utf-8"))


def load_yaml(path: Path) -> Any:
    # Our reader, not yaml.safe_load: YAML 1.1 would turn the key `on:` of a rule into True.
    return read_source(path).data


def pointer(parts: tuple[str | int, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def undocumented(schema: Any, path: tuple[str | int, ...] = ()) -> Iterator[str]:
    """JSON pointers of every property and $defs entry lacking a non-empty title or description."""
    if not isinstance(schema, dict):
        return
    for keyword in DOCUMENTED_MAPS:
        for name, sub in schema.get(keyword, {}).items():
            here = (*path, keyword, name)
            if not isinstance(sub, dict) or not all(
                isinstance(sub.get(k), str) and sub[k].strip() for k in ("title", "description")
            ):
                yield pointer(here)
            yield from undocumented(sub, here)
    for keyword in ONE_SUBSCHEMA:
        if isinstance(schema.get(keyword), dict):
            yield from undocumented(schema[keyword], (*path, keyword))
    for keyword in SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(keyword, [])):
            yield from undocumented(sub, (*path, keyword, i))
    for keyword in SUBSCHEMA_MAPS:
        for name, sub in schema.get(keyword, {}).items():
            yield from undocumented(sub, (*path, keyword, name))


def count_documented(schema: Any) -> int:
    if isinstance(schema, dict):
        own = sum(len(schema.get(k, {})) for k in DOCUMENTED_MAPS if isinstance(schema.get(k), dict))
        return own + sum(count_documented(v) for v in schema.values())
    if isinstance(schema, list):
        return sum(count_documented(v) for v in schema)
    return 0


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def schema_errors(validator: Draft202012Validator, data: Any) -> list[tuple[tuple[str | int, ...], str, str]]:
    return sorted(
        ((tuple(e.absolute_path), str(e.validator), e.message) for e in validator.iter_errors(data)),
        key=lambda t: (pointer(t[0]), t[1]),
    )


def test_schema_is_a_valid_draft_2020_12_schema(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://gongdan.dev/schemas/app.schema.json"


def test_every_property_and_definition_has_a_title_and_a_description(schema):
    offenders = list(undocumented(schema))
    assert offenders == [], "missing title/description at: " + ", ".join(offenders)
    assert count_documented(schema) > 100  # the walk really went through the whole schema


def test_title_check_reports_the_json_pointer_of_each_offender():
    sample = {
        "properties": {
            "ok": {"title": "Ok", "description": "Fine.", "items": {"properties": {"a/b": {"title": "x"}}}},
            "bare": {"type": "string"},
        },
        "$defs": {"empty": {"title": " ", "description": "Blank title."}},
    }
    assert sorted(undocumented(sample)) == [
        "/$defs/empty",
        "/properties/bare",
        "/properties/ok/items/properties/a~1b",
    ]


def test_the_three_apps_are_shipped():
    assert {p.stem for p in SHIPPED_APPS} >= {"complaint", "it_ops", "bugfix"}


@pytest.mark.parametrize("path", SHIPPED_APPS, ids=lambda p: p.name)
def test_shipped_app_validates_against_the_schema(validator, path):
    errors = schema_errors(validator, load_yaml(path))
    assert errors == [], "\n".join(f"{pointer(p) or '/'}: {msg}" for p, _, msg in errors)


def test_broken_fixture_reports_unknown_keys_and_the_wrong_type_at_their_paths(validator):
    errors = schema_errors(validator, load_yaml(BROKEN_APP))
    found = {(path, kind) for path, kind, _ in errors}

    assert ((), "additionalProperties") in found
    assert ((*FIELDS, 0), "additionalProperties") in found
    assert ((*FIELDS, 1, "max_length"), "type") in found
    assert ((*FIELDS, 2, "type"), "enum") in found

    messages = {path: msg for path, _, msg in errors}
    assert "'maintainer' was unexpected" in messages[()]
    assert "'colour' was unexpected" in messages[(*FIELDS, 0)]
    assert "'ten' is not of type 'integer'" in messages[(*FIELDS, 1, "max_length")]
    assert "'color' is not one of" in messages[(*FIELDS, 2, "type")]


def test_broken_fixture_cross_reference_errors_are_left_to_the_loader(validator):
    # Duplicates and dangling references are schema-valid: only the four schema errors appear.
    errors = schema_errors(validator, load_yaml(BROKEN_APP))
    assert [(pointer(path), kind) for path, kind, _ in errors] == [
        ("", "additionalProperties"),
        ("/ticket_types/ticket/form/sections/0/fields/0", "additionalProperties"),
        ("/ticket_types/ticket/form/sections/0/fields/1/max_length", "type"),
        ("/ticket_types/ticket/form/sections/0/fields/2/type", "enum"),
    ]


FIXTURES = sorted((ROOT / "tests" / "fixtures").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_APPS + FIXTURES, ids=lambda p: p.name)
def test_the_fast_validity_check_agrees_with_the_explaining_validator(validator, path):
    # Valid definitions skip the Python validator, so the two must never disagree on validity.
    from engine.definitions.schema import is_valid

    data = read_source(path).data
    assert is_valid(data) is not bool(list(validator.iter_errors(data)))


def test_every_schema_problem_is_still_explained_when_the_fast_check_fails():
    from engine.definitions.schema import schema_problems

    problems = schema_problems(read_source(BROKEN_APP))
    assert problems and all(p.path and p.message("en") for p in problems)
