"""Fixtures of the fault suite: a real deployment (tests/load/harness.py) on PostgreSQL with a
private Redis, so a test may kill or stop any part of it without touching anything shared."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import pg_unavailable_reason
from tests.load.harness import PrivatePostgres, PrivateRedis, Receiver, Site, throwaway_pg_database
from tests.server.conftest import web  # noqa: F401  (the in-process site, for the files-folder fault)


@pytest.fixture
def needs_postgresql() -> None:
    reason = pg_unavailable_reason()
    if reason:
        if os.environ.get("GONGDAN_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl), restartable at will."""
    if not (Path("/usr/lib/postgresql/15/bin/initdb")).exists() or not shutil.which("runuser"):
        pytest.fail("PostgreSQL 15 server binaries are needed in /usr/lib/postgresql/15/bin")
    server = PrivatePostgres()
    server.init()
    yield server
    server.destroy()


@pytest.fixture
def make_site(tmp_path: Path, redis: PrivateRedis) -> Iterator[Callable[..., Site]]:
    """``make_site(database_url=None, **kw)``: a started site (a throw-away system PostgreSQL
    database unless a URL is given); everything is stopped afterwards."""
    made: list[Site] = []
    dbs: list[Any] = []

    def make(database_url: str | None = None, **kw: Any) -> Site:
        if database_url is None:
            cm = throwaway_pg_database()
            database_url = cm.__enter__()
            dbs.append(cm)
        site = Site(database_url, redis.url, Receiver(), tmp_path / f"site{len(made)}", **kw)
        made.append(site)
        site.workdir.mkdir(parents=True)
        site.start()
        return site

    yield make
    for site in made:
        site.stop()
        site.receiver.close()
    for cm in dbs:
        cm.__exit__(None, None, None)
