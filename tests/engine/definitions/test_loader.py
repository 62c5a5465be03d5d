"""Loading app definitions: the shipped apps, round trips, and every way a definition can be wrong.

A user who gets a definition wrong must see every problem at once, each with the path of the
offending value, the line and column in the file, and a message in Chinese and English saying
what to do. Nothing but ``DefinitionError`` may ever escape from ``load_definition``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.definitions.loader import Loaded, load_definition
from engine.definitions.source import MAX_BYTES, MAX_DEPTH, read_source
from engine.errors import DefinitionError, Problem
from engine.i18n import known

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "app_definitions"
SHIPPED_APPS = sorted(APP_DIR.glob("*.yaml"))
BROKEN_APP = ROOT / "tests" / "fixtures" / "broken_app.yaml"

TT = "ticket_types.ticket"
FIELDS = f"{TT}.form.sections[0].fields"
NODES = f"{TT}.flow.nodes"

# The one minimal valid app every bad-input test starts from (mutated by text edits, so that the
# expected line of each problem can be looked up in the mutated text).
MINIMAL = """\
app: mini
name: {zh: 迷你工单, en: Mini tickets}
roles:
  agent: {zh: 客服, en: Agent}
option_sets:
  levels: [high, low]
ticket_types:
  ticket:
    name: {zh: 工单, en: Ticket}
    number: "T-{yyyy}-{seq:4}"
    form:
      sections:
        - id: main
          title: {zh: 基本信息, en: Basics}
          columns: 2
          fields:
            - {key: title, type: text, label: {zh: 标题, en: Title}, required: true}
            - {key: owner, type: user, label: {zh: 处理人, en: Owner}}
            - {key: level, type: select, label: {zh: 级别, en: Level}, options_from: levels}
            - key: items
              type: subtable
              label: {zh: 明细, en: Items}
              fields:
                - {key: sku, type: text}
                - {key: qty, type: number}
    flow:
      nodes:
        - {id: start, type: start}
        - id: work
          type: task
          assignee: {field: owner}
          permissions: {title: readonly}
        - {id: end, type: end}
      edges:
        - [start, work]
        - [work, end]
    rules:
      - name: greet
        on: created
        do: [{comment: hello}]
    reports:
      - {id: by_level, dimensions: [level], measures: [count], chart: bar}
"""

Edit = tuple[str, str]
END_NODE = "        - {id: end, type: end}"


def minimal_app(*edits: Edit) -> str:
    """The minimal valid app as YAML text, with each ``(old, new)`` edit applied (old must be unique)."""
    text = MINIMAL
    for old, new in edits:
        assert text.count(old) == 1, f"edit target {old!r} must occur exactly once"
        text = text.replace(old, new)
    return text


def minimal_dict(*edits: Edit) -> dict[str, Any]:
    """The same definition as plain data, as the API receives it (keys always text)."""
    return read_source(minimal_app(*edits)).data


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the one occurrence of ``needle`` in ``text``."""
    assert text.count(needle) == 1, f"{needle!r} must occur exactly once"
    return text[: text.index(needle)].count("\n") + 1


def has_cjk(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def refused(source: Any) -> DefinitionError:
    """Load ``source`` expecting DefinitionError; any other exception fails the test as it escapes."""
    with pytest.raises(DefinitionError) as info:
        load_definition(source)
    err = info.value
    assert err.problems, "a DefinitionError must say what is wrong"
    assert_explained(err)
    return err


def assert_explained(err: DefinitionError) -> None:
    """Every problem has a catalogued message in both languages, naming its path and position."""
    en, zh = err.render("en"), err.render("zh")
    for p in err.problems:
        assert known(p.code), f"{p.code} has no message in the catalog"
        msg_en, msg_zh = p.message("en"), p.message("zh")
        assert msg_en and msg_zh and msg_en != msg_zh
        assert has_cjk(msg_zh), msg_zh
        assert p.path in en and p.path in zh
        if p.line is not None:
            assert f"line {p.line}, column {p.column}" in p.render("en")
            assert f"第 {p.line} 行第 {p.column} 列" in p.render("zh")


def pairs(err: DefinitionError) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in err.problems}


