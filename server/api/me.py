"""me endpoints (filled in by the web issue)."""

from __future__ import annotations
