"""`make run`'s commands (init, import, demo, versions) speak one language per run:
Chinese by default, English with GONGDAN_LANG=en or --lang en; never a mix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"\b(database|ready|people|sign|customer|role|Published|Created|admin with)\b")


def run_setup(database_url: str, home: Path, env_lang: str | None, *flags: str) -> list[str]:
    env = {"GONGDAN_HOME": str(home), "DATABASE_URL": database_url, "GONGDAN_LANG": env_lang}
    lines: list[str] = []
    commands = (
        ["init"],
        ["import", str(APPS / "complaint.yaml")],
        ["demo", "--people-only"],
        ["demo", "--tickets", "2", "--walk"],
        ["versions"],
    )
    for args in commands:
        result = CliRunner().invoke(main, [*flags, *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        lines += result.output.splitlines()
    return lines


def without_names(line: str) -> str:
    """A demo login line without the person's own name (names are data, written in both scripts)."""
    return line.split("—", 1)[1] if "—" in line else line


@pytest.mark.parametrize(("env_lang", "flags"), [(None, ()), ("zh", ()), ("en", ("--lang", "zh"))])
def test_a_chinese_run_prints_no_english_sentences(database_url, tmp_path, env_lang, flags):
    lines = run_setup(database_url, tmp_path, env_lang, *flags)
    said = "\n".join(without_names(line) for line in lines)
    assert "数据库已就绪" in said and "演示用户" in said and "客户投诉：客服专员、账务组" in said
    assert "2 张工单" in said
    assert "客服专员" in said and "客户(没有角色)" in said
    assert not ENGLISH_WORDS.search(said), said
    assert "billing_team" not in said and "complaint:" not in said


@pytest.mark.parametrize(("env_lang", "flags"), [("en", ()), ("zh", ("--lang", "en"))])
def test_an_english_run_prints_no_chinese(database_url, tmp_path, env_lang, flags):
    lines = run_setup(database_url, tmp_path, env_lang, *flags)
    said = "\n".join(without_names(line) for line in lines)
    assert "Database ready" in said and "Demo people" in said and "Customer complaint: Support agent" in said
    assert "2 tickets" in said
    assert not CJK.search(said), said
    assert "billing_team" not in said
