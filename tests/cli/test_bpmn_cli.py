"""`gongdan import FILE.bpmn --into APP:TYPE` and `gongdan bpmn FILE`, as an admin runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.flows.bpmn import convert
from engine.runtime import Runtime
from engine.store import Database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn"
APPROVAL = FIXTURES / "approval.bpmn"
APP = """\
app: expenses
name: {zh: 报销, en: Expenses}
roles:
  finance: {zh: 财务, en: Finance}
ticket_types:
  expense:
    name: {zh: 报销单, en: Expense claim}
    form:
      sections:
        - id: main
          fields:
            - {key: amount, type: number, label: {zh: 金额, en: Amount}}
"""


@pytest.fixture
def gongdan(database_url, tmp_path):
    """Run `gongdan ARGS` against this test's database; returns the click Result."""
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LANG": "en"}

    def run(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def expenses(gongdan, tmp_path) -> None:
    """The expenses app, published as version 1 with the standard lifecycle."""
    path = tmp_path / "expenses.yaml"
    path.write_text(APP, encoding="utf-8")
    result = gongdan("import", str(path))
    assert result.exit_code == 0, result.output


def running(database_url: str) -> tuple[int, dict]:
    db = Database(database_url)
    try:
        return Runtime(db).definition("expenses")
    finally:
        db.dispose()


def test_import_into_publishes_the_bpmn_flow_as_the_next_version(gongdan, expenses, database_url):
    result = gongdan("import", str(APPROVAL), "--into", "expenses:expense")
    assert result.exit_code == 0, result.output
    assert "Changes against running version 1" in result.output and "flow" in result.output
    assert "Published expenses version 2" in result.output
    version, data = running(database_url)
    flow = data["ticket_types"]["expense"]["flow"]
    assert version == 2
    assert flow == convert(APPROVAL.read_bytes())[0]
    assert data["ticket_types"]["expense"]["form"]["sections"][0]["fields"][0]["key"] == "amount"
    again = gongdan("import", str(APPROVAL), "--into", "expenses:expense")
    assert "same as running version 2" in again.output


def test_dry_run_shows_the_diff_and_writes_nothing(gongdan, expenses, database_url):
    before = running(database_url)
    result = gongdan("import", str(APPROVAL), "--into", "expenses:expense", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "ticket_types.expense.flow" in result.output
    assert "would be published as version 2" in result.output
    assert running(database_url) == before


def test_a_file_with_unmappable_elements_exits_2_naming_each_and_publishes_nothing(
    gongdan, expenses, database_url
):
    result = gongdan("import", str(FIXTURES / "unmappable.bpmn"), "--into", "expenses:expense")
    assert result.exit_code == 2
    for where in (
        "bpmn:Event_1b4ya2k (line 14",
        "bpmn:Gateway_0e1v7bg",
        "bpmn:Activity_0k9c4de",
        "bpmn:Flow_0x9y8z7",
    ):
        assert where in result.output, where
    assert "nothing was written" in result.output and "Traceback" not in result.output
    assert running(database_url)[0] == 1


def test_a_flow_the_app_cannot_run_is_refused_by_the_loader(gongdan, expenses, database_url):
    # bpmn.io's flow branches on `priority`, which the expenses form does not have
    result = gongdan("import", str(FIXTURES / "bpmn_io.bpmn"), "--into", "expenses:expense")
    assert result.exit_code == 2
    assert "ticket_types.expense.flow.edges" in result.output and "priority" in result.output
    assert running(database_url)[0] == 1


def test_an_unsafe_file_is_refused_with_a_clear_error(gongdan, expenses, database_url):
    result = gongdan("import", str(FIXTURES / "billion_laughs.bpmn"), "--into", "expenses:expense")
    assert result.exit_code == 2 and "XML entity lol" in result.output
    assert running(database_url)[0] == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--into", "expenses"], "APP_KEY:TICKET_TYPE"),
        (["--into", "expenses:nope"], "has no ticket type nope"),
        (["--into", "ghost:expense"], "App ghost does not exist"),
        ([], "--into APP_KEY:TICKET_TYPE"),
        (["--into", "expenses:expense", str(APPROVAL)], "one BPMN file at a time"),
    ],
)
def test_wrong_targets_are_explained(gongdan, expenses, database_url, args, says):
    result = gongdan("import", str(APPROVAL), *args)
    assert result.exit_code == 2 and says in result.output, result.output
    assert running(database_url)[0] == 1


def test_bpmn_prints_the_flow_as_yaml_without_touching_a_database(tmp_path):
    missing = tmp_path / "never.db"
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{missing}", "GONGDAN_LANG": "en"}
    result = CliRunner().invoke(main, ["bpmn", str(FIXTURES / "camunda8.bpmn")], env=env)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output) == convert((FIXTURES / "camunda8.bpmn").read_bytes())[0]
    assert "# from BPMN process Process_1x8m2kd" in result.output
    assert "# lane Back office: activity_0xq7r4c" in result.output
    assert not missing.exists()


def test_bpmn_lists_every_problem_and_exits_2():
    result = CliRunner().invoke(main, ["--lang", "en", "bpmn", str(FIXTURES / "unmappable.bpmn")])
    assert result.exit_code == 2
    assert "has 13 problem(s)" in result.output and "bpmn:DataObjectReference_0i7n2vc" in result.output


def test_bpmn_reports_malformed_xml_with_its_line_in_chinese_by_default():
    result = CliRunner().invoke(main, ["bpmn", str(FIXTURES / "malformed.bpmn")], env={"GONGDAN_LANG": ""})
    assert result.exit_code == 2
    assert "第 6 行第 5 列" in result.output and "XML" in result.output and "Traceback" not in result.output


def test_bpmn_picks_a_process_by_id():
    result = CliRunner().invoke(main, ["--lang", "en", "bpmn", str(APPROVAL), "--process", "nope"])
    assert result.exit_code == 2 and "approval_flow" in result.output


@pytest.mark.parametrize("command", [["bpmn", "--help"], ["import", "--help"]])
def test_bpmn_commands_explain_themselves(command):
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0 and "BPMN" in result.output
