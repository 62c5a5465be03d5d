"""A DingTalk group robot's card: its Approve / Reject buttons open the ticket page (through the in-app
sign-in) with the action and a signed token. The page asks the assignee to confirm; only the
confirmation — the page's own action form — approves. Opening the link alone does nothing, and a
forged or expired button, someone else, or a task already decided gets the page with the reason."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from engine.im_cards import build_card, button_token
from engine.store.models import Outbox
from tests.server.test_im_callback import LAB, at_review


@pytest.fixture
def lab(web, monkeypatch):
    """alice approves complaints handled by dave; bob is a fellow agent who sees them too."""
    monkeypatch.setenv("GONGDAN_SECRET_KEY", "deployment-secret")
    web.runtime.publish(LAB)
    web.user("alice", roles={"importlab": ["agent"]})
    web.user("dave", roles={"importlab": ["agent"]})
    web.user("bob", roles={"importlab": ["agent"]})
    return web


def card_links(lab, ticket_id: int) -> dict[str, str]:
    """The DingTalk card's buttons as the robot received them: label → local path and query."""
    with lab.db.read() as conn:
        payload = conn.execute(
            select(Outbox.payload).where(Outbox.record_id == ticket_id, Outbox.channel == "dingtalk")
        ).scalar_one()
    out = {}
    for b in build_card("dingtalk", payload)["actionCard"]["btns"]:
        url = urlsplit(b["actionURL"])
        out[b["title"]] = f"{url.path}?{url.query}"
    return out


def tap(client, link: str, lang: str = "en") -> str:
    """Open a card's link in DingTalk, signed in already: the in-app entry sends the person on to the
    ticket page, which is shown."""
    entry = client.get(link)
    assert entry.status_code == 303, entry.status_code
    target = entry.headers["Location"]
    assert target.startswith("/tickets/"), target
    answer = client.get(f"{target}&lang={lang}" if "?" in target else f"{target}?lang={lang}")
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def confirm_form(shown: str) -> tuple[str, dict[str, str]]:
    """The banner's Confirm form: where it posts and the fields it sends."""
    ask = r'<section class="tk-card tk-card-ask".*?<form method="post" action="([^"]+)"(.*?)</form>'
    form = re.search(ask, shown, re.S)
    assert form, "no confirmation banner"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[2]))
    return html.unescape(form[1]), fields


def stage(lab, ticket_id: int) -> tuple[str, str | None]:
    ticket = lab.runtime.ticket(ticket_id)
    return ticket.status, ticket.stage


def decisions(lab, ticket_id: int) -> list[dict]:
    return [e for e in lab.runtime.events(ticket_id) if e["type"] == "task_completed"]


def banner(shown: str) -> str:
    found = re.search(
        r'<div class="tk-alert error tk-card" role="alert" data-card="([^"]+)">([^<]*)</div>', shown
    )
    assert found, "no banner saying why"
    return f"{found[1]}: {html.unescape(found[2])}"


# --------------------------------------------------------------------------- the one-tap path
def test_the_cards_approve_button_asks_the_assignee_and_opening_it_does_nothing_yet(lab):
    ticket_id, task_id = at_review(lab)
    number = lab.runtime.ticket(ticket_id).number
    links = card_links(lab, ticket_id)
    assert list(links) == ["同意", "拒绝", "查看工单"]
    assert all(link.startswith("/h5/dingtalk?next=%2Ftickets%2F") for link in links.values())

    shown = tap(lab.client("alice"), links["同意"])

    assert f"Approve ticket {number}?" in shown and "Confirm approve" in shown
    assert "Stage: Review" in shown
    action, fields = confirm_form(shown)
    assert action == f"/tickets/{ticket_id}/tasks/{task_id}/act?lang=en"
    assert fields["action"] == "approve" and fields["csrf_token"]
    assert shown.index("tk-card-ask") < shown.index('class="tk-head"')  # the question comes first
    # opening (or an IM client prefetching) the link changed nothing
    assert (
        stage(lab, ticket_id) == ("open", "review")
        and decisions(lab, ticket_id)[-1]["payload"]["node"] == "handle"
    )
    assert "tk-card" not in tap(lab.client("alice"), links["查看工单"])  # Open: the plain page


