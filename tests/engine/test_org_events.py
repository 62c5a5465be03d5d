"""Incremental organisation sync from the vendors' change events (DingTalk, WeCom, Feishu stand-ins):
each event fetches only the person / department it names and applies it with the full sync's
rules; leavers hand on their tasks; replays, forgeries and stale events are refused and write nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from engine.definitions.source import read_source
from engine.im_cards import Callback, CallbackRefused
from engine.org_events import Received, receive
from engine.org_sync import runs, sync
from engine.store.models import App, Department, OrgSyncRun, Role, RoleMember, User
from tests.conftest import APPS
from tests.engine.identity.standins import (
    DingTalkStandIn,
    FeishuStandIn,
    Org,
    Person,
    SignedEvent,
    WeComStandIn,
    settings_for,
)
from tests.support import complaint_form, give_role


@dataclass
class Vendor:
    name: str
    standin: DingTalkStandIn | WeComStandIn | FeishuStandIn

    def user(self, action: str, userid: str, n: int = 1) -> SignedEvent:
        return self.standin.user_event(action, userid, n)

    def department(self, action: str, dept: int, n: int = 1) -> SignedEvent:
        return self.standin.department_event(action, dept, n)


STANDINS = {"dingtalk": DingTalkStandIn, "wecom": WeComStandIn, "feishu": FeishuStandIn}


@pytest.fixture
def org() -> Org:
    return Org.sample()


@pytest.fixture(params=list(STANDINS))
def vendor(request, httpserver: HTTPServer, org: Org) -> Vendor:
    return Vendor(request.param, STANDINS[request.param](httpserver, org))


@pytest.fixture
def settings(database_url, tmp_path, vendor):
    return settings_for(database_url, tmp_path, **vendor.standin.env())


@pytest.fixture
def synced(db, settings, vendor) -> Vendor:
    """The organisation after one full sync; the stand-in's call log starts empty."""
    sync(settings, db, vendor.name)
    vendor.standin.calls.clear()
    return vendor


def deliver(settings, db, vendor: Vendor, event: SignedEvent, now: float | None = None) -> Received:
    cb = Callback(event.method, event.body, event.headers, event.args, now or time.time())
    return receive(settings, db, vendor.name, cb)


def users(db) -> dict[str, Any]:
    with db.read() as conn:
        return {u.username: u for u in conn.execute(select(User))}


def departments(db) -> dict[str, Any]:
    with db.read() as conn:
        return {d.name: d for d in conn.execute(select(Department))}


def event_runs(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(OrgSyncRun)).scalar_one()


def test_a_new_hire_event_fetches_that_one_person_and_adds_them_under_their_manager(
    db, settings, synced, org
):
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice", "13800000006", "frank@example.com")

    got = deliver(settings, db, synced, synced.user("created", "frank"))

    frank = users(db)["frank"]
    assert got.counts["created"] == 1 and frank.is_active
    assert frank.department_id == departments(db)["一线客服"].id and frank.manager_id == users(db)["alice"].id
    assert not any("list" in call or "children" in call for call in synced.standin.calls)


def test_a_move_event_changes_the_department_and_keeps_the_roles_set_in_gongdan(
    db, settings, synced, org, complaint_app
):
    bob = users(db)["bob"].id
    give_role(db, bob, "complaint", "agent")
    org.people["bob"].dept = [3]
    org.people["bob"].name = "Bob 王 (技术)"

    deliver(settings, db, synced, synced.user("updated", "bob"))

    person = users(db)["bob"]
    assert person.department_id == departments(db)["技术部"].id and person.display_name == "Bob 王 (技术)"
    with db.read() as conn:
        roles = conn.execute(
            select(Role.key)
            .join(RoleMember, RoleMember.role_id == Role.id)
            .join(App, App.id == Role.app_id)
            .where(RoleMember.user_id == bob)
        ).scalars()
        assert list(roles) == ["agent"]


def test_a_leaver_event_deactivates_the_user_and_hands_on_their_open_tasks(
    db, runtime, complaint_app, settings, synced, org
):
    people = users(db)
    dave, alice = people["dave"].id, people["alice"].id
    definition = read_source(APPS / "complaint.yaml").data
    ticket = runtime.submit("complaint", "complaint", complaint_form(definition), actor=people["boss"].id)
    task = runtime.tasks(ticket.id)[0]
    runtime.transfer(task["id"], dave, actor=None)
    del org.people["dave"]

    got = deliver(settings, db, synced, synced.user("deleted", "dave"))

    assert got.counts["deactivated"] == 1 and got.counts["tasks_handed_on"] == 1
    assert not users(db)["dave"].is_active and users(db)["erin"].is_active
    [still_open] = [t for t in runtime.tasks(ticket.id) if t["id"] == task["id"]]
    assert still_open["status"] == "open" and still_open["assignee_id"] == alice
    handed = [e for e in runtime.events(ticket.id) if e["type"] == "task_transferred"][-1]
    assert (handed["payload"]["from"], handed["payload"]["to"]) == (dave, alice)


