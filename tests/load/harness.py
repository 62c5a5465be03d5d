"""A real Gongdan deployment on loopback for the load and fault suites.

:class:`Site` migrates a throw-away PostgreSQL database, publishes tests/load/loadapp.yaml (its URLs
pointing at a :class:`Receiver` in this process), creates people with API tokens, and starts
``gongdan serve`` (gunicorn, 2 workers) and ``gongdan worker`` processes as subprocesses on free ports,
with Redis as huey's queue. :class:`PrivateRedis` and :class:`PrivatePostgres` are servers of their
own on free ports, so a fault test may stop them without touching anything shared (the system
PostgreSQL on 5432 is never restarted). Every wait here is a poll with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
APP_TEMPLATE = Path(__file__).with_name("loadapp.yaml")
GONGDAN = str(Path(sys.executable).with_name("gongdan"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_PG = os.environ.get("GONGDAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], deadline_s: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` at the deadline."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
        except RuntimeError:
            raise  # the check knows it can never succeed
        except Exception as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"gave up after {deadline_s:.0f} s waiting for {what} (last: {last!r})")


# ----------------------------------------------------------------------------- the webhook receiver
@dataclass
class Delivery:
    path: str
    key: str
    body: dict[str, Any]


class Receiver:
    """An HTTP peer recording every POST with its Idempotency-Key.

    ``attempts`` holds every request that arrived, ``deliveries`` those answered 200 (acknowledged).
    A request to one of ``hang_paths`` arrives but is never answered until :meth:`release` (the
    connection is then closed without an answer): a receiver that hangs.
    """

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.attempts: list[Delivery] = []
        self.hang_paths: set[str] = set()
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                seen = Delivery(self.path, self.headers.get("Idempotency-Key", ""), body)
                with receiver._lock:
                    receiver.attempts.append(seen)
                if self.path in receiver.hang_paths:
                    receiver._release.wait(300)  # hold the connection open, answering nothing
                    self.close_connection = True
                    return
                with receiver._lock:
                    receiver.deliveries.append(seen)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def hang(self, *paths: str) -> None:
        self._release.clear()
        self.hang_paths.update(paths)

    def release(self) -> None:
        """Stop hanging: held requests end without an answer, new ones are answered."""
        self.hang_paths.clear()
        self._release.set()

    def keys(self, path: str | None = None, attempts: bool = False) -> Counter[str]:
        with self._lock:
            seen = self.attempts if attempts else self.deliveries
            return Counter(d.key for d in seen if path is None or d.path == path)

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------- private servers
class PrivateRedis:
    """A redis-server of its own on a free port, without persistence; stop() and start() at will."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _port_open(self.port), 15, "redis-server to listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class PrivatePostgres:
    """A PostgreSQL 15 cluster of its own (initdb in a temp folder, run as the postgres user since
    we are root), on a free port: the fault tests restart this one, never the system's."""

    def __init__(self) -> None:
        self.port = free_port()
        # its own folder under /tmp: pytest's folders are private to root, the server runs as postgres
        self.workdir = Path(tempfile.mkdtemp(prefix="gongdan-pg-"))
        self.data = self.workdir / "pgdata"
        self.log = self.workdir / "pg.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/gongdan"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                       "fsync = off\nmax_connections = 100\n")  # fmt: skip
        self.start()
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "gongdan"],
            check=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def throwaway_pg_database() -> Iterator[str]:
    """A fresh database on the system PostgreSQL, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"gdload_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SYSTEM_PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield SYSTEM_PG.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ----------------------------------------------------------------------------- the site
@dataclass
class Site:
    """The deployment under test. ``start()`` sets the database up and starts the processes."""

    database_url: str
    redis_url: str
    receiver: Receiver
    workdir: Path
    sla: str = "0.05m"  # 3 seconds on a 24x7 calendar
    web_workers: int = 2
    job_workers: int = 2
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GONGDAN_", "PYTEST_"))}
        env.update(
            GONGDAN_HOME=str(self.workdir / "home"),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            GONGDAN_LANG="en",
            GONGDAN_OUTBOUND_ALLOW="127.0.0.1",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        return env

    def settings(self) -> Any:
        from engine.config import load_settings

        return load_settings(self.env)

    def setup_database(self, people: int = 4) -> None:
        """Migrate, publish the load app, create submitters and agents with API tokens."""
        from engine import auth
        from engine.people import create_user
        from engine.runtime import Runtime
        from engine.store import Database, migrate
        from tests.support import give_role

        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        migrate(self.database_url)
        app = self.workdir / "loadapp.yaml"
        app.write_text(
            APP_TEMPLATE.read_text().replace("RECEIVER", self.receiver.url).replace("SLA", self.sla)
        )
        db = Database(self.database_url)
        try:
            Runtime(db).publish(app)
            for i in range(people):
                for kind in ("sub", "agent"):
                    name = f"{kind}{i}"
                    uid = create_user(db, name, name.title(), password=f"pw-{name}")
                    if kind == "agent":
                        give_role(db, uid, "loadapp", "agent")
                    self.tokens[name], _ = auth.create_token(db, uid, "load", ["read", "write"])
        finally:
            db.dispose()

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen([GONGDAN, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.workdir, start_new_session=True)  # fmt: skip
        self.procs[name] = proc
        return proc

    def start_web(self) -> None:
        self._spawn("web", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(self.web_workers))  # fmt: skip
        proc = self.procs["web"]

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"`gongdan serve` exited with {proc.returncode}:\n{self.logs()[-3000:]}")
            return httpx.get(self.base + "/healthz", timeout=2).status_code == 200

        try:
            wait_until(up, 60, "the web site")
        except AssertionError:
            raise AssertionError(f"the web site did not start:\n{self.logs()[-3000:]}") from None

    def start_worker(self, index: int) -> None:
        self._spawn(f"worker{index}", "worker", "--threads", "4")

    def start(self, people: int = 4) -> None:
        self.setup_database(people)
        self.start_web()
        for i in range(self.job_workers):
            self.start_worker(i)
        wait_until(self.workers_ready, 60, "the job workers to start consuming")

    def workers_ready(self) -> bool:
        for i in range(self.job_workers):
            log = self.workdir / f"worker{i}.log"
            if not log.exists() or "consumer" not in log.read_text(errors="replace").lower():
                return False
        return True

    def web_children(self) -> list[int]:
        """The gunicorn worker processes under the `gongdan serve` master."""
        pid = self.procs["web"].pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(30)

    def stop(self) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    # ------------------------------------------------------------------------- helpers for tests
    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def submit_url(self) -> str:
        return f"{self.base}/api/v1/apps/loadapp/ticket_types/req/tickets"

    def enqueue_tick(self) -> None:
        """Put one extra ``tick`` task on the queue (what the worker's own minute tick does)."""
        from engine.jobs.queue import JobQueue

        queue = JobQueue.from_settings(self.settings())
        try:
            queue.tick()
        finally:
            queue.db.dispose()


@contextlib.contextmanager
def running_site(database_url: str, redis_url: str, workdir: Path | None = None, **kw: Any) -> Iterator[Site]:
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gongdan-load-"))
    receiver = Receiver()
    site = Site(database_url, redis_url, receiver, workdir, **kw)
    try:
        site.start()
        yield site
    finally:
        site.stop()
        receiver.close()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
