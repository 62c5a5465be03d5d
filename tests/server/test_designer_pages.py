"""The flow designer, rule editor and report builder pages: who may open them, and that what they
offer comes from the engines' registries (node types, assignee kinds, actions, channels, charts)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from designer.editors import editor_words
from engine.flows.assignees import STRATEGIES
from engine.flows.stepping import NODE_TYPES
from engine.jobs.channels import CHANNELS
from engine.reports.charts import CHARTS
from engine.rules.actions import ACTIONS

STATIC = Path(__file__).resolve().parents[2] / "designer" / "static"
EDITORS = ("flow", "rules", "reports")


def _palette(html: str, element_id: str) -> dict[str, Any]:
    """The JSON registry data a page hands its script (a data attribute, never an inline script)."""
    found = re.search(rf'id="{element_id}" data-palette=\'([^\']*)\'', html)
    assert found, f"#{element_id} with data-palette not on the page"
    return json.loads(found.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))  # fmt: skip


@pytest.mark.parametrize("editor", EDITORS)
def test_a_designer_opens_each_editor_of_the_complaint_type(web, editor: str) -> None:
    page = web.client("admin").get(f"/designer/complaint/{editor}/complaint", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="designer-tabs"' in html  # the shared layout with its tabs
    assert f'data-tab="{editor}" href="/designer/complaint/{editor}/complaint" aria-selected="true"' in html
    assert "<script>" not in html  # CSP: scripts come from files only
    assert "editor_kit.js" in html


@pytest.mark.parametrize("editor", EDITORS)
def test_an_agent_may_not_open_the_editors(web, editor: str) -> None:
    web.user("ann", roles={"complaint": ["agent"]})
    page = web.client("ann").get(f"/designer/complaint/{editor}/complaint", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "data-palette" not in page.get_data(as_text=True)


def test_an_anonymous_visitor_is_sent_to_sign_in(web) -> None:
    page = web.anonymous().get("/designer/complaint/flow/complaint", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=/designer/complaint/flow/complaint")


def test_an_unknown_ticket_type_is_not_found(web) -> None:
    page = web.client("admin").get("/designer/complaint/flow/nope", headers={"Accept": "text/html"})
    assert page.status_code == 404


def test_the_flow_palette_offers_every_registered_node_type_and_assignee_kind(web) -> None:
    html = web.client("admin").get("/designer/complaint/flow/complaint?lang=en").get_data(as_text=True)
    palette = _palette(html, "flow-designer")
    types = {n["type"]: n for n in palette["node_types"]}
    assert set(types) == set(NODE_TYPES)
    assert types["approval"]["label"] == "Approval" and types["approval"]["shape"] == "rect"
    assert "approvers" in types["approval"]["sections"]
    assert types["exclusive"]["shape"] == "diamond"
    assert [k["kind"] for k in palette["assignee_kinds"]] == list(STRATEGIES)
    modes = [m["value"] for m in palette["approval_modes"]]
    assert {"countersign", "or_sign", "sequential", "percentage"} <= set(modes)
    assert palette["access_levels"] == ["editable", "readonly", "hidden"]
    assert "@logicflow/core/dist/index.min.js" in html


def test_the_rule_editor_offers_every_registered_action_and_channel(web) -> None:
    html = web.client("admin").get("/designer/complaint/rules/complaint?lang=en").get_data(as_text=True)
    palette = _palette(html, "rule-editor")
    assert [a["kind"] for a in palette["actions"]] == list(ACTIONS)
    assert {"webhook", "notify", "set"} <= {a["kind"] for a in palette["actions"]}
    assert set(palette["channels"]) == set(CHANNELS) - {"admin"}
    assert "created" in palette["events"] and "field_changed" in palette["trigger_kinds"]
    assert "sortablejs/Sortable.min.js" in html


def test_the_report_builder_offers_every_registered_chart(web) -> None:
    html = web.client("admin").get("/designer/complaint/reports/complaint?lang=zh").get_data(as_text=True)
    palette = _palette(html, "report-builder")
    assert palette["charts"] == list(CHARTS)
    assert "avg" in palette["aggregates"] and "last" in palette["ops"]
    assert any(m["name"] == "metrics.resolution_hours" for m in palette["metrics"])
    # the chart is drawn by the dashboards' own script, with ECharts from npm
    assert "echarts/dist/echarts.min.js" in html and "/assets/dashboard.js" in html
    assert "报表设计" in html


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_word_the_editor_scripts_show_is_translated(lang: str) -> None:
    words = editor_words(lang)
    used: set[str] = set()
    for name in ("editor_kit.js", "flow_designer.js", "rule_editor.js", "report_builder.js"):
        used |= set(re.findall(r'\bw\("([a-z_.]+)"[,)]', (STATIC / name).read_text("utf-8")))
    missing = sorted(used - set(words))
    assert not missing, f"words the scripts use but the page does not give: {missing}"
    assert all(words[k] and words[k] != f"designer.w.{k}" for k in used)
    assert "{name}" in words["flow.added"]  # placeholders are left for the script to fill


@pytest.mark.parametrize("editor", EDITORS)
def test_the_editors_open_on_a_new_app_that_was_never_published(web, editor: str) -> None:
    admin = web.client("admin")
    made = admin.post("/api/v1/apps", json={"key": "helpdesk", "name": {"zh": "服务台", "en": "Help desk"}})
    assert made.status_code == 201, made.json
    page = admin.get(f"/designer/helpdesk/{editor}/request", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "data-palette" in page.get_data(as_text=True)


def test_a_designer_opens_the_scenario_tests_page_with_the_acts_and_statuses_to_pick(web) -> None:
    from engine.scenario_run import ACTS

    admin = web.client("admin")
    page = admin.get("/designer/complaint/tests/complaint?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-tab="tests" href="/designer/complaint/tests/complaint" aria-selected="true"' in html
    assert "<script>" not in html and "scenario_editor.js" in html and "designer_pages.js" in html
    palette = _palette(html, "scenario-editor")
    assert set(ACTS) <= set(palette["acts"]) and {"approve", "reject"} <= set(palette["acts"])
    assert palette["statuses"] == ["open", "closed", "cancelled"]
    assert "Run tests" in html
    # every other designer page links to it
    flow = admin.get("/designer/complaint/flow/complaint?lang=zh").get_data(as_text=True)
    assert 'data-tab="tests" href="/designer/complaint/tests/complaint"' in flow and "场景测试" in flow


def test_an_agent_may_not_open_the_scenario_tests_page(web) -> None:
    web.user("ann", roles={"complaint": ["agent"]})
    page = web.client("ann").get("/designer/complaint/tests/complaint", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "data-palette" not in page.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_word_the_scenario_editor_shows_is_translated(lang: str) -> None:
    words = editor_words(lang)
    used = set(re.findall(r'\bw\("([a-z_.]+)"[,)]', (STATIC / "scenario_editor.js").read_text("utf-8")))
    used |= {"tests.passed", "tests.failed", "tests.none"}  # the run's result words (showTests)
    missing = sorted(used - set(words))
    assert not missing, f"words the scenario editor uses but the page does not give: {missing}"
    assert "{name}" in words["tests.copy_of"] and "{n}" in words["tests.step"]
