"""Organisation sync against a DingTalk stand-in: the tree, moves, leavers and their open tasks,
the 20 % guard, roles kept, all-or-nothing runs, dry runs, the schedule and the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import select, update
from werkzeug import Response

from engine import auth
from engine.cli import main
from engine.definitions.source import read_source
from engine.identity import ProviderError
from engine.org_sync import SyncHeld, due_sources, runs, scheduled_sync, sync
from engine.people import set_password
from engine.store.models import App, Department, OrgSyncRun, Role, RoleMember, User
from engine.store.types import utcnow
from tests.conftest import APPS
from tests.engine.identity.standins import DingTalkStandIn, Org, Person, settings_for
from tests.support import complaint_form, give_role


@pytest.fixture
def org() -> Org:
    return Org.sample()


@pytest.fixture
def ding(httpserver: HTTPServer, org: Org) -> DingTalkStandIn:
    return DingTalkStandIn(httpserver, org)


@pytest.fixture
def settings(database_url, tmp_path, ding):
    return settings_for(database_url, tmp_path, **ding.env())


def users(db) -> dict[str, object]:
    with db.read() as conn:
        return {u.username: u for u in conn.execute(select(User))}


def departments(db) -> dict[str, object]:
    with db.read() as conn:
        return {d.name: d for d in conn.execute(select(Department))}


def test_the_first_sync_builds_the_tree_people_managers_and_heads(db, settings):
    result = sync(settings, db, "dingtalk")

    assert result.status == "done"
    assert result.counts["created"] == 6 and result.counts["departments_created"] == 4
    depts, people = departments(db), users(db)
    assert (
        depts["一线客服"].parent_id == depts["客服部"].id
        and depts["客服部"].parent_id == depts["示例公司"].id
    )
    assert (depts["一线客服"].source, depts["一线客服"].external_id) == ("dingtalk", "4")
    assert depts["客服部"].head_id == people["alice"].id and depts["示例公司"].head_id == people["boss"].id
    bob = people["bob"]
    assert (bob.display_name, bob.phone, bob.email) == ("Bob 王", "13800000002", "bob@example.com")
    assert bob.manager_id == people["alice"].id and bob.department_id == depts["一线客服"].id
    assert bob.source == "dingtalk" and bob.password_hash is None and not bob.is_admin
    [run] = runs(db)
    assert run["status"] == "done" and run["counts"]["created"] == 6 and run["ended_at"] is not None
    assert any(e["action"] == "org.synced" and e["details"]["created"] == 6 for e in auth.audit_log(db))


def test_a_later_sync_moves_a_person_and_creates_nothing_twice(db, settings, org):
    sync(settings, db, "dingtalk")
    org.people["bob"].dept = [3]
    org.people["bob"].manager = "carol"

    result = sync(settings, db, "dingtalk")

    assert result.counts["created"] == 0 and result.counts["departments_created"] == 0
    assert result.counts["moved"] == 1
    people, depts = users(db), departments(db)
    assert (
        people["bob"].department_id == depts["技术部"].id and people["bob"].manager_id == people["carol"].id
    )
    assert len(people) == 6


def test_a_leaver_is_deactivated_signed_out_and_their_open_task_goes_to_their_manager(
    db, runtime, complaint_app, settings, org
):
    sync(settings, db, "dingtalk")
    people = users(db)
    dave, alice = people["dave"].id, people["alice"].id
    definition = read_source(APPS / "complaint.yaml").data
    ticket = runtime.submit("complaint", "complaint", complaint_form(definition), actor=people["boss"].id)
    task = runtime.tasks(ticket.id)[0]
    runtime.transfer(task["id"], dave, actor=None)
    set_password(db, "dave", "dave-password-1")
    token, _ = auth.login(db, "dave", "dave-password-1")
    del org.people["dave"]

    result = sync(settings, db, "dingtalk")

    assert result.counts["deactivated"] == 1 and result.counts["tasks_handed_on"] == 1
    assert not users(db)["dave"].is_active and auth.session(db, token) is None
    [still_open] = [t for t in runtime.tasks(ticket.id) if t["id"] == task["id"]]
    assert still_open["status"] == "open" and still_open["assignee_id"] == alice
    handed = [e for e in runtime.events(ticket.id) if e["type"] == "task_transferred"][-1]
    assert (handed["payload"]["from"], handed["payload"]["to"]) == (dave, alice)
    assert "dave" in handed["payload"].get("comment", "")


def test_without_a_manager_the_department_head_takes_the_task(db, runtime, complaint_app, settings, org):
    org.people["erin"].manager = None
    sync(settings, db, "dingtalk")
    people = users(db)
    definition = read_source(APPS / "complaint.yaml").data
    ticket = runtime.submit("complaint", "complaint", complaint_form(definition), actor=people["boss"].id)
    task = runtime.tasks(ticket.id)[0]["id"]
    runtime.transfer(task, people["erin"].id, actor=None)
    del org.people["erin"]

    sync(settings, db, "dingtalk")

    # erin's department 一线客服 has no head; its parent 客服部's head is alice
    assert runtime.tasks(ticket.id)[0]["assignee_id"] == people["alice"].id


def test_a_department_and_a_person_made_by_hand_are_adopted_not_duplicated(db, database_url, tmp_path, ding):
    from engine.people import create_department, create_user

    hand_made = create_department(db, "示例公司")
    local_bob = create_user(db, "bob.local", "Bob", email="BOB@example.com")
    settings = settings_for(database_url, tmp_path, **ding.env(), GONGDAN_SSO_MATCH="email")

    result = sync(settings, db, "dingtalk")

    assert result.counts["departments_created"] == 3 and result.counts["created"] == 5
    depts, people = departments(db), users(db)
    assert depts["示例公司"].id == hand_made and depts["示例公司"].source == "dingtalk"
    assert people["bob.local"].id == local_bob and people["bob.local"].source == "dingtalk"
    assert "bob" not in people


def test_someone_who_comes_back_is_reactivated(db, settings, org):
    sync(settings, db, "dingtalk")
    erin = org.people.pop("erin")
    sync(settings, db, "dingtalk")
    assert not users(db)["erin"].is_active
    org.people["erin"] = erin
    result = sync(settings, db, "dingtalk")
    assert result.counts["reactivated"] == 1 and users(db)["erin"].is_active


def test_a_sync_deactivating_more_than_20_percent_is_held_until_an_admin_confirms(db, settings, org):
    sync(settings, db, "dingtalk")
    del org.people["bob"], org.people["dave"]  # 2 of 6 = 33 %
    org.people["carol"].name = "Carol 张 (renamed)"

    with pytest.raises(SyncHeld) as held:
        sync(settings, db, "dingtalk")

    message = held.value.message("en")
    assert "2 of 6" in message and "--confirm" in message and held.value.message("zh") != message
    people = users(db)
    assert people["bob"].is_active and people["dave"].is_active
    assert people["carol"].display_name == "Carol 张"  # nothing of the held run was applied
    latest = runs(db)[0]
    assert latest["status"] == "held" and sorted(latest["counts"]["leavers"]) == ["bob", "dave"]

    result = sync(settings, db, "dingtalk", confirm=True)

    assert result.status == "done" and result.counts["deactivated"] == 2
    people = users(db)
    assert not people["bob"].is_active and not people["dave"].is_active
    assert people["carol"].display_name == "Carol 张 (renamed)"
    assert [r["status"] for r in runs(db)] == ["done", "confirmed", "done"]


def test_roles_and_the_admin_flag_set_in_gongdan_survive_a_sync(db, runtime, complaint_app, settings, org):
    sync(settings, db, "dingtalk")
    alice = users(db)["alice"].id
    give_role(db, alice, "complaint", "agent")
    with db.write() as conn:
        conn.execute(update(User).where(User.id == alice).values(is_admin=True))
    org.people["alice"].name = "Alice 李 (客服主管)"

    sync(settings, db, "dingtalk")

    person = users(db)["alice"]
    assert person.is_admin and person.display_name == "Alice 李 (客服主管)"
    with db.read() as conn:
        roles = (
            conn.execute(
                select(Role.key)
                .join(RoleMember, RoleMember.role_id == Role.id)
                .join(App, App.id == Role.app_id)
                .where(RoleMember.user_id == alice)
            )
            .scalars()
            .all()
        )
    assert roles == ["agent"]


def test_a_source_failing_half_way_changes_nothing_and_the_run_says_why(db, settings, ding, org):
    sync(settings, db, "dingtalk")
    org.departments[2] = ("客户服务部", 1)
    org.people["bob"].dept = [3]
    ding.broken["/topapi/v2/user/list"] = lambda: Response(
        '{"errcode": 60011, "errmsg": "没有调用该接口的权限"}', 200, content_type="application/json"
    )

    with pytest.raises(ProviderError) as failed:
        sync(settings, db, "dingtalk")

    assert "60011" in failed.value.message("en")
    assert "客服部" in departments(db) and users(db)["bob"].department_id == departments(db)["一线客服"].id
    latest = runs(db)[0]
    assert latest["status"] == "failed" and "60011" in latest["message"]


def test_only_one_run_of_a_source_at_a_time(db, settings):
    from sqlalchemy import insert

    from engine.errors import GongdanError

    with db.write() as conn:
        conn.execute(
            insert(OrgSyncRun).values(source="dingtalk", status="running", started_at=utcnow(), counts={})
        )
    with pytest.raises(GongdanError) as busy:
        sync(settings, db, "dingtalk")
    assert busy.value.code == "org.running" and users(db) == {}


def test_a_dry_run_counts_and_writes_nothing(db, settings):
    result = sync(settings, db, "dingtalk", dry_run=True)
    assert result.status == "dry_run" and result.counts["created"] == 6
    assert users(db) == {} and departments(db) == {} and runs(db) == []


def test_the_schedule_runs_a_source_when_its_interval_has_passed(
    db, database_url, tmp_path, ding, monkeypatch
):
    env = {**ding.env(), "GONGDAN_ORG_SYNC": "dingtalk:60"}
    settings = settings_for(database_url, tmp_path, **env)
    now = utcnow()
    assert due_sources(db, settings, now) == ["dingtalk"]
    for key, value in {**env, "DATABASE_URL": database_url, "GONGDAN_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)

    assert scheduled_sync(db, now) == 1

    assert len(users(db)) == 6
    assert due_sources(db, settings, now + dt.timedelta(minutes=30)) == []
    assert due_sources(db, settings, now + dt.timedelta(minutes=61)) == ["dingtalk"]


def test_the_cli_syncs_dry_runs_and_confirms(db, database_url, tmp_path, ding, org):
    env = {**ding.env(), "DATABASE_URL": database_url, "GONGDAN_HOME": str(tmp_path), "GONGDAN_LANG": "en"}
    cli = CliRunner()
    dry = cli.invoke(main, ["org", "sync", "dingtalk", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would create 6" in dry.output
    assert users(db) == {}
    done = cli.invoke(main, ["org", "sync", "dingtalk"], env=env)
    assert done.exit_code == 0, done.output
    assert "6 created" in done.output
    org.people = {k: v for k, v in org.people.items() if k in ("boss", "alice", "carol")}
    held = cli.invoke(main, ["org", "sync", "dingtalk"], env=env)
    assert held.exit_code == 2 and "--confirm" in held.output
    confirmed = cli.invoke(main, ["org", "sync", "dingtalk", "--confirm"], env=env)
    assert confirmed.exit_code == 0, confirmed.output
    assert sorted(u for u, p in users(db).items() if p.is_active) == ["alice", "boss", "carol"]
    with db.read() as conn:
        assert conn.execute(select(OrgSyncRun.status).order_by(OrgSyncRun.id)).scalars().all() == [
            "done",
            "confirmed",
            "done",
        ]


def test_a_person_the_source_marks_as_left_is_deactivated(db, database_url, tmp_path, httpserver, org):
    from tests.engine.identity.standins import WeComStandIn

    wecom = WeComStandIn(httpserver, org)
    settings = settings_for(database_url, tmp_path, **wecom.env())
    org.people["zed"] = Person("zed", "Zed", [3], "carol")
    sync(settings, db, "wecom")
    org.people["zed"].gone = True  # WeCom status 5: left
    result = sync(settings, db, "wecom")
    assert result.counts["deactivated"] == 1 and not users(db)["zed"].is_active
