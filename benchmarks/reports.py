"""reports.*: the report "tickets, mean and p90 resolution hours, SLA breach rate by team and month"
over 1,000,000 synthetic tickets — ours (ReportSpec end to end: one SQL statement, percentiles in
the database) versus pandas reading the rows with read_sql and grouping (the shared baseline
bench_e_reports.py, e2 + e5/e6), on the same tickets.

Each measurement runs in a fresh subprocess, so its peak RSS (VmHWM) belongs to that one run.
The data set (seeded: 20 teams, 24 months, 5 priorities, lognormal resolution times) is built once
with executemany (SQLite) or COPY (PostgreSQL) and kept: /tmp/gongdan-bench/reports-<N>.sqlite and
the PostgreSQL database gongdan_bench_reports_<N> (GONGDAN_BENCH_PG, default the local test server).
GONGDAN_BENCH_REPORT_ROWS sets N for a quicker run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import Result, benchmark

N = int(os.environ.get("GONGDAN_BENCH_REPORT_ROWS", "1000000"))
CACHE = Path("/tmp/gongdan-bench")
PG_SERVER = os.environ.get("GONGDAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BENCH_APP = """\
app: benchreports
name: {zh: 报表基准, en: Report benchmark}
settings: {timezone: UTC}
roles: {t00: Team}
ticket_types:
  ticket:
    name: Ticket
    number: "B-{seq:7}"
    form:
      sections:
        - fields:
            - {key: priority, type: select, options: [P1, P2, P3, P4, P5]}
            - {key: category, type: text}
    flow:
      nodes:
        - {id: start, type: start}
        - {id: work, type: task, assignee: {role: t00}}
        - {id: end, type: end}
      edges: [[start, work], [work, end]]
    reports:
      - id: team_month
        dimensions: [team, {month: "bucket(created_at, 'month')"}]
        measures:
          - count
          - {avg: metrics.resolution_hours}
          - {p90: metrics.resolution_hours}
          - {rate: metrics.sla_breached}
"""
BASELINE_SQL = (
    "SELECT record_id, team, created_at, resolution_hours, sla_breached FROM ticket_metrics "
    "WHERE app_id = {app}"
)


def sqlite_url() -> str:
    return f"sqlite:///{CACHE / f'reports-{N}.sqlite'}"


def pg_url() -> str:
    return PG_SERVER.rsplit("/", 1)[0] + f"/gongdan_bench_reports_{N}"


# ----------------------------------------------------------------------------- the data set
def _synthetic() -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(2024)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    secs = rng.integers(0, 2 * 365 * 86400, N)
    created = start + secs.astype("timedelta64[s]")
    res_s = rng.lognormal(mean=9.0, sigma=1.2, size=N)
    prio = rng.choice(5, N, p=[0.05, 0.15, 0.35, 0.3, 0.15])
    budget_s = np.array([4, 8, 24, 72, 120])[prio] * 3600
    closed = created + res_s.astype("timedelta64[s]")
    return {
        "team": np.array([f"t{i:02d}" for i in range(20)])[rng.integers(0, 20, N)].tolist(),
        "priority": np.array(["P1", "P2", "P3", "P4", "P5"])[prio].tolist(),
        "category": np.array(["outage", "access", "hardware", "software", "network"])[
            rng.integers(0, 5, N)
        ].tolist(),
        "created": [s.replace("T", " ") + ".000000" for s in created.astype(str).tolist()],
        "closed": [s.replace("T", " ") + ".000000" for s in closed.astype(str).tolist()],
        "hours": (res_s / 3600).tolist(),
        "breached": (res_s > budget_s).tolist(),
    }


def _rows(app_id: int, data: dict[str, Any]) -> tuple[Any, Any]:
    records = (
        (i + 1, app_id, 1, "ticket", f"B-{i + 1:07d}", None, "closed",
         json.dumps({"priority": data["priority"][i], "category": data["category"][i]}),
         data["created"][i], data["closed"][i], data["closed"][i], 1, 3)
        for i in range(N)
    )  # fmt: skip
    metrics = (
        (i + 1, app_id, "ticket", "closed", data["created"][i], data["closed"][i], data["hours"][i],
         data["hours"][i], 0.0, 0, 0, 0, data["breached"][i], data["team"][i], "24x7", "{}", 3, "{}")
        for i in range(N)
    )  # fmt: skip
    return records, metrics


RECORD_COLS = (
    "id, app_id, app_version, ticket_type, number, stage, status, data, created_at, updated_at, closed_at, "
    "row_version, event_seq"
)
METRIC_COLS = (
    "record_id, app_id, ticket_type, status, created_at, closed_at, resolution_hours, "
    "resolution_business_hours, waiting_hours, transfers, returns, reopens, sla_breached, team, calendar, "
    "sla, event_seq, state"
)


def _publish(url: str) -> int:
    from engine.runtime import Runtime
    from engine.store import Database, migrate

    migrate(url)
    db = Database(url)
    Runtime(db).publish(BENCH_APP)
    with db.read() as conn:
        from sqlalchemy import text

        app_id = conn.execute(text("SELECT id FROM apps WHERE key = 'benchreports'")).scalar_one()
    db.dispose()
    return int(app_id)


def _upgrade(url: str) -> None:
    """Bring a cached data set to the current schema (new indexes), with fresh planner statistics."""
    from engine.store import migrate
    from engine.store.migrate import pending

    if not pending(url):
        return
    migrate(url)
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
            con.execute("VACUUM ANALYZE")


def build_sqlite() -> None:
    import sqlite3

    path = CACHE / f"reports-{N}.sqlite"
    if path.exists():
        _upgrade(f"sqlite:///{path}")
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    for suffix in ("", "-wal", "-shm"):
        Path(str(part) + suffix).unlink(missing_ok=True)
    app_id = _publish(f"sqlite:///{part}")
    records, metrics = _rows(app_id, _synthetic())
    con = sqlite3.connect(part)
    with con:
        con.executemany(f"INSERT INTO records ({RECORD_COLS}) VALUES ({','.join('?' * 13)})", records)
        con.executemany(f"INSERT INTO ticket_metrics ({METRIC_COLS}) VALUES ({','.join('?' * 18)})", metrics)
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    part.rename(path)


def _pg_ready() -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url())
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT to_regclass('bench_ready')")).scalar() is not None
    finally:
        engine.dispose()


def build_pg() -> None:
    import psycopg
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    name = pg_url().rsplit("/", 1)[1]
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    if exists is not None and _pg_ready():
        admin.dispose()
        _upgrade(pg_url())
        return
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    app_id = _publish(pg_url())
    records, metrics = _rows(app_id, _synthetic())
    dsn = pg_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        with cur.copy(f"COPY records ({RECORD_COLS}) FROM STDIN") as copy:
            for row in records:
                copy.write_row(row)
        with cur.copy(f"COPY ticket_metrics ({METRIC_COLS}) FROM STDIN") as copy:
            for row in metrics:
                copy.write_row(row)
        cur.execute("SELECT setval(pg_get_serial_sequence('records', 'id'), %s)", (N,))
        cur.execute("CREATE TABLE bench_ready (ok int)")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("VACUUM ANALYZE")


# ----------------------------------------------------------------------------- one measured run
def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    import gc

    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def child(mode: str, url: str) -> dict[str, Any]:
    """One run in this process: the report ours, or pandas' read_sql + groupby."""
    if mode == "ours":
        from engine.reports.run import Reports
        from engine.runtime import Runtime
        from engine.store import Database

        db = Database(url)
        reports = Reports(Runtime(db), timeout_s=600)
        reports.run("benchreports", "ticket", {"id": "warm", "measures": ["count"]})  # connect, compile
        _reset_peak()
        t0 = time.perf_counter()
        result = reports.run("benchreports", "ticket", "team_month")
        seconds = time.perf_counter() - t0
        groups = len(result.rows)
    else:
        import pandas as pd
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            app_id = conn.execute(text("SELECT id FROM apps WHERE key = 'benchreports'")).scalar_one()
        _reset_peak()
        t0 = time.perf_counter()
        df = pd.read_sql(BASELINE_SQL.format(app=app_id), engine)
        created = pd.to_datetime(df["created_at"], utc=True, format="mixed")
        month = created.dt.strftime("%Y-%m").rename("month")
        g = df.groupby([df["team"], month], sort=True)
        out = g.agg(
            n=("record_id", "size"), mean=("resolution_hours", "mean"), breach=("sla_breached", "mean")
        )
        out["p90"] = g["resolution_hours"].quantile(0.9)
        seconds = time.perf_counter() - t0
        groups = len(out)
    return {"seconds": seconds, "peak_mib": _peak_mib(), "groups": groups}


