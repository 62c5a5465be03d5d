"""The inbox page: both languages, overdue badges and countdowns, the htmx filter fragment, saved
views, claiming from the page, CSRF, and ticket text shown escaped."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import APPS
from tests.support import complaint_form, give_role


class Agents:
    """bob is the complaint app's billing team (triage is dispatched to him); ann reviews."""

    def __init__(self, web: Any):
        self.web = web
        self.bob = web.user("bob", roles={"complaint": ["billing_team"]}, tz="Europe/London")
        self.cust = web.user("cust")
        self.form = complaint_form(web.runtime.definition("complaint")[1])

    def submit(self, **changes: Any) -> Any:
        return self.web.runtime.submit("complaint", "complaint", {**self.form, **changes}, self.cust)

    def triage(self, ticket: Any) -> int:
        return next(t["id"] for t in self.web.runtime.tasks(ticket.id) if t["node_id"] == "triage")


@pytest.fixture
def agents(web) -> Agents:
    return Agents(web)


def text(answer: Any) -> str:
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_the_inbox_speaks_both_languages_and_links_each_ticket(agents, web):
    ticket = agents.submit()
    bob = web.client("bob")
    en = text(bob.get("/inbox?lang=en"))
    zh = text(bob.get("/inbox?lang=zh"))
    assert "My todos" in en and "Team queue" in en and "Overdue" in en and "Claim selected" in en
    assert "我的待办" in zh and "团队待领" in zh and "领取所选" in zh
    assert f'href="/tickets/{ticket.id}"' in en and ticket.number in en
    assert "Triage" in en and "受理分派" in zh  # the stage label from the flow, in each language
    assert "P2 high" in en and "P2 高" in zh
    assert "inbox.js" in en and "inbox.css" in en
    assert re.search(r'class="count">\s*1\s*<', en)  # one todo in the tab's count


def test_due_times_are_in_the_users_zone_and_overdue_rows_carry_a_badge(agents, web):
    ticket = agents.submit(priority="P1", refund=100)  # a 15-minute response target
    bob = web.client("bob")
    row = bob.get("/api/v1/inbox/todos").json["items"][0]
    due = dt.datetime.fromisoformat(row["due_at"])
    calm = text(bob.get("/inbox?lang=en"))
    assert due.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M") in calm
    assert "badge overdue" not in calm.split('id="inbox-list"')[1]
    web.runtime.clock = lambda: due + dt.timedelta(minutes=35)
    late = text(bob.get("/inbox?lang=en"))
    listed = late.split('id="inbox-list"')[1]
    assert 'class="badge overdue">Overdue<' in listed
    assert "overdue 35m" in listed
    assert f'data-due="{due.isoformat()}"' in listed
    assert ticket.number in text(bob.get("/inbox?tab=overdue&lang=en"))
    assert "已超时 35分钟" in text(bob.get("/inbox?lang=zh"))


def test_the_filter_form_reloads_only_the_list_fragment(agents, web):
    urgent = agents.submit(priority="P1", refund=100, summary="紧急退款")
    normal = agents.submit(priority="P3")
    bob = web.client("bob")
    fragment = text(bob.get("/inbox/list?tab=todos&priority=P1&lang=en", headers={"HX-Request": "true"}))
    assert "<html" not in fragment and 'hx-swap-oob="true"' in fragment  # the tab counts follow
    assert urgent.number in fragment and normal.number not in fragment
    assert 'name="priority" value="P1"' in fragment  # kept for the actions posted from the list
    found = text(bob.get(f"/inbox/list?tab=todos&q={normal.number}"))
    assert normal.number in found and urgent.number not in found
    empty = text(bob.get("/inbox/list?tab=queue&lang=en"))
    assert "Nothing waits in your team" in empty


def test_a_saved_view_round_trip(agents, web):
    agents.submit(priority="P3")
    bob = web.client("bob")
    saved = bob.post("/inbox/views", data={"name": "Urgent <b>only</b>", "priority": "P1", "tab": "todos"})
    assert saved.status_code == 303
    shown = text(bob.get(saved.headers["Location"] + "&lang=en"))
    assert "Urgent &lt;b&gt;only&lt;/b&gt;" in shown and "Saved the view" in shown
    assert '<option value="P1" selected>' in shown
    assert "Nothing is assigned to you." in shown  # the P3 ticket is filtered out
    view_id = bob.get("/api/v1/inbox/views").json["items"][0]["id"]
    assert text(bob.get(f"/inbox?view={view_id}")).count("aria-current") >= 2  # tab and view
    gone = bob.post(f"/inbox/views/{view_id}/delete", data={})
    assert gone.status_code == 303
    assert bob.get("/api/v1/inbox/views").json["items"] == []
    assert bob.get(f"/inbox?view={view_id}").status_code == 404


