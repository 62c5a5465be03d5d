"""A ticket as of any moment (replayed from its events), exports to CSV and XLSX, chart options,
and the shipped apps' reports and dashboards."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from engine.errors import NotFoundError
from engine.people import create_department, create_user
from engine.reports.asof import ticket_as_of
from engine.reports.charts import CHARTS
from engine.reports.query import Viewer
from engine.reports.run import Reports
from engine.runtime import Runtime
from tests.engine.reports.lab import APPS, Clock, Lab
from tests.support import complaint_form


@pytest.fixture
def lab(db):
    return Lab(db, Clock())


def test_a_ticket_as_of_any_moment_matches_what_it_was_then(lab, db):
    rt, p, clock = lab.runtime, lab.people, lab.clock
    snapshots = []

    def snap():
        t = rt.ticket(ticket.id)
        snapshots.append(
            (clock.now, t.data, t.stage, t.status, {x["assignee_id"] for x in rt.tasks(ticket.id)})
        )
        clock.advance(minutes=20)

    ticket = lab.submit(priority="P2", amount=3)
    snap()
    rt.claim(lab.task(ticket.id), p["ann"])
    snap()
    rt.update(ticket.id, {"amount": 7, "customer": "Z"}, actor=p["ann"])
    snap()
    rt.act(lab.task(ticket.id), "ask", actor=p["ann"])
    snap()
    rt.act(lab.task(ticket.id), "answer", {"amount": 8}, actor=p["cus"])
    snap()
    rt.act(lab.task(ticket.id), "solve", actor=p["ben"])
    snap()
    rt.return_to(lab.task(ticket.id), "work", actor=p["cus"])
    snap()
    rt.act(lab.task(ticket.id), "solve", actor=p["ann"])
    snap()
    rt.act(lab.task(ticket.id), "rate", {"rating": 3}, actor=p["cus"])
    snap()
    rt.reopen(ticket.id, actor=p["cus"])
    snap()
    for at, data, stage, status, owners in snapshots:
        for moment in (at, at + dt.timedelta(minutes=19)):
            past = ticket_as_of(db, ticket.id, moment)
            assert (past.data, past.stage, past.status) == (data, stage, status), moment
            assert set(past.owners) == {o for o in owners if o is not None}
    assert ticket_as_of(db, ticket.id, snapshots[3][0]).sla["work.resolution"]["status"] == "paused"
    with pytest.raises(NotFoundError):
        ticket_as_of(db, ticket.id, snapshots[0][0] - dt.timedelta(seconds=1))


def test_a_report_exports_to_csv_with_a_bom_and_formulas_escaped(lab):
    lab.submit(customer='=HYPERLINK("http://x")', priority="P1")
    lab.submit(customer="普通客户", priority="P1")
    out = io.BytesIO()
    lab.reports.export_report("reportlab", "case", {"id": "c", "dimensions": ["customer"]}, "csv", out)
    raw = out.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["customer", "count"]
    assert sorted(table[1:]) == [['\'=HYPERLINK("http://x")', "1"], ["普通客户", "1"]]


def test_a_report_and_a_drill_down_list_export_to_xlsx_with_typed_cells(lab):
    lab.submit(priority="P1", amount=4, customer="+cmd", cost="12.30", secret="x")
    lab.submit(priority="P1", amount=6, customer="B")
    out = io.BytesIO()
    lab.reports.export_report("reportlab", "case", "amounts", "xlsx", out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    values = list(sheet.values)
    assert values[0][:3] == ("priority", "count", "count_amount")
    assert values[1][:5] == ("紧急", 2, 2, 2, 10.0)
    assert sheet.cell(row=2, column=2).data_type == "n"
    out = io.BytesIO()
    agent = Viewer(user_id=lab.people["ann"], roles=frozenset({"agent"}), timezone="UTC", lang="en")
    lab.reports.export_tickets(
        "reportlab", "case", "by_priority", {"priority": "P1"}, "xlsx", out, viewer=agent, page=1
    )
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    rows = list(sheet.values)
    header = rows[0]
    assert header[:5] == ("Number", "Stage", "Status", "Created", "Closed")
    assert len(rows) == 3  # two tickets, fetched one page at a time
    first = dict(zip(header, rows[1], strict=True))
    assert (
        first["Customer"] == "+cmd"
        and sheet.cell(row=2, column=header.index("Customer") + 1).data_type == "s"
    )
    assert first["Cost"] == 12.3 and first["Created"] == dt.datetime(2026, 12, 1, 9, 0)
    assert first["Internal note"] is None  # hidden from an agent while the ticket is at work
    assert first["Stage"] == "work" or first["Stage"]


def test_every_chart_type_gives_an_echarts_option(lab):
    for priority, amount in (("P1", 1), ("P1", 3), ("P2", 5)):
        lab.submit(priority=priority, amount=amount)
    base = {"id": "c", "dimensions": ["priority"], "measures": ["count", {"sum": "amount"}]}
    for chart in ("table", "bar", "line", "area", "pie", "funnel"):
        option = lab.run({**base, "chart": chart}).chart
        assert option["title"]["text"] == "c"
        if chart != "table":
            assert option["series"], chart
    stacked = lab.run({**base, "dimensions": ["priority", "customer"], "chart": "stacked"}).chart
    assert {s["stack"] for s in stacked["series"]} == {"total"}
    pie = lab.run({**base, "chart": "pie"}).chart
    assert pie["series"][0]["data"] == [{"name": "紧急", "value": 2}, {"name": "高", "value": 1}]
    funnel = lab.run({"id": "f", "dimensions": ["stage"], "chart": "funnel"}).chart
    assert funnel["series"][0]["data"] == [{"name": "work", "value": 3}]
    assert set(CHARTS) == {"table", "kpi", "bar", "stacked", "line", "area", "pie", "funnel", "heatmap"}


def _shipped_tickets(db, clock):
    runtime = Runtime(db, clock=clock)
    for app in ("complaint", "it_ops", "bugfix"):
        runtime.publish(APPS / f"{app}.yaml")
    user = create_user(db, "someone", department_id=create_department(db, "Finance"))
    runtime.submit("complaint", "complaint", complaint_form(runtime.definition("complaint")[1]), actor=user)
    runtime.submit(
        "it_ops",
        "request",
        {"summary": "VPN", "category": "network", "description": "Cannot reach the VPN since 9:00."},
        actor=user,
    )
    return runtime


def test_the_shipped_apps_reports_and_dashboards_run(db):
    clock = Clock()
    runtime = _shipped_tickets(db, clock)
    reports = Reports(runtime)
    for app, tt in (("complaint", "complaint"), ("it_ops", "request"), ("bugfix", "bug")):
        definition = runtime.definition(app)[1]["ticket_types"][tt]
        for report in definition["reports"]:
            result = reports.run(app, tt, report["id"])
            assert result.chart, report["id"]
        for board in definition["dashboards"]:
            assert reports.dashboard(app, tt, board["id"]).reports
    kpi = reports.run("complaint", "complaint", "weekly_kpi")
    assert kpi.kpi["count"]["value"] == 1
    by_team = reports.run("it_ops", "request", "by_team")
    assert [r.labels["team"] for r in by_team.rows] == ["网络组"]
