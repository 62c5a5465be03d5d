"""Administration in the engine: CSV import, the department tree, role members, channel addresses
(the admin's over the environment, write-only), each write audited in its own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

from engine import admin, auth
from engine.channel_settings import channel_url, list_channels, set_channel, url_problems
from engine.config import load_settings
from engine.errors import ConflictError, FormError
from engine.people import create_user
from engine.store import Database
from engine.store.models import AuditEntry, Department, Session, User
from engine.store.types import utcnow


def audit_actions(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


# ---------------------------------------------------------------------------- channel addresses
def test_the_admins_address_wins_over_the_environment_until_cleared(db):
    settings = load_settings({"DATABASE_URL": db.url, "GONGDAN_SMS_URL": "https://env.example.cn/sms"})
    assert channel_url(db, settings, "sms") == "https://env.example.cn/sms"
    set_channel(db, settings, None, "sms", "https://admin.example.cn/sms#token=T0ken", ip="10.0.0.1")
    assert channel_url(db, settings, "sms") == "https://admin.example.cn/sms#token=T0ken"
    assert (
        channel_url(None, settings, "sms") == "https://admin.example.cn/sms#token=T0ken"
    )  # from DATABASE_URL
    views = {v.name: v for v in list_channels(db, settings)}
    assert views["sms"].source == "admin" and views["sms"].url == "https://admin.example.cn/sms#token=***"
    assert views["sms"].env_url == "https://env.example.cn/sms"
    from engine.channel_settings import clear_channel

    clear_channel(db, settings, None, "sms")
    assert channel_url(db, settings, "sms") == "https://env.example.cn/sms"
    assert audit_actions(db) == ["channel.set", "channel.cleared"]


def test_without_a_readable_database_the_environment_applies(tmp_path):
    missing = load_settings(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}", "GONGDAN_SMTP_URL": "smtp://h?from=a@b.cn"}
    )
    assert channel_url(None, missing, "smtp") == "smtp://h?from=a@b.cn"
    assert not (tmp_path / "none.db").exists()  # looking did not create a database
    empty = tmp_path / "empty.db"
    Database(f"sqlite:///{empty}").ping()  # a file without the table (not migrated)
    unmigrated = load_settings(
        {"DATABASE_URL": f"sqlite:///{empty}", "GONGDAN_ROBOT_OPS": "wecom+https://x.cn/h"}
    )
    assert channel_url(None, unmigrated, "robot.ops") == "wecom+https://x.cn/h"


def test_robots_are_listed_from_the_environment_and_the_table(db):
    settings = load_settings(
        {
            "DATABASE_URL": db.url,
            "GONGDAN_ROBOT_OPS": "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=abc123",
        }
    )
    set_channel(
        db,
        settings,
        None,
        "robot.night_shift",
        "feishu+https://open.feishu.cn/open-apis/bot/v2/hook/0f8a9c2e1b2c4d5e8f90",
    )
    views = {v.name: v for v in list_channels(db, settings)}
    assert list(views) == ["smtp", "sms", "robot.night_shift", "robot.ops"]
    assert views["robot.ops"].source == "env" and views["robot.ops"].env == "GONGDAN_ROBOT_OPS"
    assert views["robot.night_shift"].url.endswith("/hook/***")
    assert views["smtp"].source == "unset" and views["smtp"].url is None


@pytest.mark.parametrize(
    ("name", "url", "ok"),
    [
        ("smtp", "smtps://u:p@smtp.example.cn:465?from=a@example.cn", True),
        ("smtp", "smtp+starttls://relay.example.cn?from=a@example.cn", True),
        ("smtp", "smtp://relay.example.cn", False),  # no sender
        ("smtp", "https://relay.example.cn", False),
        ("sms", "https://sms.example.cn/send#secret=s", True),
        ("sms", "aliyun://id:secret@dysmsapi.aliyuncs.com?sign_name=x&template_code=SMS_1", True),
        ("sms", "aliyun://id:secret@dysmsapi.aliyuncs.com", False),
        ("robot.ops", "wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", True),
        ("robot.ops", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", False),
        ("robot.ops", "telegram+https://t.me/x", False),
        ("robot.ops", "dingtalk+https:///nohost", False),
        ("smtp", "", False),
        ("smtp", "smtps://a b@h?from=a@b.cn", False),
    ],
)
def test_an_address_is_checked_the_way_the_channel_reads_it(name, url, ok):
    assert (url_problems(name, url) == []) is ok


# ---------------------------------------------------------------------------- CSV
HEADER = "username,display_name,email,phone,department,manager,roles\n"


def test_csv_text_is_read_as_utf8_with_or_without_bom_or_as_gbk():
    text = HEADER + "li,李雷,,,客服部,,\n"
    assert admin.decode_csv(text.encode("utf-8")) == text
    assert admin.decode_csv(text.encode("utf-8-sig")) == text
    assert admin.decode_csv(text.encode("gbk")) == text
    with pytest.raises(FormError):
        admin.decode_csv(text.encode("utf-16"))


def test_an_import_creates_managers_from_the_same_file_and_each_department_once(db, complaint_app):
    data = (
        HEADER
        + "a,A,,,总部/客服部/一组,b,complaint:agent\n"
        + "b,B,,,总部/客服部,,\n"
        + "c,C,,,总部/客服部/一组,b,\n"
    ).encode()
    report = admin.import_users(db, None, data)
    assert report.departments_created == ["总部", "总部/客服部", "总部/客服部/一组"]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Department.__table__)).scalar_one() == 3
        rows = dict(conn.execute(select(User.username, User.manager_id)).all())
    assert rows["a"] == rows["c"] == admin.list_users(db, "b")[0][0]["id"]
    assert audit_actions(db) == ["users.imported"]
    again = admin.import_users(db, None, data, dry_run=True)
    assert again.created == [] and again.departments_created == [] and again.unchanged == ["a", "b", "c"]


def test_problems_name_the_row_and_the_files_column(db, complaint_app):
    data = ("email,username\n" + "x,ok\n" + "y@z.cn,bad name\n").encode()
    with pytest.raises(FormError) as caught:
        admin.import_users(db, None, data)
    assert [(p.path, p.line, p.column) for p in caught.value.problems] == [
        ("row 2.email", 2, 1),
        ("row 3.username", 3, 2),
    ]


def test_a_semicolon_separated_file_is_read_too(db, complaint_app):
    report = admin.import_users(db, None, "username;display_name\nzh;张\n".encode(), dry_run=True)
    assert report.created == ["zh"]


# ---------------------------------------------------------------------------- departments, users, roles
def test_departments_move_but_never_under_themselves(db):
    root = admin.create_department(db, None, "总部")
    child = admin.create_department(db, None, "客服部", root)
    leaf = admin.create_department(db, None, "一组", child)
    with pytest.raises(FormError):
        admin.update_department(db, None, root, {"parent_id": leaf})
    with pytest.raises(ConflictError):
        admin.create_department(db, None, "客服部", root)
    admin.update_department(db, None, leaf, {"parent_id": None})
    flat = admin.flat_departments(admin.department_tree(db))
    assert [(d["path"], d["depth"]) for d in flat] == [("一组", 0), ("总部", 0), ("总部/客服部", 1)]
    assert audit_actions(db) == ["department.created"] * 3 + ["department.updated"]


def test_deactivating_deletes_the_users_sessions_in_the_same_change(db):
    uid = create_user(db, "bob", password="pw-bob-long")
    auth.login(db, "bob", "pw-bob-long")
    admin.update_user(db, None, uid, {"is_active": False}, ip="10.1.1.1")
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Session.__table__)).scalar_one() == 0
        entry = conn.execute(select(AuditEntry.__table__)).one()
    assert (entry.action, entry.target, entry.ip, entry.details) == (
        "user.updated",
        f"user:{uid}",
        "10.1.1.1",
        {"username": "bob", "is_active": False},
    )


def test_a_password_change_keeps_only_the_session_that_asked(db):
    uid = create_user(db, "ann", password="old-password-1")
    keep, _ = auth.login(db, "ann", "old-password-1")
    auth.login(db, "ann", "old-password-1")
    assert admin.change_password(db, uid, "old-password-1", "new-password-1", keep_session=keep) == 1
    assert auth.session(db, keep) is not None
    with pytest.raises(FormError):
        admin.change_password(db, uid, "old-password-1", "another-password")


def test_role_members_are_replaced_all_or_nothing(db, complaint_app):
    ann = create_user(db, "ann")
    bob = create_user(db, "bob")
    admin.set_role_members(db, None, "complaint", "agent", [{"user": "ann", "weight": 2}])
    with pytest.raises(FormError):
        admin.set_role_members(db, None, "complaint", "agent", [{"user": "bob"}, {"user": "ghost"}])
    members = next(r for r in admin.app_roles(db, "complaint") if r["key"] == "agent")["members"]
    assert [(m["user_id"], m["weight"]) for m in members] == [(ann, 2)]
    admin.set_role_members(db, None, "complaint", "agent", [{"user": bob}])
    members = next(r for r in admin.app_roles(db, "complaint") if r["key"] == "agent")["members"]
    assert [m["user_id"] for m in members] == [bob]
    assert audit_actions(db) == ["role.members_set", "role.members_set"]


def test_the_audit_log_names_the_actor(db):
    uid = create_user(db, "root", is_admin=True)
    with db.write() as conn:
        conn.execute(insert(AuditEntry).values(at=utcnow(), actor_id=uid, action="x", details={}))
    assert admin.audit_entries(db)[0]["actor"] == "root"
