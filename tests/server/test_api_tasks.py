"""The tasks API: the inbox lists hold exactly the right tasks, actions move tickets, nobody acts on
what they may not see, and a page of the inbox costs a fixed number of SQL statements."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event

from tests.support import complaint_form

ROOT = Path(__file__).resolve().parents[2]


def twin_app() -> dict[str, Any]:
    """A second app whose review pool has the same role key as the complaint app's reviewers."""
    data = yaml.safe_load((ROOT / "app_definitions" / "kb.yaml").read_text(encoding="utf-8"))
    data["app"] = "twin"
    data["name"] = {"zh": "孪生", "en": "Twin"}
    data["roles"] = {"quality": {"name": {"zh": "质量", "en": "Quality"}, "scope": "all"}}
    flow = data["ticket_types"]["article"]["flow"]
    next(n for n in flow["nodes"] if n["id"] == "review")["assignee"] = {"role": "quality"}
    del data["ticket_types"]["article"]["submitters"]  # kb's editors are not a role here: anyone may
    return data


#: The people of the desk and their roles; each is created when first needed (hashing a password
#: takes a while). bob is the billing team alone, so triage always dispatches to him.
PEOPLE: dict[str, dict[str, list[str]]] = {
    "bob": {"complaint": ["billing_team"]},
    "bea": {"complaint": ["billing_team"]},
    "ann": {"complaint": ["quality"]},
    "quinn": {"complaint": ["quality"]},
    "lead": {"complaint": ["cs_lead"]},
    "tina": {"twin": ["quality"]},
    "cust": {},
    "zed": {},
}


class Desk:
    """The complaint app with its billing team, reviewers, a lead, a customer and an outsider —
    and, once asked for, the twin app, whose quality pool only tina belongs to."""

    def __init__(self, web: Any):
        self.web = web
        self.people: dict[str, int] = {}
        self.clients: dict[str, Any] = {}
        self.form = complaint_form(web.runtime.definition("complaint")[1])
        self.id("bob")

    def id(self, name: str) -> int:
        if name not in self.people:
            if name == "tina":
                self.web.runtime.publish(twin_app())
            self.people[name] = self.web.user(name, roles=PEOPLE[name])
        return self.people[name]

    def client(self, name: str) -> Any:
        if name not in self.clients:
            self.id(name)
            self.clients[name] = self.web.client(name)
        return self.clients[name]

    def submit(self, **changes: Any) -> int:
        return self.web.runtime.submit("complaint", "complaint", {**self.form, **changes}, self.id("cust")).id

    def twin(self, title: str = "a twin article") -> int:
        data = {"title": title, "body": "text"}
        return self.web.runtime.submit("twin", "article", data, self.id("tina")).id

    def task(self, ticket: int, node: str) -> int:
        found = [t for t in self.web.runtime.tasks(ticket) if t["node_id"] == node]
        assert found, (node, self.web.runtime.tasks(ticket))
        return found[0]["id"]

    def to_review(self) -> int:
        """A complaint brought to its countersigned review by bob."""
        ticket = self.submit()
        runtime, bob = self.web.runtime, self.id("bob")
        runtime.act(self.task(ticket, "triage"), "dispatch", actor=bob)
        runtime.act(self.task(ticket, "fix"), "resolve", {"solution": "refunded"}, actor=bob)
        return ticket

    def review_task(self, ticket: int, role: str) -> int:
        tasks = [t for t in self.web.runtime.tasks(ticket) if t["node_id"] == "review"]
        return next(t["id"] for t in tasks if t["pool_key"] == f"role:{role}")


@pytest.fixture
def desk(web) -> Desk:
    return Desk(web)


def tasks_of(client: Any, tab: str, **query: Any) -> list[int]:
    answer = client.get(f"/api/v1/inbox/{tab}", query_string=query)
    assert answer.status_code == 200, answer.json
    return [row["task"] for row in answer.json["items"]]


