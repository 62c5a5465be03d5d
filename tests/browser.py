"""The one headless Chromium of a test process (Debian's, never a downloaded one), shared by the
browser tests of tests/e2e and tests/security: Playwright's sync API keeps its event loop in the
test process's thread, so a second instance in the same process would fail to start.

Without Chromium (or the ``playwright`` package) the browser tests are skipped, unless
``GONGDAN_REQUIRE_BROWSER=1`` (as in CI), which turns that into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long an expect() keeps retrying: generous, the machine may be running other tests.
EXPECT_TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("GONGDAN_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (GONGDAN_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"chromium not found at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]'); it drives chromium")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
