"""Bringing last year's sheets in as tickets: XLSX and GBK CSV, Chinese dates, people by name or
mobile, the dry run's row errors, batches that resume after a crash and never import twice, merged
cells and formulas, the row limit, export → import round trips, and the metrics reports read."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from engine import ticket_import as ti
from engine.errors import InputError
from engine.people import create_user
from engine.reports.keeping import rebuild
from engine.reports.run import Reports
from engine.store.models import Event, ImportJob, Record, Task, TicketMetrics
from engine.ticket_export import export_xlsx

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
HEADER = ["工单号", "标题", "金额", "发生日期", "优先级", "处理人", "状态", "创建时间", "关闭时间", "标签"]


@pytest.fixture
def lab(runtime, db):
    runtime.publish(LAB)
    people = {
        "alice": create_user(db, "alice", "王丽", phone="138-0000-0001", email="wangli@example.cn"),
        "dave": create_user(db, "dave", "Dave Li", phone="13800000002"),
    }
    return people


@pytest.fixture(params=["calamine", "streamed"])
def xlsx_reader(request, monkeypatch) -> str:
    """Both ways an XLSX is read: python-calamine, and the constant-memory stream of large sheets."""
    if request.param == "streamed":
        monkeypatch.setenv(ti.STREAM_ENV, "0")  # every sheet counts as large
    return request.param


def importer(runtime, batch: int = ti.BATCH) -> ti.Importer:
    return ti.Importer(runtime, "importlab", "complaint", batch=batch)


def source(path: Path) -> ti.Source:
    return ti.Source(path, path.name, ti.file_sha256(path))


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)
    return path


def records(db) -> list:
    with db.read() as conn:
        return conn.execute(select(Record.__table__).order_by(Record.id)).all()


def count(db, model) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def imported_events(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).where(Event.type == "imported")).scalar_one()


def import_file(runtime, path: Path, **kw) -> dict:
    imp = importer(runtime, **kw)
    job = imp.check(source(path))
    return imp.run(job["id"], source(path))


# ------------------------------------------------------------------------------ formats
def test_an_xlsx_sheet_becomes_tickets_with_their_historical_dates_and_stages(
    runtime, db, lab, tmp_path, xlsx_reader
):
    rows = [
        [
            "工单号",
            "标题",
            "金额",
            "发生日期",
            "来电时间",
            "优先级",
            "处理人",
            "阶段",
            "创建时间",
            "关闭时间",
        ],
        [
            "C-1",
            "退款未到账",
            1200,
            dt.date(2025, 3, 1),
            dt.datetime(2025, 3, 1, 9, 30),
            "紧急",
            "alice",
            "已关闭",
            dt.datetime(2025, 3, 1, 9, 0),
            dt.datetime(2025, 3, 2, 17, 0),
        ],
        [
            "C-2",
            "快递丢失",
            35.5,
            "2025-04-02",
            "2025/4/2 14:05",
            "P2",
            "Dave Li",
            "审核",
            dt.datetime(2025, 4, 2, 14, 0),
            None,
        ],
    ]
    job = import_file(runtime, write_xlsx(tmp_path / "last_year.xlsx", rows))

    assert (job["status"], job["created_rows"], job["error_rows"]) == ("done", 2, 0)
    closed, open_ = records(db)
    assert closed.external_ref == "C-1" and closed.number == "IM-202503-0001"
    assert closed.status == "closed" and closed.stage is None
    assert closed.created_at == dt.datetime(2025, 3, 1, 9, 0, tzinfo=SHANGHAI)
    assert closed.closed_at == dt.datetime(2025, 3, 2, 17, 0, tzinfo=SHANGHAI)
    assert closed.data == {
        "title": "退款未到账",
        "amount": 1200,
        "happened": "2025-03-01",
        "called_at": "2025-03-01T09:30:00+08:00",
        "priority": "P1",
        "owner": lab["alice"],
    }
    assert (open_.status, open_.stage, open_.closed_at) == ("open", "review", None)
    assert open_.data["called_at"] == "2025-04-02T14:05:00+08:00" and open_.data["owner"] == lab["dave"]
    assert runtime.events(closed.id)[0]["type"] == "imported"  # one event: the truth the metrics fold from
    assert len(runtime.events(closed.id)) == 1


def test_a_gbk_csv_with_chinese_dates_finds_people_by_name_mobile_or_username(runtime, db, lab, tmp_path):
    rows = [
        HEADER,
        [
            "G-1",
            "发票抬头错误",
            "1,200",
            "2026年11月3日",
            "普通",
            "王丽",
            "已关闭",
            "2026年11月3日 14时05分",
            "2026/11/4 10:05",
            "vip、repeat",
        ],
        ["G-2", "退货", "", "2026/11/5", "High", "+86 138 0000 0001", "处理中", "2026/11/5 9:00", "", ""],
        ["G-3", "咨询", "", "2026.11.6", "Urgent", "dave", "", "2026-11-06T08:00:00+08:00", "", "press"],
    ]
    path = write_csv(tmp_path / "工单.csv", rows, encoding="gbk")

    job = import_file(runtime, path)

    assert (job["created_rows"], job["error_rows"]) == (3, 0), job["errors"]
    g1, g2, g3 = records(db)
    assert g1.data == {
        "title": "发票抬头错误",
        "amount": 1200,
        "happened": "2026-11-03",
        "priority": "P3",
        "owner": lab["alice"],
        "tags": ["vip", "repeat"],
    }
    assert g1.created_at == dt.datetime(2026, 11, 3, 14, 5, tzinfo=SHANGHAI)
    assert g1.closed_at == dt.datetime(2026, 11, 4, 10, 5, tzinfo=SHANGHAI)
    assert g2.data["owner"] == lab["alice"] and g2.data["priority"] == "P2"  # by mobile; by English label
    assert g3.data["owner"] == lab["dave"] and g3.data["happened"] == "2026-11-06"
    assert g3.status == "open"


def test_a_utf8_csv_with_a_bom_is_read_and_its_first_header_is_not_mangled(runtime, db, lab, tmp_path):
    path = write_csv(
        tmp_path / "bom.csv", [["工单号", "标题"], ["B-1", "有 BOM 的文件"]], encoding="utf-8-sig"
    )
    job = import_file(runtime, path)
    assert job["columns"] == {"工单号": "_number", "标题": "title"}
    assert [r.external_ref for r in records(db)] == ["B-1"]


def test_a_file_in_neither_utf8_nor_gbk_is_refused_with_the_line(runtime, lab, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes("工单号,标题\n".encode() + b"X-1,\x80\xff\xfe\n")
    with pytest.raises(InputError) as caught:
        importer(runtime).check(source(path))
    assert caught.value.code == "import.bad_encoding"
    assert "CSV UTF-8" in caught.value.message("en") and "第 2 行" in caught.value.message("zh")


# ------------------------------------------------------------------------------ dry run
def test_the_dry_run_lists_every_rows_problems_by_row_and_column_and_writes_no_ticket(
    runtime, db, lab, tmp_path
):
    rows = [
        HEADER,
        ["D-1", "好的一行", "12", "2026-11-03", "P1", "alice", "", "", "", ""],
        ["D-2", "", "abc", "2026-13-01", "P9", "nobody", "", "", "", "loud"],
        ["D-1", "重复的单号", "1", "2026-11-01", "P1", "dave", "", "", "", ""],
        ["D-4", "关了却没有时间", "", "", "", "", "已关闭", "2026-11-01 10:00", "", ""],
        ["D-5", "先关后开", "", "", "", "", "closed", "2026-11-02 10:00", "2026-11-01 10:00", ""],
    ]
    job = importer(runtime).check(source(write_csv(tmp_path / "bad.csv", rows)))

    assert (job["status"], job["total_rows"], job["valid_rows"], job["error_rows"]) == ("checked", 5, 1, 4)
    found = {(e["row"], e["column"], e["code"]) for e in job["errors"]}
    assert found == {
        (3, "标题", "form.required"),
        (3, "金额", "import.not_number"),
        (3, "发生日期", "import.not_date"),
        (3, "优先级", "import.not_option"),
        (3, "处理人", "import.no_user"),
        (3, "标签", "import.not_option"),
        (4, "工单号", "import.duplicate_ref"),
        (5, "关闭时间", "import.closed_without_date"),
        (6, "关闭时间", "import.closed_before_created"),
    }
    duplicate = next(e for e in job["errors"] if e["code"] == "import.duplicate_ref")
    assert "第 2 行" in duplicate["message"]
    english = ti.job_view(db, job["id"], "en")["errors"]
    assert any('"abc" is not a number' in e["message"] for e in english)
    assert count(db, Record) == 0


def test_a_mapping_naming_a_missing_column_or_a_file_field_is_refused_before_any_row(runtime, lab, tmp_path):
    path = write_csv(tmp_path / "m.csv", [["单号", "说明"], ["M-1", "x"]])
    with pytest.raises(InputError) as caught:
        importer(runtime).check(source(path), {"columns": {"说明": "title", "附件": "title", "单号": "nope"}})
    codes = [p.code for p in caught.value.problems]
    assert codes == ["import.mapping_unknown_column", "import.mapping_twice", "import.mapping_unknown_target"]


def test_a_saved_mapping_maps_the_next_sheet_of_the_same_shape(runtime, db, lab, tmp_path):
    ti.save_mapping(
        db, "importlab", "complaint", "CRM 导出", {"columns": {"Ticket": "_number", "Subject": "title"}}, None
    )
    imp = importer(runtime)
    mapping = ti.saved_mapping(db, imp.app_id, "complaint", "CRM 导出")
    path = write_csv(tmp_path / "crm.csv", [["Ticket", "Subject"], ["S-1", "Printer jam"]])
    job = imp.run(imp.check(source(path), mapping)["id"], source(path))
    assert job["created_rows"] == 1 and records(db)[0].data["title"] == "Printer jam"


# ------------------------------------------------------------------------------ idempotent, resumable
def _many(n: int) -> list[list[str]]:
    return [["工单号", "标题", "创建时间"]] + [
        [f"N-{i}", f"第 {i} 张", "2026-01-05 09:00"] for i in range(1, n + 1)
    ]


def test_running_the_same_file_again_creates_nothing_new(runtime, db, lab, tmp_path):
    path = write_csv(tmp_path / "again.csv", _many(7))
    first = import_file(runtime, path, batch=3)
    events = count(db, Event)
    second = import_file(runtime, path, batch=3)  # a new upload of the same file
    imp = importer(runtime, batch=3)
    third = imp.run(first["id"], source(path))  # the finished job once more

    assert first["created_rows"] == 7
    assert second["existing_rows"] == 7 and second["created_rows"] == 0 and third["created_rows"] == 0
    assert count(db, Record) == 7 and count(db, TicketMetrics) == 7
    assert count(db, Task) == 7 and count(db, Event) == events  # one task per open ticket, not a second


def test_a_run_cut_off_between_batches_goes_on_where_it_stopped(runtime, db, lab, tmp_path):
    path = write_csv(tmp_path / "crash.csv", _many(10))
    imp = importer(runtime, batch=4)
    job = imp.check(source(path))

    cut = imp.run(job["id"], source(path), stop_after=1)  # the process dies after the first batch
    assert (cut["status"], cut["done_rows"], cut["created_rows"]) == ("running", 4, 4)
    with db.write() as conn:  # ... and minutes pass
        conn.execute(
            ImportJob.__table__.update().values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )

    done = importer(runtime, batch=4).run(job["id"], source(path))
    assert (done["status"], done["done_rows"], done["created_rows"]) == ("done", 10, 10)  # 4 + 6
    assert count(db, Task) == 10 and imported_events(db) == 10
    assert sorted(r.external_ref for r in records(db)) == sorted(f"N-{i}" for i in range(1, 11))


def test_a_batch_that_fails_midway_leaves_nothing_half_imported(runtime, db, lab, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "half.csv", _many(9))
    imp = importer(runtime, batch=3)
    job = imp.check(source(path))
    real = ti.Importer._insert
    calls = []

    def failing(self, conn, job_id, rows, now):
        calls.append(len(rows))
        created = real(self, conn, job_id, rows, now)  # the batch's rows are written ...
        if len(calls) == 2:
            raise OSError("disk full")  # ... then the transaction dies
        return created

    monkeypatch.setattr(ti.Importer, "_insert", failing)
    with pytest.raises(OSError):
        imp.run(job["id"], source(path))
    # batch 1 only; batch 2 rolled back whole
    assert count(db, Record) == 3 and count(db, Task) == 3 and imported_events(db) == 3
    assert ti.job_view(db, job["id"])["done_rows"] == 3

    monkeypatch.setattr(ti.Importer, "_insert", real)
    with db.write() as conn:
        conn.execute(
            ImportJob.__table__.update().values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )
    done = importer(runtime, batch=3).run(job["id"], source(path))
    assert done["created_rows"] == 9 and count(db, Record) == 9


def test_a_running_job_cannot_be_started_twice(runtime, lab, tmp_path):
    path = write_csv(tmp_path / "twice.csv", _many(4))
    imp = importer(runtime, batch=2)
    job = imp.check(source(path))
    imp.run(job["id"], source(path), stop_after=1)
    with pytest.raises(Exception) as caught:
        importer(runtime).run(job["id"], source(path))
    assert getattr(caught.value, "code", "") == "import.job_running"


# ------------------------------------------------------------------------------ awkward sheets
def _with_cached_formula(path: Path, cell: str, value: str) -> None:
    """openpyxl writes formulas without a cached value; Excel keeps one. Give the cell its value."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(
                    rf'(<c r="{cell}"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?',
                    rf"\1<f>\2</f><v>{value}</v>",
                    text,
                )
                data = text.encode()
            out.writestr(item, data)
    tmp.replace(path)


