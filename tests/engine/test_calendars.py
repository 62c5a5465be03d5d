"""Business calendars: working hours skip nights, lunch, weekends and holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.calendars import calendar, with_days
from engine.expressions import ExprError, evaluate

BJ = dt.timezone(dt.timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in December 2026, Beijing time (Dec 1 is a Tuesday)."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BJ)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(1, 9), 2, at(1, 11)),  # inside the morning
        (at(1, 11), 2, at(1, 14, 30)),  # over lunch (12:00–13:30)
        (at(1, 17), 2, at(2, 10)),  # over the night
        (at(4, 17), 2, at(7, 10)),  # Friday evening to Monday morning
        (at(5, 10), 1, at(7, 10)),  # starting on a Saturday: the clock waits for Monday 9:00
        (at(1, 9), 7.5, at(1, 18)),  # one whole working day is 7.5 hours: due at closing time
    ],
)
def test_adding_working_hours_skips_closed_time(start, hours, expected):
    assert calendar("cn_workdays").add(start, hours) == expected.astimezone(dt.UTC)


def test_holidays_are_skipped_and_make_up_days_are_worked():
    cal = with_days(
        calendar("cn_workdays"), "acme", holidays=[dt.date(2026, 12, 2)], workdays=[dt.date(2026, 12, 5)]
    )
    assert cal.add(at(1, 17), 2) == at(3, 10).astimezone(dt.UTC)  # Wednesday is a holiday
    assert cal.add(at(4, 17), 2) == at(5, 10).astimezone(dt.UTC)  # that Saturday is worked


def test_mainland_public_holidays_and_make_up_days_are_built_in():
    cal = calendar("cn_workdays")
    eve = dt.datetime(2026, 9, 30, 17, 0, tzinfo=BJ)  # the last hour before the National Day week
    assert cal.add(eve, 4) == dt.datetime(2026, 10, 8, 12, 0, tzinfo=BJ).astimezone(dt.UTC)
    make_up = dt.datetime(2026, 10, 9, 17, 0, tzinfo=BJ)  # Friday; Saturday 10 October is worked
    assert cal.add(make_up, 2) == dt.datetime(2026, 10, 10, 10, 0, tzinfo=BJ).astimezone(dt.UTC)
    assert not cal.is_working_day(dt.date(2026, 2, 16)) and cal.is_working_day(dt.date(2026, 2, 14))


def test_durations_count_working_days_and_weeks():
    assert calendar("cn_workdays").hours_of("1d") == 7.5
    assert calendar("cn_workdays").hours_of("1w") == 37.5
    assert calendar("24x7").hours_of("1d") == 24
    assert calendar("cn_workdays").hours_of("90m") == 1.5
    with pytest.raises(ValueError, match="15m, 4h"):
        calendar("24x7").hours_of("soon")


def test_hours_between_counts_only_working_time():
    cal = calendar("cn_workdays")
    assert cal.hours_between(at(4, 17), at(7, 10)) == 2
    assert cal.hours_between(at(7, 10), at(4, 17)) == -2
    assert cal.hours_between(at(5, 9), at(6, 18)) == 0


def test_round_the_clock_calendar_counts_every_hour():
    assert calendar("24x7").add(at(5, 22), 5) == at(6, 3).astimezone(dt.UTC)


def test_expressions_can_use_business_hours():
    ctx = {"created": at(4, 17).isoformat()}
    due = evaluate("add_business_hours(created, 2)", ctx)
    assert due == at(7, 10).astimezone(dt.UTC)
    assert evaluate("business_hours_between(created, add_business_hours(created, 4))", ctx) == 4
    with pytest.raises(ExprError) as caught:
        evaluate("add_business_hours(created, 2, 'mars')", ctx)
    assert caught.value.code == "expr.unknown_calendar"


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError):
        calendar("cn_workdays").add(dt.datetime(2026, 12, 1, 9), 1)
