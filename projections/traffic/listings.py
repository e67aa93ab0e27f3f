"""Raw rows: pages of hits and events, the visits journeys are made of, and exports.

These read the one-row-per-hit tables, always bounded by a site and a time window;
totals and breakdowns never come from here (grouping.py, series.py).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, Table, and_, func, select

from domain.hits import Visit
from projections.base import Tables, streamed, utc
from projections.traffic.grouping import Filters, _conditions

STREAM_ROWS = 2000


@dataclass(frozen=True, kw_only=True)
class HitRow(Visit):
    """A hit as the read model keeps it: the visit it was recorded with (domain/hits.py),
    its id, site and time, and whether it was the first of its unique hash that day."""

    id: int
    site_uuid: UUID
    created_at: datetime
    is_unique: bool


@dataclass(frozen=True)
class EventRow:
    """A custom event as the read model keeps it (schema.EVENT_COLUMNS)."""

    id: int
    site_uuid: UUID
    created_at: datetime
    name: str
    value: str | None
    path: str | None
    url: str | None
    referrer: str | None
    country: str
    source: str | None
    browser: str | None
    platform: str | None
    unique_hash: str | None
    visitor_hash: str | None


@dataclass(frozen=True)
class VisitorHit:
    """One hit of a visitor, as journeys need it."""

    visitor_hash: str
    created_at: datetime
    path: str
    referrer: str | None
    country: str
    browser: str | None


@dataclass(frozen=True)
class FeedReader:
    """The latest subscriber count a feed reader reported."""

    source: str
    subscribers: int
    reported_at: datetime


def _hit(row: Any) -> HitRow:
    values = dict(row._mapping)
    values["created_at"] = utc(values["created_at"])
    return HitRow(**values)


def _event(row: Any) -> EventRow:
    values = dict(row._mapping)
    values["created_at"] = utc(values["created_at"])
    return EventRow(**values)


def hits_page(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    filters: Filters,
    limit: int,
    offset: int,
) -> tuple[int, list[HitRow]]:
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
    )
    return total, [_hit(row) for row in rows]


def events_page(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    limit: int,
    offset: int,
) -> list[EventRow]:
    """A page of raw custom events, newest first (ask for one more to know of a next page)."""
    events = t["events"]
    rows = conn.execute(
        select(events)
        .where(
            events.c.site_uuid == site,
            events.c.created_at >= begin,
            events.c.created_at < finish,
        )
        .order_by(events.c.created_at.desc(), events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_event(row) for row in rows]


def visits(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime
) -> list[VisitorHit]:
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
    )
    return [VisitorHit(v, utc(at), p, r, c, b) for v, at, p, r, c, b in rows]


def feed_readers(conn: Connection, t: Tables, site: UUID, since: datetime) -> list[FeedReader]:
    """The feed readers that reported a subscriber count since a moment, most first."""
    feeds = t["feeds"]
    rows = conn.execute(
        select(feeds.c.source, feeds.c.subscribers, feeds.c.reported_at)
        .where(feeds.c.site_uuid == site, feeds.c.reported_at >= since)
        .order_by(feeds.c.subscribers.desc(), feeds.c.source)
    )
    return [FeedReader(source, int(n), utc(at)) for source, n, at in rows]


def stream(
    engine: Engine,
    table: Table,
    site: UUID,
    begin: datetime | None = None,
    finish: datetime | None = None,
) -> Iterator[Any]:
    """Every row of a site's raw table in time order, from a server-side cursor a few
    thousand at a time: exports never hold them all. The connection stays open while
    the caller iterates, and closes when it stops."""
    where = [table.c.site_uuid == site]
    if begin is not None:
        where.append(table.c.created_at >= begin)
    if finish is not None:
        where.append(table.c.created_at < finish)
    with engine.connect() as conn:
        result = streamed(conn, STREAM_ROWS).execute(
            select(table).where(*where).order_by(table.c.created_at, table.c.id)
        )
        yield from result


def stream_hits(
    engine: Engine, t: Tables, site: UUID, begin: datetime | None, finish: datetime | None
) -> Iterator[HitRow]:
    return (_hit(row) for row in stream(engine, t["hits"], site, begin, finish))


def stream_events(
    engine: Engine, t: Tables, site: UUID, begin: datetime | None, finish: datetime | None
) -> Iterator[EventRow]:
    return (_event(row) for row in stream(engine, t["events"], site, begin, finish))
