"""The http.submit harness measures what it says: both servers answer 201 to the benchmark's POST
and store one ticket per answer, and the load generator's count matches the database."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys

import pytest

from benchmarks import http as bench
from benchmarks.ticket30 import make_valid

pytestmark = pytest.mark.slow


def _rows(path, sql: str) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_bare_baseline_app_creates_a_ticket_per_answered_request(tmp_path):
    db = tmp_path / "baseline.sqlite"
    env = {"BENCH_HTTP_DB": str(db)}
    subprocess.run(
        [sys.executable, "-m", "benchmarks.http_baseline_app", "initdb"],
        cwd=bench.ROOT, env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    server = bench.Server("baseline", "benchmarks.http_baseline_app:app", env, tmp_path, "/hello")
    try:
        body = json.dumps(make_valid(random.Random(5))).encode()
        headers = {"Content-Type": "application/json"}
        status, answer, _ = bench._request(server.base, "POST", "/tickets", headers, body)
        assert status == 201 and json.loads(answer)["id"] == 1
        bad = json.dumps({"title": "x"}).encode()
        assert bench._request(server.base, "POST", "/tickets", headers, bad)[0] == 422
        load = bench.python_load(server.base + "/tickets", 1, "POST", headers, body)
    finally:
        server.stop()
    assert load.requests > 0 and load.non_2xx == 0
    assert _rows(db, "SELECT count(*) FROM tickets") == 1 + load.ok


def test_our_api_creates_the_benchmark_ticket_with_a_token_and_starts_its_flow(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    url, token = bench._prepare_ours(home)
    env = {"GONGDAN_HOME": str(home), "DATABASE_URL": url, "REDIS_URL": ""}
    server = bench.Server("ours", "server.wsgi:application()", env, tmp_path, "/healthz")
    try:
        doc = make_valid(random.Random(5))
        doc["priority"] = "P1"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        body = json.dumps(bench.our_body(doc)).encode()
        status, answer, _ = bench._request(server.base, "POST", bench.SUBMIT_PATH, headers, body)
        assert status == 201, answer
        ticket = json.loads(answer)
        assert ticket["stage"] == "triage"
        assert ticket["data"]["subcategory"] == "urgent"  # the rule on `created` ran
        anonymous = {"Content-Type": "application/json"}
        assert bench._request(server.base, "POST", bench.SUBMIT_PATH, anonymous, body)[0] == 401
    finally:
        server.stop()
    db = home / "gongdan.db"
    assert _rows(db, "SELECT count(*) FROM records") == 1
    assert _rows(db, "SELECT count(*) FROM tasks WHERE pool_key = 'role:agent' AND status = 'open'") == 1
