"""The import.xlsx harness measures what it says, at a small size: both sides read the same sheet,
ours imports every row as a ticket (validated, with its event), the baseline inserts every row."""

from __future__ import annotations

import sqlite3

import pytest

from benchmarks import imports as bench

pytestmark = pytest.mark.slow


def test_the_import_benchmark_runs_both_sides_on_the_same_rows(tmp_path):
    path = bench.sheet(300, tmp_path)
    assert bench.sheet(300, tmp_path) == path  # generated once, then reused

    seconds, job = bench.ours(path, tmp_path)
    assert seconds > 0 and (job["created_rows"], job["error_rows"]) == (300, 0)
    con = sqlite3.connect(tmp_path / "ours.db")
    try:
        assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 300
        assert con.execute("SELECT count(*) FROM events WHERE type = 'imported'").fetchone()[0] == 300
    finally:
        con.close()

    assert bench.baseline(path, tmp_path) > 0
    con = sqlite3.connect(tmp_path / "baseline.db")
    try:
        assert con.execute("SELECT count(*) FROM tickets").fetchone()[0] == 300
    finally:
        con.close()

    result = bench.measure(300, repeats=1, folder=tmp_path)
    assert result.name == "import.xlsx" and result.ours > 0 and result.baseline > 0
