"""Browser fixtures: the real Flask app over real HTTP, driven by headless Chromium (Playwright).

Debian's Chromium (``apt-get install chromium fonts-noto-cjk``) is used, never a browser that
Playwright downloads. Without it (or without the ``playwright`` package) the browser tests are
skipped, unless ``GONGDAN_REQUIRE_BROWSER=1`` (as in CI), which turns that into a failure.

The tests run on SQLite only: each gets its own copy of a site database made once per run (the
migrated template of tests/conftest.py with every shipped app published and the demo organisation
of engine/demo.py in it: alice…henry, password ``demo``, plus the administrator ``root``) and its
own server on a free port of 127.0.0.1. ``open_page`` opens a further browser context (another
person, or a phone), ``sign_in`` signs a person in through the login page, and ``shoot`` saves a
screenshot under var/test-artifacts/e2e/ named after the test and the step.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from werkzeug.serving import make_server

import server.auth as server_auth
from engine.bootstrap import Platform, open_platform
from engine.config import load_settings
from engine.demo import load_people
from engine.people import create_user
from server import create_app
from tests.browser import EXPECT_TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "app_definitions"
#: Screenshots of the steps, kept as test artefacts (var/ is ignored by git).
ARTIFACTS = ROOT / "var" / "test-artifacts" / "e2e"
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The demo organisation's password (engine/demo.py), and the administrator the tests add.
PASSWORD = "demo"
ADMIN = "root"


@dataclass
class LiveSite:
    """The running server: its base URL and the platform behind it (to look into the database)."""

    url: str
    platform: Platform


@pytest.fixture(scope="session")
def site_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated database with every shipped app published and the demo people in it, made once
    per run (under a lock, shared by the xdist workers) and copied by each test."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "e2e-site.db"
    with FileLock(str(shared / "e2e-site.db.lock")):
        if not path.exists():
            work = shared / "e2e-site"
            work.mkdir(exist_ok=True)
            part = work / "site.db"
            shutil.copy(sqlite_template, part)
            settings = load_settings({"GONGDAN_HOME": str(work), "DATABASE_URL": f"sqlite:///{part}"})
            platform = open_platform(settings, immediate=True)
            try:
                for definition in sorted(APPS.glob("*.yaml")):
                    platform.runtime.publish(definition)
                load_people(platform.db)
                create_user(platform.db, ADMIN, "Root 管理员", password=PASSWORD, is_admin=True)
            finally:
                platform.close()
            part.rename(path)
    return path


@pytest.fixture
def site_env() -> dict[str, str]:
    """More settings of the site under test (a test module overrides it, e.g. with a sign-in provider)."""
    return {}


@pytest.fixture
def live_site(
    tmp_path: Path, site_template: Path, monkeypatch: pytest.MonkeyPatch, site_env: dict[str, str]
) -> Iterator[LiveSite]:
    """The Flask app on a copy of the site database, served on 127.0.0.1:<free port>, which is
    also its GONGDAN_BASE_URL (sign-in callbacks come back to it)."""
    path = tmp_path / "gongdan.db"
    shutil.copy(site_template, path)
    # Every test signs people in from 127.0.0.1: a fresh login rate limit per site, not per process.
    limiter = server_auth.RateLimiter(server_auth.LOGIN_LIMIT, server_auth.LOGIN_WINDOW)
    monkeypatch.setattr(server_auth, "login_limiter", limiter)
    listener = socket.create_server(("127.0.0.1", 0))  # the port is known before the settings
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = load_settings(
        {
            "GONGDAN_HOME": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{path}",
            "GONGDAN_BASE_URL": url,
            **site_env,
        }
    )
    platform = open_platform(settings, immediate=True)
    port = listener.getsockname()[1]
    server = make_server("127.0.0.1", port, create_app(platform), threaded=True, fd=listener.fileno())
    listener.close()  # the server holds its own copy of the socket
    thread = threading.Thread(target=server.serve_forever, name="gongdan-e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveSite(url, platform)
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


def _watched(tab: Any, watch: Watch) -> None:
    tab.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    tab.on("console", watch.console)
    tab.on("response", watch.response)
    tab.on(
        "framenavigated",
        lambda frame: watch.navigations.append(frame.url) if frame == tab.main_frame else None,
    )


@pytest.fixture
def open_page(browser: Any, live_site: LiveSite) -> Iterator[Callable[..., Any]]:
    """Open a page in a context of its own (its own cookies: one person), watched like ``page``.

    ``open_page()`` is a desktop window; ``open_page(phone=True)`` a phone (390×844, touch). The
    language the browser asks for is Chinese unless ``locale=`` says otherwise; ``user_agent=``
    makes it another browser (an IM app's built-in one)."""
    opened: list[tuple[Any, Watch]] = []

    def open_one(
        phone: bool = False, watch: Watch | None = None, locale: str = "zh-CN", user_agent: str | None = None
    ) -> Any:
        options: dict[str, Any] = {"base_url": live_site.url, "locale": locale}
        if user_agent:
            options["user_agent"] = user_agent
        if phone:
            options.update(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        else:
            options.update(viewport=DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        tab = context.new_page()
        watch = watch if watch is not None else Watch()
        _watched(tab, watch)
        opened.append((context, watch))
        return tab

    yield open_one
    for context, _ in opened:
        context.close()
    for _, watch in opened:
        assert not watch.errors, f"the page reported script errors: {watch.errors}"
        assert all(status == 200 for status in watch.states), f"live-state answers: {watch.states}"


@pytest.fixture
def page(open_page: Callable[..., Any], watch: Watch) -> Any:
    """A fresh page in its own context (no cookies or cache shared between tests), watched."""
    return open_page(watch=watch)


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """Sign ``username`` in on ``tab`` through the login page (demo password unless given); the
    page then shows their name in the header."""

    def go(tab: Any, username: str, password: str = PASSWORD) -> None:
        from playwright.sync_api import expect

        tab.goto("/login")
        tab.locator("input[name=username]").fill(username)
        tab.locator("input[name=password]").fill(password)
        tab.locator("button[type=submit]").click()
        expect(tab.locator("header.top .me")).to_be_visible()
        tab.wait_for_load_state()  # the page's scripts are running before anyone types

    return go


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a screenshot of the whole page as var/test-artifacts/e2e/<test>/<step>.png."""
    folder = ARTIFACTS / request.node.name.removeprefix("test_")

    def take(tab: Any, step: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{step}.png"
        tab.screenshot(path=path, full_page=True)
        return path

    return take


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
