"""The shipped apps' reports and dashboards over tickets walked through the Runtime at known times
(time-machine moves the clock), each number compared with one worked out by hand, on SQLite and
PostgreSQL.

Times are Beijing time (UTC+8), the reports' zone; T0 is Tuesday 1 December 2026, 09:00, a working
day of the cn_workdays calendar (9:00–12:00 and 13:30–18:00), so business hours differ from clock
hours when a ticket stays open over lunch.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

import engine.reports  # noqa: F401  (the metrics reactor)
from engine.people import create_department, create_user
from engine.reports.run import Reports
from engine.runtime import Runtime
from tests.support import give_role

APPS = Path(__file__).resolve().parents[3] / "app_definitions"
CST = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)
NOW = T0 + dt.timedelta(days=2)  # Thursday 09:00, when the reports are run


class Shipped:
    """The four shipped apps published, their people, and a clock to walk tickets with."""

    def __init__(self, db, clock: time_machine.Coordinates):
        self.db, self.clock = db, clock
        self.runtime = Runtime(db)  # no outbox delivery: notifications stay queued
        for app in ("kb", "complaint", "it_ops", "bugfix"):
            self.runtime.publish(APPS / f"{app}.yaml")
        self.reports = Reports(self.runtime)
        self.people: dict[str, int] = {}

    def person(
        self, name: str, roles: dict[str, list[str]] | None = None, department: int | None = None
    ) -> int:
        uid = self.people[name] = create_user(self.db, name, name.title(), department_id=department)
        for app, keys in (roles or {}).items():
            for key in keys:
                give_role(self.db, uid, app, key)
        return uid

    def at(self, moment: dt.datetime) -> None:
        self.clock.move_to(moment)

    def tick(self) -> None:
        """The SLA worker runs now: due clocks warn, breach and escalate."""
        self.runtime.fire_due_timers()

    def submit(self, app: str, ticket_type: str, who: str, **data) -> int:
        return self.runtime.submit(app, ticket_type, data, actor=self.people[who]).id

    def act(self, ticket: int, node: str, action: str, who: str, **data) -> None:
        """``who`` takes the ticket's open task at ``node`` (claiming it from its pool) and acts."""
        task = next(t for t in self.runtime.tasks(ticket) if t["node_id"] == node and t["status"] == "open")
        actor = self.people[who]
        if task["assignee_id"] is None:
            self.runtime.claim(task["id"], actor)
        self.runtime.act(task["id"], action, data or None, actor=actor)

    def run(self, app: str, ticket_type: str, report: str):
        return self.reports.run(app, ticket_type, report)


@pytest.fixture
def shipped(db):
    with time_machine.travel(T0, tick=False) as clock:
        yield Shipped(db, clock)


def table(result, *measures: str) -> dict:
    """{dimension labels (one label alone): measure value, or a tuple of the measures' values}."""
    names = measures or ("count",)
    out = {}
    for row in result.rows:
        labels = tuple(row.labels[d.name] for d in result.spec.dimensions)
        values = tuple(row.values.get(m) for m in names)
        out[labels[0] if len(labels) == 1 else labels] = values[0] if len(values) == 1 else values
    return out


def approx(values):
    return pytest.approx(values, abs=1e-6)


