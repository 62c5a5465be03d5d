"""The admin pages: only admins reach them, every form works without JavaScript (POST + CSRF field),
problems show beside the form, secrets are never rendered, both languages."""

from __future__ import annotations

import copy
import io
import re

import pytest
import yaml
from sqlalchemy import func, insert, select

from engine.store.models import AuditEntry, Department, Outbox, User
from engine.store.types import utcnow

PAGES = [
    "/admin/users",
    "/admin/users/1",
    "/admin/users/import",
    "/admin/departments",
    "/admin/roles",
    "/admin/apps",
    "/admin/apps/complaint",
    "/admin/apps/complaint/roles",
    "/admin/channels",
    "/admin/dead",
    "/admin/rule_runs",
    "/admin/audit",
]
POSTS = [
    "/admin/users",
    "/admin/users/1",
    "/admin/users/1/password",
    "/admin/users/import",
    "/admin/departments",
    "/admin/departments/1",
    "/admin/departments/1/delete",
    "/admin/apps/complaint/roles/agent",
    "/admin/apps/import",
    "/admin/apps/complaint/rollback",
    "/admin/channels",
    "/admin/channels/smtp/clear",
    "/admin/dead/retry",
]


@pytest.fixture(autouse=True)
def fresh_login_limit():
    from server.auth import login_limiter

    login_limiter._hits.clear()
    yield
    login_limiter._hits.clear()


@pytest.fixture
def admin(web):
    return web.client("admin")


def form(client, path: str, /, **fields):
    """POST a form the way a browser does: fields plus the session's CSRF field, no header."""
    csrf = client.csrf
    client.csrf = ""
    try:
        return client.post(path, data={"csrf_token": csrf, **fields})
    finally:
        client.csrf = csrf


def html(answer) -> str:
    return answer.get_data(as_text=True)


def test_every_admin_page_answers_an_admin_in_both_languages(web, admin):
    for url in PAGES:
        zh = admin.get(url, follow_redirects=True)
        assert zh.status_code == 200, url
        assert "管理" in html(zh) and "审计日志" in html(zh)
    en = admin.get("/admin/users?lang=en")
    assert "Audit log" in html(en) and "Import from CSV" in html(en)


def test_non_admins_get_the_403_page_and_anonymous_visitors_the_login(web):
    web.user("ann", roles={"complaint": ["agent", "cs_lead"]})
    ann = web.client("ann")
    for url in PAGES:
        answer = ann.get(url)
        assert answer.status_code == 403, url
        assert "text/html" in answer.content_type
    for url in POSTS:
        assert form(ann, url).status_code == 403, url
    assert 'href="/admin"' not in html(ann.get("/admin/users"))  # no admin link in the menu
    anonymous = web.anonymous().get("/admin/users")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login?next=/admin/users")


def test_a_form_without_the_csrf_field_is_refused(web, admin):
    csrf = admin.csrf
    admin.csrf = ""
    answer = admin.post("/admin/departments", data={"name": "客服部"})
    admin.csrf = csrf
    assert answer.status_code == 403
    with web.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Department.__table__)).scalar_one() == 0


# ---------------------------------------------------------------------------- users
def test_a_user_is_created_edited_and_given_a_new_password_from_the_pages(web, admin):
    created = form(admin, "/admin/users", username="bob", display_name="Bob 王", email="bob@example.cn")
    assert created.status_code == 200
    password = re.search(r"<code data-password>([^<]+)</code>", html(created)).group(1)
    assert (
        web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": password}).status_code
        == 200
    )
    uid = web.id("bob")
    listed = html(admin.get("/admin/users?q=bob"))
    assert f'href="/admin/users/{uid}"' in listed and "Bob 王" in listed and password not in listed
    bad = form(
        admin, f"/admin/users/{uid}?lang=en", display_name="Bob", email="nope", tz="Asia/Shanghai", lang="zh"
    )
    assert bad.status_code == 422 and "Not an email address" in html(bad)
    saved = form(
        admin, f"/admin/users/{uid}", display_name="Bob Wang", email="", tz="Europe/Berlin", lang="en",
        is_active="1", is_away="1",
    )  # fmt: skip
    assert saved.status_code == 303 and saved.location.endswith("done=user_saved")
    with web.db.read() as conn:
        row = conn.execute(
            select(User.display_name, User.email, User.tz, User.is_away).where(User.id == uid)
        ).one()
    assert tuple(row) == ("Bob Wang", None, "Europe/Berlin", True)
    reset = form(admin, f"/admin/users/{uid}/password")
    new = re.search(r"<code data-password>([^<]+)</code>", html(reset)).group(1)
    assert new != password
    assert (
        web.anonymous().post("/api/v1/auth/login", json={"username": "bob", "password": new}).status_code
        == 200
    )


