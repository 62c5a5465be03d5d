"""The tickets API as its users meet it: create, read, change with If-Match, list and search, history,
comments and watchers — and never a ticket or field the caller may not see."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event

from engine.access import load_principal
from engine.listing import TicketQuery, list_tickets
from tests.support import complaint_form

NEW = "/api/v1/apps/complaint/ticket_types/complaint/tickets"


def form(web: Any, **overrides: Any) -> dict[str, Any]:
    return complaint_form(web.runtime.definition("complaint")[1], **overrides)


def as_user(web: Any, name: str) -> Any:
    """A client calling with a personal API token of ``name`` (logins are rate-limited per address)."""
    client = web.anonymous()
    client.environ_base["HTTP_AUTHORIZATION"] = web.token(name)["Authorization"]
    return client


@pytest.fixture
def people(web):
    """Two customers (no roles: their own tickets only) and a support agent (scope all)."""
    web.user("cathy")
    web.user("dave")
    web.user("ann", roles={"complaint": ["agent"]})
    return web


def create(client: Any, web: Any, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    answer = client.post(NEW, json=form(web, **fields), headers=headers or {})
    assert answer.status_code == 201, answer.json
    return answer


# ----------------------------------------------------------------------------- create, read, update
def test_created_ticket_reads_back_and_changes_only_with_its_current_etag(people):
    web = people
    cathy = web.client("cathy")
    created = create(cathy, web, summary="屏幕碎了")
    ticket = created.json
    assert created.headers["Location"].endswith(f"/api/v1/tickets/{ticket['id']}")
    assert ticket["number"].startswith("TS-") and ticket["app"] == "complaint"
    assert ticket["status"] == "open" and ticket["stage"] == "triage"
    assert ticket["data"]["summary"] == "屏幕碎了"

    read = cathy.get(f"/api/v1/tickets/{ticket['id']}")
    assert read.status_code == 200
    etag = read.headers["ETag"]
    assert etag == f'"{read.json["row_version"]}"'
    assert {"comment", "watch", "update", "cancel"} <= {a["action"] for a in read.json["actions"]}
    assert [t["node"] for t in read.json["tasks"]] == ["triage"]

    changed = cathy.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"summary": "屏幕和电池都坏了"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["data"]["summary"] == "屏幕和电池都坏了"
    assert changed.headers["ETag"] != etag

    stale = cathy.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"summary": "旧版本"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json["code"] == "api.precondition"
    missing = cathy.patch(f"/api/v1/tickets/{ticket['id']}", json={"summary": "没有版本"})
    assert missing.status_code == 428
    assert cathy.get(f"/api/v1/tickets/{ticket['id']}").json["data"]["summary"] == "屏幕和电池都坏了"


def test_a_retried_create_with_the_same_idempotency_key_makes_one_ticket(people):
    web = people
    cathy = as_user(web, "cathy")
    key = {"Idempotency-Key": "order-SO-1-complaint"}
    first = create(cathy, web, headers=key)
    again = create(cathy, web, headers=key)
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [t["id"] for t in cathy.get("/api/v1/tickets").json["items"]] == [first.json["id"]]
    # The key is the caller's own: someone else using the same key creates their own ticket.
    other = create(as_user(web, "dave"), web, headers=key)
    assert other.json["id"] != first.json["id"]


def test_form_problems_answer_422_with_each_field_path(people):
    web = people
    cathy = as_user(web, "cathy")
    data = form(web, bogus="x")
    del data["summary"]
    answer = cathy.post(NEW, json=data)
    assert answer.status_code == 422
    assert {p["path"] for p in answer.json["problems"]} == {"bogus", "summary"}
    assert cathy.get("/api/v1/tickets").json["items"] == []


def test_a_field_locked_at_the_stage_refuses_with_its_path(people):
    web = people
    cathy = as_user(web, "cathy")
    ticket = create(cathy, web).json
    answer = cathy.patch(f"/api/v1/tickets/{ticket['id']}", json={"vip": True}, headers={"If-Match": '"*"'})
    assert answer.status_code == 412  # a tag that is no version at all never matches
    etag = cathy.get(f"/api/v1/tickets/{ticket['id']}").headers["ETag"]
    answer = cathy.patch(f"/api/v1/tickets/{ticket['id']}", json={"vip": True}, headers={"If-Match": etag})
    assert answer.status_code == 422
    assert [p["path"] for p in answer.json["problems"]] == ["vip"]


def test_only_admins_task_holders_and_the_open_tickets_submitter_may_change_it(people):
    web = people
    ticket = create(as_user(web, "cathy"), web).json
    url = f"/api/v1/tickets/{ticket['id']}"
    etag = {"If-Match": f'"{ticket["row_version"]}"'}
    assert as_user(web, "dave").patch(url, json={"summary": "x"}, headers=etag).status_code == 404
    assert as_user(web, "ann").patch(url, json={"summary": "x"}, headers=etag).status_code == 403
    assert as_user(web, "admin").patch(url, json={"summary": "管理员修改"}, headers=etag).status_code == 200


def test_a_read_only_token_can_read_but_not_create(people):
    web = people
    read_only = web.token("cathy", ["read"])
    assert web.anonymous().post(NEW, json=form(web), headers=read_only).status_code == 403
    assert web.anonymous().get("/api/v1/tickets", headers=read_only).status_code == 200
    writer = web.token("cathy", ["read", "write"])
    assert web.anonymous().post(NEW, json=form(web), headers=writer).status_code == 201


def test_bad_requests_are_refused_without_writing(people):
    web = people
    cathy = as_user(web, "cathy")
    assert cathy.post(NEW, data="customer=x", content_type="text/plain").status_code == 415
    assert cathy.post(NEW, data=b"{not json", content_type="application/json").status_code == 400
    huge = b'{"customer": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    assert cathy.post(NEW, data=huge, content_type="application/json").status_code == 413
    assert cathy.post("/api/v1/apps/complaint/ticket_types/nope/tickets", json={}).status_code == 404
    nul = cathy.post(NEW, json=form(web, summary="a\u0000b"))
    assert nul.status_code in (201, 422)
    assert cathy.get("/api/v1/tickets").json["items"] == ([] if nul.status_code == 422 else [nul.json])


# ----------------------------------------------------------------------------- lists and search
def test_pages_return_every_visible_ticket_exactly_once(people):
    web = people
    cathy, dave, ann = (web.id(n) for n in ("cathy", "dave", "ann"))
    data = form(web)
    mine = [web.runtime.submit("complaint", "complaint", data, actor=cathy).id for _ in range(7)]
    theirs = [web.runtime.submit("complaint", "complaint", data, actor=dave).id for _ in range(2)]
    for who, expected in (("cathy", mine), ("ann", mine + theirs)):
        client = as_user(web, who)
        for sort, order in (("created_at", "desc"), ("number", "asc"), ("updated_at", "asc")):
            seen: list[int] = []
            url = f"/api/v1/tickets?limit=3&sort={sort}&order={order}"
            while url:
                page = client.get(url)
                assert page.status_code == 200, page.json
                seen += [t["id"] for t in page.json["items"]]
                cursor = page.json["next_cursor"]
                url = f"/api/v1/tickets?limit=3&sort={sort}&order={order}&cursor={cursor}" if cursor else None
            assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)), (who, sort)
    assert ann  # the agent sees every complaint: scope all


def test_a_customer_sees_only_their_own_tickets_by_id_list_and_search(people):
    web = people
    theirs = create(as_user(web, "cathy"), web, summary="发票抬头错误 unique-needle").json
    dave = as_user(web, "dave")
    assert dave.get(f"/api/v1/tickets/{theirs['id']}").status_code == 404
    assert dave.get(f"/api/v1/tickets/{theirs['id']}/events").status_code == 404
    assert dave.get(f"/api/v1/tickets/{theirs['id']}/watchers").status_code == 404
    assert dave.post(f"/api/v1/tickets/{theirs['id']}/comments", json={"body": "hi"}).status_code == 404
    assert dave.get("/api/v1/tickets?q=unique-needle").json["items"] == []
    assert dave.get(f"/api/v1/tickets?q={theirs['number']}").json["items"] == []
    assert [t["id"] for t in as_user(web, "ann").get("/api/v1/tickets?q=UNIQUE-needle").json["items"]] == [
        theirs["id"]
    ]
    assert [
        t["id"] for t in as_user(web, "cathy").get("/api/v1/tickets?q=needle&app=complaint").json["items"]
    ] == [theirs["id"]]


def test_filters_narrow_the_list(people):
    web = people
    cathy = as_user(web, "cathy")
    first = create(cathy, web, category="quality").json
    create(as_user(web, "dave"), web)
    ann = as_user(web, "ann")
    assert [t["id"] for t in ann.get("/api/v1/tickets?mine=submitted").json["items"]] == []
    as_user(web, "ann").post(f"/api/v1/tickets/{first['id']}/watchers", json={})
    assert [t["id"] for t in ann.get("/api/v1/tickets?mine=watching").json["items"]] == [first["id"]]
    assert len(ann.get("/api/v1/tickets?status=open&stage=triage&ticket_type=complaint").json["items"]) == 2
    assert ann.get("/api/v1/tickets?status=closed").json["items"] == []
    assert ann.get("/api/v1/tickets?app=no_such_app").json["items"] == []
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert ann.get("/api/v1/tickets", query_string={"created_from": later}).json["items"] == []
    assert len(ann.get("/api/v1/tickets", query_string={"created_to": later}).json["items"]) == 2
    assert ann.get("/api/v1/tickets?created_to=yesterday").status_code == 400
    assert ann.get("/api/v1/tickets?cursor=not-a-cursor").status_code == 400


def test_search_text_is_plain_data(people):
    web = people
    create(as_user(web, "cathy"), web, summary="普通投诉")
    ann = as_user(web, "ann")
    for q in ("' OR 1=1 --", "__import__('os')", "%", "_", "\\", "'; DROP TABLE records; --", "{{ 7*7 }}"):
        answer = ann.get("/api/v1/tickets", query_string={"q": q})
        assert answer.status_code == 200, q
        assert answer.json["items"] == [], q
    assert len(ann.get("/api/v1/tickets").json["items"]) == 1


def test_search_wildcards_match_only_themselves(people):
    web = people
    cathy = as_user(web, "cathy")
    literal = create(cathy, web, summary="退款 100% 未到账").json
    create(cathy, web, summary="退款 1000 未到账")
    found = cathy.get("/api/v1/tickets", query_string={"q": "0% 未"}).json["items"]
    assert [t["id"] for t in found] == [literal["id"]]


def test_a_list_page_costs_the_same_few_statements_whatever_its_size(people):
    web = people
    cathy = web.id("cathy")
    data = form(web)
    for _ in range(51):
        web.runtime.submit("complaint", "complaint", data, actor=cathy)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with web.db.read() as conn:
        principal = load_principal(conn, cathy)
    sizes = {}
    for limit in (5, 50, 5):
        statements.clear()
        event.listen(web.db.engine, "before_cursor_execute", count)
        try:
            with web.db.read() as conn:
                page = list_tickets(conn, web.runtime, principal, TicketQuery(limit=limit, q="退款"))
        finally:
            event.remove(web.db.engine, "before_cursor_execute", count)
        assert len(page.items) == limit
        sizes[limit] = [s for s in statements if not s.lstrip().upper().startswith("BEGIN")]
    assert len(sizes[50]) == len(sizes[5]) <= 3, sizes[50]

    client = as_user(web, "cathy")
    per_request = {}
    for limit in (5, 50):
        client.get(f"/api/v1/tickets?limit={limit}")  # warm
        statements.clear()
        event.listen(web.db.engine, "before_cursor_execute", count)
        try:
            assert len(client.get(f"/api/v1/tickets?limit={limit}").json["items"]) == limit
        finally:
            event.remove(web.db.engine, "before_cursor_execute", count)
        per_request[limit] = len(statements)
    assert per_request[50] == per_request[5]


# ----------------------------------------------------------------------------- hidden fields
def test_hidden_fields_never_appear_in_reads_lists_history_or_search(people):
    web = people
    cathy = as_user(web, "cathy")
    ticket = create(cathy, web).json
    # The solution is hidden from everyone at triage; the system writes one anyway.
    web.runtime.update(ticket["id"], {"solution": "secret-fix-plan"}, actor=None)
    created_at = dt.datetime.fromisoformat(ticket["created_at"])
    for who in ("cathy", "ann"):
        client = as_user(web, who)
        read = client.get(f"/api/v1/tickets/{ticket['id']}").json
        assert "solution" not in read["data"]
        assert all("solution" not in t["data"] for t in client.get("/api/v1/tickets").json["items"])
        history = client.get(f"/api/v1/tickets/{ticket['id']}/events").get_data(as_text=True)
        assert "secret-fix-plan" not in history and '"solution"' not in history
        moment = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
        then = client.get(f"/api/v1/tickets/{ticket['id']}/as_of", query_string={"at": moment})
        assert then.status_code == 200 and "solution" not in then.json["data"]
        assert client.get("/api/v1/tickets?q=secret-fix-plan").json["items"] == []
    before = (created_at - dt.timedelta(seconds=5)).isoformat()
    assert cathy.get(f"/api/v1/tickets/{ticket['id']}/as_of", query_string={"at": before}).status_code == 404


def test_history_pages_in_order(people):
    web = people
    cathy = as_user(web, "cathy")
    ticket = create(cathy, web).json
    for i in range(3):
        assert (
            cathy.post(f"/api/v1/tickets/{ticket['id']}/comments", json={"body": f"补充 {i}"}).status_code
            == 201
        )
    seen, url = [], f"/api/v1/tickets/{ticket['id']}/events?limit=2"
    while url:
        page = cathy.get(url).json
        seen += page["items"]
        url = (
            f"/api/v1/tickets/{ticket['id']}/events?limit=2&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else None
        )
    assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})
    assert seen[0]["type"] == "created"
    assert [e["payload"]["body"] for e in seen if e["type"] == "comment_added"] == [
        "补充 0",
        "补充 1",
        "补充 2",
    ]


def test_a_customer_reads_the_story_of_her_ticket_through_the_api_and_staff_read_everything(people):
    web = people
    cathy = as_user(web, "cathy")
    ticket = create(cathy, web).json
    theirs = {e["type"] for e in cathy.get(f"/api/v1/tickets/{ticket['id']}/events").json["items"]}
    staff = {
        e["type"] for e in as_user(web, "ann").get(f"/api/v1/tickets/{ticket['id']}/events").json["items"]
    }
    assert "created" in theirs and "stage_entered" in theirs
    machinery = {"sla_started", "task_created", "rule_fired"} & staff
    assert machinery and not machinery & theirs  # the same as the ticket page shows her
    assert theirs < staff


# ----------------------------------------------------------------------------- comments and watchers
def test_mentions_are_kept_and_staff_mentions_add_watchers(people):
    web = people
    web.user("bob", roles={"complaint": ["agent"]})
    ticket = create(as_user(web, "cathy"), web).json
    url = f"/api/v1/tickets/{ticket['id']}"
    said = as_user(web, "ann").post(f"{url}/comments", json={"body": "@bob 请看一下,@nobody 不存在"})
    assert said.status_code == 201
    assert said.json["comment"]["mentions"] == [web.id("bob")]
    watchers = [w["username"] for w in as_user(web, "cathy").get(f"{url}/watchers").json["items"]]
    assert watchers == ["bob"]
    # A customer's mention is kept with the comment but lets nobody new into the ticket.
    said = as_user(web, "cathy").post(f"{url}/comments", json={"body": "@dave 你好"})
    assert said.json["comment"]["mentions"] == [web.id("dave")]
    assert as_user(web, "dave").get(url).status_code == 404
    assert as_user(web, "cathy").post(f"{url}/comments", json={"body": "   "}).status_code == 409


def test_people_mentioned_get_mail_only_when_they_may_see_the_ticket(people):
    from sqlalchemy import select

    from engine.store.models import Outbox

    web = people
    web.user("bob", roles={"complaint": ["agent"]}, email="bob@example.test")
    web.user("erin", email="erin@example.test")  # a customer: cannot see cathy's ticket
    ticket = create(as_user(web, "cathy"), web).json
    url = f"/api/v1/tickets/{ticket['id']}/comments"
    assert as_user(web, "ann").post(url, json={"body": "@bob 请核对退款记录"}).status_code == 201
    assert as_user(web, "cathy").post(url, json={"body": "@erin 你也遇到了吗"}).status_code == 201
    with web.db.read() as conn:
        mails = [
            row.payload
            for row in conn.execute(select(Outbox.channel, Outbox.payload).where(Outbox.channel == "email"))
        ]
    assert [m["to"] for m in mails] == [["bob@example.test"]]
    assert "请核对退款记录" in mails[0]["text"] and f"/tickets/{ticket['id']}" in mails[0]["text"]


def test_people_watch_themselves_and_staff_add_others(people):
    web = people
    ticket = create(as_user(web, "cathy"), web).json
    url = f"/api/v1/tickets/{ticket['id']}/watchers"
    cathy, ann = as_user(web, "cathy"), as_user(web, "ann")
    assert cathy.post(url, json={}).json == {"user_id": web.id("cathy"), "watching": True, "changed": True}
    assert cathy.post(url, json={}).json["changed"] is False
    assert cathy.post(url, json={"user_id": web.id("dave")}).status_code == 403
    assert ann.post(url, json={"user_id": web.id("dave")}).status_code == 200
    assert as_user(web, "dave").get(f"/api/v1/tickets/{ticket['id']}").status_code == 200  # a watcher sees it
    assert ann.post(url, json={"user_id": 999999}).status_code == 422
    assert cathy.delete(url).json["changed"] is True
    assert ann.delete(url, query_string={"user_id": web.id("dave")}).json["changed"] is True
    assert cathy.get(url).json["items"] == []
