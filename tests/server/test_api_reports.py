"""The reports API: numbers scoped to what the caller may see, drill-downs that list exactly the
counted tickets, exports as CSV (BOM, formulas escaped) and XLSX (typed cells), and refusals of
reports on fields hidden from the caller."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from engine.definitions.loader import load_definition
from engine.runtime import Runtime
from tests.support import complaint_form

APPS = Path(__file__).resolve().parents[2] / "app_definitions"
R = "/api/v1/apps/complaint/ticket_types/complaint/reports"
FORMULA = "=SUM(A1:A9)"


class Complaints:
    """The complaint app with four tickets from two customers, dispatched to two teams."""

    def __init__(self, web):
        self.web = web
        web.user("mia", roles={"complaint": ["cs_lead"]})  # a manager: scope all
        web.user("bill", roles={"complaint": ["billing_team"]})
        web.user("dan", roles={"complaint": ["delivery_team"]})
        web.user("cus1")
        web.user("cus2")
        # A Runtime without outbox delivery: the tickets' CRM lookups stay queued.
        self.runtime = Runtime(web.db)
        _, self.definition = self.runtime.definition("complaint")
        form = self.definition
        self.tickets = {
            "acme_refund": self.submit("cus1", complaint_form(form, customer="ACME", summary="退款未到账")),
            "acme_late": self.submit(
                "cus1",
                complaint_form(form, customer="ACME", category="delivery", priority="P1", summary="物流太慢"),
            ),
            "formula": self.submit(
                "cus2",
                complaint_form(form, customer=FORMULA, category="service", priority="P3", summary="态度差"),
            ),
            "globex": self.submit(
                "cus2", complaint_form(form, customer="Globex", priority="P3", summary="发票开错")
            ),
        }

    def submit(self, who: str, data: dict) -> int:
        return self.runtime.submit("complaint", "complaint", data, actor=self.web.id(who)).id

    def number(self, key: str) -> str:
        return self.runtime.ticket(self.tickets[key]).number


@pytest.fixture
def site(web):
    return Complaints(web)


def by_label(report: dict, dim: str, measure: str = "count") -> dict:
    return {row["labels"][dim]: row["values"][measure] for row in report["rows"]}


def row_of(report: dict, dim: str, label: str) -> dict:
    return next(row for row in report["rows"] if row["labels"][dim] == label)


def test_a_manager_counts_every_ticket(site):
    report = site.web.client("mia").get(f"{R}/by_customer?lang=en").json
    assert by_label(report, "customer") == {"ACME": 2, FORMULA: 1, "Globex": 1}
    assert report["totals"]["count"] == 4
    assert [c["label"] for c in report["columns"]][:2] == ["Customer", "Tickets"]
    assert report["chart_type"] == "table" and report["name"] == "By customer"


def test_a_customer_counts_only_their_own_tickets(site):
    cus1 = site.web.client("cus1")
    report = cus1.get(f"{R}/by_customer").json
    assert by_label(report, "customer") == {"ACME": 2}
    assert report["totals"]["count"] == 2
    board = cus1.get("/api/v1/apps/complaint/dashboards/overview").json
    counts = {
        r["id"]: r["totals"]["count"] for r in board["reports"] if r["totals"] and "count" in r["totals"]
    }
    assert counts.pop("satisfaction_by_team") == 0  # nobody has rated yet
    assert counts and set(counts.values()) == {2}
    kpi = next(r for r in board["reports"] if r["id"] == "weekly_kpi")
    assert kpi["kpi"]["count"]["value"] == 2


def test_a_customer_without_tickets_counts_zero(site):
    site.web.user("newcomer")
    kpi = site.web.client("newcomer").get(f"{R}/weekly_kpi").json
    assert kpi["kpi"]["count"]["value"] == 0 and kpi["rows"] == []


def test_an_api_token_sees_with_its_users_scope(site):
    headers = site.web.token("cus2", ["read"])
    report = site.web.anonymous().get(f"{R}/by_customer", headers=headers).json
    assert by_label(report, "customer") == {FORMULA: 1, "Globex": 1}


def test_drilling_into_a_bar_lists_exactly_its_tickets(site):
    mia = site.web.client("mia")
    report = mia.get(f"{R}/by_team_month?lang=en").json
    bar = row_of(report, "team", "Billing team")
    assert bar["values"]["count"] == 2
    drill = mia.get(f"{R}/by_team_month/drill", query_string={"cell": bar["cell"]}).json
    assert drill["count"] == bar["values"]["count"] == len(drill["items"])
    assert {i["number"] for i in drill["items"]} == {site.number("acme_refund"), site.number("globex")}
    assert all(i["stage"] == "triage" and i["status"] == "open" for i in drill["items"])


def test_drilling_with_the_dashboards_filters_keeps_the_count(site):
    mia = site.web.client("mia")
    report = mia.get(f"{R}/by_team_month", query_string={"priority": "P3"}).json
    bar = row_of(report, "team", "账务组")
    assert bar["values"]["count"] == 1
    drill = mia.get(f"{R}/by_team_month/drill", query_string={"cell": bar["cell"], "priority": "P3"}).json
    assert drill["count"] == 1 and [i["number"] for i in drill["items"]] == [site.number("globex")]


def test_drilling_into_a_pivot_cell_lists_exactly_its_tickets(site):
    web = site.web
    web.runtime.publish(APPS / "bugfix.yaml")
    web.user("tom", roles={"bugfix": ["qa"]})
    bug = {"title": "白屏", "severity": "major", "version": "2.3.1", "steps": "<p>打开</p>"}
    for module in (["web", "portal"], ["web", "portal"], ["mobile", "ios"]):
        site.runtime.submit("bugfix", "bug", {**bug, "module": module}, actor=web.id("tom"))
    tom = web.client("tom")
    path = "/api/v1/apps/bugfix/ticket_types/bug/reports/module_month"
    report = tom.get(path).json
    pivot = report["pivot"]
    across = "month"
    for i, row_key in enumerate(pivot["row_keys"]):
        for j, column_key in enumerate(pivot["column_keys"]):
            number = pivot["values"]["count"][i][j]
            cell = json.dumps({**row_key, across: column_key})
            drill = tom.get(f"{path}/drill", query_string={"cell": cell}).json
            assert drill["count"] == len(drill["items"]) == (number or 0)
    assert sorted(v for row in pivot["values"]["count"] for v in row if v) == [1, 2]


def test_a_customers_drill_down_lists_only_their_tickets(site):
    cus2 = site.web.client("cus2")
    report = cus2.get(f"{R}/by_product").json
    slice_ = report["rows"][0]
    drill = cus2.get(f"{R}/by_product/drill", query_string={"cell": slice_["cell"]}).json
    assert drill["count"] == slice_["values"]["count"] == 2
    assert {i["number"] for i in drill["items"]} == {site.number("formula"), site.number("globex")}
    # the same cell for the manager counts all four
    mia = site.web.client("mia").get(f"{R}/by_product/drill", query_string={"cell": slice_["cell"]}).json
    assert mia["count"] == 4


def test_a_drill_down_pages_with_a_cursor(site):
    mia = site.web.client("mia")
    first = mia.get(f"{R}/open_by_stage/drill", query_string={"cell": '{"stage":"triage"}', "limit": 3}).json
    assert first["count"] == 4 and len(first["items"]) == 3 and first["next_cursor"]
    rest = mia.get(
        f"{R}/open_by_stage/drill",
        query_string={"cell": '{"stage":"triage"}', "limit": 3, "cursor": first["next_cursor"]},
    ).json
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    seen = [i["id"] for i in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(site.tickets.values())


def test_export_csv_has_a_bom_escaped_formulas_and_a_utf8_file_name(site):
    answer = site.web.client("mia").get(f"{R}/by_customer/export?format=csv&lang=zh")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["客户名称", "工单数"]
    assert ["'" + FORMULA, "1"] in [r[:2] for r in rows]
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote("按客户统计") in disposition


def test_the_drill_down_list_exports_as_csv_with_escaped_formulas(site):
    mia = site.web.client("mia")
    cell = json.dumps({"customer": FORMULA})
    answer = mia.get(
        f"{R}/by_customer/drill/export", query_string={"format": "csv", "cell": cell, "lang": "en"}
    )
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["Number", "Stage", "Status"]
    assert len(rows) == 2 and rows[1][0] == site.number("formula")
    assert "'" + FORMULA in rows[1]


def test_export_xlsx_opens_with_typed_cells(site):
    from openpyxl import load_workbook

    answer = site.web.client("mia").get(f"{R}/by_customer/export?format=xlsx&lang=en")
    assert answer.status_code == 200
    assert answer.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(answer.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Customer", "Tickets")
    counts = {r[0]: r[1] for r in rows[1:]}
    assert counts == {"ACME": 2, FORMULA: 1, "Globex": 1}
    assert all(isinstance(v, int) for v in counts.values())
    formula_cell = next(c for c in sheet["A"] if c.value == FORMULA)
    assert formula_cell.data_type == "s"  # text, never a formula


def hide_refunds_from_everyone_but_leads(web) -> None:
    """Publish a complaint version in which the refund is hidden at every stage except from cs_lead."""
    data = copy.deepcopy(load_definition(APPS / "complaint.yaml").data)
    for node in data["ticket_types"]["complaint"]["flow"]["nodes"]:
        if node["type"] in ("task", "approval"):
            node.setdefault("permissions", {})["refund"] = {"cs_lead": "readonly", "*": "hidden"}
    web.runtime.publish(data)


def test_a_report_on_a_field_hidden_from_the_caller_is_refused(site):
    hide_refunds_from_everyone_but_leads(site.web)
    cus1 = site.web.client("cus1")
    refused = cus1.get(f"{R}/by_customer?lang=en")
    assert refused.status_code == 403
    assert refused.json["code"] == "report.field_hidden"
    assert "refund" in refused.json["message"] and "may not see" in refused.json["message"]
    assert cus1.get(f"{R}/by_customer/export?format=csv").status_code == 403
    assert cus1.get(f"{R}/by_customer/drill").status_code == 403
    listed = cus1.get("/api/v1/apps/complaint/reports").json
    assert "by_customer" not in [r["id"] for r in listed["reports"]]
    assert "by_product" in [r["id"] for r in listed["reports"]]
    # the dashboard still shows the other reports, the refused one says why
    board = cus1.get("/api/v1/apps/complaint/dashboards/overview?lang=en").json
    slots = {r["id"]: r for r in board["reports"]}
    assert slots["by_customer"]["error"]["code"] == "report.field_hidden"
    assert slots["by_product"]["rows"]
    # the manager may see refunds and runs it
    assert site.web.client("mia").get(f"{R}/by_customer").status_code == 200


def test_an_adhoc_report_on_a_hidden_field_is_refused_too(site):
    hide_refunds_from_everyone_but_leads(site.web)
    body = {"report": {"dimensions": ["priority"], "measures": [{"sum": "refund"}]}}
    answer = site.web.client("cus1").post(f"{R}/run", json=body)
    assert answer.status_code == 403 and answer.json["code"] == "report.field_hidden"


def test_an_adhoc_report_runs_and_its_mistakes_have_paths(site):
    mia = site.web.client("mia")
    body = {
        "report": {"dimensions": ["priority"], "measures": ["count"], "chart": "pie"},
        "filters": [{"field": "category", "op": "in", "value": ["billing", "delivery"]}],
    }
    good = mia.post(f"{R}/run?lang=en", json=body).json
    assert by_label(good, "priority") == {"P1 urgent": 1, "P2 high": 1, "P3 normal": 1}
    assert good["chart"]["series"][0]["type"] == "pie"
    bad = mia.post(
        f"{R}/run?lang=en",
        json={
            "report": {"dimensions": ["colour", {"m": "bucket(customer, 'month')"}], "measures": ["count"]}
        },
    )
    assert bad.status_code == 422
    assert [p["path"] for p in bad.json["problems"]] == ["report.dimensions[0]", "report.dimensions[1]"]
    wrong_filter = mia.post(
        f"{R}/run", json={"report": {"measures": ["count"]}, "filters": [{"field": "priority", "op": "last"}]}
    )
    assert wrong_filter.status_code == 400 and wrong_filter.json["problems"][0]["path"] == "filters[0]"
    shapeless = mia.post(f"{R}/run", json={"report": {"measures": [7]}})
    assert shapeless.status_code == 400 and shapeless.json["problems"][0]["path"] == "report.measures[0]"


def test_global_filters_narrow_every_report_of_a_dashboard(site):
    mia = site.web.client("mia")
    board = mia.get("/api/v1/apps/complaint/dashboards/overview", query_string={"priority": "P1"}).json
    kpi = next(r for r in board["reports"] if r["id"] == "weekly_kpi")
    assert kpi["kpi"]["count"]["value"] == 1
    stages = next(r for r in board["reports"] if r["id"] == "open_by_stage")
    assert by_label(stages, "stage") == {"受理分派": 1}
    future = mia.get(
        "/api/v1/apps/complaint/dashboards/overview", query_string={"created_at_from": "2999-01-01"}
    )
    assert all(not r["rows"] or r["id"] == "weekly_kpi" for r in future.json["reports"])
    assert {f["field"] for f in board["filters"]} == {"created_at", "priority", "category", "team"}
    team = next(f for f in board["filters"] if f["field"] == "team")
    assert {"value": "billing_team", "label": "账务组"} in team["options"]


def test_wrong_filters_are_400_naming_the_parameter(site):
    mia = site.web.client("mia")
    unknown = mia.get(f"{R}/by_customer?colour=red&lang=en")
    assert unknown.status_code == 400 and unknown.json["problems"][0]["path"] == "colour"
    bad_day = mia.get(f"{R}/by_customer?created_at_from=someday")
    assert bad_day.status_code == 400 and bad_day.json["problems"][0]["path"] == "created_at_from.value"
    not_offered = mia.get("/api/v1/apps/complaint/dashboards/overview?customer=ACME&lang=en")
    assert not_offered.status_code == 400 and not_offered.json["problems"][0]["path"] == "customer"
    assert "offers no filter on customer" in not_offered.json["problems"][0]["message"]
    bad_cell = mia.get(f"{R}/by_person/drill", query_string={"cell": '{"assignee": "bob"}'})
    assert bad_cell.status_code == 400 and bad_cell.json["problems"][0]["path"] == "cell.assignee"
    not_json = mia.get(f"{R}/by_person/drill", query_string={"cell": "[1"})
    assert not_json.status_code == 400 and not_json.json["problems"][0]["path"] == "cell"


def test_unknown_reports_and_dashboards_are_404(site):
    mia = site.web.client("mia")
    assert mia.get(f"{R}/nope").status_code == 404
    assert mia.get("/api/v1/apps/complaint/dashboards/nope").status_code == 404
    assert mia.get("/api/v1/apps/nope/reports").status_code == 404


def test_measures_are_named_for_people_in_columns_and_charts(site):
    report = site.web.client("mia").get(f"{R}/by_person?lang=en").json
    series = [s["name"] for s in report["chart"]["series"]]
    assert series[:2] == ["Tickets", "Avg resolution business hours"]
    assert report["chart"]["legend"]["data"] == series
    formats = {c["name"]: c["format"] for c in report["columns"]}
    assert formats["rate_sla_breached"] == "percent" and formats["count"] == "number"
    zh = site.web.client("mia").get(f"{R}/by_person?lang=zh").json
    assert [c["label"] for c in zh["columns"]][:3] == ["处理人", "工单数", "平均解决工时(小时)"]


def test_the_list_names_reports_and_dashboards_in_the_callers_language(site):
    listed = site.web.client("mia").get("/api/v1/apps/complaint/reports?lang=en").json
    names = {r["id"]: r["name"] for r in listed["reports"]}
    assert names["satisfaction_by_team"] == "Satisfaction by team"
    assert (
        listed["dashboards"][0]["id"] == "overview"
        and listed["dashboards"][0]["name"] == "Complaints overview"
    )
