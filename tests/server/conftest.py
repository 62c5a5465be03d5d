"""A real site for API and page tests: the Flask app over a migrated database (SQLite and
PostgreSQL), the shipped complaint app published, and people to sign in as.

``web.user("ann", roles={"complaint": ["agent"]})`` creates a user (password = ``pw-<name>``);
``web.client("ann")`` is a test client signed in through the real login endpoint, sending the
session's CSRF token with every write; ``web.token("ann", ["read"])`` a personal API token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import auth
from engine.bootstrap import Platform, open_platform
from engine.config import load_settings
from engine.people import create_user, user_id
from server import create_app
from server.auth import login_limiter
from tests.support import give_role


class SignedIn(FlaskClient):
    """A test client that sends the CSRF token of its session with every request."""

    csrf: str = ""

    def open(self, *args: Any, **kwargs: Any):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return super().open(*args, headers=headers, **kwargs)


class Web:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.app = create_app(platform)
        self.app.test_client_class = SignedIn
        self.db = platform.db
        self.runtime = platform.runtime

    def user(
        self,
        name: str,
        *,
        admin: bool = False,
        roles: Mapping[str, Sequence[str]] | None = None,
        department: int | None = None,
        **fields: Any,
    ) -> int:
        uid = create_user(
            self.db,
            name,
            name.title(),
            password=f"pw-{name}",
            is_admin=admin,
            department_id=department,
            **fields,
        )
        for app_key, keys in (roles or {}).items():
            for key in keys:
                give_role(self.db, uid, app_key, key)
        return uid

    def id(self, name: str) -> int:
        found = user_id(self.db, name)
        assert found is not None, name
        return found

    def anonymous(self) -> SignedIn:
        return self.app.test_client()

    def client(self, name: str) -> SignedIn:
        c = self.app.test_client()
        answer = c.post("/api/v1/auth/login", json={"username": name, "password": f"pw-{name}"})
        assert answer.status_code == 200, answer.json
        c.csrf = answer.json["csrf_token"]
        return c

    def token(self, name: str, scopes: Sequence[str] = ("read", "write")) -> dict[str, str]:
        """Authorization headers with a fresh API token of ``name``."""
        token, _ = auth.create_token(self.db, self.id(name), "test", list(scopes))
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web(database_url, tmp_path, complaint_app) -> Iterator[Web]:
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url})
    platform = open_platform(settings, immediate=True)
    login_limiter._hits.clear()  # every test is a fresh site (the limiter is per process)
    site = Web(platform)
    site.user("admin", admin=True)
    yield site
    platform.close()
