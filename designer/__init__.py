"""The app designer: pages at /designer (this blueprint) and the draft API (designer/api.py, part of /api/v1).

Business users build and change apps here without writing YAML. Every page edits a *draft*
(engine/designer.py) through the draft API; nothing reaches running tickets until the draft is
published. Page modules register their routes on ``bp`` when imported below (H3's editors add
their module to ``PAGE_MODULES``).
"""

from __future__ import annotations

import importlib

from flask import Blueprint

bp = Blueprint(
    "designer",
    __name__,
    url_prefix="/designer",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Modules that add page routes to ``bp`` (imported once, before the blueprint is registered).
PAGE_MODULES: list[str] = ["designer.pages", "designer.editors", "designer.tests_pages"]

for _module in PAGE_MODULES:
    importlib.import_module(_module)
