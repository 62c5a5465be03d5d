"""The `gongdan` command as an admin uses it: init, validate, import, export, diff, demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import main
from engine.people import check_password
from engine.runtime import count_records
from engine.store import Database
from engine.store.models import App, User

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "app_definitions"
BROKEN = ROOT / "tests" / "fixtures" / "broken_app.yaml"


@pytest.fixture
def gongdan(database_url, tmp_path):
    """Run `gongdan ARGS` against this test's database; returns the click Result."""
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LANG": "en"}

    def run(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def apps_in(database_url: str) -> list[str]:
    db = Database(database_url)
    with db.read() as conn:
        keys = list(conn.execute(select(App.key).order_by(App.key)).scalars())
    db.dispose()
    return keys


def test_validate_broken_example_exits_2_listing_every_error_with_its_path():
    result = CliRunner().invoke(main, ["--lang", "en", "validate", str(BROKEN)])
    assert result.exit_code == 2
    for path in (
        "maintainer",
        "fields[1].max_length",
        "fields[2].type",
        "fields[3].key",
        "nodes[1].assignee.field",
        "nodes[1].permissions.solution",
        "assignees[0].role",
        "nodes[4].id",
        "edges[2][1]",
        "dashboards[0].reports[1]",
    ):
        assert path in result.output, path
    assert "line " in result.output and "Traceback" not in result.output


def test_validate_speaks_chinese_by_default():
    result = CliRunner().invoke(main, ["validate", str(BROKEN)], env={"GONGDAN_LANG": ""})
    assert result.exit_code == 2 and "未知的键" in result.output


def test_validate_accepts_the_shipped_apps():
    result = CliRunner().invoke(main, ["--lang", "en", "validate", *map(str, sorted(APPS.glob("*.yaml")))])
    assert result.exit_code == 0, result.output
    assert result.output.count(": valid") == len(list(APPS.glob("*.yaml"))) == 4


def test_init_prints_the_admin_password_once_and_it_works(gongdan, database_url):
    first = gongdan("init")
    assert first.exit_code == 0
    password = first.output.split("password: ")[1].split()[0]
    db = Database(database_url)
    with db.read() as conn:
        stored = conn.execute(select(User.password_hash).where(User.username == "admin")).scalar_one()
    db.dispose()
    assert check_password(stored, password) and not check_password(stored, password + "x")
    second = gongdan("init")
    assert second.exit_code == 0 and password not in second.output and "exists" in second.output


def test_import_is_all_or_nothing_across_files(gongdan, database_url):
    result = gongdan("import", str(APPS / "complaint.yaml"), str(BROKEN))
    assert result.exit_code == 2
    assert apps_in(database_url) == []


def test_import_publishes_then_reports_unchanged(gongdan, database_url, tmp_path):
    assert gongdan("import", *map(str, sorted(APPS.glob("*.yaml")))).exit_code == 0
    assert apps_in(database_url) == ["bugfix", "complaint", "it_ops", "kb"]
    comment_only = tmp_path / "commented.yaml"
    comment_only.write_text(
        "# a comment changes nothing\n" + (APPS / "complaint.yaml").read_text("utf-8"), "utf-8"
    )
    dry = gongdan("import", "--dry-run", str(comment_only))
    assert "same as running version 1" in dry.output and "would be published" not in dry.output
    again = gongdan("import", str(APPS / "complaint.yaml"))
    assert "same as running version 1" in again.output


def test_export_then_import_gives_back_the_same_definition(gongdan, tmp_path):
    gongdan("import", str(APPS / "complaint.yaml"))
    for fmt in ("yaml", "json"):
        out = tmp_path / f"complaint.{fmt}"
        assert gongdan("export", "complaint", "--format", fmt, "-o", str(out)).exit_code == 0
        again = gongdan("import", str(out))
        assert again.exit_code == 0 and "same as running version 1" in again.output


def test_dry_run_import_shows_the_diff_and_writes_nothing(gongdan, tmp_path):
    first = gongdan("import", str(APPS / "complaint.yaml"))
    assert first.exit_code == 0, first.output
    changed = (
        (APPS / "complaint.yaml").read_text("utf-8").replace("{zh: 客户投诉,", "{zh: 客户投诉与建议,", 1)
    )
    new_file = tmp_path / "complaint_v2.yaml"
    new_file.write_text(changed, encoding="utf-8")
    dry = gongdan("import", "--dry-run", str(new_file))
    assert dry.exit_code == 0
    assert "~ name.zh" in dry.output and "would be published as version 2" in dry.output
    assert "v1" in gongdan("versions").output
    real = gongdan("import", str(new_file))
    assert "Published complaint version 2" in real.output
    between = gongdan("diff", "complaint", "--from", "1", "--to", "2")
    assert between.output.strip().startswith("~ name.zh")


def test_export_of_an_unknown_app_is_a_clear_error(gongdan):
    result = gongdan("export", "nope")
    assert result.exit_code == 2 and "gongdan import" in result.output


def test_demo_loads_an_organisation_and_tickets(gongdan, database_url):
    gongdan("import", *map(str, sorted(APPS.glob("*.yaml"))))
    result = gongdan("demo", "--tickets", "12")
    assert result.exit_code == 0, result.output
    db = Database(database_url)
    assert count_records(db) == 12
    db.dispose()


def test_user_password_sets_a_new_password(gongdan):
    gongdan("init")
    result = gongdan("user", "password", "admin")
    assert result.exit_code == 0 and "New password of admin" in result.output
    assert gongdan("user", "password", "ghost").exit_code == 2


@pytest.mark.parametrize(
    "command",
    ["init", "migrate", "import", "export", "validate", "diff", "versions", "serve", "worker", "demo"],
)
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_commands_on_a_database_never_set_up_say_to_run_init(tmp_path):
    env = {
        "GONGDAN_HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "GONGDAN_LANG": "en",
    }
    result = CliRunner().invoke(main, ["import", str(APPS / "complaint.yaml")], env=env)
    assert result.exit_code == 2
    assert "gongdan init" in result.output and "Traceback" not in result.output


def test_ticket_show_prints_a_ticket_now_and_as_it_was(gongdan, database_url):
    import datetime as dt
    import json

    import time_machine

    from engine.runtime import Runtime
    from tests.support import complaint_form

    db = Database(database_url)
    runtime = Runtime(db)
    runtime.publish(APPS / "complaint.yaml")
    definition = runtime.definition("complaint")[1]
    start = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        ticket = runtime.submit("complaint", "complaint", complaint_form(definition, summary="先前的摘要"))
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        runtime.update(ticket.id, {"summary": "后来的摘要"})
    db.dispose()
    now = json.loads(gongdan("ticket", "show", ticket.number).output)
    assert now["data"]["summary"] == "后来的摘要"
    before = gongdan("ticket", "show", str(ticket.id), "--at", "2026-11-20T11:00")  # Shanghai: 03:00 UTC
    assert json.loads(before.output)["data"]["summary"] == "先前的摘要"
    bad = gongdan("ticket", "show", str(ticket.id), "--at", "yesterday")
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
    assert gongdan("ticket", "show", "NOPE-1").exit_code != 0