# ----------------------------------------------------------------------------- what the lists hold
def test_todos_and_queue_hold_exactly_the_right_tasks_per_app_pool(desk, web):
    ticket = desk.to_review()
    twin_ticket = desk.twin()
    twin_task = desk.task(twin_ticket, "review")
    waiting = desk.submit(summary="退款两次")
    quality = desk.review_task(ticket, "quality")
    ann, tina = desk.client("ann"), desk.client("tina")
    assert tasks_of(ann, "queue") == [quality]  # not the lead's pool, not the twin app's quality pool
    assert tasks_of(ann, "todos") == []
    assert tasks_of(tina, "queue") == [twin_task]  # and the twin reviewer never sees the complaint's
    assert tasks_of(desk.client("bob"), "todos") == [desk.task(waiting, "triage")]
    row = ann.get("/api/v1/inbox/queue?lang=en").json["items"][0]
    assert row["claimable"] is True and row["kind"] == "approval"
    assert row["node_name"] == "Review (countersign)"
    assert row["ticket"]["title"] == desk.form["summary"] and row["ticket"]["priority"] == "P2"
    assert (
        row["ticket"]["stage_name"] == "Review (countersign)"
        and row["ticket"]["app_name"] == "Customer complaint"
    )
    counts = ann.get("/api/v1/inbox/counts").json
    assert counts == {"todos": 0, "queue": 1, "overdue": 0}


def test_claiming_moves_a_task_from_the_queue_to_my_todos_and_a_second_claim_is_a_conflict(desk, web):
    ticket = desk.to_review()
    quality = desk.review_task(ticket, "quality")
    ann, quinn = desk.client("ann"), desk.client("quinn")
    claimed = ann.post(f"/api/v1/tasks/{quality}/claim")
    assert claimed.status_code == 200 and claimed.json["ticket"]["stage"] == "review"
    assert tasks_of(ann, "todos") == [quality] and tasks_of(ann, "queue") == []
    assert tasks_of(quinn, "queue") == []
    again = quinn.post(f"/api/v1/tasks/{quality}/claim?lang=en")
    assert again.status_code == 409 and again.json["code"] == "flow.already_claimed"


def test_bulk_claim_reports_each_task_and_one_failure_undoes_nothing(desk, web):
    ticket = desk.to_review()
    quality, lead_task = desk.review_task(ticket, "quality"), desk.review_task(ticket, "cs_lead")
    answer = desk.client("ann").post(
        "/api/v1/tasks/bulk", json={"action": "claim", "tasks": [quality, lead_task, 987654]}
    )
    assert answer.status_code == 200
    results = answer.json["results"]
    assert [(r["task"], r["ok"], r.get("status")) for r in results] == [
        (quality, True, None),
        (lead_task, False, 409),
        (987654, False, 404),
    ]
    assert results[1]["code"] == "flow.not_claimable"
    assert tasks_of(desk.client("ann"), "todos") == [quality]


def test_bulk_transfer_needs_someone_to_transfer_to(desk, web):
    answer = desk.client("ann").post("/api/v1/tasks/bulk", json={"action": "transfer", "tasks": [1]})
    assert answer.status_code == 400


def test_transfer_return_and_approvals_carry_the_ticket_through_its_stages(desk, web):
    ticket = desk.submit()
    first, other = "bob", "bea"
    desk.id("bea")  # joins the team after triage was dispatched to bob
    triage = desk.task(ticket, "triage")
    moved = desk.client(first).post(f"/api/v1/tasks/{triage}/transfer", json={"to": web.id(other)})
    assert moved.status_code == 200 and moved.json["ticket"]["stage"] == "triage"
    assert tasks_of(desk.client(other), "todos") == [triage] and tasks_of(desk.client(first), "todos") == []
    agent = desk.client(other)
    step = agent.post(f"/api/v1/tasks/{triage}/complete", json={"action": "dispatch"})
    assert step.status_code == 200 and step.json["ticket"]["stage"] == "fix"
    fix = desk.task(ticket, "fix")
    detail = agent.get(f"/api/v1/tasks/{fix}").json
    assert "resolve" in detail["actions"] and [r["node"] for r in detail["returns"]] == ["triage"]
    back = agent.post(f"/api/v1/tasks/{fix}/return", json={"to": "triage", "comment": "wrong team"})
    assert back.status_code == 200 and back.json["ticket"]["stage"] == "triage"
    agent.post(f"/api/v1/tasks/{desk.task(ticket, 'triage')}/complete", json={"action": "dispatch"})
    solved = agent.post(
        f"/api/v1/tasks/{desk.task(ticket, 'fix')}/complete",
        json={"action": "resolve", "data": {"solution": "refunded"}},
    )
    assert solved.json["ticket"]["stage"] == "review"
    approved = desk.client("ann").post(
        f"/api/v1/tasks/{desk.review_task(ticket, 'quality')}/approve", json={}
    )
    assert approved.status_code == 200 and approved.json["ticket"]["stage"] == "review"  # countersign waits
    done = desk.client("lead").post(f"/api/v1/tasks/{desk.review_task(ticket, 'cs_lead')}/approve", json={})
    assert done.json["ticket"]["stage"] == "rate"