# ============================================================================ complaint
def walk_complaints(s: Shipped) -> dict[str, int]:
    for name, roles in (
        ("cus1", None), ("cus2", None), ("bill", ["billing_team"]), ("dan", ["delivery_team"]),
        ("pam", ["cs_pool"]), ("lead", ["cs_lead"]), ("qa", ["quality"]),
    ):  # fmt: skip
        s.person(name, {"complaint": roles} if roles else None)

    def complaint(who, customer, product, category, priority, summary):
        fields = {"customer": customer, "product": product, "category": category, "priority": priority}
        return s.submit("complaint", "complaint", who, phone="13800138000", summary=summary, **fields)

    t = {}
    # C1: ACME's refund, answered in 30 min, resolved before lunch, rated 5 at 15:00 (6 h, 4.5 business h)
    t["c1"] = complaint("cus1", "ACME", ["phone", "battery"], "billing", "P2", "退款未到账")
    s.at(T0 + dt.timedelta(minutes=30))
    s.act(t["c1"], "triage", "dispatch", "bill", owner=s.people["bill"])
    s.at(T0 + dt.timedelta(hours=2))
    s.act(t["c1"], "fix", "resolve", "bill", solution="已原路退款")
    s.act(t["c1"], "review", "approve", "qa")
    s.act(t["c1"], "review", "approve", "lead")
    s.at(T0 + dt.timedelta(hours=6))
    s.act(t["c1"], "rate", "rate", "cus1", rating=5)
    s.tick()
    # C2: ACME's late delivery, P1, dispatched after 20 min: its 15 min response target breached; its
    # 4 business hours to resolve ran out at 14:50 (the SLA worker runs at 09:20 and at 15:00)
    s.at(T0)
    t["c2"] = complaint("cus1", "ACME", ["laptop", "keyboard"], "delivery", "P1", "物流太慢")
    s.at(T0 + dt.timedelta(minutes=20))
    s.tick()
    s.act(t["c2"], "triage", "dispatch", "dan", owner=s.people["dan"])
    # C3: Globex's complaint about service, waiting at triage with the support pool
    s.at(T0 + dt.timedelta(hours=2))
    t["c3"] = complaint("cus2", "Globex", ["service_app", "payment"], "service", "P3", "态度差")
    # C4: Globex's invoice, Wednesday 09:00–12:00, rated 3
    s.at(T0 + dt.timedelta(days=1))
    t["c4"] = complaint("cus2", "Globex", ["phone", "battery"], "billing", "P3", "发票开错")
    s.at(T0 + dt.timedelta(days=1, hours=1))
    s.act(t["c4"], "triage", "dispatch", "bill", owner=s.people["bill"])
    s.at(T0 + dt.timedelta(days=1, hours=2))
    s.act(t["c4"], "fix", "resolve", "bill", solution="已重开发票")
    s.act(t["c4"], "review", "approve", "qa")
    s.act(t["c4"], "review", "approve", "lead")
    s.at(T0 + dt.timedelta(days=1, hours=3))
    s.act(t["c4"], "rate", "rate", "cus2", rating=3)
    s.at(NOW)
    return t


def test_the_complaint_reports_match_hand_computed_numbers(shipped):
    s = shipped
    walk_complaints(s)

    def run(report, *measures):
        return table(s.run("complaint", "complaint", report), *measures)

    # Both closed complaints were handled by the billing team (the countersign reviews, it does not own).
    assert run(
        "by_team_month", "count", "avg_resolution_hours", "p90_resolution_hours", "rate_sla_breached"
    ) == {
        ("账务组", "2026-12"): approx((2, 4.5, 3 + 0.9 * 3, 0.0)),  # C1 6 h, C4 3 h
        ("物流组", "2026-12"): (1, None, None, 1.0),  # C2 breached
        ("客服公共池", "2026-12"): (1, None, None, 0.0),  # C3 waits at triage
    }
    assert run("by_person", "count", "avg_resolution_business_hours", "median_resolution_business_hours",
               "rate_sla_breached") == {
        "Bill": approx((2, (4.5 + 3) / 2, 3.75, 0.0)),  # C1 09:00–15:00 less lunch; C4 09:00–12:00
        "Dan": (1, None, None, 1.0),
        "Pam": (1, None, None, 0.0),
    }  # fmt: skip
    assert run("by_customer", "count", "avg_first_response_business_hours", "sum_refund") == {
        "ACME": approx((2, (0.5 + 20 / 60) / 2, None)),  # answered after 30 and 20 minutes
        "Globex": approx((2, 1.0, None)),  # C3 not answered yet, C4 after an hour
    }
    assert run("by_product", "count", "avg_satisfaction") == {
        "手机 / 电池": (2, 4.0),  # rated 5 and 3
        "笔记本电脑 / 键盘": (1, None),
        "服务 App / 支付": (1, None),
    }
    assert run("satisfaction_by_team", "avg_satisfaction", "satisfied_rate", "count") == {
        "账务组": (4.0, 0.5, 2)
    }
    assert run("open_by_stage") == {"处理": 1, "受理分派": 1}
    kpi = s.run("complaint", "complaint", "weekly_kpi")
    assert kpi.kpi["count"] == {"value": 4, "previous": None, "change": None}
    assert kpi.kpi["rate_sla_breached"]["value"] == 0.25


