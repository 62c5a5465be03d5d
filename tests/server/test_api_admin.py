"""The administration API and the "me" API: only admins (and admin-scoped tokens) administer, every
write is audited, CSV imports are all or nothing, channel secrets are never shown again."""

from __future__ import annotations

import copy
import io
import re

import pytest
import yaml
from sqlalchemy import func, insert, select

from engine.channel_settings import channel_url
from engine.config import load_settings
from engine.store.models import AuditEntry, Department, Outbox, RoleMember, User
from engine.store.types import utcnow
from server.api.core import OPERATIONS
from tests.support import complaint_form

ADMIN_OPS = sorted({(op.method, op.rule) for op in OPERATIONS if op.scope == "admin"})
SAMPLE_ARGS = {
    "user_id": "2",
    "department_id": "1",
    "token_id": "1",
    "job_id": "1",
    "role": "agent",
    "name": "smtp",
}


def _url(rule: str) -> str:
    return "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS.get(m.group(1), "complaint"), rule)


def audit_rows(web) -> list:
    with web.db.read() as conn:
        return conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()


def count(web, model) -> int:
    with web.db.read() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


@pytest.fixture(autouse=True)
def fresh_login_limit():
    """These tests sign in often from one address: start each with the login rate limit unused."""
    from server.auth import login_limiter

    login_limiter._hits.clear()
    yield
    login_limiter._hits.clear()


@pytest.fixture
def admin(web):
    return web.client("admin")


# ---------------------------------------------------------------------------- who may
def test_there_are_admin_endpoints_for_every_area():
    rules = {rule for _, rule in ADMIN_OPS}
    for wanted in (
        "/admin/users",
        "/admin/departments",
        "/admin/channels",
        "/admin/apps/import",
        "/admin/audit",
    ):
        assert wanted in rules


def test_a_non_admin_is_refused_every_admin_endpoint(web):
    web.user("ann", roles={"complaint": ["agent", "cs_lead"]})
    ann = web.client("ann")
    before = count(web, AuditEntry)
    for method, rule in ADMIN_OPS:
        answer = ann.open(_url(rule), method=method, json={})
        assert answer.status_code == 403, (method, rule, answer.status_code)
        assert answer.json["code"] == "auth.forbidden"
    assert count(web, AuditEntry) == before


def test_an_admins_token_without_the_admin_scope_is_refused(web):
    headers = web.token("admin", ["read", "write"])
    client = web.anonymous()
    for method, rule in ADMIN_OPS:
        answer = client.open(_url(rule), method=method, json={}, headers=headers)
        assert answer.status_code == 403, (method, rule)
        assert answer.json["code"] == "auth.scope_missing"
    scoped = web.token("admin", ["read", "admin"])
    assert client.get("/api/v1/admin/users", headers=scoped).status_code == 200


def test_anonymous_callers_get_401(web):
    assert web.anonymous().get("/api/v1/admin/users").status_code == 401
    assert web.anonymous().get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------------------- users
def test_a_created_user_signs_in_with_the_password_shown_once(web, admin):
    answer = admin.post(
        "/api/v1/admin/users", json={"username": "bob", "display_name": "Bob 王", "lang": "en"}
    )
    assert answer.status_code == 201
    password = answer.json["password"]
    assert answer.json["user"]["display_name"] == "Bob 王" and answer.json["user"]["roles"] == []
    bob = web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": password})
    assert bob.status_code == 200
    again = admin.post("/api/v1/admin/users", json={"username": "bob"})
    assert again.status_code == 409
    given = admin.post("/api/v1/admin/users", json={"username": "cat", "password": "long-enough-1"})
    assert given.json["password"] is None
    assert password not in str([dict(r._mapping) for r in audit_rows(web)])


def test_users_are_listed_in_pages_and_searched_by_name(web, admin):
    for i in range(5):
        web.user(f"agent{i}")
    admin.patch(f"/api/v1/admin/users/{web.user('zhang')}", json={"display_name": "张三"})
    first = admin.get("/api/v1/admin/users?limit=3").json
    second = admin.get(f"/api/v1/admin/users?limit=3&cursor={first['next_cursor']}").json
    names = [u["username"] for u in first["items"] + second["items"]]
    assert names == ["admin", "agent0", "agent1", "agent2", "agent3", "agent4"]
    assert [u["username"] for u in admin.get("/api/v1/admin/users?q=张").json["items"]] == ["zhang"]
    assert [u["username"] for u in admin.get("/api/v1/admin/users?q=GENT4").json["items"]] == ["agent4"]
    assert admin.get("/api/v1/admin/users?q=%25").json["items"] == []


