"""Sums by dimension over a range: the grouped-query SQL of the API and the dashboard.

A range's instants are cut into whole UTC days, edge hours and leftover minutes
(intervals.py). Whole days come from the single-dimension rollups (`traffic_dims`)
when no filter asks about the other dimensions, from the combinations
(`traffic_daily`) when one does; edge hours from `traffic_hourly`; minutes from raw
rows. Grouped answers therefore never scan the raw hits of a range.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, or_, select

from domain.text import clean
from projections.base import Tables
from projections.traffic import schema
from projections.traffic.intervals import cut, in_blocks
from projections.traffic.rollups import KEEPS_SOURCE

# The API's group_by names and the rollup columns they sum by.
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

    def __post_init__(self) -> None:
        # Compared with stored texts, cleaned as they were (domain/text.py): `/a%00`
        # finds the hits sent for `/a\x00`, and PostgreSQL never sees a NUL parameter.
        for name in ("country", "path", "referrer"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, clean(value))

    @property
    def any(self) -> bool:
        return bool(self.country or self.path or self.referrer)


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Group:
    """One value of a dimension with its hits and unique hits over a range."""

    value: str | None
    hits: int
    uniques: int


@dataclass(frozen=True)
class EventCount:
    """Custom events of one name and value over a range."""

    name: str
    value: str | None
    count: int


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


def sums_by(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    column: str,
    filters: Filters = NO_FILTERS,
    hide_sources: tuple[str, ...] = (),
) -> list[Group]:
    """Hits and uniques per value of a rollup column over [begin, finish), most first;
    rows whose source is in `hide_sources` left out (the referrers without internal
    navigation)."""

    def where(table: Table) -> list[ColumnElement[bool]]:
        found = _conditions(table, filters)
        if hide_sources:
            found.append(table.c.source.is_(None) | table.c.source.not_in(hide_sources))
        return found

    pieces = cut(begin, finish, schema.hourly_horizon())
    sums: dict[str | None, list[int]] = {}

    def add(rows: Iterable[Any]) -> None:
        for value, hits, uniques in rows:
            entry = sums.setdefault(value, [0, 0])
            entry[0] += int(hits or 0)
            entry[1] += int(uniques or 0)

    by_dimension = not filters.any and (not hide_sources or column in KEEPS_SOURCE)
    if pieces.days and by_dimension:
        split = in_blocks(pieces.days[0], pieces.days[1], schema.BLOCK_SPANS)
        dims, blocks = t["dims"], t["blocks"]
        for first, last in split.days:
            add(
                conn.execute(
                    select(dims.c.value, func.sum(dims.c.hits), func.sum(dims.c.uniques))
                    .where(
                        dims.c.site_uuid == site,
                        dims.c.dim == column,
                        dims.c.day >= first,
                        dims.c.day < last,
                        *where(dims),
                    )
                    .group_by(dims.c.value)
                )
            )
        if split.blocks:
            chosen = or_(
                *(
                    and_(blocks.c.span == span, blocks.c.start.in_(starts))
                    for span, starts in split.blocks.items()
                )
            )
            add(
                conn.execute(
                    select(blocks.c.value, func.sum(blocks.c.hits), func.sum(blocks.c.uniques))
                    .where(
                        blocks.c.site_uuid == site,
                        blocks.c.dim == column,
                        chosen,
                        *where(blocks),
                    )
                    .group_by(blocks.c.value)
                )
            )
    elif pieces.days:
        daily = t["daily"]
        add(
            conn.execute(
                select(daily.c[column], func.sum(daily.c.hits), func.sum(daily.c.uniques))
                .where(
                    daily.c.site_uuid == site,
                    daily.c.day >= pieces.days[0],
                    daily.c.day < pieces.days[1],
                    *where(daily),
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
                    *where(hourly),
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
                    *where(hits),
                )
                .group_by(hits.c[column])
            )
        )
    groups = [Group(value, h, u) for value, (h, u) in sums.items() if h > 0]
    groups.sort(key=lambda g: (-g.hits, g.value or ""))
    return groups


def event_counts(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime
) -> list[EventCount]:
    """Custom events per name and value over [begin, finish), most first: whole UTC days
    from `traffic_event_daily`, the edges of another zone's days from raw events."""
    pieces = cut(begin, finish, finish)  # no hourly rollup of events: edges are raw
    sums: dict[tuple[str, str | None], int] = {}
    if pieces.days:
        table = t["event_daily"]
        rows = conn.execute(
            select(table.c.name, table.c.value, func.sum(table.c.hits))
            .where(
                table.c.site_uuid == site,
                table.c.day >= pieces.days[0],
                table.c.day < pieces.days[1],
            )
            .group_by(table.c.name, table.c.value)
        )
        for name, value, n in rows:
            sums[(name, value)] = sums.get((name, value), 0) + int(n or 0)
    events = t["events"]
    for a, b in pieces.raw:
        rows = conn.execute(
            select(events.c.name, events.c.value, func.count())
            .where(events.c.site_uuid == site, events.c.created_at >= a, events.c.created_at < b)
            .group_by(events.c.name, events.c.value)
        )
        for name, value, n in rows:
            sums[(name, value)] = sums.get((name, value), 0) + int(n or 0)
    found = [EventCount(name, value, n) for (name, value), n in sums.items() if n > 0]
    found.sort(key=lambda e: (-e.count, e.name, e.value or ""))
    return found
