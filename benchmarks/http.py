"""http.*: our web application under gunicorn on 127.0.0.1, loaded by a local client.

http.submit — POST a 30-field ticket to ``/api/v1/apps/benchhttp/ticket_types/ticket/tickets`` with
a personal API token (``Authorization: Bearer gd_…``: token lookup, the user's roles and scopes,
the ``write`` scope check), validated by the form engine with the field permissions of the start
node (role-dependent), numbered, its flow started (a pool task with an SLA clock), two rules on
``created`` evaluated, metrics kept, events appended — versus the bare app of the shared baseline
(../shared/baselines/bench_f_http_app.py, copied as benchmarks/http_baseline_app.py: Flask,
jsonschema, one SQLAlchemy ORM insert) on the same body. Both under gunicorn with the same worker
settings (sync, 2 workers, as the baseline's ~1,750 req/s figure), loaded alternately by the same
generator: wrk -t1 -c8 (a Lua script sets the method, headers and body) after a warm-up, or, where
wrk is missing, a Python generator (8 threads, http.client). Every answer must be a 2xx, the
sanity request a 201, and the tickets in each database must match the successful requests.
Ratio = ours / baseline in requests/s (higher is better).

http.inbox — p95 latency of ``GET /api/v1/inbox/todos`` (the first page, 50 rows) for an agent with
200 open tasks among 1,000,000 tickets (plus 3,000 tasks in the agent's pool and 20,000 open tasks
of 100 other agents; 3 events, a flow instance, a task and an SLA clock per ticket), measured over
300 sequential requests per repeat through gunicorn; the median of the repeats' p95. There is no
peer to run: the baseline is the target, 50 ms, and the ratio is 50 / p95 (> 1 means under the
target). http.inbox.page does the same for the ``/inbox`` page (signed in with a session cookie).
The data set is written with executemany straight into the tables (one transaction per table) and
kept: /tmp/gongdan-bench/inbox-<N>.sqlite; GONGDAN_BENCH_INBOX_ROWS sets N for a quicker run.

Environment: GONGDAN_BENCH_HTTP_SECONDS (each measured load, default 10), GONGDAN_BENCH_LOADGEN
(``wrk`` or ``python``; default wrk when installed), GONGDAN_BENCH_HTTP_WORKERS (gunicorn
arguments, default ``-k sync -w 2``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks import Result, benchmark
from benchmarks.ticket30 import make_valid

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent
CACHE = Path("/tmp/gongdan-bench")
HOST = "127.0.0.1"
SECONDS = int(os.environ.get("GONGDAN_BENCH_HTTP_SECONDS", "10"))
WARMUP_SECONDS = 2
CONNECTIONS = 8
WORKER_ARGS = shlex.split(os.environ.get("GONGDAN_BENCH_HTTP_WORKERS", "-k sync -w 2"))
SUBMIT_APP = "benchhttp"
SUBMIT_PATH = f"/api/v1/apps/{SUBMIT_APP}/ticket_types/ticket/tickets"

INBOX_N = int(os.environ.get("GONGDAN_BENCH_INBOX_ROWS", "1000000"))
INBOX_MINE = 200  # open tasks assigned to the measured agent
INBOX_POOL = 3_000  # open unassigned tasks in the agents' pool
INBOX_OTHERS = 20_000  # open tasks of the other agents
INBOX_AGENTS = 100
INBOX_CUSTOMERS = 2_000
INBOX_REQUESTS = 300  # sequential requests per repeat
INBOX_TARGET_MS = 50.0
INBOX_AGENT = "inbox_agent"
INBOX_PASSWORD = "bench-inbox-pw"  # a throw-away local benchmark account


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LatencyResult(Result):
    """A latency against a target: lower is better, so the ratio is target / ours."""

    @property
    def ratio(self) -> float:
        return self.baseline / self.ours if self.ours else float("inf")


# ----------------------------------------------------------------------------- servers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving ``target`` on a free port of 127.0.0.1 (stopped by :meth:`stop`)."""

    def __init__(self, name: str, target: str, env: Mapping[str, str], log_dir: Path, ready_path: str):
        self.name = name
        self.port = _free_port()
        self.log_path = log_dir / f"{name}-gunicorn.log"
        cmd = [
            sys.executable, "-m", "gunicorn", *WORKER_ARGS, "-b", f"{HOST}:{self.port}",
            "--log-level", "warning", "--timeout", "120", target,
        ]  # fmt: skip
        self._log = open(self.log_path, "ab")  # noqa: SIM115 — closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=self._log
        )
        self._wait_ready(ready_path)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited; see {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name}: gunicorn not ready after {timeout} s; see {self.log_path}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop gunicorn (SIGTERM, then SIGKILL after 30 s); safe to call twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    close = stop

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by gunicorn and its workers: a figure a busy
        machine inflates much less than wall-clock rates or latencies."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.proc.pid in (pid, ppid):
                total += (int(fields[11]) + int(fields[12])) / tick
        return total


