"""REST API, version 1: one blueprint at /api/v1; each area declares its endpoints with
:func:`server.api.core.api` in its own module, listed in ``AREAS``."""

from __future__ import annotations

import importlib

from server.api.core import OPERATIONS, api, bp

#: Modules that declare endpoints (imported once, before the blueprint is registered).
AREAS = (
    "server.api.apps",
    "server.api.me",
    "server.api.tickets",
    "server.api.tasks",
    "server.api.attachments",
    "server.api.reports",
    "server.api.admin",
    "server.api.rules",
    "server.api.imports",
    "server.api.openapi",
    "designer.api",
)

for _module in AREAS:
    importlib.import_module(_module)

__all__ = ["OPERATIONS", "api", "bp"]
