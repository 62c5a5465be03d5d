"""`gongdan rules test` and `gongdan rules replay`: trying rules from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from engine.definitions.source import read_source
from engine.store import Database
from engine.store.models import Record
from tests.cli.test_cli import gongdan  # noqa: F401  (the fixture)

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "ruleslab.yaml"


def count_tickets(database_url: str) -> int:
    db = Database(database_url)
    with db.read() as conn:
        count = conn.execute(select(func.count()).select_from(Record)).scalar()
    db.dispose()
    return count


def test_rules_test_shows_the_rules_that_would_fire_and_writes_nothing(gongdan, database_url):  # noqa: F811
    assert gongdan("import", str(LAB)).exit_code == 0
    result = gongdan("rules", "test", "ruleslab", "case", "--data", json.dumps({"summary": "x", "vip": True}))
    assert result.exit_code == 0, result.output
    assert "✓ VIPs are P1" in result.output and "✓ P1 gets the gold tier" in result.output
    assert '"tier": "gold"' in result.output
    assert count_tickets(database_url) == 0


def test_rules_test_refuses_data_that_is_not_json(gongdan):  # noqa: F811
    assert gongdan("import", str(LAB)).exit_code == 0
    result = gongdan("rules", "test", "ruleslab", "case", "--data", "{vip: yes")
    assert result.exit_code == 2 and "--data is not valid JSON" in result.output


def test_rules_replay_reports_a_changed_rule_set_per_rule(gongdan, tmp_path):  # noqa: F811
    assert gongdan("import", str(LAB)).exit_code == 0
    data = read_source(LAB).data
    data["ticket_types"]["case"]["rules"][0]["if"] = "not vip"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    result = gongdan("rules", "replay", "ruleslab", "case", "--file", str(changed))
    assert result.exit_code == 0, result.output
    assert "VIPs are P1: 0 tickets matched" in result.output


def test_dead_letters_are_listed_and_sent_again_on_request(gongdan, database_url):  # noqa: F811
    from engine.jobs.outbox import dead_rows
    from tests.engine.jobs.conftest import T0

    db = Database(database_url)
    with db.write() as conn:
        from engine.store.models import Outbox

        conn.execute(
            Outbox.__table__.insert().values(
                idempotency_key="k1", channel="carrier_pigeon", payload={"secret": "s3cret"}, status="dead",
                attempts=14, max_attempts=14, last_error="unknown channel", next_attempt_at=T0, created_at=T0,
            )
        )  # fmt: skip
    listed = gongdan("outbox", "dead")
    assert listed.exit_code == 0 and "carrier_pigeon" in listed.output and "unknown channel" in listed.output
    assert "s3cret" not in listed.output
    again = gongdan("outbox", "retry", "1", "99")
    assert "#1 will be sent again." in again.output and "#99 is not a dead letter" in again.output
    assert dead_rows(db) == []
    db.dispose()
