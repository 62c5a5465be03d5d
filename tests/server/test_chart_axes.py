"""Dashboard charts never mix units on one axis: counts and amounts, hours and shares (as percents)
each get their own y axis, two at most, and a count axis ticks in whole steps."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import complaint_form

R = "/api/v1/apps/complaint/ticket_types/complaint/reports"


@pytest.fixture
def desk(web):
    web.user("mia", roles={"complaint": ["cs_lead"]})
    web.user("cus")
    definition = web.runtime.definition("complaint")[1]
    for priority in ("P1", "P2", "P2", "P3"):
        form = complaint_form(definition, priority=priority, category="service")
        web.runtime.submit("complaint", "complaint", form, actor=web.id("cus"))
    return web.client("mia")


def run(client, measures, chart="bar", dimensions=("category",)):
    body = {"report": {"dimensions": list(dimensions), "measures": measures, "chart": chart}}
    answer = client.post(f"{R}/run?lang=en", json=body)
    assert answer.status_code == 200, answer.json
    return answer.json["chart"]


def axes(option):
    y = option["yAxis"]
    return y if isinstance(y, list) else [y]


def test_a_share_beside_a_count_gets_its_own_percent_axis(desk):
    option = run(desk, ["count", {"rate": "priority == 'P2'", "as": "p2_share"}])
    count_axis, share_axis = axes(option)
    assert count_axis["minInterval"] == 1  # 4 tickets: ticks 0, 1, 2 … never 0.5
    assert share_axis["axisLabel"]["formatter"] == "{value}%" and share_axis["max"] == 100
    count, share = option["series"]
    assert count.get("yAxisIndex", 0) == 0 and count["data"] == [4]
    assert share["yAxisIndex"] == 1 and share["data"] == [50.0]  # half of them, as a percent


def test_hours_and_counts_are_two_axes_and_a_third_kind_stays_off_the_plot(desk):
    option = run(
        desk,
        [
            "count",
            {"avg": "metrics.age_hours"},
            {"p90": "metrics.age_hours"},
            {"rate": "metrics.sla_breached"},
        ],
    )
    count_axis, hours_axis = axes(option)
    assert count_axis["minInterval"] == 1
    assert hours_axis["name"] == "hours" and "minInterval" not in hours_axis
    assert [s.get("yAxisIndex", 0) for s in option["series"]] == [0, 1, 1]
    assert len(option["series"]) == 2 + 1 and len(option["legend"]["data"]) == 3  # no SLA share here


def test_an_average_shares_the_count_axis_which_then_may_tick_in_fractions(desk):
    option = run(desk, [{"avg": "metrics.transfers"}, "count"])
    (axis,) = axes(option)
    assert "minInterval" not in axis
    assert all("yAxisIndex" not in s for s in option["series"])


def test_stacked_bars_stack_only_like_with_like(desk):
    option = run(desk, ["count", {"sum": "metrics.reopens"}, {"avg": "metrics.age_hours"}], chart="stacked")
    assert [s["stack"] for s in option["series"]] == ["total", "total", "total1"]
    assert axes(option)[0]["minInterval"] == 1  # counts and summed reopens are whole numbers


def test_the_dashboard_page_hands_echarts_a_percent_axis_and_lists_every_measure(desk, web):
    html = desk.get("/dashboards/complaint/overview?lang=en").get_data(as_text=True)
    section = html.split('id="report-by_person"', 1)[1].split("</section>", 1)[0]
    option = json.loads(re.search(r"data-option='([^']*)'", section).group(1).replace("&#34;", '"'))
    assert len(axes(option)) == 2  # tickets and hours; the SLA share is not plotted against either
    assert "SLA" in section.split('class="dash-data"', 1)[1]  # … but read in the table under the chart