def _once(mode: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.reports", mode, url],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _measure(url: str, repeats: int) -> dict[str, tuple[float, float, int]]:
    """Ours and the baseline, alternately (a busy machine then slows both alike); medians."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    for _ in range(repeats):
        for mode, found in runs.items():
            found.append(_once(mode, url))
    return {
        mode: (
            statistics.median(r["seconds"] for r in found),
            statistics.median(r["peak_mib"] for r in found),
            found[0]["groups"],
        )
        for mode, found in runs.items()
    }


def _compare(name: str, url: str, repeats: int, where: str) -> list[Result]:
    measured = _measure(url, repeats)
    (ours_s, ours_mib, ours_groups), (base_s, base_mib, base_groups) = measured["ours"], measured["baseline"]
    assert ours_groups == base_groups, (ours_groups, base_groups)
    label = f"pandas read_sql + groupby, {N:,} tickets, {where}"
    print(
        f"# {name}: ours {ours_s:.3f} s, peak {ours_mib:,.0f} MiB; "
        f"pandas {base_s:.3f} s, peak {base_mib:,.0f} MiB; {ours_groups} groups (medians of {repeats})",
        file=sys.stderr,
        flush=True,
    )
    return [
        Result(name, 3600 / ours_s, 3600 / base_s, "reports/h", label),
        Result(
            name.replace("groupby", "memory"),
            1024 / ours_mib,
            1024 / base_mib,
            "runs/GiB",
            f"peak RSS of one run, {where}",
        ),
    ]


_cache: dict[str, list[Result]] = {}


def _sqlite(repeats: int) -> list[Result]:
    if "sqlite" not in _cache:
        build_sqlite()
        _cache["sqlite"] = _compare("reports.groupby", sqlite_url(), repeats, "SQLite")
    return _cache["sqlite"]


def _pg(repeats: int) -> list[Result]:
    if "pg" not in _cache:
        build_pg()
        _cache["pg"] = _compare("reports.groupby.pg", pg_url(), repeats, "PostgreSQL")
    return _cache["pg"]


@benchmark("reports.groupby")
def reports_groupby(repeats: int) -> Result:
    return _sqlite(repeats)[0]


@benchmark("reports.memory")
def reports_memory(repeats: int) -> Result:
    return _sqlite(repeats)[1]


@benchmark("reports.groupby.pg")
def reports_groupby_pg(repeats: int) -> Result:
    return _pg(repeats)[0]


@benchmark("reports.memory.pg")
def reports_memory_pg(repeats: int) -> Result:
    return _pg(repeats)[1]


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
