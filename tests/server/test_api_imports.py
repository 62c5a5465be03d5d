"""The import API as an admin's browser and scripts use it: upload and check, map, run with progress,
export; admins only; bad files refused with the reason. Also the `gongdan tickets` commands."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from engine.cli import main

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


ROWS = [
    ["工单号", "标题", "优先级", "处理人", "状态", "创建时间", "关闭时间"],
    ["A-1", "退款未到账", "紧急", "alice", "已关闭", "2026年11月3日 9:00", "2026/11/3 18:00"],
    ["A-2", "快递丢失", "普通", "13900000001", "处理中", "2026/11/4 10:00", ""],
    ["A-3", "", "P9", "nobody", "", "", ""],
]


@pytest.fixture
def lab(web):
    web.runtime.publish(LAB)
    web.user("alice", phone="13900000001")
    web.admin = web.client("admin")
    return web


def upload(client, data: bytes, name: str = "sheet.csv", **form):
    return client.post(
        "/api/v1/imports/importlab/complaint",
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def wait_done(client, job_id: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/jobs/{job_id}").json
        if job["status"] in ("done", "failed"):
            return job
    raise AssertionError("the import did not finish")


def test_upload_checks_every_row_then_run_imports_the_valid_ones(lab):
    checked = upload(lab.admin, csv_bytes(ROWS, "gbk"))
    assert checked.status_code == 202, checked.json  # the queue runs in the request here (immediate)
    job = checked.json
    assert (job["status"], job["total_rows"], job["valid_rows"], job["error_rows"]) == ("checked", 3, 2, 1)
    assert job["header"] == ROWS[0] and job["columns"]["处理人"] == "owner"
    assert {e["column"] for e in job["errors"]} == {"标题", "优先级", "处理人"}
    assert all(e["row"] == 4 for e in job["errors"])
    assert "3 rows" not in job["summary"] and "2" in job["summary"]

    started = lab.admin.post(f"/api/v1/imports/jobs/{job['id']}/run")
    assert started.status_code == 202
    done = wait_done(lab.admin, job["id"])
    assert (done["status"], done["done_rows"], done["created_rows"], done["progress"]) == ("done", 3, 2, 1.0)
    mine = lab.admin.get("/api/v1/tickets?app=importlab&ticket_type=complaint").json["items"]
    assert sorted(t["data"]["title"] for t in mine) == ["快递丢失", "退款未到账"]
    closed = next(t for t in mine if t["data"]["title"] == "退款未到账")
    shown = lab.admin.get(f"/tickets/{closed['id']}")  # the ticket page of an imported ticket
    assert shown.status_code == 200 and "从表格导入" in shown.get_data(as_text=True)


def test_a_mapping_is_saved_and_used_for_the_next_sheet(lab):
    rows = [["Ticket", "Subject"], ["S-1", "Printer jam"]]
    first = upload(
        lab.admin,
        csv_bytes(rows),
        mapping='{"columns": {"Ticket": "_number", "Subject": "title"}}',
        save_as="crm",
    )
    assert first.status_code == 202 and first.json["valid_rows"] == 1
    targets = lab.admin.get("/api/v1/imports/importlab/complaint/targets").json
    assert targets["mappings"] == [
        {"name": "crm", "mapping": {"columns": {"Ticket": "_number", "Subject": "title"}}}
    ]
    assert {"key": "title", "label": "标题", "type": "text", "required": True} in targets["targets"]
    second = upload(lab.admin, csv_bytes([["Ticket", "Subject"], ["S-2", "Toner"]]), mapping_name="crm")
    assert (
        second.json["columns"] == {"Ticket": "_number", "Subject": "title"} and second.json["valid_rows"] == 1
    )


def test_export_downloads_xlsx_that_imports_back_to_nothing_new(lab):
    job = upload(lab.admin, csv_bytes(ROWS)).json
    lab.admin.post(f"/api/v1/imports/jobs/{job['id']}/run")
    wait_done(lab.admin, job["id"])

    answer = lab.admin.get("/api/v1/imports/importlab/complaint/export")
    assert answer.status_code == 200 and answer.mimetype.endswith("spreadsheetml.sheet")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(answer.data)).get_sheet_by_index(0).to_python()
    assert rows[0][0] == "工单号" and sorted(r[0] for r in rows[1:]) == ["A-1", "A-2"]

    again = upload(lab.admin, answer.data, name="export.xlsx").json
    assert (again["existing_rows"], again["error_rows"]) == (2, 0)
    lab.admin.post(f"/api/v1/imports/jobs/{again['id']}/run")
    assert wait_done(lab.admin, again["id"])["created_rows"] == 0


def test_bad_files_are_refused_with_the_reason_and_nothing_is_imported(lab):
    wrong = upload(lab.admin, b"%PDF-1.4", name="scan.pdf")
    assert wrong.status_code == 400 and wrong.json["code"] == "import.unknown_format"
    garbled = upload(lab.admin, "工单号,标题\n".encode() + b"X,\x80\xff\n").json
    assert garbled["status"] == "failed" and garbled["errors"][0]["code"] == "import.bad_encoding"
    assert "编码" in garbled["errors"][0]["message"] and "检查未能完成" in garbled["summary"]
    broken = upload(lab.admin, b"PK\x03\x04 not really a workbook", name="broken.xlsx").json
    assert broken["status"] == "failed" and broken["errors"][0]["code"] == "import.unreadable"
    bad_map = upload(lab.admin, csv_bytes(ROWS), mapping='{"columns": {"标题": "no_such_field"}}').json
    assert bad_map["status"] == "failed" and bad_map["errors"][0]["code"] == "import.mapping_invalid"
    assert (bad_map["errors"][1]["column"], bad_map["errors"][1]["code"]) == (
        "标题",
        "import.mapping_unknown_target",
    )
    refused = lab.admin.post(f"/api/v1/imports/jobs/{bad_map['id']}/run")
    assert refused.status_code == 409 and refused.json["code"] == "import.job_not_checked"
    missing = lab.admin.post(
        "/api/v1/imports/importlab/complaint", data={}, content_type="multipart/form-data"
    )
    assert missing.status_code == 400 and missing.json["code"] == "import.no_file"


def test_only_admins_import_and_export(lab):
    lab.user("agent")
    agent = lab.client("agent")
    assert upload(agent, csv_bytes(ROWS)).status_code == 403
    assert agent.get("/api/v1/imports/importlab/complaint/export").status_code == 403
    assert lab.anonymous().get("/api/v1/imports/jobs/1").status_code == 401


def test_an_unknown_job_or_type_is_404(lab):
    assert lab.admin.get("/api/v1/imports/jobs/999").status_code == 404
    assert lab.admin.post("/api/v1/imports/jobs/999/run").status_code == 404
    assert lab.admin.get("/api/v1/imports/importlab/nope/export").status_code == 404


def test_the_cli_imports_a_sheet_lists_problems_and_exports(database_url, tmp_path, web):
    web.runtime.publish(LAB)
    web.user("alice", phone="13900000001")
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LANG": "en"}
    sheet = tmp_path / "last_year.csv"
    sheet.write_bytes(csv_bytes(ROWS, "gbk"))

    def gongdan(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    dry = gongdan("tickets", "import", str(sheet), "--app", "importlab", "--type", "complaint", "--dry-run")
    assert dry.exit_code == 0 and "2 can be imported, 1 have errors" in dry.output
    assert 'row 4 [处理人]: No user "nobody"' in dry.output
    done = gongdan("tickets", "import", str(sheet), "--app", "importlab", "--type", "complaint")
    assert "2 tickets created" in done.output
    again = gongdan("tickets", "import", str(sheet), "--app", "importlab", "--type", "complaint")
    assert "0 tickets created, 2 already imported" in again.output
    out = tmp_path / "out.xlsx"
    exported = gongdan("tickets", "export", "--app", "importlab", "--type", "complaint", "-o", str(out))
    assert exported.exit_code == 0 and "2 tickets written" in exported.output and out.stat().st_size > 0
    bad = gongdan("tickets", "import", str(sheet), "--app", "importlab", "--type", "nope")
    assert bad.exit_code == 2 and "nope" in bad.output


# ------------------------------------------------------------------------------ large sheets
MIB = 1 << 20


def big_csv(size: int) -> bytes:
    """A real sheet of about ``size`` bytes: ticket rows with a long (unmapped) note each."""
    note = "备注" * 50_000  # 300,000 bytes, under the CSV reader's cell limit
    rows = [["工单号", "标题", "备注"]]
    rows += [[f"B-{i}", f"第 {i} 张", note] for i in range(size // (len(note.encode()) + 20) + 1)]
    return csv_bytes(rows)


def test_a_sheet_larger_than_the_16_mib_request_cap_uploads_to_the_import_but_not_elsewhere(lab):
    body = big_csv(20 * MIB)
    assert len(body) > 20 * MIB

    checked = upload(lab.admin, body, name="big.csv")
    assert checked.status_code == 202, checked.json
    assert checked.json["valid_rows"] == checked.json["total_rows"] > 60

    elsewhere = lab.admin.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(body), "big.csv")},
        content_type="multipart/form-data",
    )
    assert elsewhere.status_code == 413
    assert elsewhere.json["code"] == "http.413" and "16 MB" in elsewhere.json["message"]


def test_a_sheet_over_the_import_limit_is_refused_with_413_saying_the_limit(lab, monkeypatch):
    monkeypatch.setenv("GONGDAN_IMPORT_MAX_BYTES", str(8 * MIB))
    refused = upload(lab.admin, big_csv(9 * MIB), name="big.csv")
    assert refused.status_code == 413
    assert refused.json["code"] == "http.413" and "最多 8 MB" in refused.json["message"]
    assert upload(lab.admin, csv_bytes(ROWS)).status_code == 202  # a sheet under it still goes in
