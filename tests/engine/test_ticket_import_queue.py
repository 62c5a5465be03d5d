"""Imports on the job queue: a check or a run whose worker died is taken up again by the minute tick
and goes on where it stopped, never creating a ticket twice; two ticks at once take a job once; a
worker judged dead that wakes up writes nothing more."""

from __future__ import annotations

import csv
import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import ticket_import as ti
from engine.config import load_settings
from engine.jobs.queue import JobQueue, make_huey
from engine.store.models import Event, Record
from engine.store.types import utcnow

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "importlab.yaml"
LATER = dt.timedelta(minutes=5)  # longer than STALE_RUN: the worker is silent since


@pytest.fixture
def lab(runtime):
    runtime.publish(LAB)


@pytest.fixture
def queue(db, tmp_path) -> JobQueue:
    """Real huey in immediate mode: what the tick queues runs in the tick's own thread."""
    return JobQueue(make_huey(load_settings({"GONGDAN_HOME": str(tmp_path)}), immediate=True), db)


def sheet(tmp_path: Path, n: int) -> ti.Source:
    path = tmp_path / "tickets.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["工单号", "标题", "状态", "创建时间", "关闭时间"])
        writer.writerows(
            [f"Q-{i}", f"第 {i} 张", "已关闭", "2026/1/5 9:00", "2026/1/6 9:00"] for i in range(1, n + 1)
        )
    return ti.Source(path, path.name, ti.file_sha256(path))


def refs(db) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(select(Record.external_ref)).scalars())


def imported_events(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).where(Event.type == "imported")).scalar_one()


def cut_off_run(runtime, source: ti.Source) -> tuple[int, str]:
    """A job checked, then its run killed after the first batch of 4 rows: (job id, its dead token)."""
    importer = ti.Importer(runtime, "importlab", "complaint", batch=4)
    job = importer.check(source)
    token = importer.begin(job["id"], source)
    cut = importer.run(job["id"], source, stop_after=1, token=token)
    assert (cut["status"], cut["done_rows"], cut["created_rows"]) == ("running", 4, 4)
    return job["id"], token


def test_a_run_whose_worker_died_is_resumed_by_the_tick_and_creates_no_ticket_twice(
    runtime, db, lab, queue, tmp_path
):
    source = sheet(tmp_path, 10)
    job_id, _ = cut_off_run(runtime, source)

    queue.run_tick(utcnow())  # the worker may only be slow: its job is left alone
    assert ti.job_view(db, job_id)["status"] == "running"

    queue.run_tick(utcnow() + LATER)
    done = ti.job_view(db, job_id)
    assert (done["status"], done["done_rows"], done["created_rows"]) == ("done", 10, 10)  # 4 + 6
    assert refs(db) == sorted(f"Q-{i}" for i in range(1, 11)) and imported_events(db) == 10


def test_a_check_whose_worker_died_is_run_again_by_the_tick(runtime, db, lab, queue, tmp_path):
    source = sheet(tmp_path, 6)
    job_id, _ = ti.Importer(runtime, "importlab", "complaint").open_check(source)  # its message was lost

    queue.run_tick(utcnow() + LATER)
    job = ti.job_view(db, job_id)
    assert (job["status"], job["total_rows"], job["valid_rows"], job["error_rows"]) == ("checked", 6, 6, 0)
    assert ti.job_summary(job, "en").startswith("Checked: 6 rows")


def test_a_worker_judged_dead_that_wakes_up_writes_nothing(runtime, db, lab, tmp_path):
    source = sheet(tmp_path, 10)
    job_id, dead = cut_off_run(runtime, source)
    ((taken, token),) = ti.claim_stale(db, utcnow() + LATER)
    assert taken == job_id and token != dead

    with pytest.raises(ti.JobLost):
        ti.Importer(runtime, "importlab", "complaint", batch=4).run(job_id, source, token=dead)
    ti.work(runtime, job_id, dead)  # its queued message, late: stops at once
    assert ti.job_view(db, job_id)["created_rows"] == 4 and len(refs(db)) == 4

    ti.work(runtime, job_id, token)
    assert ti.job_view(db, job_id)["created_rows"] == 10 and len(refs(db)) == 10


def test_two_ticks_at_once_take_a_silent_job_once(runtime, db, lab, tmp_path):
    job_id, _ = cut_off_run(runtime, sheet(tmp_path, 10))
    later = utcnow() + LATER
    start = threading.Barrier(4)
    claims: list[tuple[int, str]] = []

    def tick() -> None:
        start.wait()
        claims.extend(ti.claim_stale(db, later))

    ticks = [threading.Thread(target=tick) for _ in range(4)]
    for t in ticks:
        t.start()
    for t in ticks:
        t.join()
    assert [job for job, _ in claims] == [job_id]
    assert ti.claim_stale(db, later) == []  # and it stays taken while its new worker beats


def test_a_check_that_cannot_read_the_sheet_fails_with_the_reason(runtime, db, lab, queue, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    source = ti.Source(path, path.name, ti.file_sha256(path))
    job_id, token = ti.Importer(runtime, "importlab", "complaint").open_check(source)
    queue.import_job(job_id, token)
    job = ti.job_view(db, job_id, "en")
    assert job["status"] == "failed" and job["errors"][0]["code"] == "import.unreadable"
    assert "nothing in the file was imported" in ti.job_summary(job, "en")
    assert queue.resume_imports(db, utcnow() + LATER) == 0  # a failed job is not taken up again


def test_a_check_reports_the_rows_checked_of_the_total_as_it_goes(runtime, db, lab, tmp_path, monkeypatch):
    source = sheet(tmp_path, 7)
    importer = ti.Importer(runtime, "importlab", "complaint", batch=3)
    job_id, token = importer.open_check(source)
    seen = []
    real_beat = ti.beat

    def beat_and_look(db_, job_id_, token_, **values):  # the real heartbeat, then what a poll shows
        real_beat(db_, job_id_, token_, **values)
        job = ti.job_view(db_, job_id_)
        seen.append((job["status"], job["done_rows"], job["total_rows"]))

    monkeypatch.setattr(ti, "beat", beat_and_look)
    importer.check_job(job_id, token)
    assert seen == [("checking", 0, 7), ("checking", 3, 7), ("checking", 6, 7), ("checked", 0, 7)]
