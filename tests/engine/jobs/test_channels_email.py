"""The email and admin channels against a real SMTP server (aiosmtpd): plain with login, STARTTLS and
implicit TLS with a certificate made for the test, refusals (550 dead, 451 retried), through the outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import insert, update

from engine.jobs.channels import SmtpConfig, message_id, send_admin, send_email
from engine.jobs.outbound import DeliveryError
from engine.jobs.outbox import backoff, deliver_one
from engine.people import create_user
from engine.store.models import Outbox, User
from tests.engine.jobs.conftest import T0, outbox_row
from tests.engine.jobs.peers import PASSWORD, USER, LocalSMTP, Mailbox, make_certificate, server_tls

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
SENDER = "noreply@gongdan.test"
LOGIN = f"{USER}:{quote(PASSWORD, safe='')}"
MAIL = {
    "to": ["alice@example.cn", "bob@example.cn"],
    "subject": "工单 IT-000001 即将超时",
    "text": "请尽快处理。\n查看工单:http://127.0.0.1:8000/tickets/1",
    "html": "<p>请尽快处理。</p><p><a href='http://127.0.0.1:8000/tickets/1'>查看工单</a></p>",
    "link": "http://127.0.0.1:8000/tickets/1",
}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


def serve(mailbox: Mailbox, **kwargs) -> Iterator[LocalSMTP]:
    server = LocalSMTP(mailbox, **kwargs)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def plain_smtp(mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSMTP]:
    """SMTP without TLS, login required (allowed without TLS for this local peer only)."""
    for server in serve(mailbox, auth_require_tls=False):
        monkeypatch.setenv("GONGDAN_SMTP_URL", f"smtp://{LOGIN}@127.0.0.1:{server.port}?from={SENDER}")
        yield server


@pytest.fixture
def starttls_smtp(mailbox, certificate, monkeypatch) -> Iterator[LocalSMTP]:
    cert, key = certificate
    for server in serve(mailbox, tls_context=server_tls(cert, key), require_starttls=True):
        monkeypatch.setenv(
            "GONGDAN_SMTP_URL",
            f"smtp+starttls://{LOGIN}@127.0.0.1:{server.port}?from={SENDER}&cafile={cert}",
        )
        yield server


@pytest.fixture
def implicit_tls_smtp(mailbox, certificate, monkeypatch) -> Iterator[LocalSMTP]:
    cert, key = certificate
    # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from its first byte.
    for server in serve(mailbox, ssl_context=server_tls(cert, key), auth_require_tls=False):
        monkeypatch.setenv(
            "GONGDAN_SMTP_URL", f"smtps://{LOGIN}@127.0.0.1:{server.port}?from={SENDER}&cafile={cert}"
        )
        yield server


def test_a_mail_goes_out_as_text_and_html_with_a_message_id_from_the_idempotency_key(plain_smtp, mailbox):
    send_email(dict(MAIL), "notify:1:email:abc", 5)
    ((rcpt, msg),) = mailbox.messages
    assert rcpt == ["alice@example.cn", "bob@example.cn"]
    assert msg["From"] == SENDER and msg["Subject"] == MAIL["subject"]
    assert msg["Message-ID"] == message_id("notify:1:email:abc", SENDER)
    assert msg["Message-ID"].endswith("@gongdan.test>")
    assert msg["X-Gongdan-Idempotency-Key"] == "notify:1:email:abc"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == MAIL["text"]
    assert "<a href='http://127.0.0.1:8000/tickets/1'>" in msg.get_body(("html",)).get_content()
    assert mailbox.logins  # it logged in


def test_sending_a_row_again_repeats_its_message_id_so_the_copy_is_recognisable(plain_smtp, mailbox):
    send_email(dict(MAIL), "notify:7:email:k", 5)
    send_email(dict(MAIL), "notify:7:email:k", 5)
    send_email(dict(MAIL), "notify:7:email:other", 5)
    ids = [msg["Message-ID"] for _, msg in mailbox.messages]
    assert ids[0] == ids[1] != ids[2]


def test_starttls_with_login_delivers_over_an_encrypted_connection(starttls_smtp, mailbox):
    send_email(dict(MAIL), "k-starttls", 5)
    assert [m["Subject"] for _, m in mailbox.messages] == [MAIL["subject"]]


def test_implicit_tls_smtps_delivers(implicit_tls_smtp, mailbox):
    send_email(dict(MAIL), "k-smtps", 5)
    assert len(mailbox.messages) == 1


def test_a_server_whose_certificate_is_not_trusted_is_not_sent_to(starttls_smtp, mailbox, monkeypatch):
    monkeypatch.setenv(
        "GONGDAN_SMTP_URL", f"smtp+starttls://{LOGIN}@127.0.0.1:{starttls_smtp.port}?from={SENDER}"
    )
    with pytest.raises(DeliveryError) as caught:
        send_email(dict(MAIL), "k", 5)
    assert not caught.value.permanent and "CERTIFICATE" in caught.value.reason.upper()
    assert mailbox.messages == []


def test_a_wrong_password_is_refused_for_good_and_the_password_is_not_shown(plain_smtp, monkeypatch):
    monkeypatch.setenv(
        "GONGDAN_SMTP_URL", f"smtp://{USER}:Wr0ngSecret@127.0.0.1:{plain_smtp.port}?from={SENDER}"
    )
    with pytest.raises(DeliveryError) as caught:
        send_email(dict(MAIL), "k", 5)
    assert caught.value.permanent and "535" in caught.value.reason
    assert "Wr0ngSecret" not in caught.value.reason


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [("550 5.1.1 No such mailbox", True), ("451 4.3.0 Try again later", False)],
)
def test_a_refusing_server_is_final_for_5xx_and_retried_for_4xx(plain_smtp, mailbox, answer, permanent):
    mailbox.refuse = answer
    with pytest.raises(DeliveryError) as caught:
        send_email(dict(MAIL), "k", 5)
    assert caught.value.permanent is permanent
    assert answer.split()[0] in caught.value.reason and answer.split()[-1] in caught.value.reason


def test_no_server_listening_is_retried(monkeypatch):
    monkeypatch.setenv("GONGDAN_SMTP_URL", f"smtp://127.0.0.1:9?from={SENDER}")
    with pytest.raises(DeliveryError) as caught:
        send_email(dict(MAIL), "k", 2)
    assert not caught.value.permanent


def test_without_smtp_configured_a_mail_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.delenv("GONGDAN_SMTP_URL", raising=False)
    monkeypatch.setenv("GONGDAN_LANG", "en")
    with pytest.raises(DeliveryError) as caught:
        send_email(dict(MAIL), "k", 2)
    assert caught.value.permanent and "GONGDAN_SMTP_URL" in caught.value.reason


def test_a_mail_nobody_can_receive_names_the_people_to_fix(monkeypatch):
    monkeypatch.setenv("GONGDAN_LANG", "en")
    with pytest.raises(DeliveryError) as caught:
        send_email({**MAIL, "to": [], "unreachable": ["Alice", "Bob"]}, "k", 2)
    assert caught.value.permanent
    assert (
        caught.value.reason
        == "Nobody to send to: Alice, Bob have no email address. Add it to their profiles, then re-send."
    )


@pytest.mark.parametrize(
    ("url", "security", "port", "user", "password"),
    [
        ("smtp+starttls://u%40x.cn:p%3Aw@mail.x.cn:2587?from=a@x.cn", "starttls", 2587, "u@x.cn", "p:w"),
        ("smtp+starttls://u:p@mail.x.cn?from=a@x.cn", "starttls", 587, "u", "p"),
        ("smtps://u:p@mail.x.cn?from=a@x.cn", "tls", 465, "u", "p"),
        ("smtp://mail.x.cn?from=a@x.cn", "plain", 25, None, None),
    ],
)
def test_the_smtp_url_names_security_port_login_and_sender(url, security, port, user, password):
    cfg = SmtpConfig.parse(url)
    assert (cfg.security, cfg.port, cfg.user, cfg.password, cfg.sender) == (
        security,
        port,
        user,
        password,
        "a@x.cn",
    )
    assert "p:w" not in repr(cfg) and (password is None or password not in repr(cfg).split("@")[0][-3:])


@pytest.mark.parametrize("url", ["imap://x.cn", "smtp://?from=a@x.cn", "smtp://mail.x.cn"])
def test_a_bad_smtp_url_is_a_permanent_configuration_error(url):
    with pytest.raises(DeliveryError) as caught:
        SmtpConfig.parse(url)
    assert caught.value.permanent


# ----------------------------------------------------------------------------- through the outbox
def queue(db, channel: str, payload: dict, key: str) -> int:
    with db.write() as conn:
        return conn.execute(
            insert(Outbox).values(
                idempotency_key=key, channel=channel, payload=payload, status="pending", attempts=0,
                max_attempts=8, next_attempt_at=T0, created_at=T0,
            ).returning(Outbox.id)
        ).scalar_one()  # fmt: skip


def test_a_refused_mail_row_goes_dead_and_a_try_later_one_waits(db, plain_smtp, mailbox):
    dead = queue(db, "email", dict(MAIL), "mail:dead")
    later = queue(db, "email", dict(MAIL), "mail:later")
    mailbox.refuse = "550 5.1.1 No such mailbox"
    assert deliver_one(db, dead, now=T0) == "dead"
    assert "550" in outbox_row(db, dead).last_error
    mailbox.refuse = "451 4.3.0 Try again later"
    assert deliver_one(db, later, now=T0) == "pending"
    assert outbox_row(db, later).next_attempt_at == T0 + backoff(1)
    mailbox.refuse = None
    assert deliver_one(db, later, now=T0 + backoff(1)) == "sent"
    assert len(mailbox.messages) == 1


def test_a_mail_row_delivered_twice_is_sent_once(db, plain_smtp, mailbox):
    row = queue(db, "email", dict(MAIL), "mail:once")
    assert deliver_one(db, row, now=T0) == "sent"
    assert deliver_one(db, row, now=T0 + dt.timedelta(minutes=5)) == "sent"
    assert len(mailbox.messages) == 1


# ----------------------------------------------------------------------------- admin
FLOW_ERROR = {
    "ticket": "FR-0001",
    "code": "flow.condition_failed",
    "message": {"zh": "条件 100 / amount > 1 出错", "en": "The condition 100 / amount > 1 failed"},
    "node": "enter",
}


def test_a_flow_error_is_mailed_to_each_active_admin_in_their_language(db, plain_smtp, mailbox, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db.url)
    create_user(db, "root", is_admin=True, email="root@example.cn", lang="en")
    create_user(db, "ops", is_admin=True, email="ops@example.cn", lang="zh")
    gone = create_user(db, "gone", is_admin=True, email="gone@example.cn")
    with db.write() as conn:
        conn.execute(update(User).where(User.id == gone).values(is_active=False))
    create_user(db, "alice", email="alice@example.cn")
    send_admin(dict(FLOW_ERROR), "flow_error:1:3", 5)
    got = {tuple(rcpt): msg for rcpt, msg in mailbox.messages}
    assert set(got) == {("root@example.cn",), ("ops@example.cn",)}
    en, zh = got[("root@example.cn",)], got[("ops@example.cn",)]
    assert en["Subject"] == "Flow error on ticket FR-0001: flow.condition_failed"
    assert "The condition 100 / amount > 1 failed" in en.get_content() and "node=enter" in en.get_content()
    assert zh["Subject"] == "工单 FR-0001 的流程出错：flow.condition_failed"
    assert "条件 100 / amount > 1 出错" in zh.get_content()


def test_without_smtp_a_flow_error_is_written_to_the_log_and_counts_as_delivered(db, monkeypatch, caplog):
    monkeypatch.delenv("GONGDAN_SMTP_URL", raising=False)
    row = queue(db, "admin", dict(FLOW_ERROR), "flow_error:1:4")
    with caplog.at_level("WARNING", logger="gongdan.jobs"):
        assert deliver_one(db, row, now=T0) == "sent"
    assert "FR-0001" in caplog.text and "The condition 100 / amount > 1 failed" in caplog.text
