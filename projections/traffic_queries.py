"""Reading the traffic read models: grouped counts, raw listings, leaderboard, journeys.

A date range in a time zone becomes a UTC interval, cut into whole UTC days (read
from `traffic_daily`), whole hours at the edges (`traffic_hourly`) and, only for
zones whose offset is not a whole hour, the minutes left over (raw rows of at most
two partial hours). Grouped answers therefore never scan the raw hits of a range.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, select

from projections.base import Tables, utc
from projections.traffic import hourly_horizon

GROUPABLE = {
    "path": "path",
    "country": "country",
    "referrer": "referrer",
    "browser_name": "browser",
    "platform_name": "platform",
    "source": "source",
}


@dataclass(frozen=True)
class Filters:
    country: str | None = None
    path: str | None = None
    referrer: str | None = None  # case-insensitive partial match


@dataclass(frozen=True)
class Group:
    value: str | None
    hits: int
    uniques: int


def utc_interval(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the zone, as UTC instants."""
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    finish = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return begin, finish


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def _floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)


@dataclass(frozen=True)
class Pieces:
    days: tuple[date, date] | None  # [first, last) UTC days
    hours: list[tuple[datetime, datetime]]
    raw: list[tuple[datetime, datetime]]


def cut(begin: datetime, finish: datetime, hourly_from: datetime) -> Pieces:
    """Cut [begin, finish) into whole UTC days, whole hours and leftover minutes.

    Hours before `hourly_from` (older than the hourly rollups keep) count as leftover.
    """
    days: tuple[date, date] | None = None
    edges: list[tuple[datetime, datetime]] = []
    first_day, last_day = _ceil_day(begin), _floor_day(finish)
    if first_day < last_day:
        days = (first_day.date(), last_day.date())
        edges = [(begin, first_day), (last_day, finish)]
    else:
        edges = [(begin, finish)]
    hours: list[tuple[datetime, datetime]] = []
    raw: list[tuple[datetime, datetime]] = []
    for a, b in edges:
        if a >= b:
            continue
        ha, hb = _ceil_hour(max(a, hourly_from)), _floor_hour(b)
        if ha < hb and ha >= hourly_from:
            hours.append((ha, hb))
            raw += [(a, ha), (hb, b)]
        else:
            raw.append((a, b))
    return Pieces(days, hours, [(a, b) for a, b in raw if a < b])


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(table: Table, filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.country:
        found.append(table.c.country == filters.country)
    if filters.path:
        found.append(table.c.path == filters.path)
    if filters.referrer:
        found.append(func.lower(table.c.referrer).like(_like(filters.referrer), escape="\\"))
    return found


def grouped(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    group_by: str,
    filters: Filters,
) -> list[Group]:
    """Hits (and unique hits) per value of a dimension, most first."""
    column = GROUPABLE[group_by]
    pieces = cut(begin, finish, hourly_horizon())
    sums: dict[str | None, list[int]] = {}

    def add(rows: Iterable[Any]) -> None:
        for value, hits, uniques in rows:
            entry = sums.setdefault(value, [0, 0])
            entry[0] += int(hits or 0)
            entry[1] += int(uniques or 0)

    if pieces.days:
        daily = t["daily"]
        add(
            conn.execute(
                select(daily.c[column], func.sum(daily.c.hits), func.sum(daily.c.uniques))
                .where(
                    daily.c.site_uuid == site,
                    daily.c.day >= pieces.days[0],
                    daily.c.day < pieces.days[1],
                    *_conditions(daily, filters),
                )
                .group_by(daily.c[column])
            )
        )
    hourly = t["hourly"]
    for a, b in pieces.hours:
        add(
            conn.execute(
                select(hourly.c[column], func.sum(hourly.c.hits), func.sum(hourly.c.uniques))
                .where(
                    hourly.c.site_uuid == site,
                    hourly.c.hour >= a,
                    hourly.c.hour < b,
                    *_conditions(hourly, filters),
                )
                .group_by(hourly.c[column])
            )
        )
    hits = t["hits"]
    for a, b in pieces.raw:
        add(
            conn.execute(
                select(
                    hits.c[column],
                    func.count(),
                    func.sum(case((hits.c.is_unique, 1), else_=0)),
                )
                .where(
                    hits.c.site_uuid == site,
                    hits.c.created_at >= a,
                    hits.c.created_at < b,
                    *_conditions(hits, filters),
                )
                .group_by(hits.c[column])
            )
        )
    groups = [Group(value, h, u) for value, (h, u) in sums.items() if h > 0]
    groups.sort(key=lambda g: (-g.hits, g.value or ""))
    return groups


def raw_hits(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    filters: Filters,
    limit: int,
    offset: int,
) -> tuple[int, list[Any]]:
    """A page of raw hits, newest first, and how many there are in all."""
    hits = t["hits"]
    where = [
        hits.c.site_uuid == site,
        hits.c.created_at >= begin,
        hits.c.created_at < finish,
        *_conditions(hits, filters),
    ]
    total = int(conn.execute(select(func.count()).select_from(hits).where(*where)).scalar() or 0)
    rows = conn.execute(
        select(hits)
        .where(*where)
        .order_by(hits.c.created_at.desc(), hits.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def site_totals(conn: Connection, t: Tables, sites: list[UUID]) -> dict[UUID, Any]:
    if not sites:
        return {}
    table = t["sites"]
    rows = conn.execute(select(table).where(table.c.site_uuid.in_(sites)))
    return {row.site_uuid: row for row in rows}


def leaderboard(conn: Connection, t: Tables, site: UUID) -> list[tuple[str, int, int]]:
    """Every path of a site with its lifetime hits and unique hits, most first."""
    paths = t["paths"]
    rows = conn.execute(
        select(paths.c.path, paths.c.hits, paths.c.uniques)
        .where(paths.c.site_uuid == site)
        .order_by(paths.c.hits.desc(), paths.c.path)
    )
    return [(r.path, int(r.hits), int(r.uniques)) for r in rows]


def visits(conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime) -> list[Any]:
    """Hits with a visitor hash in a range, per visitor in time order (for journeys)."""
    hits = t["hits"]
    rows = conn.execute(
        select(
            hits.c.visitor_hash,
            hits.c.created_at,
            hits.c.path,
            hits.c.referrer,
            hits.c.country,
            hits.c.browser,
        )
        .where(
            and_(
                hits.c.site_uuid == site,
                hits.c.created_at >= begin,
                hits.c.created_at < finish,
                hits.c.visitor_hash.is_not(None),
            )
        )
        .order_by(hits.c.visitor_hash, hits.c.created_at, hits.c.id)
    ).all()
    return list(rows)


def as_utc(moment: datetime) -> datetime:
    return utc(moment)


def countries_visited(conn: Connection, t: Tables, site: UUID) -> list[str]:
    """Country codes that sent at least one hit, A to Z; the unknown `XX` left out."""
    table = t["countries"]
    rows = conn.execute(
        select(table.c.country)
        .where(table.c.site_uuid == site, table.c.hits > 0, table.c.country != "XX")
        .order_by(table.c.country)
    )
    return [row.country for row in rows]