# ----------------------------------------------------------------------------- load generators
@dataclass(frozen=True)
class Load:
    requests: int  # answers received
    seconds: float
    non_2xx: int
    errors: str  # socket errors, "" if none

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


def _lua(method: str, headers: Mapping[str, str], body: str) -> str:
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append(f"wrk.body = [==[{body}]==]")
    return "\n".join(lines) + "\n"


def wrk_load(url: str, seconds: int, script: Path) -> Load:
    """wrk -t1 -c8 for ``seconds`` against ``url`` with ``script`` (its requests and answers)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[found.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return Load(
        int(found.group(1)),
        float(found.group(2)) * scale,
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1).strip() if errors else "",
    )


def python_load(url: str, seconds: float, method: str, headers: Mapping[str, str], body: bytes) -> Load:
    """The fallback generator: 8 threads, each a keep-alive http.client connection (reopened when
    the server closes it), sending until ``seconds`` have passed."""
    parsed = urllib.parse.urlparse(url)
    counts = {"requests": 0, "non_2xx": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        done = bad = errors = 0
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        while time.monotonic() < deadline:
            try:
                conn.request(method, parsed.path, body=body or None, headers=dict(headers))
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                continue
            done += 1
            bad += not 200 <= answer.status < 300
            if answer.will_close:
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        conn.close()
        with lock:
            counts["requests"] += done
            counts["non_2xx"] += bad
            counts["errors"] += errors

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    errors = f"{counts['errors']} connection errors" if counts["errors"] else ""
    return Load(counts["requests"], elapsed, counts["non_2xx"], errors)


class Generator:
    """One request (method, URL, headers, body) sent as fast as the generator goes."""

    def __init__(self, kind: str, url: str, headers: Mapping[str, str], body: str, tmp: Path, name: str):
        self.kind, self.url, self.headers, self.body = kind, url, dict(headers), body
        self.script = tmp / f"{name}.lua"
        self.script.write_text(_lua("POST", self.headers, body))

    def run(self, seconds: int) -> Load:
        if self.kind == "wrk":
            return wrk_load(self.url, seconds, self.script)
        return python_load(self.url, seconds, "POST", self.headers, self.body.encode())


def loadgen_kind() -> str:
    wanted = os.environ.get("GONGDAN_BENCH_LOADGEN", "").strip().lower()
    if wanted in ("wrk", "python"):
        if wanted == "wrk" and not shutil.which("wrk"):
            raise SystemExit("GONGDAN_BENCH_LOADGEN=wrk but wrk is not installed (apt-get install wrk)")
        return wanted
    return "wrk" if shutil.which("wrk") else "python"


def _request(
    base: str, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, bytes, http.client.HTTPMessage]:
    req = urllib.request.Request(base + path, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


# ----------------------------------------------------------------------------- http.submit
def submit_definition() -> dict[str, Any]:
    """The 30-field bench form (benchmarks/bench30.yaml) with what a real app adds: roles, field
    permissions that depend on them, a flow (a pool task with an SLA by priority) and rules."""
    data = yaml.safe_load((HERE / "bench30.yaml").read_text(encoding="utf-8"))
    data["app"] = SUBMIT_APP
    data["name"] = {"zh": "HTTP 基准", "en": "HTTP benchmark"}
    data["roles"] = {
        "requester": {"name": {"zh": "提单人", "en": "Requester"}},
        "agent": {"name": {"zh": "坐席", "en": "Agent"}, "scope": "all"},
    }
    tt = data["ticket_types"]["ticket"]
    tt["flow"] = {
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "permissions": {"assignee": {"agent": "editable", "requester": "editable", "*": "readonly"}},
            },
            {
                "id": "triage",
                "type": "task",
                "name": {"zh": "受理", "en": "Triage"},
                "assignee": {"role": "agent"},
                "sla": {"response": {"P1": "1h", "P2": "4h", "P3": "1d", "P4": "3d"}, "by": "priority"},
            },
            {"id": "end", "type": "end"},
        ],
        "edges": [["start", "triage"], {"from": "triage", "to": "end", "action": "close"}],
    }
    tt["rules"] = [
        {
            "name": "P1 tickets are urgent",
            "on": "created",
            "if": "priority == 'P1'",
            "do": [{"set": {"subcategory": "'urgent'"}}],
        },
        {
            "name": "large amounts need approval",
            "on": "created",
            "if": "amount > 1000",
            "do": [{"set": {"approval_required": "true"}}],
        },
    ]
    return data


def our_body(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the tickets endpoint takes for form data ``doc``."""
    return dict(doc)


