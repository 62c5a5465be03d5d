"""A dead letter's error is shown in the reader's language, whatever language the worker spoke."""

from __future__ import annotations

from sqlalchemy import insert

from engine.jobs.outbox import dead_rows, deliver_one
from engine.store.models import Outbox
from tests.engine.jobs.conftest import T0

MAIL = {"to": ["grace@example.cn"], "subject": "Hello", "text": "Your ticket"}


def queue(db, channel: str, payload: dict, key: str, **values) -> int:
    with db.write() as conn:
        return conn.execute(
            insert(Outbox).values(**{
                "idempotency_key": key, "channel": channel, "payload": payload, "status": "pending",
                "attempts": 0, "max_attempts": 8, "next_attempt_at": T0, "created_at": T0, **values,
            }).returning(Outbox.id)
        ).scalar_one()  # fmt: skip


def test_a_mail_that_failed_while_the_worker_spoke_chinese_reads_in_english_for_an_english_admin(
    db, monkeypatch
):
    monkeypatch.delenv("GONGDAN_SMTP_URL", raising=False)
    monkeypatch.setenv("GONGDAN_LANG", "zh")
    row = queue(db, "email", dict(MAIL), "mail:no-smtp")
    assert deliver_one(db, row, now=T0) == "dead"

    (en,) = [r for r in dead_rows(db, lang="en") if r["id"] == row]
    (zh,) = [r for r in dead_rows(db, lang="zh") if r["id"] == row]
    assert en["last_error"].startswith("No mail server is configured") and "未配置" not in en["last_error"]
    assert zh["last_error"].startswith("未配置邮件服务器")
    assert en["last_error_texts"] == {"zh": zh["last_error"], "en": en["last_error"]}


def test_an_unknown_channel_is_named_in_either_language(db, monkeypatch):
    monkeypatch.setenv("GONGDAN_LANG", "en")
    row = queue(db, "pigeon", {}, "pigeon:1")
    assert deliver_one(db, row, now=T0) == "dead"
    (zh,) = [r for r in dead_rows(db, lang="zh") if r["id"] == row]
    assert "pigeon" in zh["last_error"] and "没有名为" in zh["last_error"]


def test_an_error_stored_as_plain_text_still_shows_as_written(db):
    row = queue(db, "email", dict(MAIL), "mail:old", status="dead", last_error="未配置邮件服务器(旧记录)")
    for lang in ("zh", "en"):
        (old,) = [r for r in dead_rows(db, lang=lang) if r["id"] == row]
        assert old["last_error"] == "未配置邮件服务器(旧记录)"
