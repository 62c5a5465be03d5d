"""A report's numbers in an exported file read as the report page shows them: CSV rounded to the
page's digits (shares as percents), XLSX with the full value under a number format of those digits."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import load_workbook

from engine.reports.export import report_rows, write_csv, write_xlsx


@dataclass
class Col:
    name: str
    role: str


COLUMNS = [Col("team", "dimension"), Col("count", "measure"), Col("hours", "measure"), Col("late", "measure")]
LABELS = {"team": "Team", "count": "Tickets", "hours": "Avg hours", "late": "Late share"}
KINDS = {"count": "number", "hours": "number", "late": "percent"}
ROWS = [
    ["Billing", 12, 0.03574259194444444, 0.03574259194444444],
    ["Delivery", 3, Decimal("1234.5678"), 0.5],
    ["-1 team", 1, 2.0, None],
]


def _rows():
    return report_rows(COLUMNS, [list(r) for r in ROWS], LABELS, KINDS)


def test_csv_numbers_are_rounded_as_the_report_shows_them():
    out = io.BytesIO()
    write_csv(_rows(), out)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert rows == [
        ["Team", "Tickets", "Avg hours", "Late share"],
        ["Billing", "12", "0.04", "3.6%"],
        ["Delivery", "3", "1234.57", "50.0%"],
        ["'-1 team", "1", "2", ""],
    ]


def test_xlsx_keeps_full_values_under_the_reports_number_formats():
    out = io.BytesIO()
    write_xlsx(_rows(), out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    billing = [c for c in sheet[2]]
    assert billing[2].value == 0.03574259194444444 and billing[2].number_format == "#,##0.00"
    assert billing[3].value == 0.03574259194444444 and billing[3].number_format == "0.0%"
    assert billing[1].value == 12 and billing[1].number_format == "#,##0"
    delivery = [c for c in sheet[3]]
    assert delivery[2].value == 1234.5678
