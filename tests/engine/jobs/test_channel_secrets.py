"""Channel secrets never show: not in the settings' repr, not in errors, not in ``outbox.last_error``,
not in log lines (ours and httpx's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from engine.config import load_settings, mask_url, redact
from engine.jobs.channels import CHANNELS, channel
from engine.jobs.outbox import deliver_one
from engine.store.models import Outbox
from tests.engine.jobs.conftest import T0, outbox_row
from tests.engine.jobs.peers import EndlessServer

SECRETS = (
    "Sm7pPassw0rd",
    "accessTok3n",
    "SECrobotSecret",
    "LTAIsecretKey",
    "dbPassw0rd",
    "0f8a9c2e1b2c4d5e8f90",
)
ENV = {
    "DATABASE_URL": "postgresql://gongdan:dbPassw0rd@db.internal:5432/gongdan",
    "GONGDAN_SMTP_URL": "smtp+starttls://mailer:Sm7pPassw0rd@smtp.example.cn:587?from=noreply@example.cn",
    "GONGDAN_SMS_URL": "aliyun://LTAI5tKeyId:LTAIsecretKey@dysmsapi.aliyuncs.com?sign_name=工单&template_code=SMS_1",
    "GONGDAN_ROBOT_OPS": "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=accessTok3n#secret=SECrobotSecret",
    "GONGDAN_ROBOT_DEV": "feishu+https://open.feishu.cn/open-apis/bot/v2/hook/0f8a9c2e1b2c4d5e8f90",
}


def test_the_settings_repr_shows_every_setting_but_no_secret():
    shown = repr(load_settings(ENV))
    for secret in SECRETS:
        assert secret not in shown
    assert "smtp.example.cn:587" in shown and "oapi.dingtalk.com/robot/send" in shown
    assert "('ops', 'dingtalk+https://oapi.dingtalk.com/robot/send?access_token=***#secret=***')" in shown


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        ),
        ("smtps://u:p%40ss@h:465?from=a@b.cn", "smtps://u:***@h:465?from=a@b.cn"),
        ("https://x.cn/hook#secret=s&token=t", "https://x.cn/hook#secret=***&token=***"),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/0f8a9c2e-1b2c-4d5e",
            "https://open.feishu.cn/open-apis/bot/v2/hook/***",
        ),
        ("https://crm.example.cn/api/customers?phone=138", "https://crm.example.cn/api/customers?phone=138"),
    ],
)
def test_urls_are_masked_where_secrets_live(url, masked):
    assert mask_url(url) == masked


def test_every_url_in_a_free_text_is_masked():
    text = (
        "ConnectError for https://oapi.dingtalk.com/robot/send?access_token=accessTok3n&timestamp=1 (try 2)"
    )
    assert (
        redact(text)
        == "ConnectError for https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1 (try 2)"
    )


@pytest.fixture
def endless() -> Iterator[EndlessServer]:
    server = EndlessServer(announce=False)
    yield server
    server.stop()


def queue(db, channel_name: str, payload: dict) -> int:
    with db.write() as conn:
        return conn.execute(
            insert(Outbox)
            .values(
                idempotency_key=f"secret-test:{channel_name}", channel=channel_name, payload=payload,
                status="pending", attempts=0, max_attempts=8, next_attempt_at=T0, created_at=T0,
            )
            .returning(Outbox.id)
        ).scalar_one()  # fmt: skip


def test_a_failing_robot_leaves_its_token_out_of_last_error_and_the_logs(db, endless, monkeypatch, caplog):
    robot = endless.url.replace("/big", "/robot/send?access_token=accessTok3n")
    monkeypatch.setenv("GONGDAN_ROBOT_OPS", f"dingtalk+{robot}#secret=SECrobotSecret")
    row = queue(db, "dingtalk", {"robot": "ops", "title": "t", "text": "x", "link": None})
    with caplog.at_level(logging.DEBUG):
        assert deliver_one(db, row, now=T0) == "dead"  # a POST answered by an endless body
    error = outbox_row(db, row).last_error
    assert "access_token=***" in error
    for secret in ("accessTok3n", "SECrobotSecret"):
        assert secret not in error and secret not in caplog.text
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx logged, masked


def test_an_unexpected_crash_is_logged_and_kept_with_its_urls_masked(db, monkeypatch, caplog):
    monkeypatch.setitem(CHANNELS, "test_crash", None)  # restored (removed) after the test

    @channel("test_crash")
    def crash(payload, key, timeout):
        raise RuntimeError(f"cannot post to {payload['url']}")

    row = queue(db, "test_crash", {"url": "https://x.cn/hook?token=accessTok3n"})
    with caplog.at_level(logging.ERROR, logger="gongdan.jobs"):
        assert deliver_one(db, row, now=T0) == "pending"
    assert outbox_row(db, row).last_error == "RuntimeError: cannot post to https://x.cn/hook?token=***"
    assert "accessTok3n" not in caplog.text and "Traceback" in caplog.text