def test_merged_cells_fill_every_row_they_cover_and_formulas_give_their_cached_values(
    runtime, db, lab, tmp_path, xlsx_reader
):
    rows = [
        ["工单号", "标题", "优先级", "金额"],
        ["F-1", "甲", "紧急", 10],
        ["F-2", "乙", None, "=D2*2"],
        ["F-3", "丙", None, 5],
    ]
    path = write_xlsx(tmp_path / "merged.xlsx", rows, merge="C2:C4")  # 优先级 merged down three rows
    _with_cached_formula(path, "D3", "20")

    job = import_file(runtime, path)

    assert job["error_rows"] == 0, job["errors"]
    assert [(r.data["priority"], r.data.get("amount")) for r in records(db)] == [
        ("P1", 10),
        ("P1", 20),
        ("P1", 5),
    ]


def test_a_sheet_over_the_row_limit_is_refused_with_the_limit_before_reading_it(
    runtime, lab, tmp_path, monkeypatch, xlsx_reader
):
    monkeypatch.setenv(ti.MAX_ROWS_ENV, "5")
    csv_path = write_csv(tmp_path / "big.csv", _many(6))
    xlsx_path = write_xlsx(tmp_path / "big.xlsx", _many(6))
    for path in (csv_path, xlsx_path):
        with pytest.raises(InputError) as caught:
            importer(runtime).check(source(path))
        assert caught.value.code == "import.too_many_rows"
        assert caught.value.params == {"rows": 6, "limit": 5}


