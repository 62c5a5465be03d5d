"""`gongdan backup` / `gongdan restore`: a round trip keeps tickets, events and attachments, on
SQLite and PostgreSQL; restore refuses what would lose data or could not work."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from engine.attachments import record_upload
from engine.backup import BackupError, backup, restore
from engine.cli import main
from engine.config import Settings, load_settings
from engine.files import LocalStorage
from engine.people import create_user
from engine.runtime import Runtime
from engine.store import Database, migrate
from engine.store.models import Attachment, Event, Record
from tests.conftest import APPS, RUN_ID, _pg_admin, _pg_url
from tests.support import complaint_form

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def settings_for(url: str, home: Path) -> Settings:
    return load_settings({"GONGDAN_HOME": str(home), "DATABASE_URL": url})


def snapshot(settings: Settings) -> dict[str, Any]:
    """What a user would miss: tickets, their events, attachments and the bytes of every file."""
    db = Database(settings.database_url)
    try:
        with db.read() as conn:
            tickets = [
                tuple(r)
                for r in conn.execute(select(Record.number, Record.status, Record.data).order_by(Record.id))
            ]
            events = [
                tuple(r)
                for r in conn.execute(
                    select(Event.record_id, Event.seq, Event.type, Event.payload).order_by(Event.id)
                )
            ]
            files = [
                tuple(r)
                for r in conn.execute(
                    select(Attachment.file_id, Attachment.name, Attachment.record_id).order_by(
                        Attachment.file_id
                    )
                )
            ]
    finally:
        db.dispose()
    storage = LocalStorage(settings.home / "files")
    blobs = {}
    for file_id, *_ in files:
        with storage.open(file_id) as f:
            blobs[file_id] = f.read()
    return {"tickets": tickets, "events": events, "files": files, "blobs": blobs}  # fmt: skip


@pytest.fixture
def source(database_url: str, tmp_path: Path) -> Settings:
    """A site with the complaint app, three tickets (one with a screenshot) and their events."""
    settings = settings_for(database_url, tmp_path / "site")
    db = Database(database_url)
    runtime = Runtime(db)
    runtime.publish(APPS / "complaint.yaml")
    ann = create_user(db, "ann")
    definition = runtime.definition("complaint")[1]
    stored = record_upload(
        db, LocalStorage(settings.home / "files"), io.BytesIO(PNG), "截图.png", ann, 1 << 20
    )
    runtime.submit(
        "complaint", "complaint", complaint_form(definition, screenshots=[stored.reference()]), actor=ann
    )
    for summary in ("第二", "第三"):
        runtime.submit("complaint", "complaint", complaint_form(definition, summary=summary), actor=ann)
    db.dispose()
    return settings


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'gongdan.db'}"
        return
    name = f"gdt_{RUN_ID}_restore"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_backup_restored_elsewhere_has_the_same_tickets_events_and_attachments(
    source, target_url, tmp_path
):
    before = snapshot(source)
    assert len(before["tickets"]) == 3 and len(before["blobs"]) == 1 and before["files"][0][2] is not None
    manifest = backup(source, tmp_path / "bk")
    assert manifest["database"]["tickets"] == 3 and manifest["files"]["count"] == 2  # bytes + metadata
    assert manifest["database"]["revision"] is not None
    target = settings_for(target_url, tmp_path / "restored")
    restore(target, tmp_path / "bk")
    assert snapshot(target) == before
    # the restored site works: a new ticket gets the next number
    db = Database(target_url)
    ticket = Runtime(db).submit(
        "complaint", "complaint", complaint_form(Runtime(db).definition("complaint")[1])
    )
    db.dispose()
    assert ticket.number not in {t[0] for t in before["tickets"]}


def test_restore_refuses_a_target_that_holds_data_unless_forced(source, tmp_path):
    backup(source, tmp_path / "bk")
    db = Database(source.database_url)
    Runtime(db).submit("complaint", "complaint", complaint_form(Runtime(db).definition("complaint")[1]))
    db.dispose()
    with pytest.raises(BackupError) as refused:
        restore(source, tmp_path / "bk")
    assert refused.value.code == "backup.target_not_empty" and "--force" in refused.value.message("en")
    assert len(snapshot(source)["tickets"]) == 4  # nothing changed
    restore(source, tmp_path / "bk", force=True)
    assert len(snapshot(source)["tickets"]) == 3


def test_restore_refuses_a_newer_schema_and_a_damaged_backup(source, target_url, tmp_path):
    backup(source, tmp_path / "bk")
    target = settings_for(target_url, tmp_path / "restored")
    newer = tmp_path / "newer"
    shutil.copytree(tmp_path / "bk", newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["database"]["revision"] = "0099"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError) as refused:
        restore(target, newer)
    assert refused.value.code == "backup.newer_schema" and "0099" in refused.value.message("en")

    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "bk", damaged)
    blob = next(p for p in (damaged / "files").rglob("*") if p.is_file() and p.suffix != ".json")
    blob.write_bytes(b"tampered")
    with pytest.raises(BackupError) as refused:
        restore(target, damaged)
    assert refused.value.code == "backup.bad_checksum"
    assert not (tmp_path / "restored" / "files").exists()


def test_backup_refuses_a_folder_that_is_not_empty(source, tmp_path):
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "other.txt").write_text("keep me")
    with pytest.raises(BackupError) as refused:
        backup(source, dest)
    assert refused.value.code == "backup.dest_not_empty"
    assert [p.name for p in dest.iterdir()] == ["other.txt"]


def test_postgresql_backup_without_pg_dump_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere
    settings = settings_for("postgresql+psycopg://postgres@127.0.0.1:5432/test", tmp_path / "site")
    with pytest.raises(BackupError) as refused:
        backup(settings, tmp_path / "bk")
    assert refused.value.code == "backup.no_pg_dump" and "postgresql-client" in refused.value.message("en")
    assert not (tmp_path / "bk").exists()


def test_cli_backup_and_restore_round_trip(tmp_path, monkeypatch):
    home = tmp_path / "site"
    url = f"sqlite:///{home / 'gongdan.db'}"
    migrate(url)
    db = Database(url)
    Runtime(db).publish(APPS / "complaint.yaml")
    Runtime(db).submit("complaint", "complaint", complaint_form(Runtime(db).definition("complaint")[1]))
    db.dispose()
    monkeypatch.setenv("GONGDAN_HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    done = runner.invoke(main, ["backup", str(tmp_path / "bk")])
    assert done.exit_code == 0, done.output
    assert "1 张工单" in done.output and "files:" not in done.output  # one language: Chinese by default
    english = runner.invoke(main, ["--lang", "en", "backup", str(tmp_path / "bk-en")])
    assert english.exit_code == 0 and "1 tickets" in english.output and "工单" not in english.output
    refused = runner.invoke(main, ["--lang", "en", "restore", str(tmp_path / "bk")])
    assert refused.exit_code == 2 and "--force" in refused.output
    forced = runner.invoke(main, ["restore", "--force", str(tmp_path / "bk")])
    assert forced.exit_code == 0, forced.output