def test_confirming_approves_as_the_assignee_and_a_second_confirm_is_refused(lab):
    ticket_id, task_id = at_review(lab)
    alice = lab.client("alice")
    action, fields = confirm_form(tap(alice, card_links(lab, ticket_id)["同意"]))
    alice.csrf = ""  # only what the page's form carries: its own CSRF token

    answer = alice.post(action, data=fields)

    assert answer.status_code == 303 and "done=acted" in answer.headers["Location"]
    assert stage(lab, ticket_id) == ("closed", None)
    decided = decisions(lab, ticket_id)[-1]
    assert decided["payload"]["task"] == task_id and decided["actor_id"] == lab.id("alice")
    assert decided["payload"]["action"] == "approve"

    again = alice.post(action, data=fields)  # a double tap, or the form sent again later
    assert again.status_code == 409
    refused = again.get_data(as_text=True)
    said = re.search(r'class="tk-alert error"[^>]*>([^<]*)', refused)[1]
    assert said == f"Ticket {lab.runtime.ticket(ticket_id).number} is closed; approve is no longer possible."
    assert len([e for e in decisions(lab, ticket_id) if e["payload"]["task"] == task_id]) == 1


def test_the_reject_button_asks_in_chinese_and_sends_the_ticket_back(lab):
    ticket_id, _ = at_review(lab)
    number = lab.runtime.ticket(ticket_id).number
    alice = lab.client("alice")
    shown = tap(alice, card_links(lab, ticket_id)["拒绝"], lang="zh")
    assert f"驳回工单 {number}?" in shown and "确认驳回" in shown and ">取消<" in shown
    action, fields = confirm_form(shown)
    assert alice.post(action, data=fields).status_code == 303
    assert stage(lab, ticket_id) == ("open", "handle")


def test_without_the_post_a_get_of_the_act_endpoint_does_nothing(lab):
    ticket_id, task_id = at_review(lab)
    alice = lab.client("alice")
    answer = alice.get(f"/tickets/{ticket_id}/tasks/{task_id}/act?action=approve")
    assert answer.status_code == 303 and answer.headers["Location"] == f"/tickets/{ticket_id}"
    assert stage(lab, ticket_id) == ("open", "review")


# --------------------------------------------------------------------------- refusals: the page, and why
def test_a_forged_changed_or_expired_button_opens_the_page_with_the_reason(lab):
    ticket_id, task_id = at_review(lab)
    alice = lab.client("alice")
    genuine = button_token(task_id, "approve")
    forged = genuine.rsplit(".", 1)[0] + "." + "0" * 40
    expired = button_token(task_id, "approve", expires=int(time.time()) - 1)
    other_ticket, other_task = at_review(lab)
    cases = {
        f"act=approve&button={forged}": "im.forged_button",
        f"act=reject&button={genuine}": "im.forged_button",  # the action in the URL was changed
        f"act=approve&button={button_token(other_task, 'approve')}": "im.forged_button",  # another ticket's
        "act=approve": "im.forged_button",
        f"act=approve&button={expired}": "im.button_expired",
    }
    for query, why in cases.items():
        answer = alice.get(f"/tickets/{ticket_id}?{query}&lang=en")
        assert answer.status_code == 200, query
        shown = answer.get_data(as_text=True)
        assert banner(shown).startswith(why + ":"), query
        assert "tk-card-ask" not in shown  # nothing to confirm
        assert 'data-action="approve"' in shown  # the page's own buttons are still there
    assert stage(lab, ticket_id) == ("open", "review") and stage(lab, other_ticket) == ("open", "review")


def test_someone_who_is_not_the_assignee_is_told_who_holds_it(lab):
    ticket_id, _ = at_review(lab)
    shown = tap(lab.client("bob"), card_links(lab, ticket_id)["同意"])
    assert banner(shown) == (
        "not_assignee: This approval is with Alice, not you, so the card's button does nothing for you; "
        "nothing was done."
    )
    assert "tk-card-ask" not in shown
    assert stage(lab, ticket_id) == ("open", "review")


def test_a_task_decided_meanwhile_opens_the_page_saying_so(lab):
    ticket_id, task_id = at_review(lab)
    links = card_links(lab, ticket_id)
    lab.runtime.act(task_id, "approve", None, actor=lab.id("alice"))  # decided in the inbox meanwhile

    shown = tap(lab.client("alice"), links["拒绝"], lang="zh")

    assert banner(shown).startswith("decided: 这项审批已经处理过了")
    assert "tk-card-ask" not in shown
    assert stage(lab, ticket_id) == ("closed", None)
