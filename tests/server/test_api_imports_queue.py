"""The import's check and run are tasks on the job queue: the upload and the run answer at once, a
worker (here: this test, taking the queued tasks as a huey consumer does) does the work, and the
job says where it stands meanwhile."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from engine.ticket_import import job_summary

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
ROWS = [
    ["工单号", "标题", "优先级", "状态", "创建时间", "关闭时间"],
    ["Q-1", "退款未到账", "紧急", "已关闭", "2026年11月3日 9:00", "2026/11/3 18:00"],
    ["Q-2", "快递丢失", "普通", "已关闭", "2026/11/4 10:00", "2026/11/5 10:00"],
    ["Q-3", "", "P9", "", "", ""],
]


@pytest.fixture
def site(web):
    """The site with a real queue behind it: tasks wait in huey's SQLite queue until a worker runs them."""
    web.runtime.publish(LAB)
    web.platform.queue.huey.immediate = False
    web.admin = web.client("admin")
    yield web
    web.platform.queue.huey.immediate = True


def run_worker(huey) -> int:
    """What a consumer does: take each queued task and run it; how many there were."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def upload(client, rows: list[list[str]]):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return client.post(
        "/api/v1/imports/importlab/complaint",
        data={"file": (io.BytesIO(out.getvalue().encode()), "sheet.csv")},
        content_type="multipart/form-data",
    )


def test_the_upload_answers_before_the_check_which_runs_on_the_queue(site):
    answer = upload(site.admin, ROWS)
    assert answer.status_code == 202, answer.json
    job = answer.json
    assert (job["status"], job["done_rows"], job["error_rows"]) == ("checking", 0, 0)
    assert "排队" in job["summary"]
    assert site.admin.get(f"/api/v1/imports/jobs/{job['id']}").json["status"] == "checking"

    assert run_worker(site.platform.queue.huey) == 1
    checked = site.admin.get(f"/api/v1/imports/jobs/{job['id']}").json
    assert (checked["status"], checked["total_rows"], checked["valid_rows"], checked["error_rows"]) == (
        "checked",
        3,
        2,
        1,
    )
    assert {e["column"] for e in checked["errors"]} == {"标题", "优先级"}


def test_the_run_goes_through_the_queue(site):
    job = upload(site.admin, ROWS).json
    run_worker(site.platform.queue.huey)

    started = site.admin.post(f"/api/v1/imports/jobs/{job['id']}/run")
    assert started.status_code == 202 and started.json["status"] == "running"
    assert site.admin.get("/api/v1/tickets?app=importlab&ticket_type=complaint").json["items"] == []
    again = site.admin.post(f"/api/v1/imports/jobs/{job['id']}/run")
    assert again.status_code == 409 and again.json["code"] == "import.job_running"

    assert run_worker(site.platform.queue.huey) == 1
    done = site.admin.get(f"/api/v1/imports/jobs/{job['id']}").json
    assert (done["status"], done["done_rows"], done["created_rows"]) == ("done", 3, 2)
    titles = [t["data"]["title"] for t in site.admin.get("/api/v1/tickets?app=importlab").json["items"]]
    assert sorted(titles) == ["快递丢失", "退款未到账"]


def test_a_sheet_still_being_checked_cannot_be_imported(site):
    job = upload(site.admin, ROWS).json
    refused = site.admin.post(f"/api/v1/imports/jobs/{job['id']}/run")
    assert refused.status_code == 409 and refused.json["code"] == "import.job_checking"
    progress = site.admin.get(f"/admin/imports/jobs/{job['id']}/progress")
    assert progress.status_code == 200 and 'data-status="checking"' in progress.get_data(as_text=True)


def test_the_summary_of_a_check_says_how_far_it_got():
    job = {"status": "checking", "total_rows": 100_000, "done_rows": 41_000, "columns": {}}
    assert job_summary(job, "zh") == "正在检查……已检查 41000 / 100000 行。"
    assert job_summary(job, "en") == "Checking… 41000 / 100000 rows checked."
