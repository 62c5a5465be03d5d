"""scale.tickets: the pages people open all day, on PostgreSQL holding N tickets.

The data set is the shipped apps loaded by ``gongdan demo --tickets N`` in bulk (a few hundred
tickets walked through their flows, the rest cloned; engine/demo_bulk.py) into the PostgreSQL
database ``gongdan_bench_scale_<N>``, vacuumed and analysed once and then kept for later runs (a
marker in /tmp/gongdan-bench says it is complete; a later run applies any newer migration first).
Served by gunicorn on 127.0.0.1 (the http.* settings), three GETs are measured, each over sequential
requests on a keep-alive connection:

* the inbox — ``/api/v1/inbox/todos`` of the person with the most open tasks;
* the ticket list — ``/api/v1/tickets?app=complaint`` (first page, newest first) for an admin;
* one dashboard — ``/api/v1/apps/complaint/dashboards/overview`` (seven reports) for an admin.

The result is the worst of the three p95 (each logged); the target is 100 ms, the ratio target / p95.

Environment: GONGDAN_BENCH_SCALE_TICKETS (N, default 50,000; the issue's figure is 10,000,000),
GONGDAN_BENCH_PG (the server's admin URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test),
GONGDAN_BENCH_SCALE_REQUESTS (sequential requests per measurement, default 100).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from benchmarks import Result, benchmark
from benchmarks.http import CACHE, ROOT, LatencyResult, Server, _percentile, _request, _sequential, log

N = int(os.environ.get("GONGDAN_BENCH_SCALE_TICKETS", "50000"))
PG_ADMIN = os.environ.get("GONGDAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUESTS = int(os.environ.get("GONGDAN_BENCH_SCALE_REQUESTS", "100"))
TARGET_MS = 100.0
ADMIN = "scale_admin"


def database_name() -> str:
    return f"gongdan_bench_scale_{N}"


def database_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database_name()


def marker() -> Path:
    return CACHE / f"scale-{N}.pg"


def build() -> None:
    """The data set, once: create the database, migrate, import the shipped apps, bulk demo."""
    if marker().exists():
        upgrade()
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database_name()}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database_name()}"'))
    admin.dispose()
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-scale-") as home:
        env = {**os.environ, "GONGDAN_HOME": home, "DATABASE_URL": database_url(), "REDIS_URL": ""}
        gongdan = [sys.executable, "-m", "engine.cli"]
        apps = sorted(str(p) for p in (ROOT / "app_definitions").glob("*.yaml"))
        t0 = time.perf_counter()
        subprocess.run([*gongdan, "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*gongdan, "import", *apps], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        done = subprocess.run(
            [*gongdan, "demo", "--tickets", str(N), "--bulk"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip  (the progress bar goes to stderr, on the terminal)
        log(done.stdout.strip().splitlines()[0] if done.stdout.strip() else "demo loaded")
    engine = create_engine(database_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    marker().write_text(database_url())
    log(f"built {database_name()} ({N:,} tickets) in {time.perf_counter() - t0:.0f} s")


def upgrade() -> None:
    """A kept data set brought to the current schema (a later migration's indexes), then analysed."""
    from engine.store.migrate import migrate, pending

    if not pending(database_url()):
        return
    t0 = time.perf_counter()
    migrate(database_url())
    engine = create_engine(database_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    log(f"migrated {database_name()} to the current schema in {time.perf_counter() - t0:.0f} s")


def _tokens() -> tuple[dict[str, str], dict[str, str]]:
    """Bearer headers: the person with the most open tasks (inbox), an admin (list, dashboard)."""
    from engine import auth
    from engine.people import create_user, user_id
    from engine.store import Database
    from engine.store.models import Task

    db = Database(database_url())
    try:
        with db.read() as conn:
            busiest = conn.execute(
                select(Task.assignee_id)
                .where(Task.status == "open", Task.assignee_id.is_not(None))
                .group_by(Task.assignee_id)
                .order_by(func.count().desc())
                .limit(1)
            ).scalar_one()
        admin = user_id(db, ADMIN) or create_user(db, ADMIN, "Scale Admin", is_admin=True, lang="en")
        worker, _ = auth.create_token(db, busiest, "scale benchmark", ["read"])
        boss, _ = auth.create_token(db, admin, "scale benchmark", ["read", "admin"])
    finally:
        db.dispose()
    accept = {"Accept": "application/json"}
    return {"Authorization": f"Bearer {worker}", **accept}, {"Authorization": f"Bearer {boss}", **accept}


@benchmark("scale.tickets")
def scale_tickets(repeats: int) -> Result:
    build()
    inbox, admin = _tokens()
    targets = {
        "inbox": ("/api/v1/inbox/todos", inbox),
        "ticket list": ("/api/v1/tickets?app=complaint", admin),
        "dashboard": ("/api/v1/apps/complaint/dashboards/overview", admin),
    }
    p95s: dict[str, list[float]] = {name: [] for name in targets}
    p50s: dict[str, list[float]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-scale-") as tmpdir:
        tmp = Path(tmpdir)
        env = {"GONGDAN_HOME": str(tmp), "DATABASE_URL": database_url(), "REDIS_URL": ""}
        server = Server("scale", "server.wsgi:application()", env, tmp, "/healthz")
        with contextlib.closing(server):
            for name, (path, headers) in targets.items():
                status, body, _ = _request(server.base, "GET", path, headers)
                if status != 200:
                    raise RuntimeError(f"{name}: GET {path} answered {status}: {body[:300]!r}")
                if name == "inbox" and not json.loads(body)["items"]:
                    raise RuntimeError("the inbox of the busiest person is empty")
                _sequential(server.base, path, headers, 10)  # warm-up: connections, compiled specs
            for _ in range(repeats):
                for name, (path, headers) in targets.items():
                    times = _sequential(server.base, path, headers, REQUESTS)
                    p95s[name].append(_percentile(times, 0.95))
                    p50s[name].append(_percentile(times, 0.50))
    worst = ""
    for name, (path, _) in targets.items():
        p95, p50 = statistics.median(p95s[name]), statistics.median(p50s[name])
        log(
            f"scale.tickets {name}: GET {path} p50 {p50:.1f} ms, p95 {p95:.1f} ms ({N:,} tickets, PostgreSQL)"
        )
        if not worst or p95 > statistics.median(p95s[worst]):
            worst = name
    return LatencyResult(
        "scale.tickets",
        statistics.median(p95s[worst]),
        TARGET_MS,
        "ms p95",
        f"worst p95 ({worst}) of inbox, ticket list, dashboard at {N:,} tickets; target {TARGET_MS:.0f} ms",
    )