def test_the_complaint_dashboard_lists_the_tickets_behind_a_number(shipped):
    s = shipped
    tickets = walk_complaints(s)
    board = s.reports.dashboard("complaint", "complaint", "overview")
    customer = next(r for r in board.reports if r.spec.id == "by_customer")
    acme = next(row for row in customer.rows if row.labels["customer"] == "ACME")
    page = s.reports.drill("complaint", "complaint", "by_customer", acme.cell())
    assert [t["id"] for t in page.tickets] == [tickets["c1"], tickets["c2"]]
    p1 = s.reports.dashboard(
        "complaint", "complaint", "overview", filters=[{"field": "priority", "op": "eq", "value": "P1"}]
    )
    assert p1.reports[0].kpi["count"]["value"] == 1  # C2 alone is P1


# ============================================================================ IT operations
def walk_it_requests(s: Shipped) -> dict[str, int]:
    finance, sales = create_department(s.db, "Finance"), create_department(s.db, "Sales")
    s.person("req1", department=finance)
    s.person("req2", department=sales)
    for name, role in (("neo", "network_team"), ("desk", "desktop_team"), ("ian", "iam_team"),
                       ("sd", "service_desk"), ("li", "it_lead")):  # fmt: skip
        s.person(name, {"it_ops": [role]})

    def request(who, category, urgency, summary):
        return s.submit("it_ops", "request", who, category=category, urgency=urgency, impact="low",
                        summary=summary, description="请尽快处理这个问题，谢谢。")  # fmt: skip

    t = {}
    # I1: network, urgent: assigned in 20 min, done 11:00, approved, confirmed 14:00 (5 h, 3.5 business h)
    t["i1"] = request("req1", "network", "high", "三楼无线网络无法连接")
    s.at(T0 + dt.timedelta(minutes=20))
    s.act(t["i1"], "assign", "assign", "neo", engineer=s.people["neo"])
    s.at(T0 + dt.timedelta(hours=2))
    s.act(t["i1"], "process", "done", "neo", resolution="已更换接入点")
    s.act(t["i1"], "record_asset", "recorded", "sd")
    s.act(t["i1"], "approval", "approve", "li")
    s.at(T0 + dt.timedelta(hours=5))
    s.act(t["i1"], "confirm", "confirm", "req1", satisfaction=4)
    # I2: hardware, Tuesday 10:00, waits for the desktop team; I3: an account, Wednesday 11:00
    s.at(T0 + dt.timedelta(hours=1))
    t["i2"] = request("req1", "hardware", "medium", "显示器黑屏")
    s.at(T0 + dt.timedelta(days=1, hours=2))
    t["i3"] = request("req2", "account", "low", "新员工开通邮箱")
    s.at(NOW)
    return t


def test_the_it_reports_match_hand_computed_numbers(shipped):
    s = shipped
    walk_it_requests(s)

    def run(report, *measures):
        return table(s.run("it_ops", "request", report), *measures)

    assert run("by_category", "count", "avg_resolution_hours", "rate_sla_breached", "count_running") == {
        ("网络", "2026-12"): (1, 5.0, 0.0, 1),
        ("硬件", "2026-12"): (1, None, 0.0, 1),
        ("账号", "2026-12"): (1, None, 0.0, 1),
    }
    # I1's last work was the service desk's asset record (the IT lead's sign-off reviews it); the
    # others wait for their teams
    by_team = run("by_team", "count", "avg_resolution_business_hours", "p90_resolution_business_hours",
                  "rate_sla_breached", "avg_satisfaction")  # fmt: skip
    assert by_team == {
        "服务台值班": (1, 3.5, 3.5, 0.0, 4.0),
        "桌面支持组": (1, None, None, 0.0, None),
        "账号权限组": (1, None, None, 0.0, None),
    }
    assert run(
        "by_engineer", "count", "avg_resolution_business_hours", "rate_sla_breached", "sum_transfers"
    ) == {
        "Sd": (1, 3.5, 0.0, 0),  # the service desk recorded I1's asset last (Li only signed it off)
        "Desk": (1, None, 0.0, 0),
        "Ian": (1, None, 0.0, 0),
    }
    assert run("by_department", "count", "avg_satisfaction") == {"Finance": (2, 4.0), "Sales": (1, None)}
    assert run("when_requests_come") == {("周二", "09"): 1, ("周二", "10"): 1, ("周三", "11"): 1}


