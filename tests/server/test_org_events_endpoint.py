"""``/org/events/<provider>``: contact change events signed the vendors' way go through the site and
change the organisation; URL checks are answered; forged, replayed and unknown ones are refused
with our JSON error and change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from engine.bootstrap import open_platform
from engine.config import load_settings
from engine.im_cards import wecom_decrypt
from engine.org_sync import sync
from engine.store.models import Department, User
from server.auth import login_limiter
from tests.engine.identity.standins import (
    EVENT_AES_KEY,
    DingTalkStandIn,
    FeishuStandIn,
    Org,
    Person,
    SignedEvent,
    WeComStandIn,
)
from tests.server.conftest import Web

STANDINS = {"dingtalk": DingTalkStandIn, "wecom": WeComStandIn, "feishu": FeishuStandIn}


@pytest.fixture
def org() -> Org:
    return Org.sample()


def make_site(database_url: str, tmp_path, env: dict[str, str]) -> Web:
    settings = load_settings({"GONGDAN_HOME": str(tmp_path), "DATABASE_URL": database_url, **env})
    login_limiter._hits.clear()
    site = Web(open_platform(settings, immediate=True))
    site.user("admin", admin=True)
    return site


@pytest.fixture(params=list(STANDINS))
def vendor(request, httpserver: HTTPServer, org: Org):
    return request.param, STANDINS[request.param](httpserver, org)


@pytest.fixture
def site(database_url, tmp_path, vendor) -> Iterator[Web]:
    name, standin = vendor
    web = make_site(database_url, tmp_path, standin.env())
    sync(web.platform.settings, web.db, name)
    yield web
    web.platform.close()


def post(site: Web, name: str, event: SignedEvent):
    return site.anonymous().open(
        f"/org/events/{name}?{event.query}", method=event.method, data=event.body, headers=event.headers
    )


def people(site: Web) -> dict[str, User]:
    with site.db.read() as conn:
        return {u.username: u for u in conn.execute(select(User))}


def departments(site: Web) -> dict[str, Department]:
    with site.db.read() as conn:
        return {d.name: d for d in conn.execute(select(Department))}


def refused(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.json["code"] == code and answer.json["message"]


def test_every_kind_of_change_event_is_applied(site, vendor, org):
    name, standin = vendor
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice", "13800000006")
    assert post(site, name, standin.user_event("created", "frank", 1)).status_code == 200
    assert people(site)["frank"].department_id == departments(site)["一线客服"].id

    org.people["frank"].dept = [3]
    assert post(site, name, standin.user_event("updated", "frank", 2)).status_code == 200
    assert people(site)["frank"].department_id == departments(site)["技术部"].id

    del org.people["frank"]
    assert post(site, name, standin.user_event("deleted", "frank", 3)).status_code == 200
    assert not people(site)["frank"].is_active

    org.departments[8] = ("运维组", 3)
    assert post(site, name, standin.department_event("created", 8, 4)).status_code == 200
    assert departments(site)["运维组"].parent_id == departments(site)["技术部"].id

    org.departments[8] = ("运维中心", 1)
    assert post(site, name, standin.department_event("updated", 8, 5)).status_code == 200
    assert departments(site)["运维中心"].parent_id == departments(site)["示例公司"].id

    del org.departments[8]
    assert post(site, name, standin.department_event("deleted", 8, 6)).status_code == 200
    assert "运维中心" not in departments(site)

    page = site.client("admin").get("/admin/sso?lang=en").get_data(as_text=True)
    assert f"{name}:event" in page


def test_the_vendors_url_check_is_answered(site, vendor):
    name, standin = vendor
    if isinstance(standin, DingTalkStandIn):
        answer = post(site, name, standin.event("check_url"))
        assert answer.status_code == 200
        assert wecom_decrypt(answer.json["encrypt"], EVENT_AES_KEY) == (b"success", standin.CLIENT_ID)
    elif isinstance(standin, WeComStandIn):
        answer = post(site, name, standin.verification("echo-12345"))
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "echo-12345"
    else:
        answer = post(site, name, standin.challenge("c-42"))
        assert answer.status_code == 200 and answer.json == {"challenge": "c-42"}


def test_a_forged_event_is_refused_with_401_and_changes_nothing(site, vendor, org):
    name, standin = vendor
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice")
    signed = standin.user_event("created", "frank", 1)
    other = standin.user_event("updated", "bob", 2)

    answer = post(site, name, SignedEvent(signed.query, other.body, signed.headers))

    refused(answer, 401, "im.bad_signature")
    assert "frank" not in people(site)


def test_a_replayed_event_is_refused_with_409(site, vendor, org):
    name, standin = vendor
    org.people["frank"] = Person("frank", "Frank 孙", [4], "alice")
    event = standin.user_event("created", "frank", 1)
    assert post(site, name, event).status_code == 200

    refused(post(site, name, event), 409, "im.replayed")


def test_a_source_without_change_events_is_404(site, vendor):
    for name in ("ldap", "slack"):
        answer = site.anonymous().post(f"/org/events/{name}?lang=en", data=json.dumps({}))
        refused(answer, 404, "org.events_unknown_provider")
    assert "scheduled full sync" in answer.json["message"]
