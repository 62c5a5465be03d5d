"""A report's CSV export over HTTP: one charset in its Content-Type, and its numbers as the report
page shows them (shares as percents, not raw floats)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.server.test_api_reports import Complaints, R


@pytest.fixture
def site(web):
    return Complaints(web)


def test_the_csv_export_names_its_charset_once(site):
    answer = site.web.client("mia").get(f"{R}/by_customer/export?format=csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_the_csv_export_shows_shares_as_the_report_does(site):
    mia = site.web.client("mia")
    shown = mia.get(f"{R}/weekly_kpi?lang=en").json
    rate = next(c for c in shown["columns"] if c["format"] == "percent")
    answer = mia.get(f"{R}/weekly_kpi/export?format=csv&lang=en")
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    column = rows[0].index(rate["label"])
    values = [r["values"][rate["name"]] for r in shown["rows"]]
    assert [r[column] for r in rows[1:]] == ["" if v is None else f"{v:.1%}" for v in values]
    assert any(v is not None for v in values)