# ============================================================================ bug fix
def walk_bugs(s: Shipped) -> dict[str, int]:
    s.person("tom", {"bugfix": ["qa"]})
    s.person("zoe", {"bugfix": ["developer"]})
    s.person("wang", {"bugfix": ["dev_lead"]})

    def bug(severity, module, title):
        fields = {"severity": severity, "module": module, "title": title}
        return s.submit("bugfix", "bug", "tom", version="2.3.1", steps="<p>打开页面</p>", **fields)

    t = {}
    # B0: a November bug on the portal, still waiting at triage
    s.at(dt.datetime(2026, 11, 20, 9, 0, tzinfo=CST))
    t["b0"] = bug("major", ["web", "portal"], "门户首页加载慢")
    # B1: accepted at 10:00 for Zoe, fixed 14:00, verified 15:00, released 16:00 (7 h, 5.5 business h)
    s.at(T0)
    t["b1"] = bug("major", ["web", "portal"], "登录后白屏")
    s.at(T0 + dt.timedelta(hours=1))
    s.act(t["b1"], "triage", "accept", "wang", developer=s.people["zoe"])
    s.at(T0 + dt.timedelta(hours=5))
    s.act(t["b1"], "fix", "resolve", "zoe", fix_version="2.3.2", root_cause="code")
    s.at(T0 + dt.timedelta(hours=6))
    s.act(t["b1"], "verify", "pass", "tom")
    s.at(T0 + dt.timedelta(hours=7))
    s.act(t["b1"], "release", "release", "wang")
    # B3: an iOS bug at 11:00, accepted at 12:00 for Zoe; B2: a critical portal bug on Wednesday
    s.at(T0 + dt.timedelta(hours=2))
    t["b3"] = bug("minor", ["mobile", "ios"], "iOS 推送不到")
    s.at(T0 + dt.timedelta(hours=3))
    s.act(t["b3"], "triage", "accept", "wang", developer=s.people["zoe"])
    s.at(T0 + dt.timedelta(days=1))
    t["b2"] = bug("critical", ["web", "portal"], "门户报表导出失败")
    s.at(NOW)
    return t


def test_the_bug_reports_match_hand_computed_numbers(shipped):
    s = shipped
    walk_bugs(s)

    def run(report, *measures):
        return table(s.run("bugfix", "bug", report), *measures)

    assert run("module_month", "count", "count_previous", "count_change") == {
        ("2026-11", "网页端 / 门户"): (1, None, None),
        ("2026-12", "网页端 / 门户"): (2, 1, 1.0),  # B1 and B2: twice November's
        ("2026-12", "移动端 / iOS"): (1, None, None),
    }
    pivot = s.run("bugfix", "bug", "module_month").pivot
    assert pivot["columns"] == ["2026-11", "2026-12"]
    assert dict(zip((r[0] for r in pivot["rows"]), pivot["values"]["count"], strict=True)) == {
        "网页端 / 门户": [1, 2],
        "移动端 / iOS": [None, 1],
    }
    assert run("module_severity") == {("网页端 / 门户", "一般"): 2, ("网页端 / 门户", "严重"): 1,
                                      ("移动端 / iOS", "轻微"): 1}  # fmt: skip
    # open: B0 (since 20 Nov, 312 h) and B2 without a developer, B3 Zoe's since Tuesday 11:00 (46 h)
    assert run("open_by_developer", "count", "max_age_hours") == {
        "(空)": approx((2, 312.0)),
        "Zoe": approx((1, 46.0)),
    }
    measures = (
        "count",
        "avg_resolution_business_hours",
        "p95_resolution_business_hours",
        "rate_sla_breached",
    )
    assert run("fix_time_by_developer", *measures, "sum_reopens", "sum_returns") == {
        "Zoe": (1, 5.5, 5.5, 0.0, 0, 0)
    }


@pytest.mark.parametrize(
    ("app", "ticket_type", "board", "walk"),
    [
        ("complaint", "complaint", "overview", walk_complaints),
        ("it_ops", "request", "it_overview", walk_it_requests),
        ("bugfix", "bug", "quality", walk_bugs),
    ],
)
def test_every_shipped_dashboard_drills_down_to_exactly_each_count(shipped, app, ticket_type, board, walk):
    s = shipped
    walk(s)
    result = s.reports.dashboard(app, ticket_type, board)
    assert result.reports and all(r.rows for r in result.reports)
    for report in result.reports:
        for row in report.rows:
            if "count" in row.values:
                found = s.reports.drill_count(app, ticket_type, report.spec.id, row.cell())
                assert found == row.values["count"], (report.spec.id, row.labels)