def _prepare_ours(home: Path) -> tuple[str, str]:
    """A migrated SQLite database in ``home`` with the bench app, a requester and an agent:
    (database URL, the requester's API token)."""
    from engine import auth
    from engine.people import create_user
    from engine.runtime import Runtime
    from engine.store import Database, migrate

    url = f"sqlite:///{home / 'gongdan.db'}"
    migrate(url)
    db = Database(url)
    try:
        Runtime(db).publish(submit_definition())
        requester = create_user(db, "bench_api", "Bench API", lang="en")
        _give_role(db, requester, SUBMIT_APP, "requester")
        for i in range(3):
            _give_role(db, create_user(db, f"bench_agent_{i}", f"Agent {i}"), SUBMIT_APP, "agent")
        token, _ = auth.create_token(db, requester, "http.submit benchmark", ["read", "write"])
    finally:
        db.dispose()
    return url, token


def _give_role(db: Any, user_id: int, app_key: str, role_key: str) -> None:
    from sqlalchemy import insert, select

    from engine.store.models import App, Role, RoleMember

    with db.write() as conn:
        role_id = conn.execute(
            select(Role.id).join(App, App.id == Role.app_id).where(App.key == app_key, Role.key == role_key)
        ).scalar_one()
        conn.execute(insert(RoleMember).values(role_id=role_id, user_id=user_id))