def test_a_form_error_is_422_and_an_unknown_action_409(desk, web):
    triage = desk.task(desk.submit(), "triage")
    client = desk.client("bob")
    bad = client.post(f"/api/v1/tasks/{triage}/complete", json={"action": "dispatch", "data": {"phone": 5}})
    assert bad.status_code == 422 and bad.json["problems"][0]["path"] == "phone"
    unknown = client.post(f"/api/v1/tasks/{triage}/complete", json={"action": "fly"})
    assert unknown.status_code == 409 and unknown.json["code"] == "flow.unknown_action"


def test_an_outsider_gets_404_on_someone_elses_task_and_ticket(desk, web):
    ticket = desk.submit()
    triage = desk.task(ticket, "triage")
    zed = desk.client("zed")
    missing = zed.get("/api/v1/tasks/99999999")
    for answer in (
        zed.get(f"/api/v1/tasks/{triage}"),
        zed.post(f"/api/v1/tasks/{triage}/claim"),
        zed.post(f"/api/v1/tasks/{triage}/complete", json={"action": "dispatch"}),
        zed.post(f"/api/v1/tickets/{ticket}/close", json={}),
    ):
        assert answer.status_code == 404
        assert answer.json["code"] == missing.json["code"] == "not_found"
    assert web.runtime.ticket(ticket).stage == "triage"


def test_ticket_actions_follow_the_runtimes_rules(desk, web):
    ticket = desk.submit()
    not_mine = desk.client("ann").post(f"/api/v1/tickets/{ticket}/cancel", json={})
    assert not_mine.status_code == 409  # ann may see it (quality: all) but only its submitter cancels
    cust = desk.client("cust")
    assert (
        cust.post(f"/api/v1/tickets/{ticket}/cancel", json={"comment": "solved"}).json["ticket"]["status"]
        == "cancelled"
    )
    assert cust.post(f"/api/v1/tickets/{ticket}/reopen", json={}).status_code == 409  # not closed


