"""Shared fixtures: every database test runs on SQLite and again on PostgreSQL.

One migrated template per run (SQLite file / PostgreSQL database), made once under a file lock
and shared by all xdist workers; each SQLite test copies the file, each PostgreSQL test gets the
worker's own database emptied with TRUNCATE. GONGDAN_REQUIRE_PG=1 turns a missing PostgreSQL
into a failure instead of a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from filelock import FileLock
from sqlalchemy import create_engine, text

import engine.people
from engine.store import Database, migrate
from engine.store.models import Base
from tests.browser import browser  # noqa: F401  (one Chromium a test process: tests/e2e, tests/security)

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "app_definitions"
PG_ADMIN_URL = os.environ.get("GONGDAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Set once in the controller; xdist workers inherit the environment, so all agree on the names.
RUN_ID = os.environ.setdefault("GONGDAN_TEST_RUN", uuid.uuid4().hex[:12])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
PG_TEMPLATE = f"gdt_{RUN_ID}_tmpl"
PG_WORKER_DB = f"gdt_{RUN_ID}_{WORKER}"


# Passwords: the product hashes at engine.people.PASSWORD_COST (~100 ms a hash, by design); the suite
# creates thousands of users and signs in thousands of times, so tests in this process hash with the
# same argon2id at its lowest cost. Servers the tests start as processes (e2e, faults, load) hash at
# the real cost, and tests/engine/test_password_cost.py checks what a real process stores.
engine.people._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def _pg_admin():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def pg_unavailable_reason() -> str | None:
    try:
        eng = _pg_admin()
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:  # any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if WORKER != "main" else base


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = _shared_dir(tmp_path_factory)
    path = shared / "template.db"
    with FileLock(str(shared / "template.db.lock")):
        if not path.exists():
            tmp = shared / "template.db.part"
            migrate(f"sqlite:///{tmp}")
            tmp.rename(path)
    return path


@pytest.fixture(scope="session")
def pg_worker_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = pg_unavailable_reason()
    if reason:
        if os.environ.get("GONGDAN_REQUIRE_PG") == "1":
            pytest.fail(reason + " (GONGDAN_REQUIRE_PG=1)")
        pytest.skip(reason)
    shared = _shared_dir(tmp_path_factory)
    admin = _pg_admin()
    with FileLock(str(shared / "pg_template.lock")):
        marker = shared / "pg_template.done"
        if not marker.exists():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}"'))
                conn.execute(text(f'CREATE DATABASE "{PG_TEMPLATE}"'))
            migrate(_pg_url(PG_TEMPLATE))
            marker.write_text("ok")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_WORKER_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{PG_WORKER_DB}" TEMPLATE "{PG_TEMPLATE}"'))
    yield _pg_url(PG_WORKER_DB)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_WORKER_DB}" WITH (FORCE)'))
    admin.dispose()


TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind (the test runs once per kind)."""
    if request.param == "sqlite":
        path = tmp_path / "gongdan.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_worker_db")
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    eng.dispose()
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def runtime(db: Database):
    from engine.runtime import Runtime

    return Runtime(db)


@pytest.fixture
def complaint_app(runtime) -> str:
    """The shipped customer-complaint app, published as version 1."""
    runtime.publish(APPS / "complaint.yaml")
    return "complaint"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The controller (or a run without xdist) drops the run's template database.
    if WORKER == "main" and not pg_unavailable_reason():
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)'))
        admin.dispose()
