"""Pages and answers in the viewer's language, with names instead of internal codes: the 404 of a
missing ticket, the drill-down list, the dead letters, the audit log, the rule log and a user's roles."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import insert

from engine.store.models import Outbox
from engine.store.types import utcnow
from tests.support import complaint_form

BOARD = "/dashboards/complaint/overview"


@pytest.fixture
def admin(web):
    return web.client("admin")


def page(client, url: str, status: int = 200) -> str:
    answer = client.get(url)
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def test_a_missing_ticket_is_named_in_the_viewers_language(web, admin):
    zh = admin.get("/api/v1/tickets/987654?lang=zh")
    en = admin.get("/api/v1/tickets/987654?lang=en")
    assert zh.status_code == en.status_code == 404
    assert zh.json["message"] == "工单不存在：987654" and "ticket" not in zh.json["message"]
    assert en.json["message"] == "Ticket not found: 987654"
    too_big = admin.get("/api/v1/tickets/99999999999999999999?lang=zh")
    assert too_big.status_code == 404 and too_big.json["message"].startswith("工单不存在")


def test_the_drill_down_list_says_status_and_count_in_words(web, admin):
    web.user("mia", roles={"complaint": ["cs_lead"]})
    _, definition = web.runtime.definition("complaint")
    submit = web.runtime.submit
    one = submit("complaint", "complaint", complaint_form(definition, customer="ACME"), actor=None)
    submit("complaint", "complaint", complaint_form(definition, customer="Globex"), actor=None)
    web.runtime.close(one.id, web.id("admin"))
    mia = web.client("mia")
    acme = json.dumps({"customer": "ACME"})
    en = page(mia, f"{BOARD}/drill?report=by_customer&lang=en&cell={acme}")
    assert "1 ticket<" in en and "ticket(s)" not in en
    assert "Tickets in “By customer”" in en and "Tickets of" not in en
    row = cells(en.split('data-ticket="', 1)[1].split("</tr>", 1)[0])
    assert row.count("Closed") == 2 and "closed" not in row  # the status, and the stage once closed
    every = page(mia, f"{BOARD}/drill?report=by_customer&lang=en")
    assert "2 tickets<" in every
    zh = page(mia, f"{BOARD}/drill?report=by_customer&lang=zh&cell={acme}")
    assert "共 1 张工单" in zh and "“按客户统计”中的工单" in zh and "已关闭" in cells(zh)


def test_a_dead_letter_reads_in_the_admins_language(web, admin, monkeypatch):
    from engine.jobs.outbox import deliver_one

    monkeypatch.delenv("GONGDAN_SMTP_URL", raising=False)
    monkeypatch.setenv("GONGDAN_LANG", "zh")  # the worker speaks Chinese
    now = utcnow()
    with web.db.write() as conn:
        row = conn.execute(
            insert(Outbox).values(
                idempotency_key="dead-words", channel="email", status="pending", attempts=0, max_attempts=8,
                payload={"to": ["grace@example.cn"], "subject": "Hi", "text": "Hello"},
                next_attempt_at=now, created_at=now,
            ).returning(Outbox.id)
        ).scalar_one()  # fmt: skip
    assert deliver_one(web.db, row, now=now) == "dead"
    en = page(admin, "/admin/dead?lang=en")
    assert "No mail server is configured" in en and "未配置邮件服务器" not in en
    zh = page(admin, "/admin/dead?lang=zh")
    assert "未配置邮件服务器" in zh and "No mail server" not in zh


def test_the_audit_log_names_actions_and_objects_and_hides_empty_details(web, admin):
    created = admin.post(
        "/admin/users?lang=en",
        data={"csrf_token": admin.csrf, "username": "bob", "display_name": "Bob", "email": "bob@example.cn"},
    )
    assert created.status_code == 200
    bob = web.id("bob")
    en = page(admin, "/admin/audit?lang=en")
    row = en.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "Created a user" in row and "user.created" not in cells(row)
    assert f'<a href="/admin/users/{bob}"' in row and "User bob" in row and f"user:{bob}" not in cells(row)
    assert "null" not in row and "phone" not in row
    zh = page(admin, "/admin/audit?lang=zh")
    row = zh.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "创建用户" in row and "用户 bob" in row and "<b>邮箱</b>\uff1abob@example.cn" in row


def test_the_rule_log_says_what_started_a_rule_and_what_it_did(web, admin):
    _, definition = web.runtime.definition("complaint")
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(definition), actor=None)
    runs = web.runtime.rule_runs(ticket.id)
    assert runs, "the complaint app runs rules on a new ticket"
    en = page(admin, f"/admin/rule_runs?record={ticket.id}&lang=en")
    zh = page(admin, f"/admin/rule_runs?record={ticket.id}&lang=zh")
    for run in runs:
        assert run["trigger"] not in cells(en) and run["trigger"] not in cells(zh)
    assert "Ticket created" in en and "工单创建" in zh
    assert '["' not in en  # the actions are names, not a JSON list


def test_a_users_roles_show_the_apps_and_roles_names(web, admin):
    uid = web.user("bill", roles={"complaint": ["billing_team"]})
    en = page(admin, f"/admin/users/{uid}?lang=en")
    zh = page(admin, f"/admin/users/{uid}?lang=zh")
    assert "complaint</a>: billing_team" not in en and "complaint</a>: billing_team" not in zh
    assert re.search(r">Customer complaint</a> · <span[^>]*>Billing team</span>", en)
    assert re.search(r">客户投诉</a> · <span[^>]*>账务组</span>", zh)
