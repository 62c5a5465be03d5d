"""`gongdan test APP_FILE…`: an app's scenario tests from the command line (and in CI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "app_definitions"
BROKEN = ROOT / "tests" / "fixtures" / "broken_app.yaml"
STAGE = "ticket_types.article.tests[0].steps[0].then.stage"


@pytest.fixture
def gongdan(tmp_path):
    """Run `gongdan ARGS` with a database configured that the command must never create."""
    database = tmp_path / "real.db"
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{database}", "GONGDAN_LANG": "en"}

    def run(*args: str):
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert not database.exists()  # scenarios run on a throw-away database only
        return result

    return run


@pytest.fixture
def failing_kb(tmp_path) -> Path:
    """kb.yaml with its first scenario expecting the wrong stage after publishing."""
    text = (APPS / "kb.yaml").read_text(encoding="utf-8")
    wrong = text.replace("then: {stage: published, status: closed", "then: {stage: review, status: closed")
    assert wrong != text
    path = tmp_path / "kb.yaml"
    path.write_text(wrong, encoding="utf-8")
    return path


def test_the_shipped_apps_pass_and_exit_0(gongdan):
    result = gongdan("test", *(str(p) for p in sorted(APPS.glob("*.yaml"))))

    assert result.exit_code == 0, result.output
    assert "✓ complaint: P1 billing complaint from a VIP" in result.output
    assert "✓ article: A draft article is reviewed and published by an editor" in result.output
    assert "✗" not in result.output
    assert "scenarios passed, 0 failed" in result.output.rstrip().splitlines()[-1]


def test_a_failing_scenario_exits_1_saying_where_and_what(gongdan, failing_kb):
    result = gongdan("test", str(failing_kb))

    assert result.exit_code == 1
    assert "✗ article: A draft article is reviewed and published by an editor" in result.output
    assert f"{STAGE}: The ticket should be at stage review but is at published." in result.output
    assert "✓ article: An editor discards a draft" in result.output  # the other scenario still ran
    assert "1 scenarios passed, 1 failed" in result.output


def test_problems_are_printed_in_the_users_language(gongdan, failing_kb):
    result = gongdan("--lang", "zh", "test", str(failing_kb))

    assert result.exit_code == 1
    assert f"{STAGE}: 工单应在阶段 review,实际在 published。" in result.output
    assert "1 个场景通过,1 个失败" in result.output


def test_json_output_carries_every_scenario_with_its_problems(gongdan, failing_kb):
    result = gongdan("test", "--json", str(failing_kb))

    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["passed"] is False
    (app,) = body["apps"]
    assert (app["app"], app["total"], app["failed"]) == ("kb", 2, 1)
    first, second = app["scenarios"]
    assert [p["path"] for p in first["problems"]] == [STAGE] and second["passed"] is True


def test_an_invalid_definition_exits_2_listing_its_problems(gongdan):
    result = gongdan("test", str(BROKEN))

    assert result.exit_code == 2
    assert "fields[1].max_length" in result.output


def test_an_app_that_creates_tickets_in_another_finds_it_beside_its_file(gongdan, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(APPS / "complaint.yaml", alone / "complaint.yaml")
    result = gongdan("test", str(alone / "complaint.yaml"))
    assert result.exit_code == 1
    assert "needs app kb" in result.output and "gongdan test complaint.yaml kb.yaml" in result.output

    shutil.copy(APPS / "kb.yaml", alone / "knowledge.yaml")  # found by its app key, whatever its name
    assert gongdan("test", str(alone / "complaint.yaml")).exit_code == 0
