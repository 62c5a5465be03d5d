"""The store: tables, connections and migrations."""

from engine.store.db import Database
from engine.store.migrate import migrate

__all__ = ["Database", "migrate"]
