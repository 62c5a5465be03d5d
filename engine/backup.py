"""`gongdan backup DEST` / `gongdan restore SRC`: a consistent copy of the database and the files.

A backup is a folder::

    DEST/manifest.json        what is in it: format, schema revision, database kind, checksums
    DEST/database.sqlite      SQLite: a copy made with SQLite's online backup API (safe while serving)
    DEST/database.pgdump      PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot)
    DEST/files/…              the uploaded files (engine/files.py local storage), as stored

The database is copied first, then the files. Uploads are written once under a fresh random id
before a ticket refers to them, so every file the database copy mentions is already on disk when
the files are copied (a file uploaded meanwhile is an unused extra, never a missing one).

Restore checks every checksum, refuses a backup whose schema is newer than this program, a
different kind of database, and a target that already holds tickets or files unless ``force``;
then it loads the database (all or nothing), runs the migrations up to this program's head and
puts the files in place. Files kept in an S3-compatible store are not copied (the store keeps
its own versions; docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

import engine.ops_messages  # noqa: F401  (the backup.* messages)
from engine.config import Settings
from engine.errors import GongdanError
from engine.i18n import t
from engine.store.db import Database
from engine.store.migrate import alembic_config, migrate
from engine.store.models import App, Event, Record

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
DUMPS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
CHUNK = 1024 * 1024

Echo = Callable[[str], Any]


class BackupError(GongdanError):
    """A backup or restore that cannot go ahead; nothing was changed."""

    code = "backup.failed"
    http_status = 409


# ----------------------------------------------------------------------------- helpers
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files_root(settings: Settings) -> Path:
    return settings.home / FILES


def _stored_files(root: Path) -> Iterator[Path]:
    """Every kept file under ``root`` (bytes and metadata), not the half-written ones in ``.tmp``."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".tmp" not in path.relative_to(root).parts:
            yield path


def _kind(url: str) -> str:
    return make_url(url).get_backend_name()


def _schema_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _counts(db: Database) -> dict[str, int]:
    if not inspect(db.engine).has_table("records"):
        return {"tickets": 0, "events": 0}
    with db.read() as conn:
        return {
            "tickets": conn.execute(select(func.count()).select_from(Record)).scalar() or 0,
            "events": conn.execute(select(func.count()).select_from(Event)).scalar() or 0,
        }


def _pg_command(tool: str, url: str) -> tuple[list[str], dict[str, str]]:
    """The tool's path and the libpq connection for ``url``; the password goes in the environment
    (PGPASSWORD), never on the command line where ``ps`` would show it."""
    found = shutil.which(tool)
    if found is None:
        raise BackupError("backup.no_pg_dump", tool=tool)
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return [found, "--dbname", libpq], env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    from engine.config import redact

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        error = redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
        raise BackupError(
            "backup.tool_failed", tool=Path(cmd[0]).name, code=done.returncode, error=error[:500]
        )


def _sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into another with the online backup API (readers and the writer
    may go on meanwhile; the copy is one consistent moment)."""
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


# ----------------------------------------------------------------------------- backup
def backup(settings: Settings, dest: Path, echo: Echo = lambda _: None) -> dict[str, Any]:
    """Write a backup of the configured database and files into the new folder ``dest``."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError("backup.dest_not_empty", path=str(dest))
    kind = _kind(settings.database_url)
    if kind == "postgresql":
        _pg_command("pg_dump", settings.database_url)  # fail before writing anything
    part = dest.with_name(dest.name + f".part-{uuid.uuid4().hex[:8]}")
    part.mkdir(parents=True)
    try:
        manifest = _write_backup(settings, part, kind, echo)
        if dest.exists():
            dest.rmdir()
        part.rename(dest)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return manifest


