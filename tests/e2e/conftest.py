"""Browser fixtures: the real Flask app over real HTTP, driven by headless Chromium (Playwright).

Debian's Chromium (``apt-get install chromium fonts-noto-cjk``) is used, never a browser that
Playwright downloads. Without it (or without the ``playwright`` package) the browser tests are
skipped, unless ``GONGDAN_REQUIRE_BROWSER=1`` (as in CI), which turns that into a failure.

The tests run on SQLite only: each gets its own copy of the run's migrated template database
(``sqlite_template`` in tests/conftest.py), the complaint app published into it, and its own
server on a free port of 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.bootstrap import Platform, open_platform
from engine.config import load_settings
from server import create_app

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
APPS = Path(__file__).resolve().parents[2] / "app_definitions"


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


@dataclass
class LiveSite:
    """The running server: its base URL and the platform behind it (to look into the database)."""

    url: str
    platform: Platform


@pytest.fixture
def live_site(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveSite]:
    """The Flask app with the complaint app published, served on 127.0.0.1:<free port>."""
    path = tmp_path / "gongdan.db"
    shutil.copy(sqlite_template, path)
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{path}"})
    platform = open_platform(settings, immediate=True)
    platform.runtime.publish(APPS / "complaint.yaml")
    server = make_server("127.0.0.1", 0, create_app(platform), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gongdan-e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveSite(f"http://127.0.0.1:{server.server_port}", platform)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        platform.close()


@dataclass
class Watch:
    """What a page did: script errors, the status of each live-state answer, its navigations."""

    errors: list[str] = field(default_factory=list)
    states: list[int] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        # HTTP errors show up as "Failed to load resource" (the 422 page itself, /favicon.ico);
        # the state answers are checked through ``states`` instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def response(self, answer: Any) -> None:
        if answer.url.split("?")[0].endswith("/state"):
            self.states.append(answer.status)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Any, live_site: LiveSite, watch: Watch) -> Iterator[Any]:
    """A fresh page in its own context (no cookies or cache shared between tests), watched."""
    context = browser.new_context(base_url=live_site.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    tab = context.new_page()
    tab.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    tab.on("console", watch.console)
    tab.on("response", watch.response)
    tab.on(
        "framenavigated",
        lambda frame: watch.navigations.append(frame.url) if frame == tab.main_frame else None,
    )
    yield tab
    context.close()
    assert not watch.errors, f"the page reported script errors: {watch.errors}"
    assert all(status == 200 for status in watch.states), f"live-state answers: {watch.states}"


@pytest.fixture
def same_page(watch: Watch) -> Callable[[Any], Callable[[], None]]:
    """Mark a loaded page; the check it returns fails if the page was reloaded or left since."""

    def mark(tab: Any) -> Callable[[], None]:
        tab.evaluate("window.__gdE2eMarker = 'still here'")
        before = len(watch.navigations)

        def check() -> None:
            assert tab.evaluate("window.__gdE2eMarker") == "still here", "the page was reloaded"
            assert watch.navigations[before:] == [], "the page navigated"

        return check

    return mark
