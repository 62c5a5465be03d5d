"""`gongdan demo --tickets N` in bulk: a few tickets walked through their flows, the rest cloned —
whole, consistent tickets that the inbox, the ticket list and later commands work with."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.access import load_principal
from engine.cli import main
from engine.demo_bulk import TEMPLATES_PER_APP
from engine.inbox import my_todos
from engine.runtime import Runtime
from engine.store import Database
from engine.store.models import App, Event, FlowInstance, Outbox, Record, Task, Timer
from engine.store.types import utcnow

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "app_definitions"
N = 2_500
KB_ARTICLE = {"title": "批量之后", "body": "A new article after the bulk load."}


@pytest.fixture
def loaded(database_url, tmp_path):
    env = {"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, "GONGDAN_LANG": "en"}
    runner = CliRunner()  # keeps stdout and stderr apart
    assert runner.invoke(main, ["import", *map(str, sorted(APPS.glob("*.yaml")))], env=env).exit_code == 0
    result = runner.invoke(main, ["demo", "--tickets", str(N), "--bulk"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db = Database(database_url)
    yield db, result
    db.dispose()


def test_bulk_demo_writes_n_whole_tickets_with_their_own_numbers(loaded):
    db, result = loaded
    with db.read() as conn:
        apps = dict(conn.execute(select(App.id, App.key)).all())
        records = conn.execute(select(Record.id, Record.app_id, Record.number, Record.event_seq)).all()
        last_seq = dict(
            conn.execute(select(Event.record_id, func.max(Event.seq)).group_by(Event.record_id)).all()
        )
        first = Counter(conn.execute(select(Event.record_id).where(Event.seq == 1)).scalars())
        instances = dict(conn.execute(select(FlowInstance.id, FlowInstance.record_id)).all())
        tasks = conn.execute(select(Task.record_id, Task.instance_id)).all()
        cloned_outbox = conn.execute(select(func.count()).select_from(Outbox)).scalar()
        pending_timers = conn.execute(
            select(func.count()).select_from(Timer).where(Timer.status == "pending")
        ).scalar()
    assert len(records) == N
    assert len({r.number for r in records}) == N  # unique numbers …
    patterns = {
        "complaint": r"TS-\d{6}-\d{4,}",
        "it_ops": r"IT-\d{6}-\d{4,}",
        "bugfix": r"BUG-\d{5,}",
        "kb": r"KB-\d{5,}",
    }
    for r in records:  # … drawn from each app's own pattern
        assert re.fullmatch(patterns[apps[r.app_id]], r.number), r.number
    assert all(first[r.id] == 1 and last_seq[r.id] == r.event_seq for r in records)  # whole timelines
    assert all(instances[instance] == record for record, instance in tasks)  # tasks of their own flow
    walked = TEMPLATES_PER_APP * len(apps)
    assert cloned_outbox <= walked * 10 and pending_timers <= walked * 5  # clones send and escalate nothing
    assert f"{walked} walked through their flows" in result.stdout
    assert "demo tickets (bulk)" in result.stderr and "demo tickets" not in result.stdout  # progress bar


def test_bulk_tickets_work_like_any_other(loaded):
    db, _ = loaded
    runtime = Runtime(db)
    with db.read() as conn:
        busiest = conn.execute(
            select(Task.assignee_id, func.count())
            .where(Task.status == "open", Task.assignee_id.is_not(None))
            .group_by(Task.assignee_id)
            .order_by(func.count().desc())
        ).first()
        principal = load_principal(conn, busiest.assignee_id)
        page = my_todos(conn, principal, runtime.spec_for, now=utcnow(), limit=50)
    assert len(page.items) == min(busiest[1], 50)  # the inbox lists cloned tasks
    newest = max(page.items, key=lambda item: item["ticket"]["id"])
    ticket = runtime.ticket(newest["ticket"]["id"])
    assert ticket.number == newest["ticket"]["number"]
    assert runtime.events(ticket.id)[0]["type"] == "created"
    # a command on a cloned ticket and a brand-new ticket both work (ids and counters moved on)
    before = len(runtime.events(ticket.id))
    runtime.comment(ticket.id, "bulk ticket still alive", actor=principal.user_id)
    added = [e["type"] for e in runtime.events(ticket.id)[before:]]
    assert added[0] == "comment_added"  # (a first response may also meet an SLA: sla_met)
    fresh = runtime.submit("kb", next(iter(runtime.definition("kb")[1]["ticket_types"])), KB_ARTICLE)
    with db.read() as conn:
        numbers = set(conn.execute(select(Record.number)).scalars())
        assert conn.execute(select(func.count()).select_from(Record)).scalar() == N + 1
    assert fresh.number in numbers
