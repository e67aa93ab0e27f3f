"""Hits over time: per quarter of an hour, summed into the hours and local days of charts.

Every hit is counted once in `traffic_quarters` (UTC quarters of an hour, kept for
good), and every zone's offset is a whole number of quarters: a local day or hour in
any zone is an exact sum of quarters, for any range, however old.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import Connection, func, select

from domain.date_ranges import DateRange, Window
from projections.base import Tables, utc


@dataclass(frozen=True)
class Counts:
    hits: int
    uniques: int


@dataclass(frozen=True)
class Point:
    """One bar of a chart: a local day, or an hour given by its first instant (UTC)."""

    at: date | datetime
    hits: int
    uniques: int


def _quarters(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime
) -> list[tuple[datetime, int, int]]:
    table = t["quarters"]
    rows = conn.execute(
        select(table.c.at, table.c.hits, table.c.uniques)
        .where(table.c.site_uuid == site, table.c.at >= begin, table.c.at < finish)
        .order_by(table.c.at)
    )
    return [(utc(at), int(h), int(u)) for at, h, u in rows]


def totals(conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime) -> Counts:
    """Hits and unique hits in [begin, finish), which start and end on quarter hours."""
    table = t["quarters"]
    hits, uniques = conn.execute(
        select(func.sum(table.c.hits), func.sum(table.c.uniques)).where(
            table.c.site_uuid == site, table.c.at >= begin, table.c.at < finish
        )
    ).one()
    return Counts(int(hits or 0), int(uniques or 0))


def by_day(conn: Connection, t: Tables, site: UUID, span: DateRange) -> list[Point]:
    """Hits and unique hits on each local day of the range, every day listed."""
    return _days(span, _quarters(conn, t, site, span.begin, span.finish))


def by_hour(conn: Connection, t: Tables, site: UUID, window: Window) -> list[Point]:
    """Hits and unique hits in each whole UTC hour of the window, every hour listed."""
    return _hours(window, _quarters(conn, t, site, window.begin, window.finish))


def days_and_hours(
    conn: Connection, t: Tables, site: UUID, span: DateRange, window: Window
) -> tuple[list[Point], list[Point]]:
    """`by_day` of the range and `by_hour` of the window from one read of the quarters
    from the earlier start to the later end (an insight's week and last 8 days overlap
    by about 7 days: some 800 rows instead of 1,440)."""
    begin, finish = min(span.begin, window.begin), max(span.finish, window.finish)
    rows = _quarters(conn, t, site, begin, finish)
    return _days(span, rows), _hours(window, rows)


def _days(span: DateRange, rows: list[tuple[datetime, int, int]]) -> list[Point]:
    days = span.days()
    starts = [span.day_window(day).begin for day in days]
    begin, finish = span.begin, span.finish  # worked out from the zone at each call
    sums = [[0, 0] for _ in days]
    for at, hits, uniques in rows:
        if begin <= at < finish:
            entry = sums[bisect_right(starts, at) - 1]
            entry[0] += hits
            entry[1] += uniques
    return [Point(day, h, u) for day, (h, u) in zip(days, sums, strict=True)]


def _hours(window: Window, rows: list[tuple[datetime, int, int]]) -> list[Point]:
    hour = timedelta(hours=1)
    first = window.begin.replace(minute=0, second=0, microsecond=0)
    count = int((window.finish - first) / hour) + (
        0 if (window.finish - first) % hour == timedelta(0) else 1
    )
    begin, finish = window.begin, window.finish
    sums = [[0, 0] for _ in range(count)]
    for at, hits, uniques in rows:
        if begin <= at < finish:
            entry = sums[int((at - first) / hour)]
            entry[0] += hits
            entry[1] += uniques
    return [Point(first + i * hour, h, u) for i, (h, u) in enumerate(sums)]