def test_a_user_is_edited_and_bad_values_are_named(web, admin):
    with web.db.write() as conn:
        dept = conn.execute(insert(Department).values(name="客服部").returning(Department.id)).scalar_one()
    uid = web.user("bob")
    boss = web.user("boss")
    answer = admin.patch(
        f"/api/v1/admin/users/{uid}",
        json={
            "email": "bob@example.cn",
            "department_id": dept,
            "manager_id": boss,
            "is_away": True,
            "tz": "Europe/Berlin",
        },
    )
    assert answer.status_code == 200
    assert (
        answer.json["department"] == "客服部" and answer.json["manager"] == "boss" and answer.json["is_away"]
    )
    bad = admin.patch(
        f"/api/v1/admin/users/{uid}?lang=en", json={"email": "nope", "tz": "Mars/Base", "manager_id": uid}
    )
    assert bad.status_code == 422
    assert {p["path"] for p in bad.json["problems"]} == {"email", "tz", "manager_id"}
    assert admin.patch("/api/v1/admin/users/99999", json={"is_away": False}).status_code == 404


def test_an_admin_cannot_lock_themselves_out(web, admin):
    answer = admin.patch(f"/api/v1/admin/users/{web.id('admin')}", json={"is_active": False})
    assert answer.status_code == 422 and answer.json["problems"][0]["path"] == "is_active"
    assert admin.get("/api/v1/me").status_code == 200


def test_deactivating_a_user_ends_their_session(web, admin):
    uid = web.user("bob")
    bob = web.client("bob")
    token = web.token("bob", ["read"])
    assert bob.get("/api/v1/me").status_code == 200
    assert admin.patch(f"/api/v1/admin/users/{uid}", json={"is_active": False}).status_code == 200
    assert bob.get("/api/v1/me").status_code == 401
    assert web.anonymous().get("/api/v1/me", headers=token).status_code == 401
    relogin = web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": "pw-bob"})
    assert relogin.status_code == 401


def test_a_password_reset_unlocks_and_replaces_the_old_password(web, admin):
    uid = web.user("bob")
    for _ in range(5):
        web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": "wrong"})
    locked = web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": "pw-bob"})
    assert locked.json["code"] == "auth.locked"
    assert admin.get(f"/api/v1/admin/users/{uid}").json["locked"] is True
    password = admin.post(f"/api/v1/admin/users/{uid}/password").json["password"]
    login = web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": password})
    assert login.status_code == 200
    old = web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": "pw-bob"})
    assert old.status_code == 401


# ---------------------------------------------------------------------------- CSV import
GOOD_ROWS = [
    ["username", "display_name", "email", "phone", "department", "manager", "roles"],
    [
        "li.lei",
        "李雷",
        "lilei@example.cn",
        "13800000001",
        "客服部/一组",
        "han.mei",
        "complaint:agent;complaint:quality",
    ],
    ["han.mei", "韩梅梅", "hanmei@example.cn", "", "客服部", "", "complaint:cs_lead"],
    ["wang", "王五", "", "", "客服部/二组", "", ""],
]


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    text = "\r\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def upload(client, data: bytes, dry_run=False, lang="en"):
    return client.post(
        f"/api/v1/admin/users/import?dry_run={'true' if dry_run else 'false'}&lang={lang}",
        data={"file": (io.BytesIO(data), "users.csv")},
        content_type="multipart/form-data",
    )


