"""Mail-in: RFC 5322 mails built with the email package are read right (multipart, GBK and UTF-8 encoded
headers, HTML-only, replies), and the IMAP poller, talking to a real IMAP server over a real socket
(tests/engine/jobs/imap_peer.py, implicit TLS and STARTTLS), turns unread mails into tickets and marks
each read only once its ticket is committed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.jobs.mailin import Mailbox, MailinError, automatic, mail_message, mailboxes, poll, poll_mailboxes
from engine.jobs.queue import TICK_HANDLERS
from engine.rules.inbound import parse_message
from engine.store.models import Record
from tests.engine.jobs.imap_peer import ImapPeer
from tests.engine.jobs.peers import make_certificate

USER, PASSWORD = "complaints@example.com", 'p@ss "w0rd"'
COMPLAINTS = "complaints@example.com"


def gbk_mail() -> bytes:
    """A multipart/alternative mail as a Chinese mail client sends it: GBK everywhere, encoded words."""
    msg = MIMEMultipart("alternative")
    msg["From"] = formataddr(("王芳", "wangfang@example.cn"), charset="gbk")
    msg["To"] = formataddr(("客服中心", COMPLAINTS), charset="gbk")
    msg["Subject"] = Header("紧急：退款一周未到账", "gbk")
    msg["Message-ID"] = "<20261201090000.1234@mail.example.cn>"
    msg["Date"] = "Tue, 01 Dec 2026 09:00:00 +0800"
    msg.attach(MIMEText("订单退款还没到,电话 13900139000。", "plain", "gbk"))
    msg.attach(MIMEText("<p>订单退款<b>还没到</b></p>", "html", "gbk"))
    return msg.as_bytes()


def utf8_mail(message_id: str, subject: str, text: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Wang Fang <wangfang@example.cn>"
    msg["To"] = COMPLAINTS
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg.as_bytes()


def read(raw: bytes) -> dict:
    return mail_message(message_from_bytes(raw, policy=policy.default), raw)


# ----------------------------------------------------------------------------- reading mails
def test_a_gbk_multipart_mail_is_read_from_its_plain_text():
    message = read(gbk_mail())
    assert message["subject"] == "紧急：退款一周未到账"
    assert message["sender"] == {"name": "王芳", "email": "wangfang@example.cn"}
    assert message["to"] == [COMPLAINTS]
    assert message["text"].strip() == "订单退款还没到,电话 13900139000。" and message["html"] is None
    assert message["message_id"] == "<20261201090000.1234@mail.example.cn>"
    assert message["received_at"] == "2026-12-01T09:00:00+08:00"


def test_a_reply_carries_the_ids_it_answers():
    raw = utf8_mail(
        "<r2@example.cn>",
        "Re: [TS-202612-0001] 退款进度 ✓",
        "收到,谢谢。",
        In_Reply_To="<20261201090000.1234@mail.example.cn>",
        References="<a@x.cn> <20261201090000.1234@mail.example.cn>",
    )
    message = read(raw)
    assert message["subject"] == "Re: [TS-202612-0001] 退款进度 ✓"  # UTF-8 encoded words
    assert message["in_reply_to"] == "<20261201090000.1234@mail.example.cn>"
    assert message["references"] == ["<a@x.cn>", "<20261201090000.1234@mail.example.cn>"]


def test_a_mail_with_only_html_is_read_from_its_sanitised_html():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.cn", COMPLAINTS, "屏幕"
    msg.set_content("<div>屏幕碎了 13900139000</div><script>alert(1)</script>", subtype="html")
    message = parse_message(read(msg.as_bytes()))
    assert message.text == "屏幕碎了 13900139000"
    assert "<script" not in message.html and "屏幕碎了" in message.html


def test_a_mail_without_message_id_gets_the_same_id_each_time_it_is_read():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.cn", COMPLAINTS, "no id"
    msg.set_content("hello")
    raw = msg.as_bytes()
    assert read(raw)["message_id"] == read(raw)["message_id"]
    assert read(raw)["message_id"].endswith("@mailin.gongdan>")


def test_automatic_mail_is_recognised():
    def parsed(**headers: str) -> EmailMessage:
        return message_from_bytes(
            utf8_mail("<x@y>", "Out of office", "away", **headers), policy=policy.default
        )

    assert automatic(parsed(Auto_Submitted="auto-replied")) == "Auto-Submitted: auto-replied"
    assert automatic(parsed(X_Gongdan_Idempotency_Key="notify:1:email:x")) == "one of our own notifications"
    assert automatic(parsed(Precedence="bulk")) == "Precedence: bulk"
    assert automatic(parsed(Auto_Submitted="no")) is None


def test_the_imap_url_is_read_and_its_password_never_shown():
    box = Mailbox.parse("imaps://desk%40example.cn:s%3Acret@imap.example.cn/Complaints?app=complaint")
    assert (box.host, box.port, box.security, box.user, box.password, box.folder, box.app) == (
        "imap.example.cn", 993, "tls", "desk@example.cn", "s:cret", "Complaints", "complaint",
    )  # fmt: skip
    assert "s%3Acret" not in repr(box) and "s:cret" not in repr(box)
    assert Mailbox.parse("imap+starttls://u:p@h/?app=a").port == 143
    assert mailboxes({"GONGDAN_IMAP_URL": "imaps://u:p@a/?app=x  imaps://u:p@b/?app=y"})[1].host == "b"
    for url, said in (
        ("pop3://u:p@h/?app=a", "imaps or imap+starttls"),
        ("imaps://h/?app=a", "no user and password"),
        ("imaps://u:p@h/INBOX", "?app="),
    ):
        with pytest.raises(MailinError) as refused:
            Mailbox.parse(url)
        assert said in refused.value.message("en") and refused.value.code == "mailin.bad_url"


# ----------------------------------------------------------------------------- the poller
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("imap"))


@pytest.fixture
def peer(certificate: tuple[Path, Path]) -> Iterator[ImapPeer]:
    """The IMAP server, over implicit TLS (IMAPS)."""
    with ImapPeer(*certificate, user=USER, password=PASSWORD, tls="implicit") as server:
        yield server


def box_of(peer: ImapPeer, certificate: tuple[Path, Path], password: str = PASSWORD) -> Mailbox:
    from urllib.parse import quote

    scheme = "imaps" if peer.tls == "implicit" else "imap+starttls"
    login = f"{quote(USER, safe='')}:{quote(password, safe='')}"
    return Mailbox.parse(
        f"{scheme}://{login}@127.0.0.1:{peer.port}/INBOX?app=complaint&cafile={certificate[0]}"
    )


def records(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(Record)).scalar_one()


def test_the_poller_turns_unread_mails_into_tickets_and_marks_them_read(
    runtime, db, complaint_app, peer, certificate
):
    first = peer.add(gbk_mail())
    second = peer.add(utf8_mail("<m2@example.cn>", "屏幕坏了", "手机屏幕碎了,电话 13700137000"))
    polled = poll(runtime, box_of(peer, certificate))
    assert (polled.created, polled.failed) == (2, 0)
    assert peer.unseen() == [] and records(db) == 2
    fetches = [c for c in peer.commands if "FETCH" in c]
    assert fetches == [
        f"UID FETCH {first} (BODY.PEEK[])",
        f"UID FETCH {second} (BODY.PEEK[])",
    ]  # unread until taken
    with db.read() as conn:
        summaries = {data["summary"] for data in conn.execute(select(Record.data)).scalars()}
    assert summaries == {"紧急：退款一周未到账", "屏幕坏了"}


def test_the_poller_reads_over_starttls_too(runtime, db, complaint_app, certificate):
    with ImapPeer(*certificate, user=USER, password=PASSWORD, tls="starttls") as peer:
        peer.add(gbk_mail())
        polled = poll(runtime, box_of(peer, certificate))
        assert polled.created == 1 and peer.unseen() == [] and records(db) == 1
        assert peer.commands[:3] == ["CAPABILITY", "STARTTLS", "CAPABILITY"]  # TLS before the password


def test_a_mail_whose_command_fails_stays_unread(runtime, db, complaint_app, peer, certificate):
    good = peer.add(utf8_mail("<ok@example.cn>", "退款", "电话 13900139000"))
    bad = peer.add(utf8_mail("<nophone@example.cn>", "退款", "没有留电话"))  # the form requires a phone
    box = box_of(peer, certificate)
    polled = poll(runtime, box)
    assert (polled.created, polled.failed) == (1, 1)
    assert peer.unseen() == [bad] and records(db) == 1
    again = poll(runtime, box)  # tried again next tick; the good one is not fetched twice
    assert (again.created, again.failed) == (0, 1) and peer.unseen() == [bad]
    assert f"UID FETCH {good} (BODY.PEEK[])" in peer.commands
    assert peer.commands.count(f"UID FETCH {good} (BODY.PEEK[])") == 1


def test_a_mail_delivered_twice_into_the_folder_makes_one_ticket(
    runtime, db, complaint_app, peer, certificate
):
    peer.add(gbk_mail())
    peer.add(gbk_mail())
    polled = poll(runtime, box_of(peer, certificate))
    assert (polled.created, polled.duplicates) == (1, 1)
    assert peer.unseen() == [] and records(db) == 1


def test_a_reply_by_mail_becomes_a_comment(runtime, db, complaint_app, peer, certificate):
    peer.add(gbk_mail())
    box = box_of(peer, certificate)
    poll(runtime, box)
    peer.add(
        utf8_mail(
            "<r2@example.cn>", "Re: 退款", "还没到", In_Reply_To="<20261201090000.1234@mail.example.cn>"
        )
    )
    polled = poll(runtime, box)
    assert polled.commented == 1 and records(db) == 1
    with db.read() as conn:
        record_id = conn.execute(select(Record.id)).scalar_one()
    assert runtime.events(record_id)[-1]["payload"]["body"] == "还没到"


def test_automatic_mail_is_marked_read_without_a_ticket(runtime, db, complaint_app, peer, certificate):
    peer.add(
        utf8_mail("<auto@example.cn>", "自动回复", "我在休假 13900139000", Auto_Submitted="auto-replied")
    )
    polled = poll(runtime, box_of(peer, certificate))
    assert polled.ignored == 1 and peer.unseen() == [] and records(db) == 0


def test_a_wrong_password_is_a_clear_error_and_nothing_is_read(runtime, complaint_app, peer, certificate):
    peer.add(gbk_mail())
    with pytest.raises(MailinError) as refused:
        poll(runtime, box_of(peer, certificate, password="guess"))
    message = refused.value.message("en")
    assert "(login)" in message and "AUTHENTICATIONFAILED" in message and "guess" not in message
    assert peer.unseen() == [1]


def test_the_worker_tick_polls_the_configured_mailbox(db, complaint_app, peer, certificate, monkeypatch):
    assert poll_mailboxes in TICK_HANDLERS
    peer.add(gbk_mail())
    box = box_of(peer, certificate)
    monkeypatch.setenv("GONGDAN_IMAP_URL", box.url)
    assert poll_mailboxes(db, dt.datetime.now(dt.UTC)) == 1
    assert peer.unseen() == [] and records(db) == 1
    monkeypatch.delenv("GONGDAN_IMAP_URL")
    assert poll_mailboxes(db, dt.datetime.now(dt.UTC)) == 0