def _count(path: Path, sql: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


@benchmark("http.submit")
def http_submit(repeats: int) -> Result:
    kind = loadgen_kind()
    doc = make_valid(random.Random(5))  # the body of the shared baseline's POST
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-http-") as tmpdir:
        tmp = Path(tmpdir)
        home = tmp / "home"
        home.mkdir()
        url, token = _prepare_ours(home)
        base_db = tmp / "baseline.sqlite"
        base_env = {"BENCH_HTTP_DB": str(base_db)}
        subprocess.run(
            [sys.executable, "-m", "benchmarks.http_baseline_app", "initdb"],
            cwd=ROOT, env={**os.environ, **base_env}, check=True, capture_output=True,
        )  # fmt: skip
        ours_env = {"GONGDAN_HOME": str(home), "DATABASE_URL": url, "REDIS_URL": ""}
        with contextlib.ExitStack() as stack:
            ours = Server("ours", "server.wsgi:application()", ours_env, tmp, "/healthz")
            stack.callback(ours.stop)
            baseline = Server("baseline", "benchmarks.http_baseline_app:app", base_env, tmp, "/hello")
            stack.callback(baseline.stop)
            sides = {
                "ours": Generator(
                    kind,
                    ours.base + SUBMIT_PATH,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                    json.dumps(our_body(doc)),
                    tmp,
                    "ours",
                ),
                "baseline": Generator(
                    kind,
                    baseline.base + "/tickets",
                    {"Content-Type": "application/json"},
                    json.dumps(doc),
                    tmp,
                    "baseline",
                ),
            }
            ok = {"ours": 0, "baseline": 0}
            for name, gen in sides.items():  # one request each: the answer is a 201
                status, answer, _ = _request("", "POST", gen.url, gen.headers, gen.body.encode())
                if status != 201:
                    server = ours if name == "ours" else baseline
                    raise RuntimeError(
                        f"{name}: POST {gen.url} answered {status}, not 201: {answer[:500]!r}\n"
                        f"{server.log_tail()}"
                    )
                ok[name] += 1
            runs: dict[str, list[Load]] = {"ours": [], "baseline": []}
            for name, gen in sides.items():
                ok[name] += _checked(name, gen.run(WARMUP_SECONDS)).ok
            servers = {"ours": ours, "baseline": baseline}
            cpu = {"ours": 0.0, "baseline": 0.0}
            for _ in range(repeats):  # alternately: a busy machine then slows both alike
                for name, gen in sides.items():
                    before = servers[name].cpu_seconds()
                    load = _checked(name, gen.run(SECONDS))
                    cpu[name] += servers[name].cpu_seconds() - before
                    ok[name] += load.ok
                    runs[name].append(load)
        stored = {
            "ours": _count(
                home / "gongdan.db",
                f"SELECT count(*) FROM records r JOIN apps a ON a.id = r.app_id WHERE a.key = '{SUBMIT_APP}'",
            ),
            "baseline": _count(base_db, "SELECT count(*) FROM tickets"),
        }
    for name in ("ours", "baseline"):
        # wrk stops counting at the deadline while up to 8 requests are still in flight: those
        # are written but not counted, so the database may hold a few more than were answered.
        slack = CONNECTIONS * (repeats + 1) if kind == "wrk" else 0
        if not 0 <= stored[name] - ok[name] <= slack:
            raise RuntimeError(f"{name}: {ok[name]} requests succeeded but {stored[name]} tickets are stored")
    rates = {name: statistics.median(load.rate for load in found) for name, found in runs.items()}
    for name, found in runs.items():
        log(
            f"http.submit {name}: median {rates[name]:,.0f} req/s (runs "
            + ", ".join(f"{load.rate:,.0f}" for load in found)
            + f"; {stored[name]:,} tickets stored, {ok[name]:,} answered 2xx, none failed; "
            f"server CPU {cpu[name] * 1000 / sum(load.requests for load in found):.2f} ms a request)"
        )
    workers = " ".join(WORKER_ARGS)
    return Result(
        "http.submit",
        rates["ours"],
        rates["baseline"],
        "req/s",
        f"bare Flask + jsonschema + SQLAlchemy ORM, SQLite; gunicorn {workers}; "
        f"{'wrk -t1 -c8' if kind == 'wrk' else 'python 8 threads'}, {SECONDS} s",
    )


def _checked(name: str, load: Load) -> Load:
    if load.non_2xx:
        raise RuntimeError(f"{name}: {load.non_2xx} of {load.requests} answers were not 2xx")
    if load.requests == 0:
        raise RuntimeError(f"{name}: no request was answered ({load.errors})")
    return load


# ----------------------------------------------------------------------------- http.inbox: the data
INBOX_APP = """\
app: benchinbox
name: {zh: 收件箱基准, en: Inbox benchmark}
settings: {timezone: UTC}
roles:
  agent: {name: {zh: 坐席, en: Agent}, scope: all}
ticket_types:
  ticket:
    name: {zh: 工单, en: Ticket}
    number: "IB-{seq:7}"
    form:
      sections:
        - fields:
            - {key: title, type: text, required: true, max_length: 200}
            - {key: priority, type: select, options: [P1, P2, P3, P4]}
            - {key: category, type: text}
    flow:
      nodes:
        - {id: start, type: start}
        - {id: work, type: task, name: {zh: 处理, en: Work}, assignee: {role: agent},
           sla: {resolution: {P1: 4h, P2: 1d, P3: 3d, P4: 5d}, by: priority, calendar: 24x7}}
        - {id: end, type: end}
      edges: [[start, work], {from: work, to: end, action: done}]
"""

_WORDS = (
    "printer vpn laptop urgent down slow access denied password reset invoice wrong mail server "
    "outage badge door monitor broken refund delivery late"
).split()


#: The seeding statements: records, flow_instances, tasks, sla_clocks, events (as the Runtime writes them).
INBOX_INSERTS = (
    "INSERT INTO records (id, app_id, app_version, ticket_type, number, stage, status, data, "
    "created_by, created_at, updated_by, updated_at, closed_at, row_version, event_seq) "
    "VALUES (?, ?, 1, 'ticket', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO flow_instances (id, record_id, app_version, status, tokens, started_at, ended_at, "
    "state) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
    "INSERT INTO tasks (id, instance_id, record_id, node_id, status, assignee_id, candidates, "
    "created_at, due_at, completed_at, completed_by, outcome, kind, group_key, position, claimed_at, "
    "pool_key) VALUES (?, ?, ?, 'work', ?, ?, '{\"role\": \"agent\"}', ?, NULL, ?, ?, ?, 'task', "
    "'work#1', 0, ?, 'role:agent')",
    "INSERT INTO sla_clocks (id, record_id, node_id, target, calendar, budget_s, used_s, "
    "running_since, due_at, status, breached, levels, started_at, ended_at) "
    "VALUES (?, ?, 'work', 'resolution', '24x7', ?, ?, ?, ?, ?, ?, '[]', ?, ?)",
    "INSERT INTO events (record_id, seq, type, actor_id, at, payload) VALUES (?, ?, ?, ?, ?, ?)",
)


def inbox_path() -> Path:
    return CACHE / f"inbox-{INBOX_N}.sqlite"


def _ts(moment: dt.datetime) -> str:
    """How the store writes a UTC moment in SQLite (naive, microseconds)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build_inbox() -> None:
    """The 1,000,000-ticket data set, once: closed tickets first (done tasks, met clocks), then the
    open ones — the agent's 200, the pool's and the other agents' — with running SLA clocks."""
    path = inbox_path()
    if path.exists():
        return
    from engine.people import create_user
    from engine.runtime import Runtime
    from engine.store import Database, migrate

    CACHE.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    for suffix in ("", "-wal", "-shm"):
        Path(str(part) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    url = f"sqlite:///{part}"
    migrate(url)
    db = Database(url)
    Runtime(db).publish(INBOX_APP)
    agent_id = create_user(db, INBOX_AGENT, "Inbox Agent", password=INBOX_PASSWORD, lang="en")
    db.dispose()

    n_open = INBOX_MINE + INBOX_POOL + INBOX_OTHERS
    if n_open * 2 > INBOX_N:
        raise SystemExit(f"GONGDAN_BENCH_INBOX_ROWS must be at least {n_open * 2}")
    rng = random.Random(2025)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = sqlite3.connect(part, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")  # one big transaction: no WAL the size of the file
    con.execute("PRAGMA synchronous=OFF")
    with con:
        app_id, role_id = con.execute(
            "SELECT a.id, r.id FROM apps a JOIN roles r ON r.app_id = a.id "
            "WHERE a.key = 'benchinbox' AND r.key = 'agent'"
        ).fetchone()
        created = _ts(now)
        first = con.execute("SELECT max(id) FROM users").fetchone()[0] + 1
        con.executemany(
            "INSERT INTO users (id, username, display_name, is_admin, is_active, is_away, lang, created_at, "
            "tz, failed_logins) VALUES (?, ?, ?, 0, 1, 0, 'zh', ?, 'Asia/Shanghai', 0)",
            [
                (first + i, name, name.replace("_", " ").title(), created)
                for i, name in enumerate(
                    [f"agent_{i:03d}" for i in range(INBOX_AGENTS)]
                    + [f"customer_{i:04d}" for i in range(INBOX_CUSTOMERS)]
                )
            ],
        )
        agents = [agent_id, *range(first, first + INBOX_AGENTS)]
        customers = list(range(first + INBOX_AGENTS, first + INBOX_AGENTS + INBOX_CUSTOMERS))
        con.executemany(
            "INSERT INTO role_members (role_id, user_id, weight) VALUES (?, ?, 1)",
            [(role_id, a) for a in agents],
        )
    con.execute("BEGIN")
    budgets = {"P1": 4, "P2": 24, "P3": 72, "P4": 120}
    span_s = 2 * 365 * 86400
    closed_n = INBOX_N - n_open
    records, instances, tasks, clocks, events = [], [], [], [], []

    def flush() -> None:
        for sql, rows in zip(INBOX_INSERTS, (records, instances, tasks, clocks, events), strict=True):
            con.executemany(sql, rows)
        for rows in (records, instances, tasks, clocks, events):
            rows.clear()

    for i in range(INBOX_N):
        rid = i + 1
        is_open = i >= closed_n
        if is_open:  # the newest tickets: the last two weeks
            at = now - dt.timedelta(seconds=rng.randint(60, 14 * 86400))
        else:
            at = now - dt.timedelta(seconds=rng.randint(14 * 86400, span_s))
        priority = rng.choice(("P1", "P2", "P2", "P3", "P3", "P3", "P4"))
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7)))
        data = json.dumps({"title": title, "priority": priority, "category": rng.choice(_WORDS)})
        by = rng.choice(customers)
        budget = budgets[priority] * 3600.0
        due = at + dt.timedelta(seconds=budget)
        created = _ts(at)
        number = f"IB-{rid:07d}"
        events.append((rid, 1, "created", by, created, json.dumps({"data": json.loads(data)})))
        if is_open:
            k = i - closed_n
            if k < INBOX_MINE:
                assignee, claimed = agent_id, _ts(at + dt.timedelta(minutes=5))
            elif k < INBOX_MINE + INBOX_POOL:
                assignee, claimed = None, None
            else:
                assignee, claimed = rng.choice(agents[1:]), _ts(at + dt.timedelta(minutes=5))
            records.append((rid, app_id, number, "work", "open", data, by, created, by, created, None, 1, 2))
            instances.append((rid, rid, "running", '["work"]', created, None, '{"visits": {"work": 1}}'))
            tasks.append((rid, rid, rid, "open", assignee, created, None, None, None, claimed))
            clocks.append((rid, rid, budget, 0.0, created, _ts(due), "running", 0, created, None))
            events.append(
                (rid, 2, "task_created", by, created,
                 json.dumps({"task": rid, "node": "work", "assignee": assignee, "status": "open"}))
            )  # fmt: skip
        else:
            worker = rng.choice(agents)
            used = min(budget * 1.5, rng.lognormvariate(9.5, 1.0))
            done = at + dt.timedelta(seconds=used)
            done_s = _ts(done)
            records.append(
                (rid, app_id, number, None, "closed", data, by, created, worker, done_s, done_s, 3, 3)
            )  # fmt: skip
            instances.append((rid, rid, "ended", "[]", created, done_s, '{"visits": {"work": 1}}'))
            tasks.append((rid, rid, rid, "done", worker, created, done_s, worker, "done", created))
            clocks.append(
                (rid, rid, budget, used, None, _ts(due), "breached" if used > budget else "met",
                 int(used > budget), created, done_s)
            )  # fmt: skip
            events.append(
                (
                    rid,
                    2,
                    "task_completed",
                    worker,
                    done_s,
                    json.dumps({"task": rid, "node": "work", "action": "done"}),
                )
            )
            events.append((rid, 3, "closed", worker, done_s, "{}"))
        if len(records) >= 50_000:
            flush()
    flush()
    con.execute("INSERT OR REPLACE INTO counters (key, value) VALUES (?, ?)", ("benchinbox:ticket:", INBOX_N))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.execute("PRAGMA journal_mode=WAL")  # as the store runs it
    con.close()
    part.rename(path)
    log(f"built {path} ({INBOX_N:,} tickets) in {time.perf_counter() - t0:.0f} s")