def test_a_read_only_token_reads_the_inbox_but_cannot_act(desk, web):
    ticket = desk.to_review()
    quality = desk.review_task(ticket, "quality")
    desk.id("ann")
    headers = web.token("ann", ["read"])
    client = web.anonymous()
    assert client.get("/api/v1/inbox/queue", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/tasks/{quality}/claim", headers=headers)
    assert refused.status_code == 403
    bulk = client.post("/api/v1/tasks/bulk", json={"action": "claim", "tasks": [quality]}, headers=headers)
    assert bulk.status_code == 403
    assert tasks_of(desk.client("ann"), "queue") == [quality]


# ----------------------------------------------------------------------------- order, filters, pages
def test_overdue_tasks_come_first_and_have_their_own_tab(desk, web):
    calm = desk.submit(priority="P3")  # 4 working hours to respond
    late = desk.submit(priority="P1", refund=100)  # 15 minutes
    bob = desk.client("bob")
    first = bob.get("/api/v1/inbox/todos").json["items"]
    assert [r["ticket"]["id"] for r in first] == [late, calm]  # the earlier deadline first
    due = dt.datetime.fromisoformat(first[0]["due_at"])
    web.runtime.clock = lambda: due + dt.timedelta(minutes=1)
    rows = bob.get("/api/v1/inbox/overdue").json["items"]
    assert [r["ticket"]["id"] for r in rows] == [late]
    assert rows[0]["sla"] == {"state": "breached", "target": "response"}
    assert bob.get("/api/v1/inbox/counts").json == {"todos": 2, "queue": 0, "overdue": 1}
    assert [r["ticket"]["id"] for r in bob.get("/api/v1/inbox/todos?overdue=true").json["items"]] == [late]


def test_filters_narrow_the_list(desk, web):
    p1 = desk.submit(priority="P1", refund=100, summary="退款 P1")
    p3 = desk.submit(priority="P3", summary="退款 P3")
    bob = desk.client("bob")
    assert tasks_of(bob, "todos", priority="P1") == [desk.task(p1, "triage")]
    number = web.runtime.ticket(p3).number
    assert tasks_of(bob, "todos", q=number.lower()) == [desk.task(p3, "triage")]
    assert tasks_of(bob, "todos", q="100%_") == []  # LIKE wildcards are text
    assert tasks_of(bob, "todos", app="twin") == []
    assert len(tasks_of(bob, "todos", app="complaint", ticket_type="complaint", node="triage")) == 2


def test_pages_follow_each_other_without_gaps_and_a_bad_cursor_is_400(desk, web):
    give = [desk.twin(f"article {i}") for i in range(7)]
    tina = desk.client("tina")
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = tina.get("/api/v1/inbox/queue", query_string=query).json
        seen += [r["task"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [desk.task(t, "review") for t in give]  # no deadline: oldest first
    assert tina.get("/api/v1/inbox/queue?cursor=bm9wZQ").status_code == 400


def test_a_queue_page_costs_the_same_statements_for_one_row_or_many(desk, web):
    desk.twin()
    tina = desk.client("tina")
    tina.get("/api/v1/inbox/queue")  # warm: compiled specs are cached per app version

    def statements() -> tuple[int, int]:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(web.db.engine, "before_cursor_execute", count)
        try:
            answer = tina.get("/api/v1/inbox/queue")
        finally:
            event.remove(web.db.engine, "before_cursor_execute", count)
        return len(answer.json["items"]), len(seen)

    one = statements()
    for i in range(8):
        desk.twin(f"more {i}")
    many = statements()
    assert (one[0], many[0]) == (1, 9)
    assert many[1] == one[1]
    assert one[1] <= 8  # session, principal and the one inbox query


# ----------------------------------------------------------------------------- saved views
def test_saved_views_are_created_listed_unique_and_deleted(desk, web):
    ann = desk.client("ann")
    made = ann.post(
        "/api/v1/inbox/views", json={"name": "P1 only", "filters": {"priority": "P1", "overdue": True}}
    )
    assert made.status_code == 201
    view = made.json
    assert view["filters"] == {"priority": "P1", "overdue": True}
    assert [v["name"] for v in ann.get("/api/v1/inbox/views").json["items"]] == ["P1 only"]
    twice = ann.post("/api/v1/inbox/views?lang=en", json={"name": "P1 only", "filters": {}})
    assert twice.status_code == 409 and "P1 only" in twice.json["message"]
    assert desk.client("bob").delete(f"/api/v1/inbox/views/{view['id']}").status_code == 404
    assert (
        desk.client("bob").post("/api/v1/inbox/views", json={"name": "P1 only", "filters": {}}).status_code
        == 201
    )
    assert ann.delete(f"/api/v1/inbox/views/{view['id']}").json == {"id": view["id"], "deleted": True}
    assert ann.get("/api/v1/inbox/views").json["items"] == []
    assert ann.delete(f"/api/v1/inbox/views/{view['id']}").status_code == 404
    blank = ann.post("/api/v1/inbox/views", json={"name": "   ", "filters": {}})
    assert blank.status_code == 422 and blank.json["problems"][0]["path"] == "name"