def only(err: DefinitionError, code: str) -> Problem:
    found = [p for p in err.problems if p.code == code]
    assert len(found) == 1, [(p.path, p.code) for p in err.problems]
    return found[0]


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ... 1}}`` with ``depth`` mappings, built without recursion."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


# --- the shipped apps ----------------------------------------------------------------------------

SHIPPED = {
    "bugfix": {
        "type": "bug",
        "number": "BUG-{seq:5}",
        "fields": {"title": "text", "severity": "select", "module": "cascade", "duplicate_of": "link"},
        "nodes": {"start": "start", "severity_gate": "exclusive", "verify": "task", "end": "end"},
        "roles": {"qa", "developer", "dev_lead"},
    },
    "complaint": {
        "type": "complaint",
        "number": "TS-{yyyyMM}-{seq:4}",
        "fields": {"customer": "text", "priority": "radio", "items": "subtable", "total": "formula"},
        "nodes": {"start": "start", "triage": "task", "review": "approval", "end": "end"},
        "roles": {"agent", "quality", "cs_lead", "billing_team", "delivery_team", "cs_pool"},
    },
    "it_ops": {
        "type": "request",
        "number": "IT-{yyyyMM}-{seq:4}",
        "fields": {
            "category": "select",
            "due_date": "date",
            "requested_by": "department",
            "engineer": "user",
        },
        "nodes": {"submit": "start", "split": "parallel", "join": "join", "approval": "approval"},
        "roles": {
            "it_agent",
            "it_engineer",
            "it_lead",
            "network_team",
            "desktop_team",
            "iam_team",
            "service_desk",
        },
    },
}


def test_the_three_shipped_apps_are_present():
    assert {p.stem for p in SHIPPED_APPS} >= set(SHIPPED)


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_shipped_app_loads_with_the_ticket_types_fields_and_nodes_its_yaml_names(key):
    loaded = load_definition(APP_DIR / f"{key}.yaml")
    want = SHIPPED[key]

    assert isinstance(loaded, Loaded)
    assert loaded.app.key == key
    assert set(loaded.app.roles) == want["roles"]
    assert list(loaded.app.ticket_types) == [want["type"]]
    tt = loaded.app.ticket_type(want["type"])
    assert tt.number == want["number"]
    field_types = {f.key: f.type for f in tt.form.fields}
    assert field_types.items() >= want["fields"].items()
    node_types = {n.id: n.type for n in tt.flow.nodes}
    assert node_types.items() >= want["nodes"].items()
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.checksum)
    assert "version" not in loaded.data


def test_shipped_apps_keep_the_details_the_yaml_spells_out():
    complaint = load_definition(APP_DIR / "complaint.yaml").app.ticket_type("complaint")
    review = complaint.flow.node("review")
    assert review.get("mode") == "countersign"
    assert review.get("on_reject") == "fix"
    items = next(f for f in complaint.form.fields if f.key == "items")
    assert [(f.key, f.type) for f in items.fields] == [("sku", "text"), ("qty", "number"), ("price", "money")]
    assert items.fields[2].get("currency") == "CNY"

    bug = load_definition(APP_DIR / "bugfix.yaml").app.ticket_type("bug")
    default_edges = [(e.source, e.target) for e in bug.flow.edges if e.default]
    assert default_edges == [("severity_gate", "fix")]
    assert bug.flow.returns["verify"] == ("hotfix", "fix", "triage")

    it_ops = load_definition(APP_DIR / "it_ops.yaml").app.ticket_type("request")
    assert it_ops.flow.node("approval").get("mode") == "or_sign"
    assert [s.id for s in it_ops.form.sections] == ["request", "requester", "handling", "confirmation"]
    # `on: created` is written unquoted in it_ops.yaml: still the trigger, not a boolean key.
    assert [r["on"] for r in it_ops.rules][:3] == ["closed", "created", "created"]


# --- export / import -----------------------------------------------------------------------------


def export_yaml(loaded: Loaded) -> str:
    return yaml.safe_dump(loaded.data, allow_unicode=True, sort_keys=False)