def test_a_full_excel_sheet_of_1048576_rows_is_refused_by_its_declared_size_not_loaded(
    runtime, lab, tmp_path
):
    path = write_xlsx(tmp_path / "full.xlsx", _many(2))
    with zipfile.ZipFile(path) as z:  # the dimension Excel writes for a sheet filled to its last row
        items = {i.filename: z.read(i.filename) for i in z.infolist()}
    items["xl/worksheets/sheet1.xml"] = re.sub(
        rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C1048577"', items["xl/worksheets/sheet1.xml"]
    )
    with zipfile.ZipFile(path, "w") as z:
        for name, data in items.items():
            z.writestr(name, data)
    with pytest.raises(InputError) as caught:
        importer(runtime).check(source(path))
    assert caught.value.params == {"rows": 1_048_576, "limit": ti.DEFAULT_MAX_ROWS}
    assert "1048576" in caught.value.message("en")


def test_a_unique_field_already_taken_is_a_row_error_and_the_rest_import(runtime, db, lab, tmp_path):
    runtime.submit("importlab", "complaint", {"title": "已有", "order_no": "SO-1"})
    rows = [["工单号", "标题", "订单号"], ["U-1", "撞号", "SO-1"], ["U-2", "新的", "SO-2"]]
    job = import_file(runtime, write_csv(tmp_path / "u.csv", rows))
    assert job["created_rows"] == 1 and [e["code"] for e in job["errors"]] == ["import.not_unique"]