def _write_backup(settings: Settings, part: Path, kind: str, echo: Echo) -> dict[str, Any]:
    db = Database(settings.database_url)
    try:
        revision = _schema_revision(db)
        counts = _counts(db)
    finally:
        db.dispose()
    dump = part / DUMPS[kind]
    echo(t("backup.database_copied", kind=kind, file=dump.name))
    if kind == "sqlite":
        _sqlite_copy(_sqlite_path(settings.database_url), dump)
    else:
        cmd, env = _pg_command("pg_dump", settings.database_url)
        _run([*cmd, "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump)], env)
    root = _files_root(settings)
    files = []
    if settings.files_url is None:
        for path in _stored_files(root):
            rel = path.relative_to(root)
            target = part / FILES / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            files.append({"path": rel.as_posix(), "size": target.stat().st_size, "sha256": sha256_of(target)})
        echo(t("backup.files_copied", count=len(files), folder=FILES))
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "gongdan": _version(),
        "database": {
            "kind": kind,
            "file": dump.name,
            "size": dump.stat().st_size,
            "sha256": sha256_of(dump),
            "revision": revision,
            **counts,
        },
        "files": {
            "storage": "external" if settings.files_url else "local",
            "count": len(files),
            "list": files,
        },
    }
    (part / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gongdan")
    except PackageNotFoundError:
        return "unknown"


# ----------------------------------------------------------------------------- restore
def read_manifest(src: Path) -> dict[str, Any]:
    path = Path(src) / MANIFEST
    if not path.is_file():
        raise BackupError("backup.no_manifest", path=str(src))
    return json.loads(path.read_text("utf-8"))


def verify(src: Path, manifest: dict[str, Any]) -> None:
    """Every file of the backup is there with the checksum the manifest says."""
    database = manifest["database"]
    entries = [(database["file"], database["sha256"])]
    entries += [(f"{FILES}/{f['path']}", f["sha256"]) for f in manifest["files"]["list"]]
    for name, digest in entries:
        path = Path(src) / name
        if not path.is_file() or sha256_of(path) != digest:
            raise BackupError("backup.bad_checksum", file=name)


def _known_revisions(url: str) -> tuple[set[str], str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    return {rev.revision for rev in script.walk_revisions()}, str(script.get_current_head())


def _target_holds_data(settings: Settings) -> int | None:
    """The target's tickets (0 when it has apps or files but no tickets); None when it is empty."""
    tickets, apps = 0, False
    if not (_kind(settings.database_url) == "sqlite" and not _sqlite_path(settings.database_url).exists()):
        db = Database(settings.database_url)
        try:
            if inspect(db.engine).has_table("apps"):
                tickets = _counts(db)["tickets"]
                with db.read() as conn:
                    apps = conn.execute(select(App.id).limit(1)).first() is not None
        finally:
            db.dispose()
    if tickets or apps or any(True for _ in _stored_files(_files_root(settings))):
        return tickets
    return None


def restore(
    settings: Settings, src: Path, force: bool = False, echo: Echo = lambda _: None
) -> dict[str, Any]:
    """Load the backup in ``src`` into the configured database and files folder; the manifest."""
    src = Path(src)
    manifest = read_manifest(src)
    database = manifest["database"]
    kind = _kind(settings.database_url)
    if database["kind"] != kind:
        raise BackupError("backup.other_database", kind=database["kind"], target=kind)
    known, head = _known_revisions(settings.database_url)
    if database["revision"] is not None and database["revision"] not in known:
        raise BackupError("backup.newer_schema", revision=database["revision"], head=head)
    verify(src, manifest)
    held = _target_holds_data(settings)
    if held is not None and not force:
        raise BackupError("backup.target_not_empty", tickets=held)
    if kind == "postgresql":
        _pg_command("pg_restore", settings.database_url)  # fail before changing anything
        _pg_command("psql", settings.database_url)
    echo(t("backup.database_restored", kind=kind, file=database["file"]))
    if kind == "sqlite":
        target = _sqlite_path(settings.database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(src / database["file"], target)
    else:
        settings.home.mkdir(parents=True, exist_ok=True)
        _restore_pg(settings.database_url, src / database["file"], settings.home)
    migrate(settings.database_url)  # a backup of an older release comes up to this one's schema
    if manifest["files"]["storage"] == "local" and settings.files_url is None:
        _restore_files(settings, src, manifest)
    echo(t("backup.restored_counts", tickets=database.get("tickets", 0), files=manifest["files"]["count"]))
    return manifest


def _restore_pg(url: str, dump: Path, work: Path) -> None:
    """Replace the target's public schema by the dump's, all or nothing: pg_restore turns the dump
    into SQL and psql runs it after dropping the old schema, in one transaction (a failure leaves
    the target as it was)."""
    restore_cmd, env = _pg_command("pg_restore", url)
    psql_cmd, _ = _pg_command("psql", url)
    script = work / "restore.sql"
    prefix = work / "prefix.sql"
    prefix.write_text("DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n", encoding="utf-8")
    try:
        _run([restore_cmd[0], "--no-owner", "--no-privileges", "--file", str(script), str(dump)], env)
        _run([*psql_cmd, "--single-transaction", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
              "--file", str(prefix), "--file", str(script)], env)  # fmt: skip
    finally:
        script.unlink(missing_ok=True)
        prefix.unlink(missing_ok=True)


def _restore_files(settings: Settings, src: Path, manifest: dict[str, Any]) -> None:
    """Put the backup's files in place: copied beside the folder first, then swapped in."""
    root = _files_root(settings)
    root.parent.mkdir(parents=True, exist_ok=True)
    fresh = root.with_name(f"{FILES}.restoring-{uuid.uuid4().hex[:8]}")
    fresh.mkdir()
    for entry in manifest["files"]["list"]:
        target = fresh / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / FILES / entry["path"], target)
    old = root.with_name(f"{FILES}.old-{uuid.uuid4().hex[:8]}")
    if root.exists():
        root.rename(old)
    fresh.rename(root)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["BackupError", "backup", "read_manifest", "restore", "verify"]