def export_json(loaded: Loaded) -> str:
    return json.dumps(loaded.data, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("export", [export_yaml, export_json], ids=["yaml", "json"])
@pytest.mark.parametrize("path", SHIPPED_APPS, ids=lambda p: p.stem)
def test_an_exported_definition_imports_back_to_the_same_app(path, export):
    first = load_definition(path)
    again = load_definition(export(first))

    assert again.data == first.data
    assert again.checksum == first.checksum
    assert again.app == first.app


@pytest.mark.parametrize("path", SHIPPED_APPS, ids=lambda p: p.stem)
def test_the_loaded_data_imports_back_as_a_dict_to_the_same_app(path):
    first = load_definition(path)
    again = load_definition(first.data)
    assert (again.data, again.checksum, again.app) == (first.data, first.checksum, first.app)


def test_the_informative_version_does_not_change_the_checksum():
    plain = load_definition(MINIMAL)
    versioned = load_definition("version: 7\n" + MINIMAL)
    assert versioned.checksum == plain.checksum
    assert versioned.data == plain.data


# --- the broken fixture --------------------------------------------------------------------------

BROKEN_PROBLEMS = {
    ("maintainer", "schema.unknown_key", 6),
    (f"{FIELDS}[0].colour", "schema.unknown_key", 24),
    (f"{FIELDS}[1].max_length", "schema.type", 28),
    (f"{FIELDS}[2].type", "schema.enum", 30),
    (f"{FIELDS}[3].key", "check.duplicate_field", 32),
    (f"{NODES}[1].assignee.field", "check.unknown_field", 43),
    (f"{NODES}[1].permissions.solution", "check.unknown_field", 44),
    (f"{NODES}[2].assignees[0].role", "check.unknown_role", 47),
    (f"{NODES}[4].id", "check.duplicate_node", 49),
    (f"{TT}.flow.edges[2][1]", "check.unknown_node", 54),
    (f"{TT}.dashboards[0].reports[1]", "check.unknown_report", 60),
}


def broken_lines() -> set[int]:
    lines = BROKEN_APP.read_text(encoding="utf-8").splitlines()
    return {n for n, line in enumerate(lines, 1) if "# BROKEN" in line}


def test_broken_fixture_reports_all_eleven_mistakes_at_once_at_their_lines():
    err = refused(BROKEN_APP)

    assert {(p.path, p.code, p.line) for p in err.problems} == BROKEN_PROBLEMS
    assert len(err.problems) == 11
    assert {p.line for p in err.problems} == broken_lines()
    assert all(p.column is not None for p in err.problems)


def test_broken_fixture_messages_name_every_path_in_english_and_chinese():
    err = refused(BROKEN_APP)
    en, zh = err.render("en"), err.render("zh")

    assert en.startswith(f"App definition {BROKEN_APP} has 11 problems; nothing was written:")
    assert zh.startswith(f"应用定义 {BROKEN_APP} 有 11 处错误，未写入任何内容")
    for path, _, line in BROKEN_PROBLEMS:
        assert path in en and path in zh
        assert f"(line {line}, column" in en
        assert f"(第 {line} 行第" in zh
    # The messages say what was found and what to do.
    assert "Unknown key maintainer" in en and "Check the spelling" in en
    assert "Node finish does not exist. Known nodes: check, close, end, start, work." in en
    assert "Role auditor is not defined" in en and "Define it under roles" in en
    assert "Report by_team does not exist" in en
    assert "节点 finish 不存在" in zh and "角色 auditor 未定义" in zh


def test_problems_come_sorted_by_line():
    err = refused(BROKEN_APP)
    lines = [p.line for p in err.problems]
    assert lines == sorted(lines)

    # A cross-reference problem early in the file comes before a schema problem late in it.
    text = minimal_app(
        ("permissions: {title: readonly}", "permissions: {subject: readonly}"),
        ("chart: bar}", "chart: pie, colour: red}"),
        ("  levels: [high, low]", "  levels: [high, low]\n  shades: 3"),
    )
    err = refused(text)
    assert [(p.code, p.line) for p in err.problems] == [
        ("schema.type", line_of(text, "shades: 3")),
        ("check.unknown_field", line_of(text, "permissions: {subject")),
        ("schema.unknown_key", line_of(text, "colour: red")),
    ]


def test_broken_fixture_as_a_dict_reports_the_same_problems_without_lines():
    data = yaml.safe_load(BROKEN_APP.read_text(encoding="utf-8"))
    err = refused(data)

    assert pairs(err) == {(path, code) for path, code, _ in BROKEN_PROBLEMS}
    assert all(p.line is None and p.column is None for p in err.problems)


# --- language ------------------------------------------------------------------------------------


def test_gongdan_lang_switches_the_language_of_problem_messages(monkeypatch):
    err = refused(minimal_app(("[work, end]", "[work, finish]")))
    problem = only(err, "check.unknown_node")

    monkeypatch.setenv("GONGDAN_LANG", "en")
    assert problem.message() == "Node finish does not exist. Known nodes: end, start, work."
    assert "line" in problem.render() and "Node finish" in err.render()

    monkeypatch.setenv("GONGDAN_LANG", "zh")
    assert problem.message() == "节点 finish 不存在。已有节点：end, start, work。"
    assert "第" in problem.render() and "节点 finish" in err.render()

    monkeypatch.delenv("GONGDAN_LANG")
    assert problem.message() == problem.message("zh")  # Chinese by default


# --- definitions that are valid YAML but wrong -----------------------------------------------------

# (id, edits, path, code, a text on the offending line, a word the message must name in both languages)
WRONG = [
    pytest.param(
        [("          type: task\n", "          type: task\n          colour: red\n")],
        f"{NODES}[1].colour", "schema.unknown_key", "colour: red", "colour",
        id="unknown-key-in-a-node",
    ),
    pytest.param(
        [("columns: 2", 'columns: "two"')],
        f"{TT}.form.sections[0].columns", "schema.type", 'columns: "two"', "integer",
        id="columns-as-text",
    ),
    pytest.param(
        [("{key: title, type: text,", "{key: title, type: colour,")],
        f"{FIELDS}[0].type", "schema.enum", "type: colour", "colour",
        id="field-type-not-in-enum",
    ),
    pytest.param(
        [("permissions: {title: readonly}", "permissions: {subject: readonly}")],
        f"{NODES}[1].permissions.subject", "check.unknown_field", "permissions:", "subject",
        id="permission-names-missing-field",
    ),
    pytest.param(
        [("[work, end]", "[work, finish]")],
        f"{TT}.flow.edges[1][1]", "check.unknown_node", "[work, finish]", "finish",
        id="edge-to-missing-node",
    ),
    pytest.param(
        [("options_from: levels", "options_from: grades")],
        f"{FIELDS}[2].options_from", "check.unknown_option_set", "options_from: grades", "grades",
        id="options-from-missing-option-set",
    ),
    pytest.param(
        [("dimensions: [level]", "dimensions: [grade]")],
        f"{TT}.reports[0].dimensions[0]", "check.unknown_field", "dimensions: [grade]", "grade",
        id="report-dimension-names-missing-field",
    ),
    pytest.param(
        [("on: created", "on: {field_changed: subject}")],
        f"{TT}.rules[0].on.field_changed", "check.unknown_field", "field_changed: subject", "subject",
        id="rule-trigger-names-missing-field",
    ),
    pytest.param(
        [(END_NODE, "        - {id: work, type: task}\n" + END_NODE)],
        f"{NODES}[2].id", "check.duplicate_node", "{id: work, type: task}", "work",
        id="duplicate-node-id",
    ),
    pytest.param(
        [("{key: qty, type: number}", "{key: sku, type: number}")],
        f"{FIELDS}[3].fields[1].key", "check.duplicate_field", "{key: sku, type: number}", "sku",
        id="duplicate-subtable-field-key",
    ),
    pytest.param(
        [("{key: title, type: text,", "{key: title, type: text, currency: CNY,")],
        f"{FIELDS}[0].currency", "check.option_not_for_type", "currency: CNY", "currency",
        id="option-not-for-field-type",
    ),
    pytest.param(
        [(", options_from: levels}", "}")],
        f"{FIELDS}[2]", "check.option_missing", "{key: level", "options_from",
        id="select-without-options",
    ),
    pytest.param(
        [('"T-{yyyy}-{seq:4}"', '"T-{yy}-{seq:4}"')],
        f"{TT}.number", "check.number_token", "number:", "{yy}",
        id="number-pattern-unknown-token",
    ),
    pytest.param(
        [('"T-{yyyy}-{seq:4}"', '"T-{yyyy}"')],
        f"{TT}.number", "check.number_needs_seq", "number:", "{seq:N}",
        id="number-pattern-without-seq",
    ),
    pytest.param(
        [("assignee: {field: owner}", "assignee: {field: title}")],
        f"{NODES}[1].assignee.field", "check.assignee_field_not_user", "assignee: {field: title}", "title",
        id="assignee-field-not-a-user-field",
    ),
    pytest.param(
        [(END_NODE, END_NODE + "\n        - {id: again, type: start}")],
        NODES, "check.one_start", "- {id: start, type: start}", "start",
        id="two-start-nodes",
    ),
    pytest.param(
        [("{id: end, type: end}", "{id: end, type: task, assignee: {role: agent}}")],
        NODES, "check.no_end", "- {id: start, type: start}", "end",
        id="no-end-node",
    ),
]  # fmt: skip


def test_the_minimal_app_is_valid():
    loaded = load_definition(MINIMAL)
    assert loaded.app.key == "mini"
    assert [n.id for n in loaded.app.ticket_type("ticket").flow.nodes] == ["start", "work", "end"]


@pytest.mark.parametrize(("edits", "path", "code", "on_line", "names"), WRONG)
def test_a_wrong_definition_is_reported_at_its_path_and_line(edits, path, code, on_line, names):
    text = minimal_app(*edits)
    err = refused(text)

    assert (path, code) in pairs(err)
    # One mistake, one place: nothing else in the definition is blamed.
    assert {p.path for p in err.problems} == {path}
    problem = next(p for p in err.problems if p.code == code)
    assert problem.line == line_of(text, on_line)
    assert problem.column is not None
    assert names in problem.message("en")
    assert names in problem.message("zh")


@pytest.mark.parametrize(("edits", "path", "code", "on_line", "names"), WRONG)
def test_a_wrong_definition_given_as_a_dict_reports_the_same_problem_without_a_line(
    edits, path, code, on_line, names
):
    from_text = refused(minimal_app(*edits))
    from_dict = refused(minimal_dict(*edits))

    assert pairs(from_dict) == pairs(from_text)
    assert (path, code) in pairs(from_dict)
    assert all(p.line is None and p.column is None for p in from_dict.problems)


def test_an_unquoted_on_in_a_rule_is_the_key_on_not_true():
    loaded = load_definition(MINIMAL)  # the rule says `on: created`, unquoted
    rule = loaded.app.ticket_type("ticket").rules[0]
    assert rule["on"] == "created"
    assert True not in rule
    assert loaded.data["ticket_types"]["ticket"]["rules"][0]["on"] == "created"


def test_a_top_level_list_is_refused_at_the_root():
    err = refused("- app: mini\n- name: Mini\n")
    problem = only(err, "schema.type")
    assert (problem.path, problem.line, problem.column) == ("", 1, 1)
    assert "expected object, got array" in problem.message("en")
    assert "(root)" in err.render("en")


def test_a_schema_error_in_one_place_does_not_hide_a_dangling_reference_elsewhere():
    # A field without its key (schema) must not silence the unknown role on a node (cross-reference).
    text = minimal_app(
        ("- {key: owner, type: user,", "- {type: user,"),
        ("assignee: {field: owner}", "assignee: {role: auditor}"),
    )
    err = refused(text)
    assert (f"{FIELDS}[1]", "schema.required") in pairs(err)
    assert (f"{NODES}[1].assignee.role", "check.unknown_role") in pairs(err)


# --- files that are not readable YAML ------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "on_line", "column"),
    [
        pytest.param(("    name: {zh: 工单", "\tname: {zh: 工单"), "\tname:", 1, id="tab-indentation"),
        pytest.param(("    name: {zh: 工单, en: Ticket}", "    name: Ticket: again"), "Ticket: again", 17,
                     id="colon-in-the-wrong-place"),
        pytest.param(("  agent: {zh: 客服", "  agent {zh: 客服"), "agent {zh", None, id="missing-colon"),
    ],
)  # fmt: skip
def test_malformed_yaml_is_reported_with_its_line_and_column(edit, on_line, column):
    text = minimal_app(edit)
    err = refused(text)
    problem = only(err, "source.syntax")

    assert problem.path == ""
    assert problem.line == line_of(text, on_line)
    assert problem.column is not None
    if column is not None:
        assert problem.column == column
    assert "Check indentation, colons and quotes" in problem.message("en")
    assert "请检查缩进、冒号和引号" in problem.message("zh")