def test_deactivating_from_the_page_signs_the_user_out(web, admin):
    uid = web.user("bob")
    bob = web.client("bob")
    assert bob.get("/api/v1/me").status_code == 200
    answer = form(admin, f"/admin/users/{uid}", display_name="Bob", tz="Asia/Shanghai", lang="zh")
    assert answer.status_code == 303
    assert bob.get("/api/v1/me").status_code == 401


def test_a_csv_import_page_lists_every_problem_with_its_row(web, admin):
    bad = "username,display_name,email\nok.one,一,\nbad name,二,\nthree,三,not-mail\n".encode("utf-8-sig")
    answer = admin.post(
        "/admin/users/import?lang=en",
        data={"csrf_token": admin.csrf, "file": (io.BytesIO(bad), "people.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    page = html(answer)
    assert "row 3.username" in page and "row 4.email" in page and "nothing was written" in page
    good = "username,display_name,department\nok.one,一,客服部/一组\n".encode("gbk")
    dry = admin.post(
        "/admin/users/import?lang=en",
        data={"csrf_token": admin.csrf, "file": (io.BytesIO(good), "people.csv"), "dry_run": "1"},
        content_type="multipart/form-data",
    )
    assert dry.status_code == 200 and "Dry run: what would happen" in html(dry) and "客服部/一组" in html(dry)
    assert web.runtime.db is web.db
    with web.db.read() as conn:
        assert conn.execute(select(User.id).where(User.username == "ok.one")).first() is None
    done = admin.post(
        "/admin/users/import",
        data={"csrf_token": admin.csrf, "file": (io.BytesIO(good), "people.csv")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 200 and "已导入" in html(done)
    assert web.id("ok.one")


# ---------------------------------------------------------------------------- departments and roles
def test_the_department_tree_is_built_and_changed_from_the_page(web, admin):
    assert form(admin, "/admin/departments", name="客服部").status_code == 303
    with web.db.read() as conn:
        root = conn.execute(select(Department.id).where(Department.name == "客服部")).scalar_one()
    assert form(admin, "/admin/departments", name="一组", parent_id=str(root)).status_code == 303
    with web.db.read() as conn:
        child = conn.execute(select(Department.id).where(Department.name == "一组")).scalar_one()
    page = html(admin.get("/admin/departments"))
    assert page.index("客服部") < page.index("一组") and f'id="department-{child}"' in page
    cycle = form(admin, f"/admin/departments/{root}?lang=en", name="客服部", parent_id=str(child), head="")
    assert cycle.status_code == 422 and "cannot move under itself" in html(cycle)
    renamed = form(admin, f"/admin/departments/{child}", name="二组", parent_id=str(root), head="admin")
    assert renamed.status_code == 303
    tree = html(admin.get("/admin/departments"))
    assert "二组" in tree and "负责人" in tree
    in_use = form(admin, f"/admin/departments/{root}/delete?lang=en")
    assert in_use.status_code == 409 and "sub-department" in html(in_use)
    assert form(admin, f"/admin/departments/{child}/delete").status_code == 303


def test_role_members_are_edited_as_lines_of_usernames_and_weights(web, admin):
    web.user("ann")
    web.user("bob")
    saved = form(admin, "/admin/apps/complaint/roles/agent", members="ann 2\nbob\n")
    assert saved.status_code == 303
    page = html(admin.get("/admin/apps/complaint/roles"))
    assert re.search(r"Ann.*ann.*权重 2", page, re.S)
    bad = form(admin, "/admin/apps/complaint/roles/agent?lang=en", members="ghost\nann 500")
    assert bad.status_code == 422
    assert "members[0].user" in html(bad) and "members[1].weight" in html(bad)


# ---------------------------------------------------------------------------- apps
def test_an_app_is_imported_with_a_dry_run_diff_then_published_and_rolled_back(web, admin):
    definition = copy.deepcopy(web.runtime.definition("complaint")[1])
    definition["name"] = {"zh": "投诉二版", "en": "Complaints v2"}
    text = yaml.safe_dump(definition, allow_unicode=True)
    dry = admin.post(
        "/admin/apps/import",
        data={
            "csrf_token": admin.csrf,
            "dry_run": "1",
            "file": (io.BytesIO(text.encode()), "complaint.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert dry.status_code == 200
    assert "name.zh" in html(dry) and "投诉二版" in html(dry) and "发布为版本 2" in html(dry)
    assert [v["version"] for v in web.runtime.versions("complaint")] == [1]
    published = form(admin, "/admin/apps/import", source=text)
    assert published.status_code == 303 and "done=published" in published.location
    assert web.runtime.versions("complaint")[-1]["version"] == 2
    app_page = html(admin.get("/admin/apps/complaint?from=1&to=2"))
    assert "name.en" in app_page and "/api/v1/admin/apps/complaint/export?version=1" in app_page
    rolled = form(admin, "/admin/apps/complaint/rollback", version="1")
    assert (
        rolled.status_code == 303 and "done=rolled_back" in rolled.location and "version=3" in rolled.location
    )
    assert (
        web.runtime.definition("complaint", 3)[1]["name"] == web.runtime.definition("complaint", 1)[1]["name"]
    )


def test_a_broken_definition_shows_its_problems(web, admin):
    answer = admin.post(
        "/admin/apps/import",
        data={
            "csrf_token": admin.csrf,
            "dry_run": "1",
            "file": (io.BytesIO(b"app: complaint\nroles: 3\n"), "x.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422 and "<code>roles</code>" in html(answer)


# ---------------------------------------------------------------------------- channels and operations
def test_a_channel_address_is_set_masked_and_cleared(web, admin):
    secret = "Sm7pPassw0rd"
    url = f"smtps://mailer:{secret}@smtp.example.cn:465?from=noreply@example.cn"
    saved = form(admin, "/admin/channels", name="smtp", url=url)
    assert saved.status_code == 303
    robot = form(admin, "/admin/channels", name="robot.", robot="ops",
                 url="wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=R0botKey123")  # fmt: skip
    assert robot.status_code == 303
    for page in (
        html(admin.get(saved.location)),
        html(admin.get("/admin/audit")),
        html(admin.get("/admin/channels")),
    ):
        assert secret not in page and "R0botKey123" not in page
    page = html(admin.get("/admin/channels"))
    assert "smtps://mailer:***@smtp.example.cn:465" in page and "robot.ops" in page and "key=***" in page
    bad = form(admin, "/admin/channels?lang=en", name="smtp", url="https://mail.example.cn")
    assert bad.status_code == 422 and "smtps://" in html(bad) and "open" in html(bad)
    assert form(admin, "/admin/channels/smtp/clear").status_code == 303
    assert "smtps://mailer:***" not in html(admin.get("/admin/channels"))


def test_dead_letters_are_sent_again_from_the_page(web, admin):
    now = utcnow()
    with web.db.write() as conn:
        dead_id = conn.execute(
            insert(Outbox)
            .values(
                idempotency_key="dead-page", channel="pigeon", payload={}, status="dead", attempts=8,
                max_attempts=8, next_attempt_at=now, created_at=now, last_error="no pigeon <b>here</b>",
            )
            .returning(Outbox.id)
        ).scalar_one()  # fmt: skip
    page = html(admin.get("/admin/dead"))
    assert "no pigeon &lt;b&gt;here&lt;/b&gt;" in page and f'value="{dead_id}"' in page
    assert form(admin, "/admin/dead/retry").status_code == 400
    answer = admin.post("/admin/dead/retry", data={"csrf_token": admin.csrf, "id": [str(dead_id)]})
    assert answer.status_code == 303 and "count=1" in answer.location
    with web.db.read() as conn:
        assert (
            conn.execute(select(AuditEntry.action).order_by(AuditEntry.id.desc())).first()[0]
            == "outbox.retried"
        )


def test_rule_runs_and_the_audit_log_are_shown(web, admin):
    from tests.support import complaint_form

    definition = web.runtime.definition("complaint")[1]
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(definition), actor=web.id("admin"))
    runs = html(admin.get(f"/admin/rule_runs?record={ticket.id}"))
    assert f'href="/admin/rule_runs?record={ticket.id}"' in runs
    partial = html(admin.get("/admin/rule_runs?app=complaint&lang=en"))
    assert "give app, ticket_type and rule together" in partial
    assert form(admin, "/admin/departments", name="<img src=x onerror=alert(1)>").status_code == 303
    audit = html(admin.get("/admin/audit"))
    assert "department.created" in audit and "&lt;img src=x onerror=alert(1)&gt;" in audit
    assert "<img src" not in audit


def test_the_audit_log_names_people_departments_and_languages(web, admin):
    from engine import admin as admin_engine

    ann = web.user("ann")
    bob = web.user("bob")
    sales = admin_engine.create_department(web.db, web.id("admin"), "销售部", head_id=ann)
    saved = form(
        admin,
        f"/admin/users/{bob}",
        display_name="Bob",
        department_id=str(sales),
        manager="ann",
        lang="en",
        tz="Asia/Shanghai",
        is_active="1",
    )
    assert saved.status_code == 303
    zh = html(admin.get("/admin/audit?lang=zh"))
    assert "<b>上级</b>：<span" in zh and "Ann (ann)</span>" in zh
    assert "<b>部门</b>：<span" in zh and "销售部</span>" in zh
    assert "<b>负责人</b>：<span" in zh
    assert "<b>语言</b>：英文" in zh
    en = html(admin.get("/admin/audit?lang=en"))
    assert "<b>language</b>: English" in en
    for raw in (f"：{ann}<", f"：{sales}<", "：en<"):
        assert raw not in zh


def test_the_manager_is_picked_by_name_and_saved_as_that_person(web, admin):
    from engine import admin as admin_engine

    ann = web.user("ann")
    bob = web.user("bob")
    admin_engine.update_user(web.db, web.id("admin"), web.user("gone"), {"is_active": False})
    page = html(admin.get(f"/admin/users/{bob}?lang=en"))
    picker = re.search(r'<select name="manager"[^>]*>(.*?)</select>', page, re.S)[1]
    assert '<option value="ann">Ann (ann)</option>' in picker
    assert 'value="bob"' not in picker and 'value="gone"' not in picker  # not oneself, nor who left
    assert '<input name="manager"' not in page
    new_user = html(admin.get("/admin/users?lang=en"))
    none_then_ann = r'<select name="manager"[^>]*>\s*<option value="">—</option>.*Ann \(ann\)'
    assert re.search(none_then_ann, new_user, re.S)
    fields = {"display_name": "Bob", "lang": "zh", "tz": "Asia/Shanghai", "is_active": "1"}
    saved = form(admin, f"/admin/users/{bob}", manager="ann", **fields)
    assert saved.status_code == 303
    with web.db.read() as conn:
        assert conn.execute(select(User.manager_id).where(User.id == bob)).scalar() == ann
    again = html(admin.get(f"/admin/users/{bob}?lang=en"))
    assert '<option value="ann" selected>Ann (ann)</option>' in again
