"""Imported open tickets carry on through their flow: the sheet's stage holds a token and its tasks
(for the sheet's assignee, else the node's own assignment), SLA clocks start at import, the inbox
lists them and the next action moves them on; closed rows get no task, gateway stages are refused in
the dry run, and importing again creates no second task."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import ticket_import as ti
from engine.access import load_principal
from engine.i18n import t
from engine.inbox import my_todos, team_queue
from engine.people import create_user
from engine.store.models import FlowInstance, Record, SlaClock, Task
from engine.store.types import utcnow
from engine.ticket_export import export_xlsx
from tests.support import give_role

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def people(runtime, db) -> dict[str, int]:
    runtime.publish(FIXTURES / "importlab.yaml")
    runtime.publish(FIXTURES / "importflow.yaml")
    found = {
        "alice": create_user(db, "alice", "王丽", phone="13800000001"),
        "dave": create_user(db, "dave", "Dave Li", phone="13800000002"),
        "erin": create_user(db, "erin", "赵敏", phone="13800000003"),
    }
    give_role(db, found["erin"], "importflow", "agent")
    return found


def write_csv(path: Path, rows: list[list[str]]) -> ti.Source:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return ti.Source(path, path.name, ti.file_sha256(path))


def import_rows(runtime, tmp_path: Path, app: str, ticket_type: str, rows: list[list[str]]) -> dict:
    src = write_csv(tmp_path / f"{app}.csv", rows)
    imp = ti.Importer(runtime, app, ticket_type)
    job = imp.check(src)
    assert job["error_rows"] == 0, job["errors"]
    return imp.run(job["id"], src)


def ticket_of(db, ref: str):
    with db.read() as conn:
        return conn.execute(select(Record.__table__).where(Record.external_ref == ref)).one()


def open_tasks(db, record_id: int) -> list:
    with db.read() as conn:
        return conn.execute(
            select(Task.__table__).where(Task.record_id == record_id, Task.status == "open").order_by(Task.id)
        ).all()


def inbox_numbers(runtime, db, user_id: int, tab=my_todos) -> list[str]:
    with db.read() as conn:
        page = tab(conn, load_principal(conn, user_id), runtime.spec_for, now=utcnow())
    return [item["ticket"]["number"] for item in page.items]


def test_an_open_row_at_a_stage_is_in_the_assignees_inbox_and_moves_on_when_they_act(
    runtime, db, people, tmp_path
):
    rows = [
        ["工单号", "标题", "阶段", "当前处理人", "创建时间"],
        ["H-1", "退款未到账", "处理", "13800000001", "2025-12-01 09:00"],  # the handler by mobile
    ]
    job = import_rows(runtime, tmp_path, "importlab", "complaint", rows)
    assert job["columns"]["当前处理人"] == "_assignee"
    ticket = ticket_of(db, "H-1")
    (task,) = open_tasks(db, ticket.id)
    assert (ticket.stage, task.node_id, task.assignee_id) == ("handle", "handle", people["alice"])
    assert inbox_numbers(runtime, db, people["alice"]) == [ticket.number]
    assert inbox_numbers(runtime, db, people["dave"]) == []  # the sheet's handler, not the node's own

    moved = runtime.act(task.id, "complete", actor=people["alice"])

    assert moved.stage == "review"
    (review,) = open_tasks(db, ticket.id)
    assert (review.node_id, review.assignee_id) == ("review", people["alice"])
    history = [(e["type"], e["payload"].get("node"), e["actor_id"]) for e in runtime.events(ticket.id)]
    assert history[:3] == [
        ("imported", None, None),
        ("stage_entered", "handle", None),
        ("task_created", "handle", None),
    ]
    assert ("task_completed", "handle", people["alice"]) in history
    assert ("stage_entered", "review", people["alice"]) in history
    assert runtime.ticket(ticket.id).created_at == dt.datetime(2025, 12, 1, 1, 0, tzinfo=dt.UTC)


def test_without_an_assignee_column_the_nodes_own_pool_gets_it_and_its_sla_clocks_start_at_import(
    runtime, db, people, tmp_path
):
    before = utcnow()
    rows = [["编号", "标题", "阶段", "创建时间"], ["P-1", "打印机坏了", "分诊", "2025-11-20 10:00"]]
    import_rows(runtime, tmp_path, "importflow", "request", rows)
    ticket = ticket_of(db, "P-1")

    (task,) = open_tasks(db, ticket.id)
    assert (task.assignee_id, task.candidates) == (None, {"role": "agent"})
    assert inbox_numbers(runtime, db, people["erin"], team_queue) == [ticket.number]
    with db.read() as conn:
        clocks = conn.execute(select(SlaClock.__table__).where(SlaClock.record_id == ticket.id)).all()
    assert sorted(c.target for c in clocks) == ["resolution", "response"]
    assert all(c.status == "running" and c.started_at >= before for c in clocks)  # at import, not 2025
    hours = {c.target: round((c.due_at - c.started_at).total_seconds() / 3600, 3) for c in clocks}
    assert hours == {"response": 4, "resolution": 24}

    after = runtime.act(task.id, "complete", actor=people["erin"])  # the pool member claims by acting
    assert after.stage == "handle"  # amount empty: the branch's default
    kinds = [e["type"] for e in runtime.events(ticket.id)]
    assert "sla_met" in kinds and kinds[0] == "imported"


def test_a_countersign_stage_gets_a_task_for_each_signer_and_ends_when_all_approve(
    runtime, db, people, tmp_path
):
    rows = [["编号", "标题", "金额", "阶段"], ["S-1", "采购服务器", "5000", "会签"]]
    import_rows(runtime, tmp_path, "importflow", "request", rows)
    ticket = ticket_of(db, "S-1")

    tasks = open_tasks(db, ticket.id)
    assert sorted(task.assignee_id for task in tasks) == sorted([people["alice"], people["dave"]])
    assert len({task.group_key for task in tasks}) == 1
    first = runtime.act(tasks[0].id, "approve", actor=tasks[0].assignee_id)
    assert first.status == "open"  # a countersign waits for every signer
    done = runtime.act(tasks[1].id, "approve", actor=tasks[1].assignee_id)
    assert (done.status, done.stage) == ("closed", None)


def test_several_people_in_the_assignee_cell_are_the_signers_of_a_countersign(runtime, db, people, tmp_path):
    rows = [["编号", "标题", "阶段", "当前处理人"], ["S-2", "合同", "sign", "赵敏、dave"]]
    import_rows(runtime, tmp_path, "importflow", "request", rows)
    tasks = open_tasks(db, ticket_of(db, "S-2").id)
    assert sorted(task.assignee_id for task in tasks) == sorted([people["erin"], people["dave"]])


def test_an_export_names_who_holds_the_open_tasks_and_reads_back_as_the_same_signers(
    runtime, db, people, tmp_path
):
    rows = [
        ["编号", "标题", "阶段", "当前处理人"],
        ["S-3", "合同", "sign", "赵敏、dave"],
        ["S-4", "已办", "sign", "dave"],
    ]
    import_rows(runtime, tmp_path, "importflow", "request", rows)
    done = open_tasks(db, ticket_of(db, "S-4").id)[0]
    runtime.act(done.id, "approve", actor=done.assignee_id)  # S-4 moved on: nobody holds it at "sign" now

    out = tmp_path / "export.xlsx"
    export_xlsx(runtime, "importflow", "request", out)
    sheet = ti.open_sheet(out, out.name)
    header = sheet.header
    column = header.index(next(h for h in header if h in ("当前处理人", "assignee")))
    by_ref = {values[0]: values[column] for _, values in sheet.rows()}
    assert set(by_ref["S-3"].split(", ")) == {"erin", "dave"}

    plan = ti.Importer(runtime, "importflow", "request").plan(ti.open_sheet(out, out.name), None)
    row = next(r for r in (plan.row(n, v) for n, v in ti.open_sheet(out, out.name).rows()) if r.ref == "S-3")
    assert sorted(row.assignees) == sorted([people["erin"], people["dave"]])


def test_an_open_row_without_a_stage_starts_its_flow_as_a_submission_would(runtime, db, people, tmp_path):
    rows = [
        ["编号", "标题", "状态", "关闭时间"],
        ["N-1", "新的", "处理中", ""],
        ["N-2", "旧的", "已关闭", "2025-01-02 10:00"],
    ]
    import_rows(runtime, tmp_path, "importflow", "request", rows)

    fresh, closed = ticket_of(db, "N-1"), ticket_of(db, "N-2")
    assert [task.node_id for task in open_tasks(db, fresh.id)] == ["triage"] and fresh.stage == "triage"
    assert open_tasks(db, closed.id) == []  # a closed row has no task, and its flow has ended
    with db.read() as conn:
        flows = dict(conn.execute(select(FlowInstance.record_id, FlowInstance.tokens)).all())
    assert flows == {fresh.id: ["triage"], closed.id: []}


def test_an_open_row_at_a_gateway_or_the_end_is_refused_in_the_dry_run_naming_the_allowed_stages(
    runtime, db, people, tmp_path
):
    rows = [
        ["编号", "标题", "阶段", "状态"],
        ["G-1", "网关", "金额判断", "处理中"],
        ["G-2", "结束", "已完成", "open"],
        ["G-3", "好的", "办理", "处理中"],
    ]
    src = write_csv(tmp_path / "gateway.csv", rows)
    job = ti.Importer(runtime, "importflow", "request").check(src)

    assert (job["valid_rows"], job["error_rows"]) == (1, 2)
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (2, "阶段", "import.stage_not_workable"),
        (3, "阶段", "import.stage_not_workable"),
    ]
    params = job["errors"][0]["params"]
    assert params["allowed"] == "triage (分诊), sign (会签), handle (办理)"
    assert "阶段" in t("import.stage_not_workable", "zh", **params)
    assert "triage" in t("import.stage_not_workable", "en", **params)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Record)).scalar_one() == 0


def test_importing_the_same_open_rows_again_creates_no_second_task(runtime, db, people, tmp_path):
    rows = [["编号", "标题", "阶段", "当前处理人"], ["A-1", "一", "办理", "王丽"], ["A-2", "二", "分诊", ""]]
    import_rows(runtime, tmp_path, "importflow", "request", rows)
    again = import_rows(runtime, tmp_path, "importflow", "request", rows)

    assert (again["existing_rows"], again["created_rows"]) == (2, 0)
    with db.read() as conn:
        tasks = conn.execute(select(Task.node_id, Task.assignee_id).order_by(Task.id)).all()
    assert [tuple(task) for task in tasks] == [("handle", people["alice"]), ("triage", None)]


def test_the_assignee_column_must_name_a_user_for_open_rows_only(runtime, db, people, tmp_path):
    rows = [
        ["编号", "标题", "阶段", "当前处理人", "状态", "关闭时间"],
        ["L-1", "还开着", "办理", "已离职的人", "处理中", ""],
        ["L-2", "早关了", "办理", "已离职的人", "已关闭", "2025-03-01 10:00"],
    ]
    job = ti.Importer(runtime, "importflow", "request").check(write_csv(tmp_path / "left.csv", rows))
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (2, "当前处理人", "import.no_user")
    ]
    assert job["valid_rows"] == 1


def test_a_batch_of_open_rows_asks_the_database_no_more_questions_for_more_rows(
    runtime, db, people, tmp_path
):
    """Entering the flow is batched: the assignments a node names are looked up once a batch, so
    the SELECTs of a run do not grow with its rows (only its INSERTs do)."""
    from sqlalchemy import event

    def selects_for(rows: int, name: str) -> int:
        sheet = [["编号", "标题", "阶段", "金额"]]
        stages = ("分诊", "办理", "会签")
        sheet += [[f"{name}-{i}-{s}", "行", s, "5000"] for i in range(rows) for s in stages]
        src = write_csv(tmp_path / f"{name}.csv", sheet)
        imp = ti.Importer(runtime, "importflow", "request")
        job = imp.check(src)
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            done = imp.run(job["id"], src)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert done["created_rows"] == rows * 3
        return len(seen)

    small = selects_for(2, "small")
    assert small > 0 and selects_for(20, "large") == small


def test_an_open_row_inside_a_parallel_section_passes_its_join_alone(runtime, db, people, tmp_path):
    rows = [["编号", "标题", "阶段"], ["R-1", "空调漏水", "维修"]]
    import_rows(runtime, tmp_path, "importflow", "repair", rows)
    ticket = ticket_of(db, "R-1")
    (task,) = open_tasks(db, ticket.id)  # the sheet's one stage: no task for the other branch
    assert (task.node_id, task.assignee_id) == ("fix", people["alice"])

    moved = runtime.act(task.id, "complete", actor=people["alice"])

    assert moved.stage == "check"  # the join did not wait for a branch nobody was on
    assert [t.node_id for t in open_tasks(db, ticket.id)] == ["check"]
