"""Secrets never in logs or exports: passwords, API tokens, the SMTP password, robot tokens and
signing secrets (from the environment and from the admin's channel settings) are absent from every
log line written while they are used and fail, from the outbox's errors and the dead-letter list, the
audit log, and every export (app definition YAML, report CSV, ticket export)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from engine.store.models import Outbox
from tests.security.tally import TRIED
from tests.support import complaint_form

SMTP_PASSWORD = "Smtp-Pw-7f3a9c"
ROBOT_TOKEN = "RobotTok9x8y7z6w5v4u"
ROBOT_SECRET = "SECrobot5e6f7a8b"
ADMIN_ROBOT_TOKEN = "AdminTok1q2w3e4r5t6y"
USER_PASSWORD = "Hunter2-Very-Secret"
SECRETS = [SMTP_PASSWORD, ROBOT_TOKEN, ROBOT_SECRET, ADMIN_ROBOT_TOKEN, USER_PASSWORD]


def text_of(answer: Any) -> str:
    """An answer's bytes as text whatever their encoding (UTF-8 or GBK CSV): secrets are ASCII."""
    assert answer.status_code == 200, answer.status_code
    return answer.get_data().decode("latin-1")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GONGDAN_SMTP_URL", f"smtp://robot:{SMTP_PASSWORD}@127.0.0.1:9/?from=noreply@example.com"
    )
    monkeypatch.setenv(
        "GONGDAN_ROBOT_DINGTALK",
        f"dingtalk+https://127.0.0.1:9/robot/send?access_token={ROBOT_TOKEN}#secret={ROBOT_SECRET}",
    )
    monkeypatch.setenv("GONGDAN_OUTBOUND_ALLOW", "127.0.0.1")


def test_secrets_never_reach_logs_errors_audit_or_exports(
    web: Any, secret_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web.user("ann", roles={"complaint": ["agent"]})
    web.user("cathy")
    admin = web.client("admin")
    # an admin stores a robot URL with a token in the channel settings
    stored = admin.put(
        "/api/v1/admin/channels/robot.wecom",
        json={"url": f"wecom+https://127.0.0.1:9/cgi-bin/webhook/send?key={ADMIN_ROBOT_TOKEN}"},
    )
    assert stored.status_code < 300, stored.json
    listed = admin.get("/api/v1/admin/channels")
    # a person changes their password, and someone guesses it wrongly
    web.client("cathy").post(
        "/api/v1/me/password", json={"old_password": "pw-cathy", "new_password": USER_PASSWORD}
    )
    web.anonymous().post("/api/v1/auth/login", json={"username": "cathy", "password": USER_PASSWORD + "x"})
    token_headers = web.token("ann", ["read", "write"])
    # tickets whose notifications go to the SMTP server and robots, which are not there: they fail
    definition = web.runtime.definition("complaint")[1]
    for priority in ("P1", "P2"):
        answer = web.client("cathy").post(
            "/api/v1/apps/complaint/ticket_types/complaint/tickets",
            json=complaint_form(definition, priority=priority, refund=10),
        )
        assert answer.status_code == 201, answer.json
    web.app.test_client().get("/api/v1/me", headers=token_headers)
    with web.db.read() as conn:
        errors = [r.last_error or "" for r in conn.execute(select(Outbox.last_error))]
    places = {
        "logs": caplog.text,
        "outbox errors": "\n".join(errors),
        "channel settings": listed.get_data(as_text=True),
        "dead letters": admin.get("/api/v1/admin/outbox/dead").get_data(as_text=True),
        "audit": admin.get("/api/v1/admin/audit").get_data(as_text=True),
        "app export": admin.get("/api/v1/admin/apps/complaint/export").get_data(as_text=True),
        "report export": admin.get(
            "/api/v1/apps/complaint/ticket_types/complaint/reports/weekly_kpi/export?format=csv"
        ).get_data(as_text=True),
        "ticket export": text_of(admin.get("/api/v1/imports/complaint/complaint/export?format=csv")),
    }
    TRIED["secrets in logs and exports (places x secrets)"] += len(places) * (len(SECRETS) + 1)
    leaks = [(where, s) for where, text in places.items() for s in SECRETS if s in text]
    bearer = token_headers["Authorization"].split()[1]
    leaks += [(where, "api token") for where, text in places.items() if bearer in text]
    assert leaks == []
    assert any(errors), "no delivery failed: the secrets were never put to the test"