def test_an_update_showing_the_person_as_left_deactivates_them(db, settings, synced, org):
    org.people["erin"].gone = True  # WeCom status 5 / Feishu is_resigned / DingTalk: no such user

    got = deliver(settings, db, synced, synced.user("updated", "erin"))

    assert got.counts["deactivated"] == 1 and not users(db)["erin"].is_active


def test_the_same_event_delivered_again_changes_nothing_the_second_time(db, settings, synced, org):
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice")
    first = deliver(settings, db, synced, synced.user("created", "frank", n=1))
    before = {name: (u.department_id, u.manager_id, u.display_name) for name, u in users(db).items()}

    again = deliver(settings, db, synced, synced.user("created", "frank", n=2))  # re-sent by the vendor

    assert first.counts["created"] == 1
    assert again.counts["created"] == again.counts["updated"] == again.counts["deactivated"] == 0
    assert {name: (u.department_id, u.manager_id, u.display_name) for name, u in users(db).items()} == before


def test_a_replayed_event_is_refused_and_writes_nothing(db, settings, synced, org):
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice")
    event = synced.user("created", "frank")
    deliver(settings, db, synced, event)
    runs_before = event_runs(db)

    with pytest.raises(CallbackRefused) as refused:
        deliver(settings, db, synced, event)

    assert refused.value.http_status == 409 and refused.value.code == "im.replayed"
    assert event_runs(db) == runs_before


def test_an_event_for_an_unknown_department_fetches_it_and_its_parents(db, settings, synced, org):
    org.departments[6] = ("客服中心", 2)
    org.departments[5] = ("二线客服", 6)
    org.people["gina"] = Person("gina", "Gina 周", [5], "alice")

    deliver(settings, db, synced, synced.user("created", "gina"))

    depts = departments(db)
    assert depts["客服中心"].parent_id == depts["客服部"].id
    assert depts["二线客服"].parent_id == depts["客服中心"].id
    assert users(db)["gina"].department_id == depts["二线客服"].id


def test_department_events_create_rename_and_remove_an_empty_department(db, settings, synced, org):
    org.departments[7] = ("质检组", 3)
    deliver(settings, db, synced, synced.department("created", 7, n=1))
    assert departments(db)["质检组"].parent_id == departments(db)["技术部"].id

    org.departments[7] = ("质量组", 3)
    deliver(settings, db, synced, synced.department("updated", 7, n=2))
    assert "质量组" in departments(db) and "质检组" not in departments(db)

    del org.departments[7]
    got = deliver(settings, db, synced, synced.department("deleted", 7, n=3))
    assert got.counts["departments_removed"] == 1 and "质量组" not in departments(db)


def test_deleting_a_department_with_people_in_it_keeps_the_people_and_the_department(db, settings, synced):
    got = deliver(settings, db, synced, synced.department("deleted", 4))

    assert got.counts["departments_kept"] == 1 and got.counts["deactivated"] == 0
    people, depts = users(db), departments(db)
    assert all(
        people[p].is_active and people[p].department_id == depts["一线客服"].id for p in ("bob", "dave")
    )


def test_each_applied_event_is_listed_with_the_sync_runs(db, settings, synced, org):
    org.people["bob"].name = "Bob 王 (二)"
    deliver(settings, db, synced, synced.user("updated", "bob"))

    newest = runs(db)[0]
    assert newest["source"] == f"{synced.name}:event" and newest["status"] == "done"
    assert newest["counts"]["updated"] == 1 and newest["counts"]["event"]


@pytest.mark.parametrize("how", ["forged", "expired"])
def test_a_forged_or_stale_event_is_refused_and_writes_nothing(db, settings, synced, org, how):
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice")
    event = synced.user("created", "frank")
    now = time.time()
    if how == "forged":  # another event's body under this one's signature
        other = synced.user("updated", "bob", n=2)
        event = SignedEvent(event.query, other.body, event.headers)
    else:
        now += 3600

    with pytest.raises(CallbackRefused) as refused:
        deliver(settings, db, synced, event, now)

    assert refused.value.http_status == 401
    assert refused.value.code == ("im.bad_signature" if how == "forged" else "im.expired")
    assert "frank" not in users(db) and event_runs(db) == 1
    assert refused.value.message("en")


def test_ldap_and_unknown_sources_have_no_events(db, settings):
    for name in ("ldap", "nope"):
        with pytest.raises(CallbackRefused) as refused:
            receive(settings, db, name, Callback("POST", b"{}", {}, {}, time.time()))
        assert refused.value.http_status == 404
    assert "scheduled full sync" in refused.value.message("en")


def test_without_the_event_secret_the_event_is_refused_naming_the_setting(
    db, database_url, tmp_path, httpserver
):
    ding = DingTalkStandIn(httpserver, Org.sample())
    env = {k: v for k, v in ding.env().items() if "EVENT" not in k}
    settings = settings_for(database_url, tmp_path, **env)
    event = ding.event("user_modify_org", UserId=["bob"])

    with pytest.raises(CallbackRefused) as refused:
        receive(
            settings, db, "dingtalk", Callback("POST", event.body, event.headers, event.args, time.time())
        )

    assert refused.value.http_status == 401 and "GONGDAN_DINGTALK_EVENT_TOKEN" in refused.value.message("en")
