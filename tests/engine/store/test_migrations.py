"""The schema comes from Alembic migrations and matches the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from engine.store import Database, migrate
from engine.store.migrate import alembic_config
from engine.store.models import Base


def test_migrated_schema_matches_the_models(database_url):
    # `alembic check` raises when autogenerate would find any difference.
    command.check(alembic_config(database_url))
    db = Database(database_url)
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    db.dispose()
    assert tables == set(Base.metadata.tables)


def test_migrating_again_is_harmless_and_downgrade_then_upgrade_restores_it(database_url):
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "base")
    db = Database(database_url)
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.dispose()
    migrate(database_url)
    command.check(alembic_config(database_url))


def test_sqlite_database_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    migrate(url)
    db = Database(url)
    with db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
