"""Dashboard pages as a person gets them: the list of dashboards, a dashboard's grid of reports in
either language with ECharts from our own assets, its filters, and the drill-down ticket lists."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from engine.runtime import Runtime
from tests.support import complaint_form

BOARD = "/dashboards/complaint/overview"
REPORTS = ["weekly_kpi", "by_team_month", "by_person", "by_customer", "by_product", "satisfaction_by_team",
           "open_by_stage"]  # fmt: skip


@pytest.fixture
def site(web):
    web.user("mia", roles={"complaint": ["cs_lead"]})
    web.user("bill", roles={"complaint": ["billing_team"]})
    web.user("cus1")
    web.user("cus2")
    runtime = Runtime(web.db)  # no outbox delivery: the CRM lookups stay queued
    _, definition = runtime.definition("complaint")
    web.tickets, web.numbers = {}, {}
    for who, customer, priority, summary in (
        ("cus1", "ACME", "P2", "退款未到账"),
        ("cus1", "ACME", "P3", "发票开错"),
        ("cus2", "Globex", "P3", "<script>alert(1)</script> 退款"),
    ):
        data = complaint_form(definition, customer=customer, priority=priority, summary=summary)
        ticket = runtime.submit("complaint", "complaint", data, actor=web.id(who))
        web.tickets[ticket.number] = ticket.id
        web.numbers.setdefault(customer, set()).add(ticket.number)
    return web


def text(answer) -> str:
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "names"),
    [("zh", ["投诉总览", "各团队月度处理", "按客户统计", "近 7 天投诉量"]),
     ("en", ["Complaints overview", "Teams by month", "By customer", "Complaints in the last 7 days"])],
)  # fmt: skip
def test_the_dashboard_renders_a_container_per_report_in_either_language(site, lang, names):
    html = text(site.client("mia").get(f"{BOARD}?lang={lang}"))
    for name in names:
        assert name in html
    for report in REPORTS:
        assert f'id="report-{report}"' in html
    assert '<script src="/assets/vendor/echarts/dist/echarts.min.js"' in html
    assert '<script src="/assets/dashboard.js"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script (CSP)
    # bar, bar, pie, funnel; satisfaction has no rated ticket yet; the KPI and the table are HTML
    assert html.count('class="dash-chart"') == 4


def test_charts_carry_the_engines_option_and_a_drill_address_per_point(site):
    html = text(site.client("mia").get(f"{BOARD}?lang=en"))
    section = html.split('id="report-by_product"', 1)[1].split("</section>", 1)[0]
    option = json.loads(_attr(section, "data-option"))
    points = json.loads(_attr(section, "data-points"))
    assert option["series"][0]["type"] == "pie"
    slice_ = option["series"][0]["data"][0]
    assert slice_["value"] == 3
    url = points[slice_["name"]]
    assert url.startswith("/dashboards/complaint/overview/drill?report=by_product&cell=")
    drill = text(site.client("mia").get(url))
    assert len(re.findall(r'<tr data-ticket="\d+">', drill)) == 3


def _attr(html: str, name: str) -> str:
    raw = re.search(name + r"='([^']*)'", html).group(1)
    return raw.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')


def test_the_kpi_and_the_table_link_each_number_to_its_tickets(site):
    html = text(site.client("mia").get(f"{BOARD}?lang=en"))
    kpi = html.split('id="report-weekly_kpi"', 1)[1].split("</section>", 1)[0]
    assert 'class="dash-kpi-value">3<' in kpi
    table = html.split('id="report-by_customer"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'<a href="([^"]+)">(\d+)</a>', table)
    counts = {parse_qs(urlparse(h.replace("&amp;", "&")).query)["cell"][0]: int(n) for h, n in links}
    assert counts[json.dumps({"customer": "ACME"}, separators=(",", ":"))] == 2
    assert "Total" in table  # the totals row


def test_a_customer_sees_only_their_own_numbers(site):
    html = text(site.client("cus1").get(f"{BOARD}?lang=en"))
    kpi = html.split('id="report-weekly_kpi"', 1)[1].split("</section>", 1)[0]
    assert 'class="dash-kpi-value">2<' in kpi
    assert "Globex" not in html


def test_the_filter_form_re_renders_the_grid_with_the_filters(site):
    mia = site.client("mia")
    html = text(mia.get(f"{BOARD}?priority=P2&lang=en"))
    assert '<option value="P2" selected>' in html
    kpi = html.split('id="report-weekly_kpi"', 1)[1].split("</section>", 1)[0]
    assert 'class="dash-kpi-value">1<' in kpi
    assert "priority=P2" in kpi  # the drill-down keeps the filter
    wrong = text(mia.get(f"{BOARD}?created_at_from=someday&lang=en"))
    assert "created_at_from" in wrong and 'class="problems dash-problems"' in wrong


def test_the_drill_page_lists_the_right_tickets_with_links(site):
    mia = site.client("mia")
    cell = json.dumps({"customer": "ACME"})
    html = text(mia.get(f"{BOARD}/drill", query_string={"report": "by_customer", "cell": cell, "lang": "en"}))
    listed = re.findall(r'<a href="/tickets/(\d+)">([^<]+)</a>', html)
    assert {number for _id, number in listed} == site.numbers["ACME"]
    assert all(site.tickets[number] == int(i) for i, number in listed)
    assert "2 tickets" in html and "Customer: ACME" in html
    assert "/drill/export?format=csv" in html and "/drill/export?format=xlsx" in html
    zh = text(mia.get(f"{BOARD}/drill", query_string={"report": "by_customer", "cell": cell}))
    assert "共 2 张工单" in zh


def test_the_drill_page_escapes_what_customers_typed(site):
    html = text(site.client("mia").get(f"{BOARD}/drill", query_string={"report": "open_by_stage"}))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_dashboards_page_lists_every_apps_dashboards(site):
    html = text(site.client("cus1").get("/dashboards?lang=en"))
    assert 'href="/dashboards/complaint/overview"' in html and "Complaints overview" in html


def test_anonymous_visitors_are_sent_to_sign_in(site):
    answer = site.anonymous().get(BOARD)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")


def test_a_drill_page_for_a_report_not_on_the_dashboard_is_404(site):
    answer = site.client("mia").get(f"{BOARD}/drill?report=nope")
    assert answer.status_code == 404


def test_the_drill_page_names_the_end_of_closed_and_cancelled_tickets(site):
    acme = sorted(site.tickets[n] for n in site.numbers["ACME"])
    site.runtime.close(acme[0], site.id("admin"), None)
    site.runtime.cancel(acme[1], site.id("cus1"), None)
    cell = json.dumps({"customer": "ACME"})
    mia = site.client("mia")
    for lang, shut, dropped in (("zh", "已关闭", "已取消"), ("en", "Closed", "Cancelled")):
        query = {"report": "by_customer", "cell": cell, "lang": lang}
        html = text(mia.get(f"{BOARD}/drill", query_string=query))
        row = r'data-ticket="{}">(?:(?!</tr>).)*<td>{}</td>\s*<td>{}</td>'
        assert re.search(row.format(acme[0], shut, shut), html, re.S)
        assert re.search(row.format(acme[1], dropped, dropped), html, re.S)
        assert "<td>—</td>" not in html
