"""The designer.* harness measures what it says: the 300-node flow and the 200-field form load,
every measured save is stored as the next revision, and the preview renders all 200 fields."""

from __future__ import annotations

import pytest

from benchmarks import designer as bench

pytestmark = pytest.mark.slow


def test_the_benchmark_apps_are_valid_and_as_large_as_stated():
    from engine.definitions.loader import load_definition

    flow = load_definition(bench._definition("benchflow", bench.FLOW_NODES, 20))
    assert len(flow.app.ticket_types["ticket"].flow.nodes) == 300
    form = load_definition(bench._definition("benchform", 3, bench.FORM_FIELDS))
    assert len(form.app.ticket_types["ticket"].form.fields) == 200


def test_the_designer_benchmarks_run_their_round_trips(monkeypatch):
    monkeypatch.setattr(bench, "SAVES", 3)
    saved = bench.designer_save(1)
    assert saved.name == "designer.save" and saved.ours > 0 and saved.baseline > 0
    preview = bench.designer_preview(1)
    assert preview.ours > 0 and preview.baseline == bench.PREVIEW_TARGET_MS
