"""Business calendars: when the clock of an SLA runs. A registry of named calendars.

A calendar has a time zone, working weekdays, one or more working periods a day (a lunch break
is the gap between two periods), holidays and make-up working days (调休). ``add`` moves a
moment forward by working hours; ``hours_between`` counts the working hours between two moments.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

MAX_DAYS = 3_700  # ten years: a calendar with no working time must not loop forever


@dataclass(frozen=True)
class Calendar:
    key: str
    timezone: str
    weekdays: frozenset[int]  # ISO: Monday 1 … Sunday 7
    periods: tuple[tuple[dt.time, dt.time], ...]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)  # weekend days worked instead

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def _open_intervals(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (aware, in the calendar's zone) from ``start`` on, in order."""
        zone = self.zone
        local = start.astimezone(zone)
        day = local.date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                for begin, end in self.periods:
                    lo = dt.datetime.combine(day, begin, zone)
                    hi = dt.datetime.combine(day, end, zone)
                    if hi > local:
                        yield max(lo, local), hi
            day += dt.timedelta(days=1)

    def add(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` working hours after ``start`` (returned in UTC)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = dt.timedelta(hours=hours)
        if remaining <= dt.timedelta(0):
            return start.astimezone(dt.UTC)
        for lo, hi in self._open_intervals(start):
            span = hi - lo
            if span >= remaining:
                return (lo + remaining).astimezone(dt.UTC)
            remaining -= span
        raise ValueError(f"calendar {self.key} has no working time in {MAX_DAYS} days")

    @property
    def hours_per_day(self) -> float:
        """Working hours in a working day (24 for round the clock; 7.5 for cn_workdays)."""
        seconds = sum(
            (dt.datetime.combine(dt.date.min, b) - dt.datetime.combine(dt.date.min, a)).total_seconds()
            for a, b in self.periods
        )
        return round(seconds / 3600, 4)

    def hours_of(self, duration: str) -> float:
        """Working hours in a duration such as ``15m``, ``4h``, ``3d`` (working days) or ``1w``."""
        amount, unit = parse_duration(duration)
        days_per_week = len(self.weekdays)
        per_unit = {"m": 1 / 60, "h": 1.0, "d": self.hours_per_day, "w": self.hours_per_day * days_per_week}
        return amount * per_unit[unit]

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours from ``start`` to ``end`` (negative when ``end`` comes first)."""
        if end < start:
            return -self.hours_between(end, start)
        total = dt.timedelta(0)
        for lo, hi in self._open_intervals(start):
            if lo >= end:
                break
            total += min(hi, end) - lo
        return total.total_seconds() / 3600


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")


def parse_duration(text: str) -> tuple[float, str]:
    """``4h`` → (4.0, "h"); units m, h, d, w. Raises ValueError on anything else."""
    found = _DURATION.match(str(text))
    if not found:
        raise ValueError(f"not a duration: {text!r} (write e.g. 15m, 4h, 3d, 1w)")
    return float(found.group(1)), found.group(2)


def _periods(*spans: tuple[str, str]) -> tuple[tuple[dt.time, dt.time], ...]:
    return tuple((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in spans)


CALENDARS: dict[str, Calendar] = {}


def register(calendar: Calendar) -> Calendar:
    CALENDARS[calendar.key] = calendar
    return calendar


register(Calendar("24x7", "UTC", frozenset(range(1, 8)), _periods(("00:00", "23:59:59.999999"))))


def _days(*spans: str) -> frozenset[dt.date]:
    """``"2026-02-15..2026-02-23"`` or ``"2026-01-04"`` → the dates, inclusive."""
    days: set[dt.date] = set()
    for span in spans:
        first, _, last = span.partition("..")
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
        while day <= end:
            days.add(day)
            day += dt.timedelta(days=1)
    return frozenset(days)


#: Mainland China's public holidays and the weekend days worked instead (调休), as the State
#: Council announced them for 2025 and 2026. Add a year here when it is announced (each November).
CN_HOLIDAYS = _days(
    "2025-01-01", "2025-01-28..2025-02-04", "2025-04-04..2025-04-06", "2025-05-01..2025-05-05",
    "2025-05-31..2025-06-02", "2025-10-01..2025-10-08",
    "2026-01-01..2026-01-03", "2026-02-15..2026-02-23", "2026-04-04..2026-04-06", "2026-05-01..2026-05-05",
    "2026-06-19..2026-06-21", "2026-09-25..2026-09-27", "2026-10-01..2026-10-07",
)  # fmt: skip
CN_MAKEUP_WORKDAYS = _days(
    "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
)  # fmt: skip

#: Mainland China office hours: Monday to Friday, 9:00–12:00 and 13:30–18:00, Beijing time, with the
#: public holidays off and the make-up weekend days worked.
register(
    Calendar(
        "cn_workdays",
        "Asia/Shanghai",
        frozenset(range(1, 6)),
        _periods(("09:00", "12:00"), ("13:30", "18:00")),
        CN_HOLIDAYS,
        CN_MAKEUP_WORKDAYS,
    )
)


def calendar(key: str) -> Calendar:
    try:
        return CALENDARS[key]
    except KeyError:
        raise KeyError(f"unknown calendar {key!r}; known: {', '.join(sorted(CALENDARS))}") from None


def with_days(
    base: Calendar, key: str, holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()
) -> Calendar:
    """A copy of ``base`` with its own holidays and make-up working days (an app's calendar)."""
    return Calendar(key, base.timezone, base.weekdays, base.periods, frozenset(holidays), frozenset(workdays))