def test_claiming_from_the_page_moves_the_task_to_my_todos(agents, web):
    web.user("ann", roles={"complaint": ["quality"]})
    ticket = agents.submit()
    runtime = web.runtime
    runtime.act(agents.triage(ticket), "dispatch", actor=agents.bob)
    fix = next(t["id"] for t in runtime.tasks(ticket.id) if t["node_id"] == "fix")
    runtime.act(fix, "resolve", {"solution": "done"}, actor=agents.bob)
    ann = web.client("ann")
    queue = text(ann.get("/inbox?tab=queue&lang=en"))
    task = int(re.search(r'name="claim_one" value="(\d+)"', queue).group(1))
    answer = text(
        ann.post(
            "/inbox/act?lang=en", data={"tab": "queue", "claim_one": task}, headers={"HX-Request": "true"}
        )
    )
    assert "1 task(s) done, 0 not done." in answer and "<html" not in answer
    assert [r["task"] for r in ann.get("/api/v1/inbox/todos").json["items"]] == [task]
    again = text(ann.post("/inbox/act?lang=en", data={"tab": "queue", "action": "claim", "task": [task]}))
    assert "1 task(s) done, 0 not done." in again  # claiming what one holds already changes nothing
    nothing = text(ann.post("/inbox/act?lang=en", data={"tab": "queue", "action": "claim"}))
    assert "Select some tasks first." in nothing


def test_transfer_from_the_page_by_username(agents, web):
    ticket = agents.submit()
    web.user("bea", roles={"complaint": ["billing_team"]})
    bob = web.client("bob")
    page = text(bob.get("/inbox?lang=en"))
    assert "Bea (bea)" in page  # a teammate to pick
    task = agents.triage(ticket)
    answer = text(
        bob.post("/inbox/act?lang=en", data={"action": "transfer", "task": [task], "to_username": "bea"})
    )
    assert "1 task(s) done" in answer
    assert [r["task"] for r in web.client("bea").get("/api/v1/inbox/todos").json["items"]] == [task]
    unknown = text(
        bob.post("/inbox/act?lang=en", data={"action": "transfer", "task": [task], "to_username": "nobody"})
    )
    assert "There is no user named &#39;nobody&#39;." in unknown


def test_a_post_without_the_csrf_token_is_refused(agents, web):
    ticket = agents.submit()
    bob = web.client("bob")
    bob.csrf = ""
    refused = bob.post("/inbox/act", data={"claim_one": agents.triage(ticket)})
    assert refused.status_code == 403
    assert bob.post("/inbox/views", data={"name": "x"}).status_code == 403


def test_html_in_a_ticket_summary_is_shown_as_text(agents, web):
    agents.submit(summary='退款 <script>alert("x")</script><img src=x onerror=alert(1)>')
    page = text(web.client("bob").get("/inbox"))
    assert "&lt;script&gt;alert(" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_anonymous_visitors_are_sent_to_sign_in(web):
    answer = web.anonymous().get("/inbox?tab=queue")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=/inbox")


def test_the_script_and_styles_are_served(web):
    client = web.anonymous()
    script = text(client.get("/assets/inbox.js"))
    assert "countdowns" in script and '"j"' in script
    assert "@media (max-width: 640px)" in text(client.get("/assets/inbox.css"))


def test_the_stage_filter_tells_apps_that_share_a_node_id_apart(agents, web):
    web.runtime.publish(APPS / "bugfix.yaml")
    give_role(web.db, agents.bob, "bugfix", "dev_lead")
    complaint = agents.submit()  # waits at the complaint's triage (受理分派) in bob's todos
    bug = {"title": "白屏", "severity": "major", "version": "2.3.1", "steps": "<p>打开</p>"}
    bug = web.runtime.submit("bugfix", "bug", {**bug, "module": ["web", "portal"]}, agents.bob)
    bug_triage = next(t["id"] for t in web.runtime.tasks(bug.id) if t["node_id"] == "triage")
    web.runtime.claim(bug_triage, agents.bob)  # the bug's own triage (评估) is in his todos too
    bob = web.client("bob")
    page = text(bob.get("/inbox?lang=zh"))
    assert '<option value="complaint:triage">客户投诉 · 受理分派</option>' in page
    assert '<option value="bugfix:triage">缺陷修复 · 评估</option>' in page

    def listed(query: str) -> str:
        return text(bob.get(f"/inbox/list?tab=todos&{query}", headers={"HX-Request": "true"}))

    only_complaints = listed("node=complaint:triage")
    assert complaint.number in only_complaints and bug.number not in only_complaints
    only_bugs = listed("node=bugfix:triage")
    assert bug.number in only_bugs and complaint.number not in only_bugs
    both = listed("node=triage")  # an older link: that node in every app
    assert complaint.number in both and bug.number in both
    api = bob.get("/api/v1/inbox/todos?node=bugfix:triage").json["items"]
    assert [i["ticket"]["number"] for i in api] == [bug.number]

    saved = bob.post("/inbox/views", data={"name": "old", "node": "triage", "tab": "todos"})
    shown = text(bob.get(saved.headers["Location"] + "&lang=zh"))
    assert '<option value="triage" selected>缺陷修复 · 评估 / 客户投诉 · 受理分派</option>' in shown
    assert complaint.number in shown and bug.number in shown


def test_one_apps_stages_are_named_without_the_app(agents, web):
    bob = web.client("bob")
    page = text(bob.get("/inbox?lang=zh&node=complaint:fix"))
    assert '<option value="complaint:fix" selected>处理</option>' in page
