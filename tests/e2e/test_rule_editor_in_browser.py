"""The rule editor in Chromium: a business user adds a rule that notifies a webhook, tries it on a
ticket (the rule engine's dry run, nothing sent), reorders and disables rules, and saves."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from engine.designer import load_draft
from engine.people import user_id
from engine.store.models import Outbox

RULES = "/designer/complaint/rules/complaint"


def _complaint(live_site: Any) -> Any:
    data = {
        "customer": "ACME 有限公司",
        "phone": "13800138000",
        "product": ["phone", "battery"],
        "category": "quality",
        "priority": "P3",
        "summary": "屏幕有坏点",
    }
    return live_site.platform.runtime.submit(
        "complaint", "complaint", data, actor=user_id(live_site.platform.db, "grace")
    )


def _rules(live_site: Any) -> list[dict[str, Any]]:
    return load_draft(live_site.platform.db, "complaint").definition["ticket_types"]["complaint"]["rules"]


def _outbox_count(live_site: Any) -> int:
    from sqlalchemy import func, select

    with live_site.platform.db.read() as conn:
        return conn.execute(select(func.count()).select_from(Outbox)).scalar_one()


def test_add_a_webhook_rule_and_try_it_on_a_ticket(page, live_site, sign_in, shoot) -> None:
    ticket = _complaint(live_site)
    sent_before = _outbox_count(live_site)
    sign_in(page, "root")
    page.goto(RULES)
    editor = page.locator("#rule-editor")
    expect(editor).to_have_attribute("data-ready", "1")
    shipped = len(_rules(live_site))
    expect(page.locator(".rule-card")).to_have_count(shipped)
    shoot(page, "01-complaint-rules")

    page.locator("[data-action=add-rule]").click()
    expect(page.locator(".rule-card")).to_have_count(shipped + 1)
    form = page.locator("#rule-form")
    form.locator("[data-prop=name]").fill("P1 投诉推送运维")
    form.locator("[data-prop=name]").press("Tab")
    form.locator("[data-prop=trigger-kind]").select_option("field_changed")
    # no field chosen yet: the engines' check marks the rule's card and lists the problem
    expect(page.locator(".rule-card.bad[data-rule='P1 投诉推送运维'] .rule-bad")).to_be_visible()
    expect(form.locator(":scope > ul.problems")).to_be_visible()
    form.locator("[data-prop=trigger-arg]").select_option("priority")

    # The condition as a form: priority is P1 — written as the expression below it.
    form.locator("[data-action=add-condition]").click()
    form.locator("[data-role=condition-field]").select_option("priority")
    form.locator("[data-role=condition-value]").select_option("P1")  # the field's options
    condition = form.locator("input[data-prop=if]")
    expect(condition).to_have_value("priority == 'P1'")
    expect(condition).to_have_class(re.compile(r"\bgood\b"))

    # A typo in the expression is underlined with the engine's message while typing …
    condition.fill("priorty == 'P1'")
    expect(condition).to_have_class(re.compile(r"\bbad\b"))
    expect(condition).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".kit-expr-note.error").first).to_contain_text("priorty")
    shoot(page, "02-condition-typo")
    # … and the corrected one passes, and shows as a form again.
    condition.fill("priority == 'P1' and vip")
    expect(condition).to_have_class(re.compile(r"\bgood\b"))
    condition.press("Tab")
    expect(form.locator("[data-role=condition-field]")).to_have_count(2)
    expect(form.locator("[data-role=condition-op]").nth(1)).to_have_value("not_empty")
    form.locator(".condition-row").nth(1).locator("button").click()  # drop "vip" again
    expect(condition).to_have_value("priority == 'P1'")

    # The new rule's action becomes a webhook post.
    form.locator("[data-prop=action-kind]").select_option("webhook")
    form.locator("input[data-prop=url]").fill("https://ops.example.com/hooks/complaints")
    form.locator("input[data-prop=url]").press("Tab")
    expect(page.locator(".rule-card.bad")).to_have_count(0)

    # Try it: raise the ticket's priority to P1 — the rule matches and would post the webhook.
    page.locator("#rule-try-ticket").fill(str(ticket.id))
    page.locator("[data-action=add-try-change]").click()
    page.locator("[data-role=try-field]").select_option("priority")
    page.locator("[data-role=try-value]").fill("P1")
    page.locator("[data-action=try]").click()
    result = page.locator("#rule-try-result")
    expect(result).to_have_attribute("data-state", "done")
    row = result.locator("tr", has_text="P1 投诉推送运维")
    expect(row).to_contain_text("是")
    expect(row).to_contain_text("webhook")
    expect(result.locator("td", has_text="https://ops.example.com/hooks/complaints")).to_be_visible()
    # only what the change did: not the CRM lookup the ticket's creation queued long ago
    expect(result.locator("tr", has_text="VIP lookup")).to_have_count(0)
    expect(result).to_contain_text("将发送 1 条")
    shoot(page, "03-dry-run")
    assert _outbox_count(live_site) == sent_before  # a dry run sends nothing

    # The replay over the last 30 days answers too (read only).
    page.locator("[data-action=replay]").click()
    expect(page.locator("#rule-replay-result")).to_have_attribute("data-state", "done")
    expect(page.locator("#rule-replay-result tr", has_text="P1 投诉推送运维")).to_be_visible()

    page.locator(".toolbar [data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    rule = next(r for r in _rules(live_site) if r["name"] == "P1 投诉推送运维")
    assert rule["on"] == {"field_changed": "priority"}
    assert rule["if"] == "priority == 'P1'"
    assert rule["do"] == [{"webhook": {"url": "https://ops.example.com/hooks/complaints"}}]


def test_rules_are_reordered_by_dragging_and_disabled_with_a_switch(page, live_site, sign_in, shoot) -> None:
    sign_in(page, "root")
    page.goto(RULES)
    expect(page.locator("#rule-editor")).to_have_attribute("data-ready", "1")
    cards = page.locator(".rule-card")
    count = len(_rules(live_site))
    expect(cards).to_have_count(count)
    names = [cards.nth(i).get_attribute("data-rule") for i in range(count)]
    # Rules without an order run first (order 0), then VIP lookup (1) and the P1 alert (2).
    assert names[-2:] == ["VIP lookup", "P1 from VIP alerts on-call"]

    cards.nth(count - 1).locator(".drag").drag_to(cards.nth(0).locator(".drag"))
    expect(cards.nth(0)).to_have_attribute("data-rule", "P1 from VIP alerts on-call")
    cards.filter(has_text="VIP lookup").locator("[data-role=enable]").uncheck()
    expect(cards.filter(has_text="VIP lookup")).to_have_class(re.compile(r"\boff\b"))
    shoot(page, "01-reordered")

    page.locator(".toolbar [data-action=save]").click()
    expect(page.locator("#draft-status")).to_have_class("draft-status ok")
    rules = _rules(live_site)
    assert rules[0]["name"] == "P1 from VIP alerts on-call"
    assert [r["order"] for r in rules] == list(range(1, count + 1))
    assert next(r for r in rules if r["name"] == "VIP lookup")["enabled"] is False