def people(web) -> dict:
    with web.db.read() as conn:
        manager = User.__table__.alias()
        rows = conn.execute(
            select(
                User.username, User.display_name, User.email, Department.name, manager.c.username
            ).select_from(
                User.__table__.outerjoin(Department.__table__, Department.id == User.department_id).outerjoin(
                    manager, manager.c.id == User.manager_id
                )
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def roles_of(web, name: str) -> set:
    return {
        (r["app"], r["role"])
        for r in web.client("admin").get(f"/api/v1/admin/users/{web.id(name)}").json["roles"]
    }


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_good_csv_creates_people_departments_and_roles(web, admin, encoding):
    answer = upload(admin, csv_bytes(GOOD_ROWS, encoding))
    assert answer.status_code == 200, answer.json
    assert answer.json["created"] == ["li.lei", "han.mei", "wang"]
    assert answer.json["departments_created"] == ["客服部", "客服部/一组", "客服部/二组"]
    found = people(web)
    assert found["li.lei"] == ("李雷", "lilei@example.cn", "一组", "han.mei")
    assert found["han.mei"][2] == "客服部" and found["wang"][2] == "二组"
    assert roles_of(web, "li.lei") == {("complaint", "agent"), ("complaint", "quality")}
    tree = admin.get("/api/v1/admin/departments").json["items"]
    assert [(d["name"], sorted(c["name"] for c in d["children"])) for d in tree] == [
        ("客服部", ["一组", "二组"])
    ]
    assert audit_rows(web)[-1].action == "users.imported"


def test_a_csv_with_three_bad_rows_reports_all_three_and_writes_nothing(web, admin):
    rows = [
        *GOOD_ROWS,
        ["bad name!", "x", "", "", "", "", ""],
        ["zhao", "赵", "not-an-email", "", "", "nobody", ""],
        ["qian", "钱", "", "", "", "", "complaint:wizard"],
    ]
    users, departments = count(web, User), count(web, Department)
    answer = upload(admin, csv_bytes(rows))
    assert answer.status_code == 422
    where = [(p["line"], p["path"]) for p in answer.json["problems"]]
    assert where == [
        (5, "row 5.username"),
        (6, "row 6.email"),
        (6, "row 6.manager"),
        (7, "row 7.roles"),
    ]
    assert "nothing was written" in answer.json["message"]
    assert count(web, User) == users and count(web, Department) == departments


def test_a_dry_run_reports_and_writes_nothing(web, admin):
    users = count(web, User)
    answer = upload(admin, csv_bytes(GOOD_ROWS), dry_run=True)
    assert answer.status_code == 200 and answer.json["dry_run"] is True
    assert answer.json["created"] == ["li.lei", "han.mei", "wang"]
    assert len(answer.json["roles_added"]) == 3
    assert count(web, User) == users and count(web, Department) == 0
    assert all(r.action != "users.imported" for r in audit_rows(web))


def test_existing_users_are_updated_and_said_so_and_duplicates_refused(web, admin):
    assert upload(admin, csv_bytes(GOOD_ROWS)).status_code == 200
    rows = [
        GOOD_ROWS[0],
        ["li.lei", "李雷雷", "", "", "客服部/二组", "", "complaint:agent;complaint:cs_lead"],
        GOOD_ROWS[3],
    ]
    answer = upload(admin, csv_bytes(rows))
    assert answer.json["created"] == []
    assert answer.json["updated"] == [
        {"username": "li.lei", "fields": ["display_name", "department", "roles"]}
    ]
    assert answer.json["unchanged"] == ["wang"]
    found = people(web)["li.lei"]
    assert found == ("李雷雷", "lilei@example.cn", "二组", "han.mei")  # the empty email cell kept the address
    assert ("complaint", "cs_lead") in roles_of(web, "li.lei")
    twice = upload(admin, csv_bytes([GOOD_ROWS[0], GOOD_ROWS[3], GOOD_ROWS[3]]))
    assert twice.status_code == 422 and twice.json["problems"][0]["path"] == "row 3.username"


def test_an_unreadable_csv_says_why(web, admin):
    assert upload(admin, b"").json["problems"][0]["code"] == "admin.csv_empty"
    header = upload(admin, b"name,mail\nx,y\n")
    assert {p["code"] for p in header.json["problems"]} == {
        "admin.csv_unknown_column",
        "admin.csv_no_username",
    }
    assert upload(admin, "username\n".encode("utf-16")).json["problems"][0]["code"] == "admin.csv_encoding"


# ---------------------------------------------------------------------------- departments
def test_departments_are_created_renamed_moved_and_deleted_when_empty(web, admin):
    root = admin.post("/api/v1/admin/departments", json={"name": "总部"}).json["id"]
    child = admin.post("/api/v1/admin/departments", json={"name": "客服部", "parent_id": root}).json["id"]
    grandchild = admin.post("/api/v1/admin/departments", json={"name": "一组", "parent_id": child}).json["id"]
    other = admin.post("/api/v1/admin/departments", json={"name": "研发部"}).json["id"]
    assert (
        admin.post("/api/v1/admin/departments", json={"name": "客服部", "parent_id": root}).status_code == 409
    )
    cycle = admin.patch(f"/api/v1/admin/departments/{child}", json={"parent_id": grandchild})
    assert cycle.status_code == 422 and cycle.json["problems"][0]["path"] == "parent_id"
    assert admin.patch(f"/api/v1/admin/departments/{child}", json={"parent_id": child}).status_code == 422
    boss = web.user("boss", department=grandchild)
    moved = admin.patch(
        f"/api/v1/admin/departments/{grandchild}", json={"parent_id": other, "name": "二组", "head_id": boss}
    )
    assert moved.status_code == 200 and moved.json == {
        "id": grandchild,
        "name": "二组",
        "parent_id": other,
        "head_id": boss,
    }
    in_use = admin.delete(f"/api/v1/admin/departments/{grandchild}?lang=en")
    assert in_use.status_code == 409 and "1 member(s)" in in_use.json["message"]
    assert admin.delete(f"/api/v1/admin/departments/{other}").status_code == 409  # a sub-department
    assert admin.delete(f"/api/v1/admin/departments/{child}").status_code == 200
    assert admin.delete(f"/api/v1/admin/departments/{child}").status_code == 404


# ---------------------------------------------------------------------------- roles
def test_role_members_are_replaced_with_their_weights(web, admin):
    ann = web.user("ann", roles={"complaint": ["agent"]})
    bob = web.user("bob")
    answer = admin.put(
        "/api/v1/admin/apps/complaint/roles/agent/members",
        json={"members": [{"user": "bob", "weight": 3}, {"user": web.id("admin")}]},
    )
    assert answer.status_code == 200
    assert [(m["username"], m["weight"]) for m in answer.json["members"]] == [("admin", 1), ("bob", 3)]
    roles = {r["key"]: r for r in admin.get("/api/v1/admin/apps/complaint/roles").json["items"]}
    assert roles["agent"]["scope"] == "all" and roles["billing_team"]["scope"] == "own"
    assert {m["user_id"] for m in roles["agent"]["members"]} == {bob, web.id("admin")}
    assert ann not in {m["user_id"] for m in roles["agent"]["members"]}
    details = audit_rows(web)[-1].details
    assert details["added"] == ["admin", "bob"] and details["removed"] == ["ann"]
    bad = admin.put(
        "/api/v1/admin/apps/complaint/roles/agent/members",
        json={"members": [{"user": "ghost"}, {"user": "bob"}, {"user": bob}]},
    )
    assert bad.status_code == 422
    assert [p["path"] for p in bad.json["problems"]] == ["members[0].user", "members[2].user"]
    assert (
        admin.put("/api/v1/admin/apps/complaint/roles/wizard/members", json={"members": []}).status_code
        == 404
    )
    with web.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(RoleMember.__table__)).scalar_one() == 2


# ---------------------------------------------------------------------------- channels
SMTP_SECRET = "Sm7pPassw0rd"
ROBOT_TOKEN = "accessTok3n"
ROBOT_SECRET = "SECrobotSecret"
SMTP_URL = f"smtp+starttls://mailer:{SMTP_SECRET}@smtp.example.cn:587?from=noreply@example.cn"
ROBOT_URL = f"dingtalk+https://oapi.dingtalk.com/robot/send?access_token={ROBOT_TOKEN}#secret={ROBOT_SECRET}"


def test_a_channel_url_is_written_but_never_shown_again(web, admin, monkeypatch):
    answers = [
        admin.put("/api/v1/admin/channels/smtp", json={"url": SMTP_URL}),
        admin.put("/api/v1/admin/channels/robot.ops", json={"url": ROBOT_URL}),
        admin.get("/api/v1/admin/channels"),
        admin.get("/api/v1/admin/audit"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    for answer in answers:
        for secret in (SMTP_SECRET, ROBOT_TOKEN, ROBOT_SECRET):
            assert secret not in answer.get_data(as_text=True)
    channels = {c["name"]: c for c in answers[2].json["items"]}
    assert channels["smtp"]["source"] == "admin" and "smtp.example.cn" in channels["smtp"]["url"]
    assert channels["robot.ops"]["url"].startswith(
        "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=***"
    )
    assert channels["sms"]["source"] == "unset"
    with web.db.read() as conn:
        logged = str(conn.execute(select(AuditEntry.__table__)).all())
    assert "channel.set" in logged and all(s not in logged for s in (SMTP_SECRET, ROBOT_TOKEN, ROBOT_SECRET))
    # the sending side reads the admin's address first
    settings = load_settings(
        {"DATABASE_URL": web.db.url, "GONGDAN_SMTP_URL": "smtp://env.example.cn?from=a@b.cn"}
    )
    assert channel_url(web.db, settings, "smtp") == SMTP_URL
    monkeypatch.setenv("DATABASE_URL", web.db.url)
    from engine.jobs.channels import robot_config, smtp_config

    assert smtp_config().host == "smtp.example.cn"
    assert robot_config("ops", "dingtalk").secret == ROBOT_SECRET
    cleared = admin.delete("/api/v1/admin/channels/smtp")
    assert cleared.status_code == 200 and cleared.json["source"] in ("env", "unset")
    assert channel_url(web.db, settings, "smtp") == "smtp://env.example.cn?from=a@b.cn"
    assert admin.delete("/api/v1/admin/channels/smtp").status_code == 404


def test_a_channel_url_the_channel_cannot_use_is_refused(web, admin):
    cases = {
        "smtp": "https://mail.example.cn",
        "sms": "ftp://sms.example.cn",
        "robot.ops": "https://oapi.dingtalk.com/robot/send?access_token=x",
    }
    for name, url in cases.items():
        answer = admin.put(f"/api/v1/admin/channels/{name}", json={"url": url})
        assert answer.status_code == 422 and answer.json["problems"][0]["path"] == "url", name
    no_sender = admin.put("/api/v1/admin/channels/smtp?lang=en", json={"url": "smtp://relay.example.cn"})
    assert no_sender.status_code == 422 and "from=" in no_sender.json["problems"][0]["message"]
    assert admin.put("/api/v1/admin/channels/pigeon", json={"url": "https://x.cn"}).status_code == 404
    assert (
        admin.put(
            "/api/v1/admin/channels/sms", json={"url": "https://sms.example.cn/send#token=t"}
        ).status_code
        == 200
    )


# ---------------------------------------------------------------------------- apps
def _renamed(web, name: str) -> dict:
    definition = copy.deepcopy(web.runtime.definition("complaint")[1])
    definition["name"] = {"zh": name, "en": name}
    return definition


def test_an_import_dry_run_shows_the_diff_and_writes_nothing(web, admin):
    answer = admin.post(
        "/api/v1/admin/apps/import?dry_run=true", json={"definition": _renamed(web, "投诉 v2")}
    )
    assert answer.status_code == 200
    assert answer.json["dry_run"] and not answer.json["published"] and answer.json["version"] == 2
    assert sorted(c["path"] for c in answer.json["changes"]) == ["name.en", "name.zh"]
    assert [v["version"] for v in web.runtime.versions("complaint")] == [1]
    published = admin.post("/api/v1/admin/apps/import", json={"definition": _renamed(web, "投诉 v2")})
    assert published.json["published"] and published.json["version"] == 2
    same = admin.post("/api/v1/admin/apps/import", json={"definition": _renamed(web, "投诉 v2")})
    assert same.json["unchanged"] and not same.json["published"]


def test_a_bad_definition_is_refused_with_every_problem_and_its_path(web, admin):
    definition = _renamed(web, "x")
    definition["roles"]["agent"]["scope"] = "galaxy"
    del definition["ticket_types"]["complaint"]["form"]
    answer = admin.post("/api/v1/admin/apps/import", json={"definition": definition})
    assert answer.status_code == 422 and len(answer.json["problems"]) >= 2
    assert all(p["path"] for p in answer.json["problems"])
    broken = admin.post(
        "/api/v1/admin/apps/import",
        data={"file": (io.BytesIO(b"app: complaint\nname: [unclosed\n"), "complaint.yaml")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422 and broken.json["problems"][0].get("line")
    assert admin.post("/api/v1/admin/apps/import", json={"nothing": 1}).status_code == 400


def test_an_export_imports_back_to_the_same_definition(web, admin):
    exported = admin.get("/api/v1/admin/apps/complaint/export")
    assert exported.status_code == 200 and exported.mimetype == "application/yaml"
    assert 'filename="complaint-v1.yaml"' in exported.headers["Content-Disposition"]
    assert yaml.safe_load(exported.data) == web.runtime.definition("complaint")[1]
    again = admin.post(
        "/api/v1/admin/apps/import",
        data={"file": (io.BytesIO(exported.data), "complaint.yaml")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 200 and again.json["unchanged"]
    assert admin.get("/api/v1/admin/apps/complaint/export?version=9").status_code == 404


def test_a_rollback_publishes_the_old_definition_while_tickets_keep_their_version(web, admin):
    v1 = web.runtime.definition("complaint")[1]
    web.runtime.publish(_renamed(web, "投诉 v2"))
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(v1), actor=web.id("admin"))
    assert ticket.app_version == 2
    diff = admin.get("/api/v1/admin/apps/complaint/diff?from=1&to=2").json
    assert sorted(c["path"] for c in diff["changes"]) == ["name.en", "name.zh"]
    answer = admin.post("/api/v1/admin/apps/complaint/rollback", json={"version": 1})
    assert answer.status_code == 200 and answer.json["version"] == 3 and answer.json["published"]
    assert web.runtime.definition("complaint", 3)[1] == v1
    assert web.runtime.ticket(ticket.id).app_version == 2
    assert admin.post("/api/v1/admin/apps/complaint/rollback", json={"version": 7}).status_code == 404
    assert audit_rows(web)[-1].action == "app.rolled_back"


# ---------------------------------------------------------------------------- operations
def test_dead_letters_are_listed_and_sent_again(web, admin):
    now = utcnow()
    with web.db.write() as conn:
        ids = [
            conn.execute(
                insert(Outbox)
                .values(
                    idempotency_key=f"dead-{i}", channel="pigeon", payload={}, status="dead", attempts=8,
                    max_attempts=8, next_attempt_at=now, created_at=now, last_error="no pigeon",
                )
                .returning(Outbox.id)
            ).scalar_one()
            for i in range(3)
        ]  # fmt: skip
    page = admin.get("/api/v1/admin/outbox/dead?limit=2").json
    rest = admin.get(f"/api/v1/admin/outbox/dead?limit=2&cursor={page['next_cursor']}").json
    assert [r["id"] for r in page["items"] + rest["items"]] == ids[::-1]
    answer = admin.post("/api/v1/admin/outbox/retry", json={"ids": [ids[0], 999]})
    assert answer.json == {"retried": [ids[0]]}
    assert audit_rows(web)[-1].details == {"ids": [ids[0]]}


def test_rule_runs_are_read_per_ticket_or_per_rule(web, admin):
    definition = web.runtime.definition("complaint")[1]
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(definition), actor=web.id("admin"))
    runs = admin.get(f"/api/v1/admin/rule_runs?record={ticket.id}").json["items"]
    assert runs and all(r["record_id"] == ticket.id for r in runs)
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    one = runs[0]
    by_rule = admin.get(
        "/api/v1/admin/rule_runs",
        query_string={"app": "complaint", "ticket_type": one["ticket_type"], "rule": one["rule"]},
    ).json["items"]
    assert one["id"] in [r["id"] for r in by_rule]
    assert admin.get("/api/v1/admin/rule_runs?app=complaint").status_code == 400


def test_every_admin_write_is_audited_with_actor_and_address(web, admin):
    uid = admin.post("/api/v1/admin/users", json={"username": "bob"}).json["user"]["id"]
    admin.patch(f"/api/v1/admin/users/{uid}", json={"is_away": True})
    admin.post(f"/api/v1/admin/users/{uid}/password")
    dept = admin.post("/api/v1/admin/departments", json={"name": "客服部"}).json["id"]
    admin.patch(f"/api/v1/admin/departments/{dept}", json={"name": "服务部"})
    admin.delete(f"/api/v1/admin/departments/{dept}")
    admin.put("/api/v1/admin/apps/complaint/roles/agent/members", json={"members": [{"user": "bob"}]})
    admin.put("/api/v1/admin/channels/sms", json={"url": "https://sms.example.cn/send#secret=k"})
    admin.delete("/api/v1/admin/channels/sms")
    admin.post("/api/v1/admin/apps/import", json={"definition": _renamed(web, "v2")})
    admin.post("/api/v1/admin/apps/complaint/rollback", json={"version": 1})
    admin.get("/api/v1/admin/apps/complaint/export")
    upload(admin, csv_bytes(GOOD_ROWS))
    rows = [r for r in audit_rows(web) if r.actor_id == web.id("admin")]
    assert [r.action for r in rows] == [
        "user.created",
        "user.updated",
        "user.password_reset",
        "department.created",
        "department.updated",
        "department.deleted",
        "role.members_set",
        "channel.set",
        "channel.cleared",
        "app.published",
        "app.rolled_back",
        "app.exported",
        "users.imported",
    ]
    assert {r.ip for r in rows} == {"127.0.0.1"}
    assert rows[1].target == f"user:{uid}" and rows[1].details["is_away"] is True
    log = admin.get("/api/v1/admin/audit?limit=5").json
    assert log["items"][0]["action"] == "users.imported" and log["items"][0]["actor"] == "admin"
    older = admin.get(f"/api/v1/admin/audit?limit=5&cursor={log['next_cursor']}").json["items"]
    assert older[0]["id"] < log["items"][-1]["id"]


# ---------------------------------------------------------------------------- me
def test_me_tells_who_i_am_and_changes_language_and_zone(web):
    web.user("ann", roles={"complaint": ["agent"]})
    ann = web.client("ann")
    me = ann.get("/api/v1/me").json
    assert me["username"] == "ann" and me["roles"] == {"complaint": ["agent"]} and not me["is_admin"]
    changed = ann.patch("/api/v1/me", json={"lang": "en", "tz": "Europe/Berlin", "display_name": "Ann L."})
    assert changed.status_code == 200 and (changed.json["lang"], changed.json["tz"]) == (
        "en",
        "Europe/Berlin",
    )
    bad = ann.patch("/api/v1/me", json={"tz": "Nowhere/Land"})
    assert bad.status_code == 422 and bad.json["problems"][0]["path"] == "tz"
    assert ann.patch("/api/v1/me", json={"is_admin": True}).status_code == 400


def test_changing_my_password_checks_the_old_one_and_ends_my_other_sessions(web):
    web.user("ann")
    laptop, phone = web.client("ann"), web.client("ann")
    wrong = phone.post("/api/v1/me/password", json={"current": "nope", "new": "a-new-password"})
    assert wrong.status_code == 422 and wrong.json["problems"][0]["path"] == "current"
    short = phone.post("/api/v1/me/password", json={"current": "pw-ann", "new": "short"})
    assert short.status_code == 422 and short.json["problems"][0]["path"] == "new"
    done = phone.post("/api/v1/me/password", json={"current": "pw-ann", "new": "a-new-password"})
    assert done.status_code == 200 and done.json["sessions_ended"] == 1
    assert phone.get("/api/v1/me").status_code == 200
    assert laptop.get("/api/v1/me").status_code == 401
    login = web.anonymous().post("/api/v1/auth/login", json={"username": "ann", "password": "a-new-password"})
    assert login.status_code == 200
    assert audit_rows(web)[-1].action == "me.password_changed"


def test_my_tokens_are_shown_once_listed_without_secret_and_revoked(web):
    web.user("ann")
    web.user("bob")
    ann = web.client("ann")
    made = ann.post("/api/v1/me/tokens", json={"name": "CI", "scopes": ["read"], "expires_in_days": 30})
    assert made.status_code == 201 and made.json["token"].startswith("gd_") and made.json["expires_at"]
    listed = ann.get("/api/v1/me/tokens").json["items"]
    assert [t["name"] for t in listed] == ["CI"] and made.json["token"] not in str(listed)
    headers = {"Authorization": f"Bearer {made.json['token']}"}
    assert web.anonymous().get("/api/v1/me", headers=headers).json["username"] == "ann"
    assert ann.post("/api/v1/me/tokens", json={"name": "x", "scopes": ["admin"]}).status_code == 403
    # a read-only token cannot mint itself a write token
    assert (
        web.anonymous()
        .post("/api/v1/me/tokens", json={"name": "y", "scopes": ["read"]}, headers=headers)
        .status_code
        == 403
    )
    bob = web.client("bob")
    assert bob.delete(f"/api/v1/me/tokens/{made.json['id']}").status_code == 404
    assert ann.delete(f"/api/v1/me/tokens/{made.json['id']}").status_code == 200
    assert web.anonymous().get("/api/v1/me", headers=headers).status_code == 401
    assert ann.delete(f"/api/v1/me/tokens/{made.json['id']}").status_code == 404


def test_an_admin_may_make_an_admin_token(web, admin):
    made = admin.post("/api/v1/me/tokens", json={"name": "ops", "scopes": ["read", "admin"]})
    assert made.status_code == 201
    headers = {"Authorization": f"Bearer {made.json['token']}"}
    assert web.anonymous().get("/api/v1/admin/users", headers=headers).status_code == 200