# ------------------------------------------------------------------------------ export, reports
def test_export_then_import_round_trips_without_loss_or_duplicates(runtime, db, lab, tmp_path, xlsx_reader):
    native = runtime.submit(
        "importlab",
        "complaint",
        {
            "title": "页面提交",
            "priority": "P2",
            "tags": ["press"],
            "owner": lab["dave"],
            "vip": True,
            "rating": 4,
        },
    )
    rows = [
        HEADER,
        [
            "R-1",
            "导入的",
            "99.5",
            "2026-11-03",
            "紧急",
            "王丽",
            "已关闭",
            "2026-11-03 09:00",
            "2026-11-03 18:30",
            "vip",
        ],
    ]
    import_file(runtime, write_csv(tmp_path / "in.csv", rows))
    before = {r.id: r for r in records(db)}

    out = tmp_path / "export.xlsx"
    assert export_xlsx(runtime, "importlab", "complaint", out) == 2
    imp = importer(runtime)
    sheet = ti.open_sheet(out, out.name)
    plan = imp.plan(sheet, None)
    read_back = [plan.row(n, values) for n, values in sheet.rows()]
    by_ref = {r.external_ref or r.number: r for r in before.values()}
    for row in read_back:
        assert row.ok, row.problems
        rec = by_ref[row.ref]
        assert row.data == rec.data  # every field as it was
        assert (row.status, row.created_at, row.closed_at) == (rec.status, rec.created_at, rec.closed_at)

    job = imp.run(imp.check(source(out))["id"], source(out))
    assert (job["existing_rows"], job["created_rows"]) == (2, 0)
    assert count(db, Record) == 2 and native.number in by_ref


def test_imported_closed_tickets_show_up_in_report_metrics_and_survive_a_rebuild(runtime, db, lab, tmp_path):
    rows = [
        ["工单号", "标题", "创建时间", "关闭时间", "满意度"],
        ["K-1", "甲", "2025-06-02 09:00", "2025-06-02 15:00", "5"],
        ["K-2", "乙", "2025-06-10 09:00", "2025-06-11 09:00", "3"],
        ["K-3", "丙", "2025-07-01 09:00", "", ""],
    ]
    import_file(runtime, write_csv(tmp_path / "metrics.csv", rows))
    report = {
        "id": "by_month",
        "name": {"zh": "按月", "en": "By month"},
        "dimensions": [{"month": "bucket(created_at, 'month')"}],
        "measures": ["count", {"avg": "metrics.resolution_hours"}, {"avg": "metrics.satisfaction"}],
    }

    def table() -> list:
        return list(Reports(runtime).run("importlab", "complaint", report).table())[1:]

    assert table() == [["2025-06", 2, 15.0, 4.0], ["2025-07", 1, None, None]]
    assert rebuild(db, "importlab") == 3  # recomputed from the `imported` events alone
    assert table() == [["2025-06", 2, 15.0, 4.0], ["2025-07", 1, None, None]]
