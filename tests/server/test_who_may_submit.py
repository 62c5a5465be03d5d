"""A ticket type's `submitters`: a customer is offered, and may submit, only what customers may; staff
and the editors of an app get theirs — on the portal, its form and the API alike."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from engine.access import load_principal
from engine.definitions.loader import load_definition
from engine.demo import load_demo
from engine.errors import DefinitionError
from engine.people import create_department
from engine.store.models import App, Record, User
from tests.conftest import APPS

IT_NEW = "/portal/it_ops/request/new"
KB_NEW = "/portal/kb/article/new"
IT_API = "/api/v1/apps/it_ops/ticket_types/request/tickets"
KB_API = "/api/v1/apps/kb/ticket_types/article/tickets"


@pytest.fixture
def shipped(web):
    """Every shipped app, a customer (no department, no role), two staff members (one in a
    department, one with a role of another app) and a knowledge editor."""
    for name in ("bugfix", "it_ops", "kb"):
        web.runtime.publish(APPS / f"{name}.yaml")
    support = create_department(web.db, "客服部")
    web.user("grace")
    web.user("sam", department=support)
    web.user("bob", roles={"complaint": ["agent"]})
    web.user("eve", department=support, roles={"kb": ["editor"]})
    return web


def cards(client, lang: str = "zh") -> str:
    return client.get(f"/portal?lang={lang}").get_data(as_text=True)


def test_a_customer_is_offered_only_the_complaint(shipped):
    page = cards(shipped.client("grace"))
    assert "客户投诉" in page
    for internal in ("缺陷", "IT 运维请求", "知识文章", "/portal/bugfix/", IT_NEW, KB_NEW):
        assert internal not in page


@pytest.mark.parametrize("staff", ["sam", "bob"])
def test_staff_are_offered_it_requests_and_bugs_but_not_articles(shipped, staff):
    page = cards(shipped.client(staff))
    assert "客户投诉" in page and "IT 运维请求" in page and "缺陷" in page
    assert "知识文章" not in page and KB_NEW not in page


def test_an_editor_is_offered_articles(shipped):
    assert KB_NEW in cards(shipped.client("eve"))


def test_an_admin_is_offered_every_ticket_type(shipped):
    page = cards(shipped.client("admin"))
    assert all(name in page for name in ("客户投诉", "IT 运维请求", "缺陷", "知识文章"))


def test_the_api_refuses_a_customer_with_the_reason_in_their_language(shipped):
    client = shipped.client("grace")
    zh = client.post(IT_API + "?lang=zh", json={"summary": "电脑坏了"})
    assert zh.status_code == 403
    assert zh.json["code"] == "auth.submit_forbidden"
    assert "IT 运维请求" in zh.json["message"] and "本单位员工" in zh.json["message"]
    en = client.post(KB_API + "?lang=en", json={"title": "x", "body": "y"})
    assert en.status_code == 403
    assert "Article" in en.json["message"] and "Knowledge editor" in en.json["message"]
    with shipped.db.read() as conn:
        assert conn.execute(select(Record.id)).first() is None  # nothing was written


def test_the_api_lets_the_allowed_people_submit(shipped):
    created = shipped.client("eve").post(KB_API, json={"title": "退款多久到账?", "body": "1–3 个工作日。"})
    assert created.status_code == 201, created.json
    # staff pass the gate: what stops sam now is only the form (its required fields)
    assert shipped.client("sam").post(IT_API, json={}).status_code == 422


def test_the_portal_form_of_a_type_kept_from_the_customer_is_forbidden(shipped):
    client = shipped.client("grace")
    assert client.get(KB_NEW).status_code == 403
    assert client.get("/portal/complaint/complaint/new").status_code == 200
    assert shipped.client("eve").get(KB_NEW).status_code == 200


def test_submitters_naming_a_role_the_app_lacks_is_reported_at_its_path():
    data = yaml.safe_load((APPS / "kb.yaml").read_text("utf-8"))
    data["ticket_types"]["article"]["submitters"] = {"roles": ["editor", "writer"]}
    with pytest.raises(DefinitionError) as raised:
        load_definition(data)
    paths = {p.path: p.code for p in raised.value.problems}
    assert paths == {"ticket_types.article.submitters.roles[1]": "check.unknown_role"}


def test_the_demo_submits_each_ticket_type_only_as_people_allowed_to(shipped):
    platform = shipped.platform

    class Bar(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    load_demo(platform, 24, 7, lambda _text: None, lambda items, label: Bar(items), bulk=False)
    with shipped.db.read() as conn:
        rows = conn.execute(  # what the demo submitted (a rule's follow-up ticket has no submitter)
            select(App.key, Record.created_by)
            .join(App, App.id == Record.app_id)
            .where(Record.created_by.is_not(None))
        ).all()
        assert {key for key, _ in rows} == {"bugfix", "complaint", "it_ops", "kb"}
        for key, uid in rows:
            who = load_principal(conn, uid)
            if key == "kb":
                assert who.has_role("kb", "editor"), who.username
            elif key in ("bugfix", "it_ops"):
                assert who.department_id is not None or any(who.roles.values()), who.username
        customers = conn.execute(
            select(User.department_id).where(User.username.in_(["grace", "henry"]))
        ).all()
        assert len(customers) == 2 and all(dept is None for (dept,) in customers)