# ----------------------------------------------------------------------------- http.inbox: measuring
def _sequential(base: str, path: str, headers: Mapping[str, str], n: int) -> list[float]:
    """``n`` GETs one after another on a keep-alive connection: each one's milliseconds."""
    parsed = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=dict(headers))
            answer = conn.getresponse()
            body = answer.read()
            times.append((time.perf_counter() - t0) * 1000)
            if answer.status != 200:
                raise RuntimeError(f"GET {path} answered {answer.status}: {body[:300]!r}")
            if answer.will_close:
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    finally:
        conn.close()
    return times


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


_inbox_cache: dict[str, LatencyResult] = {}


def _inbox(repeats: int) -> dict[str, LatencyResult]:
    if _inbox_cache:
        return _inbox_cache
    from engine import auth
    from engine.people import user_id
    from engine.store import Database

    build_inbox()
    url = f"sqlite:///{inbox_path()}"
    db = Database(url)
    try:
        agent = user_id(db, INBOX_AGENT)
        assert agent is not None
        token, _ = auth.create_token(db, agent, "http.inbox benchmark", ["read"])
    finally:
        db.dispose()
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with tempfile.TemporaryDirectory(prefix="gongdan-bench-inbox-") as tmpdir:
        tmp = Path(tmpdir)
        env = {"GONGDAN_HOME": str(tmp), "DATABASE_URL": url, "REDIS_URL": ""}
        server = Server("inbox", "server.wsgi:application()", env, tmp, "/healthz")
        with contextlib.closing(server):
            # The agent's todos are all there: 200 rows over 4 pages of 50.
            seen, cursor = 0, None
            while True:
                path = "/api/v1/inbox/todos" + (f"?cursor={cursor}" if cursor else "")
                status, body, _ = _request(server.base, "GET", path, bearer)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}\n{server.log_tail()}")
                page = json.loads(body)
                seen += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            if seen != INBOX_MINE:
                raise RuntimeError(f"the agent's todos list {seen} tasks, not {INBOX_MINE}")
            cookie = {"Cookie": _sign_in(server.base), "Accept": "text/html"}
            targets = {"http.inbox": ("/api/v1/inbox/todos", bearer)}
            status, body, _ = _request(server.base, "GET", "/inbox", cookie)
            if status == 200:
                targets["http.inbox.page"] = ("/inbox", cookie)
            else:
                log(f"the /inbox page answered {status}: not measured")
            p95s: dict[str, list[float]] = {name: [] for name in targets}
            p50s: dict[str, list[float]] = {name: [] for name in targets}
            for path, headers in targets.values():
                _sequential(server.base, path, headers, 20)  # warm-up: connections, compiled specs
            cpu = dict.fromkeys(targets, 0.0)
            for _ in range(repeats):
                for name, (path, headers) in targets.items():
                    before = server.cpu_seconds()
                    times = _sequential(server.base, path, headers, INBOX_REQUESTS)
                    cpu[name] += server.cpu_seconds() - before
                    p95s[name].append(_percentile(times, 0.95))
                    p50s[name].append(_percentile(times, 0.50))
    for name, (path, _) in targets.items():
        p95, p50 = statistics.median(p95s[name]), statistics.median(p50s[name])
        log(
            f"{name}: GET {path} p50 {p50:.1f} ms, p95 {p95:.1f} ms (p95 of each repeat: "
            + ", ".join(f"{v:.1f}" for v in p95s[name])
            + f"; {INBOX_REQUESTS} sequential requests each; {INBOX_N:,} tickets, {INBOX_MINE} todos; "
            f"server CPU {cpu[name] * 1000 / (INBOX_REQUESTS * repeats):.1f} ms a request)"
        )
        _inbox_cache[name] = LatencyResult(
            name,
            p95,
            INBOX_TARGET_MS,
            "ms p95",
            f"target p95 < {INBOX_TARGET_MS:.0f} ms (ratio = target / p95)",
        )
    return _inbox_cache


def _sign_in(base: str) -> str:
    """The session cookie of the benchmark agent, signed in through the login API."""
    body = json.dumps({"username": INBOX_AGENT, "password": INBOX_PASSWORD}).encode()
    status, answer, headers = _request(
        base, "POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, body
    )
    if status != 200:
        raise RuntimeError(f"login answered {status}: {answer[:300]!r}")
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("gongdan_session="):
            return value.split(";", 1)[0]
    raise RuntimeError("login set no session cookie")


@benchmark("http.inbox")
def http_inbox(repeats: int) -> Result:
    return _inbox(repeats)["http.inbox"]


@benchmark("http.inbox.page")
def http_inbox_page(repeats: int) -> Result:
    found = _inbox(repeats)
    if "http.inbox.page" not in found:
        raise RuntimeError("the /inbox page did not answer 200 to the signed-in agent")
    return found["http.inbox.page"]
