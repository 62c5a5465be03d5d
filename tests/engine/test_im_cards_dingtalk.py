"""A DingTalk group robot's ActionCard can only open URLs: its Approve / Reject buttons go through
DingTalk's in-app sign-in (/h5/dingtalk) to the ticket page with the action and a signed token, and
its Open button to the plain ticket page the same way."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from engine.im_cards import build_card, button_token, read_token


def card_payload(link: str, task_id: int = 42) -> dict:
    return {
        "title": "请审批 IM-202611-0001",
        "text": "退款未到账",
        "link": link,
        "lang": "zh",
        "card": {
            "kind": "approval",
            "task": task_id,
            "number": "IM-202611-0001",
            "buttons": [
                {"action": a, "label": label, "value": button_token(task_id, a)}
                for a, label in (("approve", "同意"), ("reject", "拒绝"))
            ],
            "open_label": "查看工单",
        },
    }


def buttons(link: str) -> dict[str, str]:
    card = build_card("dingtalk", card_payload(link))
    return {b["title"]: b["actionURL"] for b in card["actionCard"]["btns"]}


def next_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path.endswith("/h5/dingtalk"), url
    found = parse_qs(parts.query)
    assert list(found) == ["next"], url  # act and button travel inside next, not beside it
    return found["next"][0]


def test_the_approve_and_reject_buttons_sign_in_inside_dingtalk_and_land_on_the_ticket_with_the_action(
    monkeypatch,
):
    monkeypatch.setenv("GONGDAN_SECRET_KEY", "deployment-secret")
    urls = buttons("https://gd.example.com/tickets/7")

    assert list(urls) == ["同意", "拒绝", "查看工单"]
    for label, action in (("同意", "approve"), ("拒绝", "reject")):
        url = urls[label]
        assert url.startswith("https://gd.example.com/h5/dingtalk?next=%2Ftickets%2F7%3Fact%3D" + action)
        assert "&" not in url and "%26button%3D" in url  # the ticket page's query is encoded whole
        landing = urlsplit(next_of(url))
        assert landing.path == "/tickets/7"
        query = parse_qs(landing.query)
        assert query["act"] == [action]
        assert read_token(query["button"][0], time.time()) == (42, action)  # the genuine token, intact


def test_the_open_button_goes_to_the_plain_ticket_page_through_the_same_sign_in(monkeypatch):
    monkeypatch.setenv("GONGDAN_SECRET_KEY", "deployment-secret")
    url = buttons("https://gd.example.com/tickets/7")["查看工单"]
    assert url == "https://gd.example.com/h5/dingtalk?next=%2Ftickets%2F7"


def test_a_site_under_a_path_keeps_its_path_in_front_of_the_sign_in(monkeypatch):
    monkeypatch.setenv("GONGDAN_SECRET_KEY", "deployment-secret")
    url = buttons("https://corp.example.com/gongdan/tickets/7")["同意"]
    assert url.startswith("https://corp.example.com/gongdan/h5/dingtalk?next=%2Ftickets%2F7%3F")
