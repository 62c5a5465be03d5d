"""Front-end files: our own (server/static) and the pinned npm libraries (node_modules), never a CDN.

Only the files listed in ``VENDOR`` are served from node_modules; they come from package.json +
package-lock.json (``npm ci --ignore-scripts``, run by ``make setup``, which also bundles the
DingTalk JSAPI into ``.bundles/`` with the pinned esbuild). GONGDAN_ASSETS points at
another node_modules folder when the code is installed elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("assets", __name__)

ROOT = Path(__file__).resolve().parents[1]
STATIC = Path(__file__).resolve().parent / "static"
#: Browser files bundled at set-up from npm packages that ship CommonJS only (``make setup``).
BUNDLES = ".bundles/"
VENDOR = frozenset(
    {
        "htmx.org/dist/htmx.min.js",
        "alpinejs/dist/cdn.min.js",
        "echarts/dist/echarts.min.js",
        "sortablejs/Sortable.min.js",
        "@logicflow/core/dist/index.min.js",
        "@logicflow/core/dist/index.css",
        "@logicflow/extension/dist/index.min.js",
        "@logicflow/extension/dist/index.css",
        "swagger-ui-dist/swagger-ui.css",
        "swagger-ui-dist/swagger-ui-bundle.js",
        BUNDLES + "dingtalk-jsapi.min.js",
    }
)
MAX_AGE = 7 * 24 * 3600


def node_modules() -> Path:
    return Path(os.environ.get("GONGDAN_ASSETS") or ROOT / "node_modules")


@bp.get("/assets/vendor/<path:path>")
def vendor(path: str):
    if path not in VENDOR:
        abort(404)
    folder = node_modules()
    if not (folder / path).is_file():
        abort(404, description="front-end libraries missing: run `make setup` (npm ci --ignore-scripts)")
    return send_from_directory(folder, path, max_age=MAX_AGE)


@bp.get("/assets/<path:path>")
def static(path: str):
    return send_from_directory(STATIC, path, max_age=3600)
