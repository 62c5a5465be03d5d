"""Configuration, all from environment variables, documented in one place (docs/configuration.md).

| variable       | default                               | meaning                                   |
|----------------|---------------------------------------|-------------------------------------------|
| GONGDAN_HOME   | ./var                                 | data folder: SQLite database, queue, files |
| DATABASE_URL   | sqlite:///$GONGDAN_HOME/gongdan.db     | SQLAlchemy URL; postgresql+psycopg://...  |
| REDIS_URL      | (unset: huey keeps its queue in SQLite) | redis://host:port/db for the job queue    |
| GONGDAN_LANG   | zh                                    | language of messages: zh or en            |
| GONGDAN_BASE_URL | http://127.0.0.1:8000               | links back to tickets in messages         |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None
    lang: str
    base_url: str

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("GONGDAN_HOME") or "./var").resolve()
    url = env.get("DATABASE_URL") or f"sqlite:///{home / 'gongdan.db'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return Settings(
        home=home,
        database_url=url,
        redis_url=env.get("REDIS_URL") or None,
        lang=env.get("GONGDAN_LANG") or "zh",
        base_url=(env.get("GONGDAN_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
    )
