"""import.xlsx: importing a 100,000-row × 30-column sheet as tickets (every row converted and
validated by the form engine, numbered, written with its event and metrics row, 1,000 rows per
transaction) versus pandas.read_excel plus a bare SQLAlchemy Core insert of the same rows into one
30-column table. Both read the same file and write SQLite (WAL, synchronous=NORMAL) in one run.

The sheet is generated once into ``/tmp/gongdan-bench`` (``GONGDAN_BENCH_CACHE``) and reused.
``measure(rows=...)`` runs a smaller size (tests/benchmarks/test_import_bench.py).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, create_engine, event

from benchmarks import Result, benchmark, median_rate
from benchmarks.ticket30 import make_valid

HERE = Path(__file__).parent
CACHE = Path(os.environ.get("GONGDAN_BENCH_CACHE", "/tmp/gongdan-bench"))
ROWS = 100_000
#: The sheet's columns: the ticket number, then the 29 form fields the bench30 app can import.
FIELDS = [
    "title", "description", "requester_email", "requester_phone", "priority", "category", "subcategory",
    "impact", "urgency", "status", "assignee", "team", "due_date", "estimated_hours", "cost_center",
    "asset_tag", "location", "floor", "customer_level", "amount", "currency", "contract_id", "sla_hours",
    "channel", "language", "tags", "is_billable", "approval_required", "line_items",
]  # fmt: skip
COLUMNS = ["ticket_no", *FIELDS]
assert len(COLUMNS) == 30


def _cell(key: str, value: Any) -> Any:
    if key == "line_items":
        return json.dumps(value, ensure_ascii=False)
    if key == "tags":
        return ", ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _row(i: int, rng: random.Random) -> list[Any]:
    doc = make_valid(rng)
    return [f"T-{i:07d}", *(_cell(k, doc.get(k)) for k in FIELDS)]


def sheet(rows: int = ROWS, folder: Path = CACHE) -> Path:
    """The benchmark's sheet of ``rows`` rows, generated once (openpyxl, write-only) and cached."""
    from openpyxl import Workbook

    path = folder / f"import-{rows}x30.xlsx"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    book = Workbook(write_only=True)
    ws = book.create_sheet("tickets")
    ws.append(COLUMNS)
    for i in range(1, rows + 1):
        ws.append(_row(i, rng))
    part = path.with_suffix(".part.xlsx")
    book.save(part)
    part.replace(path)
    return path


def _sqlite(path: Path):
    eng = create_engine(f"sqlite:///{path}")

    @event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return eng


def _fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def ours(path: Path, tmp: Path) -> tuple[float, dict[str, Any]]:
    """Seconds to import the sheet (the run: read, convert, validate, write), and the finished job."""
    from engine.runtime import Runtime
    from engine.store import Database, migrate
    from engine.ticket_import import Importer, Source, file_sha256

    db_path = _fresh(tmp, "ours.db")
    migrate(f"sqlite:///{db_path}")
    db = Database(f"sqlite:///{db_path}")
    runtime = Runtime(db)
    runtime.publish(HERE / "bench30.yaml")
    importer = Importer(runtime, "bench30", "ticket")
    source = Source(path, path.name, file_sha256(path))
    mapping = {"columns": {"ticket_no": "_number", **{k: k for k in FIELDS}}}
    with db.write() as conn:  # the job as an upload's check leaves it (the dry run is not timed)
        from sqlalchemy import insert

        from engine.store.models import ImportJob
        from engine.store.types import utcnow

        job_id = conn.execute(
            insert(ImportJob).values(
                app_id=importer.app_id,
                ticket_type="ticket",
                filename=path.name,
                file_sha256=source.sha256,
                mapping=mapping,
                status="checked",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        ).inserted_primary_key[0]
    t0 = time.perf_counter()
    job = importer.run(job_id, source)
    elapsed = time.perf_counter() - t0
    db.dispose()
    return elapsed, job


def baseline(path: Path, tmp: Path) -> float:
    """pandas.read_excel, then one Core executemany of the same rows into a plain 30-column table."""
    import pandas as pd

    eng = _sqlite(_fresh(tmp, "baseline.db"))
    meta = MetaData()
    types: dict[str, Any] = {
        "estimated_hours": Float, "amount": Float, "floor": Integer, "sla_hours": Integer,
        "is_billable": Boolean, "approval_required": Boolean, "line_items": JSON,
    }  # fmt: skip
    table = Table(
        "tickets",
        meta,
        Column("id", Integer, primary_key=True),
        *(Column(c, types.get(c, String(5000))) for c in COLUMNS),
    )
    meta.create_all(eng)
    t0 = time.perf_counter()
    frame = pd.read_excel(path, dtype=object)
    rows = [
        {k: (None if v is None or v != v else v) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]
    for row in rows:
        row["is_billable"] = row["is_billable"] == "true"
        row["approval_required"] = row["approval_required"] == "true"
        row["line_items"] = json.loads(row["line_items"])
    with eng.begin() as conn:
        conn.execute(table.insert(), rows)
    elapsed = time.perf_counter() - t0
    eng.dispose()
    return elapsed


def measure(rows: int = ROWS, repeats: int = 1, folder: Path = CACHE) -> Result:
    path = sheet(rows, folder)
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-") as tmpdir:
        tmp = Path(tmpdir)
        created: list[int] = []

        def run_ours() -> float:
            elapsed, job = ours(path, tmp)
            created.append(job["created_rows"])
            if job["created_rows"] != rows or job["error_rows"]:
                raise AssertionError(f"the import did not take every row: {job['errors'][:3]}")
            return elapsed

        ours_rate = median_rate(run_ours, rows, repeats)
        base_rate = median_rate(lambda: baseline(path, tmp), rows, repeats)
    return Result(
        "import.xlsx", ours_rate, base_rate, "rows/s", "pandas.read_excel + Core executemany, 30 columns"
    )


@benchmark("import.xlsx")
def import_xlsx(repeats: int) -> Result:
    """100,000 rows; one repeat of each side is plenty at this size (and kind to shared machines)."""
    return measure(ROWS, repeats=min(repeats, 1))
