"""SQL expressions that differ between SQLite and PostgreSQL: JSON fields, time zones, buckets,
durations and percentiles. Everything else in a report query is plain SQLAlchemy Core.

SQLite has no time zones: a zone's UTC offset is a CASE over its transitions (a balanced tree of
them, so each row makes a handful of comparisons), computed once per zone; in a zone that is UTC
all year a bucket is a prefix of the stored text. Percentiles on SQLite are aggregate functions
registered once per connection, one per percentile (the values of one group at a time are all
they hold); PostgreSQL uses ``percentile_cont``. Both interpolate linearly, so they agree.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    Float,
    Integer,
    String,
    case,
    cast,
    func,
    literal,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from engine.reports.spec import BOOL, DATE, DEPARTMENT, NUMBER, PERCENTILES, TIME, USER
from engine.store.types import UTCDateTime

#: SQLite rows between two checks of a report's deadline (its progress handler).
PROGRESS_STEPS = 50_000
_TRANSITION_YEARS = (1990, 2045)


def json_value(dialect: str, data: ColumnElement[Any], key: str, kind: str) -> ColumnElement[Any]:
    """The value of field ``key`` in a record's JSON ``data``, typed for its kind."""
    if dialect == "postgresql":
        raw = data.op("->>", return_type=String())(key)
        types = {NUMBER: Float(), BOOL: Boolean(), USER: BigInteger(), DEPARTMENT: BigInteger(),
                 TIME: UTCDateTime(), DATE: Date()}  # fmt: skip
        return cast(raw, types[kind]) if kind in types else raw
    raw = func.json_extract(data, f"$.{key}")
    if kind == NUMBER:
        return cast(raw, Float())
    if kind == TIME:
        return func.strftime("%Y-%m-%d %H:%M:%f000", raw)
    return raw


