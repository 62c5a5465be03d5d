"""Fixtures for the job tests: the complaint app with a webhook pointing at a real local HTTP server."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from engine.definitions.source import read_source
from engine.runtime import Runtime
from engine.store import Database
from engine.store.models import Outbox
from tests.support import complaint_form

APPS = Path(__file__).resolve().parents[3] / "app_definitions"
#: The fixed "now" of commands in these tests; deliveries pass times after it explicitly.
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SECRET = "s3cret"


def complaint_with_webhook(url: str) -> dict[str, Any]:
    """The shipped complaint app plus a webhook ``crm`` on ``created``, signed with the secret stored as
    ``hook.crm`` (``SECRET``, from GONGDAN_HOOK_CRM); without its rules, so the webhook row is the only
    effect of a new ticket."""
    data = copy.deepcopy(read_source(APPS / "complaint.yaml").data)
    data["webhooks"] = [{"id": "crm", "url": url, "events": ["created"], "secret_ref": "crm"}]
    for ticket_type in data["ticket_types"].values():
        ticket_type.pop("rules", None)
    return data


def outbox_rows(db: Database) -> list[Any]:
    with db.read() as conn:
        return conn.execute(select(Outbox.__table__).order_by(Outbox.id)).all()


def outbox_row(db: Database, outbox_id: int) -> Any:
    with db.read() as conn:
        return conn.execute(select(Outbox.__table__).where(Outbox.id == outbox_id)).one()


@pytest.fixture(autouse=True)
def allow_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbound guard refuses loopback addresses; these tests' peers run on 127.0.0.1. The webhook's
    signing secret is in the environment, where the worker reads it."""
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("GONGDAN_HOOK_CRM", SECRET)


@pytest.fixture
def hook_url(httpserver: HTTPServer) -> str:
    return httpserver.url_for("/hook")


@pytest.fixture
def webhook_app(runtime: Runtime, hook_url: str) -> dict[str, Any]:
    """Publish the complaint app with its webhook; the published definition."""
    definition = complaint_with_webhook(hook_url)
    runtime.publish(definition)
    return definition


@pytest.fixture
def fixed_runtime(db: Database, webhook_app: dict[str, Any]) -> Runtime:
    """A Runtime whose commands happen at ``T0`` and that dispatches nothing (the sweep delivers)."""
    return Runtime(db, clock=lambda: T0)


@pytest.fixture
def queued(fixed_runtime: Runtime, webhook_app: dict[str, Any], db: Database) -> int:
    """The id of the one webhook row a complaint submitted at ``T0`` queued, still pending."""
    fixed_runtime.submit("complaint", "complaint", complaint_form(webhook_app), actor=None)
    (row,) = [r for r in outbox_rows(db) if r.channel == "webhook"]
    return row.id