def test_an_unclosed_bracket_is_reported_where_the_parser_noticed_it():
    text = minimal_app(("levels: [high, low]", "levels: [high, low"))
    problem = only(refused(text), "source.syntax")
    opened = line_of(text, "[high, low")
    # PyYAML notices the missing `]` on the opening line or where the next key starts.
    assert problem.line in (opened, opened + 1)
    assert problem.column is not None
    assert "']'" in problem.message("en")


@pytest.mark.parametrize(
    "empty",
    ["", "   \n", "# only a comment\n", b"", b"\xef\xbb\xbf"],
    ids=["str", "blank", "comment", "bytes", "bom"],
)
def test_an_empty_definition_says_it_is_empty(empty):
    problem = only(refused(empty), "source.empty")
    assert "The file is empty" in problem.message("en")
    assert "文件为空" in problem.message("zh")


def test_an_empty_file_says_it_is_empty(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    assert only(refused(path), "source.empty")


def test_a_missing_file_is_reported_as_unreadable(tmp_path):
    problem = only(refused(tmp_path / "nope.yaml"), "source.unreadable")
    assert "nope.yaml" in problem.message("en") and "nope.yaml" in problem.message("zh")


@pytest.mark.parametrize(
    ("edit", "path", "second"),
    [
        (("ticket_types:\n", "app: again\nticket_types:\n"), "app", "app: again"),
        (("          type: task\n", "          type: task\n          type: approval\n"), f"{NODES}[1].type",
         "type: approval"),
    ],
    ids=["app-twice", "node-type-twice"],
)  # fmt: skip
def test_a_duplicate_mapping_key_is_reported_at_its_second_occurrence(edit, path, second):
    text = minimal_app(edit)
    problem = only(refused(text), "source.duplicate_key")
    assert problem.path == path
    assert problem.line == line_of(text, second)
    assert "appears twice" in problem.message("en")
    assert "重复" in problem.message("zh")


@pytest.mark.parametrize(
    ("edit", "code", "on_line"),
    [
        (("  levels: [high, low]", "  levels: &lv [high, low]\n  more: *lv"), "source.alias", "*lv"),
        (("roles:\n", "roles:\n  <<: {boss: Boss}\n"), "source.merge_key", "<<:"),
    ],
    ids=["alias", "merge-key"],
)
def test_yaml_aliases_and_merge_keys_are_refused(edit, code, on_line):
    text = minimal_app(edit)
    problem = only(refused(text), code)
    assert problem.line == line_of(text, on_line)
    assert "Write the content out" in problem.message("en")


def test_a_billion_laughs_document_is_refused_before_expanding():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    problem = only(refused("\n".join(lines) + "\n"), "source.alias")
    assert problem.line == 2


def forbid_reading_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Input over the size limit must be refused from its size alone: reading or parsing fails the test."""

    def must_not_be_called(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("input over the size limit must not be read or parsed")

    monkeypatch.setattr(Path, "read_bytes", must_not_be_called)
    monkeypatch.setattr(yaml, "parse", must_not_be_called)
    monkeypatch.setattr(yaml, "compose", must_not_be_called)


def test_a_file_over_the_size_limit_is_refused_from_its_size_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.write(b"# padding padding padding padding\n" * (MAX_BYTES // 34 + 1))
    assert path.stat().st_size > MAX_BYTES == 5 * 1024 * 1024

    forbid_reading_and_parsing(monkeypatch)
    problem = only(refused(path), "source.too_large")
    assert problem.params == {"size": path.stat().st_size, "limit": MAX_BYTES}
    assert str(MAX_BYTES) in problem.message("en") and str(MAX_BYTES) in problem.message("zh")


def test_bytes_over_the_size_limit_are_refused_without_parsing(monkeypatch):
    forbid_reading_and_parsing(monkeypatch)
    problem = only(refused(b"#" * (MAX_BYTES + 1)), "source.too_large")
    assert problem.params["size"] == MAX_BYTES + 1


def test_text_over_the_size_limit_in_utf8_bytes_is_refused_without_parsing(monkeypatch):
    # 1.8 million Chinese characters are 5.4 MB of UTF-8: the limit is in bytes, not characters.
    text = "# " + "工" * (MAX_BYTES // 3 + 100_000)
    size = len(text.encode("utf-8"))
    assert len(text) < MAX_BYTES < size

    forbid_reading_and_parsing(monkeypatch)
    problem = only(refused(text), "source.too_large")
    assert problem.params["size"] == size


DEEP = 1000


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        "".join("  " * i + "a:\n" for i in range(DEEP)) + "  " * DEEP + "end\n",
        '{"a":' * DEEP + "1" + "}" * DEEP,
    ],
    ids=["yaml-flow", "yaml-block", "json"],
)
def test_a_definition_nested_a_thousand_levels_deep_is_refused_without_recursion_error(text):
    problem = only(refused(text), "source.too_deep")
    assert problem.params == {"limit": MAX_DEPTH}
    assert problem.line is not None and problem.column is not None
    assert "check the indentation" in problem.message("en")
    assert "请检查是否误缩进" in problem.message("zh")


def test_the_depth_limit_is_exactly_max_depth():
    at_limit = refused("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert "source.too_deep" not in {p.code for p in at_limit.problems}
    assert only(refused("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)), "source.too_deep")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, DEEP], ids=["just-over", "thousand"])
def test_a_dict_nested_too_deep_is_refused_like_the_same_text(depth):
    # The API hands load_definition parsed JSON: it must meet the same limit, and never recurse to death.
    assert only(refused(json.dumps(nested(MAX_DEPTH + 1))), "source.too_deep")
    problem = only(refused(nested(depth)), "source.too_deep")
    assert problem.line is None


def latin1_in(text: str) -> bytes:
    """``text`` as UTF-8, except its one ``é`` which is written in Latin-1 (byte 0xE9)."""
    assert text.count("\u00e9") == 1
    return text.encode("utf-8").replace("\u00e9".encode(), b"\xe9")


def test_bytes_that_are_not_utf8_are_reported_with_their_line_and_column():
    text = minimal_app(("    name: {zh: 工单, en: Ticket}", "    name: caf\u00e9"))
    problem = only(refused(latin1_in(text)), "source.not_utf8")

    assert problem.path == ""
    assert (problem.line, problem.column) == (line_of(text, "caf\u00e9"), len("    name: caf") + 1)
    assert "Save it as UTF-8" in problem.message("en")
    assert "请以 UTF-8 保存" in problem.message("zh")


def test_a_non_utf8_byte_after_chinese_text_is_reported_at_its_character_column():
    # Columns count characters everywhere else (YAML marks); 工单 is two characters, not six bytes.
    text = minimal_app(("en: Ticket}", "en: caf\u00e9}"))
    problem = only(refused(latin1_in(text)), "source.not_utf8")
    assert (problem.line, problem.column) == (
        line_of(text, "caf\u00e9"),
        len("    name: {zh: 工单, en: caf") + 1,
    )


@pytest.mark.parametrize("as_file", [False, True], ids=["bytes", "file"])
def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path, as_file):
    raw = b"\xef\xbb\xbf" + MINIMAL.encode("utf-8")
    source: Any = raw
    if as_file:
        source = tmp_path / "bom.yaml"
        source.write_bytes(raw)
    loaded = load_definition(source)
    assert loaded.data == load_definition(MINIMAL).data
    assert loaded.app.name["zh"] == "迷你工单"


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "2026-12-01T25:00:00"])
def test_an_impossible_unquoted_date_is_never_a_crash(value):
    text = minimal_app(("{key: owner, type: user,", f"{{key: due, type: date, default: {value}}}\n"
                        "            - {key: owner, type: user,"))  # fmt: skip
    try:
        loaded = load_definition(text)
    except DefinitionError as err:
        assert_explained(err)
        assert {p.line for p in err.problems} == {line_of(text, value)}
    else:  # unquoted dates are kept as the text written
        assert loaded.data["ticket_types"]["ticket"]["form"]["sections"][0]["fields"][1]["default"] == value


@pytest.mark.parametrize("tagged", ["!!int abc", "!!float x", "!!timestamp nope", "!!binary aGVsbG8="])
def test_an_explicit_yaml_tag_that_does_not_build_plain_data_is_a_definition_error(tagged):
    text = minimal_app(("{key: title, type: text,", f"{{key: title, type: text, default: {tagged},"))
    err = refused(text)
    assert {p.line for p in err.problems} == {line_of(text, tagged)}
