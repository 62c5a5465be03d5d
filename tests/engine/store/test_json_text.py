"""JSON columns are written by engine.store.db.json_text: orjson where it can, json beyond it."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from engine.store.db import json_text


@pytest.mark.parametrize(
    "value",
    [
        {"title": "发票金额不对", "amount": "12.50", "tags": ["a", "b"], "n": 3, "x": 2.5, "none": None},
        {"big": 2**70, "negative": -(2**65)},  # beyond 64 bits: the standard library writes it exactly
        [1, 2.0, True, False, None, "", {"nested": {"deep": [0.1]}}],
    ],
)
def test_a_document_reads_back_exactly_as_written(value) -> None:
    assert json.loads(json_text(value)) == value


def test_numeric_keys_become_strings_as_json_would_write_them() -> None:
    assert json.loads(json_text({1: "a", "2": "b"})) == json.loads(json.dumps({1: "a", "2": "b"}))


@pytest.mark.parametrize("value", [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), decimal.Decimal("1.10"), {1, 2}])
def test_what_json_refuses_is_still_refused_rather_than_stored_in_some_other_form(value) -> None:
    with pytest.raises(TypeError):
        json_text({"v": value})