def hours_between(dialect: str, start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.date_part("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def moment(value: dt.datetime) -> ColumnElement[Any]:
    """A bound moment compared with stored times (UTC text on SQLite, timestamptz on PostgreSQL)."""
    return literal(value, UTCDateTime())


# ----------------------------------------------------------------------------- time zones
@functools.lru_cache(maxsize=64)
def transitions(zone: str) -> tuple[tuple[dt.datetime, ...], tuple[int, ...]]:
    """UTC moments where ``zone`` changes its offset (1990–2045) and the offsets (seconds) between.

    ``offsets[i]`` holds before ``moments[i]``; the last offset holds after the last moment.
    """
    tz = ZoneInfo(zone)
    first, last = (dt.datetime(y, 1, 1, tzinfo=dt.UTC) for y in _TRANSITION_YEARS)

    def off(at: dt.datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    moments: list[dt.datetime] = []
    offsets = [off(first)]
    day = first
    step = dt.timedelta(days=28)  # zones change offset at most twice a year: a month apart at least
    while day < last:
        nxt = day + step
        if off(nxt) != offsets[-1]:
            lo, hi = day, nxt  # narrow to the second
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if off(mid) == offsets[-1]:
                    lo = mid
                else:
                    hi = mid
            moments.append(hi.replace(microsecond=0))
            offsets.append(off(nxt))
        day = nxt
    return tuple(moments), tuple(offsets)


def utc_offset(zone: str, at: dt.datetime) -> int:
    moments, offsets = transitions(zone)
    return offsets[bisect.bisect_right(moments, at)]


def _offset_sql(x: ColumnElement[Any], moments: tuple[dt.datetime, ...], offsets: tuple[int, ...]) -> Any:
    """A balanced CASE tree picking the offset of UTC text ``x`` (SQLite)."""
    if not moments:
        return literal(f"{offsets[0]:+d} seconds")
    mid = len(moments) // 2
    return case(
        (x < moment(moments[mid]), _offset_sql(x, moments[:mid], offsets[: mid + 1])),
        else_=_offset_sql(x, moments[mid + 1 :], offsets[mid + 1 :]),
    )


_SQLITE_FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
_PG_FORMATS = {"hour": "YYYY-MM-DD HH24:00", "day": "YYYY-MM-DD", "week": "YYYY-MM-DD", "month": "YYYY-MM",
               "quarter": "YYYY-\"Q\"Q", "year": "YYYY"}  # fmt: skip


def bucket(dialect: str, x: ColumnElement[Any], kind: str, part: str, zone: str) -> ColumnElement[Any]:
    """A time bucket (``2026-12``, ``2026-Q4``, week's Monday …) or part (weekday 1–7, hour 0–23)
    of ``x`` in ``zone``. Dates are calendar days already: they are not moved between zones."""
    if dialect == "postgresql":
        local = func.timezone(zone, x) if kind == TIME else cast(x, Date())
        if part == "weekday":
            return cast(func.date_part("isodow", local), Integer())
        if part == "hour_of_day":
            return cast(func.date_part("hour", local), Integer())
        if part in ("week", "quarter"):
            local = func.date_trunc(part, local)
        return func.to_char(local, _PG_FORMATS[part])
    if kind == TIME and not any(transitions(zone)[1]):
        return _utc_bucket(x, part)
    if kind == TIME:
        mod = _offset_sql(x, *transitions(zone))
        # SQLite's date functions keep milliseconds and round the rest (23:59:59.9999 would be the
        # next day); a bucket needs whole seconds, so they read the time up to its seconds.
        x = func.substr(x, 1, 19)
    else:
        mod = literal("+0 seconds")
    if part == "weekday":
        return (cast(func.strftime("%w", x, mod), Integer()) + 6) % 7 + 1
    if part == "hour_of_day":
        return cast(func.strftime("%H", x, mod), Integer())
    if part == "week":
        return func.date(x, mod, "-6 days", "weekday 1")
    if part == "quarter":
        month = cast(func.strftime("%m", x, mod), Integer())
        return func.strftime("%Y", x, mod).concat("-Q").concat(cast((month + 2) // 3, String()))
    return func.strftime(_SQLITE_FORMATS[part], x, mod)


def _utc_bucket(x: ColumnElement[Any], part: str) -> ColumnElement[Any]:
    """A bucket of a stored time in a zone that is UTC all year (SQLite): cut from its text.

    Stored times (and datetime fields, via :func:`json_value`) are UTC text
    ``YYYY-MM-DD HH:MM:SS.ffffff``, so the bucket is a prefix of it, without parsing a date per row.
    """
    if part == "weekday":
        return (cast(func.strftime("%w", func.substr(x, 1, 10)), Integer()) + 6) % 7 + 1
    if part == "week":
        return func.date(func.substr(x, 1, 10), "-6 days", "weekday 1")
    if part == "hour_of_day":
        return cast(func.substr(x, 12, 2), Integer())
    if part == "quarter":
        month = cast(func.substr(x, 6, 2), Integer())
        return func.substr(x, 1, 4).concat("-Q").concat(cast((month + 2) // 3, String()))
    if part == "hour":
        return func.substr(x, 1, 13).concat(":00")
    return func.substr(x, 1, _UTC_PREFIX[part])


_UTC_PREFIX = {"day": 10, "month": 7, "year": 4}


# ----------------------------------------------------------------------------- percentiles
def percentile(dialect: str, x: ColumnElement[Any], p: float) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.percentile_cont(p).within_group(x)
    return getattr(func, percentile_function(p))(x)


#: SQLite percentile aggregates: p → function name (registered on each connection by :func:`bounded`).
_PERCENTILE_FUNCTIONS: dict[float, str] = {}


def percentile_function(p: float) -> str:
    """The SQLite aggregate ``name(x)`` computing percentile ``p`` of x (linear, as percentile_cont)."""
    name = _PERCENTILE_FUNCTIONS.get(p)
    if name is None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"percentile {p} is not between 0 and 1")
        name = "gd_percentile_" + repr(float(p)).replace(".", "_").replace("-", "_")  # 0.9 → _0_9
        _PERCENTILE_FUNCTIONS[p] = name
    return name


class _Percentile:
    """A SQLite aggregate of one percentile: it keeps the values of one group, then interpolates.

    ``step`` is the list's own ``append`` (a C call per row, no Python frame): NULLs are kept and
    dropped in ``finalize``, once per group.
    """

    __slots__ = ("step", "values")
    p = 0.5

    def __init__(self) -> None:
        self.values: list[float | None] = []
        self.step = self.values.append

    def finalize(self) -> float | None:
        values = self.values
        try:
            values.sort()  # a NULL among two or more values fails the comparisons
        except TypeError:
            values = sorted(v for v in values if v is not None)
        if values and values[0] is None:  # one value, NULL: sorted without a comparison
            values = []
        return interpolate(values, self.p)


@functools.cache
def _percentile_class(p: float) -> type[_Percentile]:
    return type(f"_Percentile{p:g}", (_Percentile,), {"__slots__": (), "p": p})


def register_functions(raw: Any, done: set[str]) -> None:
    """Register the percentile aggregates on a SQLite connection (those not in ``done`` yet)."""
    for p in PERCENTILES.values():
        percentile_function(p)
    for p, name in list(_PERCENTILE_FUNCTIONS.items()):
        if name not in done:
            raw.create_aggregate(name, 1, _percentile_class(p))
            done.add(name)


def interpolate(ordered: Any, p: float) -> float | None:
    """The ``p`` percentile of sorted values, linearly interpolated (percentile_cont)."""
    if not len(ordered):
        return None
    k = p * (len(ordered) - 1)
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo))


# ----------------------------------------------------------------------------- running a statement
class Deadline(Exception):
    """The statement ran past its time limit and was stopped."""


@contextmanager
def bounded(conn: Connection, seconds: float) -> Iterator[None]:
    """Run statements on ``conn`` under a time limit: PostgreSQL's statement_timeout, or a SQLite
    progress handler that interrupts the statement (never a hung worker)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}"))
        yield
        return
    raw = conn.connection.driver_connection
    # Once per connection: registering a function again would expire its prepared statements.
    register_functions(raw, conn.connection.info.setdefault("gongdan_report_functions", set()))
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, PROGRESS_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, PROGRESS_STEPS)


def is_timeout(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "interrupted" in message or "statement timeout" in message or "canceling statement" in message
