"""Reading the traffic read models: grouped counts, raw listings, leaderboard, journeys.

A date range in a time zone becomes a UTC interval, cut into whole UTC days (read
from `traffic_dims`, or from `traffic_daily` when filtered), whole hours at the edges
(`traffic_hourly`) and, only for zones whose offset is not a whole hour, the minutes
left over (raw rows of at most two partial hours). Grouped answers therefore never
scan the raw hits of a range.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, select

from domain.text import clean
from projections.base import Tables, utc
from projections.traffic import KEEPS_SOURCE, hourly_horizon

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
    return _sum_by(conn, t, site, begin, finish, GROUPABLE[group_by], filters)


def _sum_by(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    column: str,
    filters: Filters,
    hide_sources: tuple[str, ...] = (),
) -> list[Group]:
    """Sum hits and uniques per value of a rollup column over a range, most first:
    whole days from the daily rollups, edge hours from the hourly ones, leftover
    minutes from raw rows; rows whose source is in `hide_sources` left out.

    Whole days come from the single-dimension rollups when nothing else is asked of
    the other dimensions, and from the combinations otherwise."""

    def where(table: Table) -> list[ColumnElement[bool]]:
        found = _conditions(table, filters)
        if hide_sources:
            found.append(table.c.source.is_(None) | table.c.source.not_in(hide_sources))
        return found

    pieces = cut(begin, finish, hourly_horizon())
    sums: dict[str | None, list[int]] = {}

    def add(rows: Iterable[Any]) -> None:
        for value, hits, uniques in rows:
            entry = sums.setdefault(value, [0, 0])
            entry[0] += int(hits or 0)
            entry[1] += int(uniques or 0)

    by_dimension = not _conditions(t["daily"], filters) and (
        not hide_sources or column in KEEPS_SOURCE
    )
    if pieces.days and by_dimension:
        dims = t["dims"]
        add(
            conn.execute(
                select(dims.c.value, func.sum(dims.c.hits), func.sum(dims.c.uniques))
                .where(
                    dims.c.site_uuid == site,
                    dims.c.dim == column,
                    dims.c.day >= pieces.days[0],
                    dims.c.day < pieces.days[1],
                    *where(dims),
                )
                .group_by(dims.c.value)
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


# ---- the dashboard ---------------------------------------------------------------------
# Charts and breakdowns read the rollups (`grouped`-style cuts of a range) and the
# lifetime tables; raw rows only for what exists nowhere else (campaigns, the feed
# subscriber estimate, listings, journeys and exports), each bounded in time.

Counts = tuple[int, int]  # hits, unique hits


def hourly_series(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime
) -> dict[datetime, Counts]:
    """Hits and unique hits per UTC hour in [begin, finish), from the hourly rollups."""
    hourly = t["hourly"]
    rows = conn.execute(
        select(hourly.c.hour, func.sum(hourly.c.hits), func.sum(hourly.c.uniques))
        .where(hourly.c.site_uuid == site, hourly.c.hour >= begin, hourly.c.hour < finish)
        .group_by(hourly.c.hour)
    )
    return {utc(hour): (int(h or 0), int(u or 0)) for hour, h, u in rows}


def daily_series(
    conn: Connection, t: Tables, site: UUID, first: date, last: date
) -> dict[date, Counts]:
    """Hits and unique hits per UTC day from `first` to `last` (both included)."""
    dims = t["dims"]
    # Every hit has exactly one country ("XX" when unknown): the fewest rows that
    # still count each hit once.
    rows = conn.execute(
        select(dims.c.day, func.sum(dims.c.hits), func.sum(dims.c.uniques))
        .where(
            dims.c.site_uuid == site,
            dims.c.dim == "country",
            dims.c.day >= first,
            dims.c.day <= last,
        )
        .group_by(dims.c.day)
    )
    return {day: (int(h or 0), int(u or 0)) for day, h, u in rows}


def breakdown(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    column: str,
    hide_sources: tuple[str, ...] = (),
) -> list[Group]:
    """Like `grouped`, by a rollup column, leaving out rows whose source is hidden
    (the referrer table without internal navigation)."""

    return _sum_by(conn, t, site, begin, finish, column, Filters(), hide_sources)


def campaigns(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime, limit: int
) -> list[Group]:
    """Hits per utm_campaign: raw rows only, so callers keep the range short."""
    hits = t["hits"]
    rows = conn.execute(
        select(
            hits.c.utm_campaign,
            func.count().label("n"),
            func.sum(case((hits.c.is_unique, 1), else_=0)),
        )
        .where(
            hits.c.site_uuid == site,
            hits.c.created_at >= begin,
            hits.c.created_at < finish,
            hits.c.utm_campaign.is_not(None),
        )
        .group_by(hits.c.utm_campaign)
        .order_by(func.count().desc(), hits.c.utm_campaign)
        .limit(limit)
    )
    return [Group(value, int(h), int(u or 0)) for value, h, u in rows]


def feed_subscribers(
    conn: Connection, t: Tables, site: UUID, since: datetime
) -> list[tuple[str, int, datetime]]:
    """The latest subscriber count each feed reader (by source) reported since a moment:
    (reader, subscribers, when), most subscribers first. Their sum is the estimate.

    One pass over the raw rows of the window (only feed-reader hits carry a count)."""
    hits = t["hits"]
    rows = conn.execute(
        select(hits.c.source, hits.c.subscribers, hits.c.created_at).where(
            hits.c.site_uuid == site,
            hits.c.created_at >= since,
            hits.c.subscribers.is_not(None),
            hits.c.source.is_not(None),
        )
    )
    latest: dict[str, tuple[int, datetime]] = {}
    for source, subscribers, at in rows:
        moment = utc(at)
        found = latest.get(source)
        if found is None or moment > found[1]:
            latest[source] = (int(subscribers), moment)
    ordered = [(source, n, at) for source, (n, at) in latest.items()]
    ordered.sort(key=lambda r: (-r[1], r[0]))
    return ordered


def event_breakdown(
    conn: Connection, t: Tables, site: UUID, first: date, last: date
) -> list[tuple[str, str | None, int]]:
    """Custom events per name and value over UTC days `first`..`last`, most first."""
    table = t["event_daily"]
    total = func.sum(table.c.hits)
    rows = conn.execute(
        select(table.c.name, table.c.value, total)
        .where(table.c.site_uuid == site, table.c.day >= first, table.c.day <= last)
        .group_by(table.c.name, table.c.value)
        .order_by(total.desc(), table.c.name, table.c.value)
    )
    return [(name, value, int(n or 0)) for name, value, n in rows]


def recent_events(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    limit: int,
    offset: int,
) -> list[Any]:
    """A page of raw custom events, newest first (ask for one more to know of a next page)."""
    events = t["events"]
    return list(
        conn.execute(
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
    )


def top_kudos(
    conn: Connection, kudo_tables: Tables, site: UUID, limit: int
) -> list[tuple[str, int]]:
    """Paths with the most live kudos (lifetime), from the kudos read model's counters."""
    counts = kudo_tables["counts"]
    rows = conn.execute(
        select(counts.c.path, counts.c.count)
        .where(counts.c.site_uuid == site, counts.c.count > 0)
        .order_by(counts.c.count.desc(), counts.c.path)
        .limit(limit)
    )
    return [(path, int(n)) for path, n in rows]


STREAM_ROWS = 2000


def iter_rows(
    conn: Connection,
    table: Table,
    site: UUID,
    begin: datetime | None = None,
    finish: datetime | None = None,
) -> Iterator[Any]:
    """Every row of a site's raw table (hits, events, kudos) in time order, streamed from
    a server-side cursor a few thousand at a time: exports never hold them all."""
    where = [table.c.site_uuid == site]
    if begin is not None:
        where.append(table.c.created_at >= begin)
    if finish is not None:
        where.append(table.c.created_at < finish)
    result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
        select(table).where(*where).order_by(table.c.created_at, table.c.id)
    )
    yield from result


def build_journeys(rows: list[Any]) -> list[dict[str, Any]]:
    """Each visitor's pages in order (rows from `visits`), newest journey first."""
    journeys: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row in rows:
        at = utc(row.created_at)
        if current is None or current["visitor_hash"] != row.visitor_hash:
            current = {
                "visitor_hash": row.visitor_hash,
                "first_hit": at,
                "pages": [],
                "referrer": row.referrer,
                "country": row.country,
                "browser": row.browser,
            }
            journeys.append(current)
        current["pages"].append({"path": row.path})
        current["last_hit"] = at
    for journey in journeys:
        seconds = int((journey["last_hit"] - journey["first_hit"]).total_seconds())
        journey.update(
            page_count=len(journey["pages"]),
            entry_page=journey["pages"][0]["path"],
            exit_page=journey["pages"][-1]["path"],
            session_duration=seconds,
            duration_minutes=seconds // 60,
        )
    journeys.sort(key=lambda j: (j["last_hit"], j["visitor_hash"]), reverse=True)
    return journeys


def journey_summary(journeys: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """Visitors, bounce rate and the most common entry and exit pages."""
    total = len(journeys)
    multi = sum(1 for j in journeys if j["page_count"] > 1)
    entries = Counter(j["entry_page"] for j in journeys)
    exits = Counter(j["exit_page"] for j in journeys)
    return {
        "summary": {
            "total_visitors": total,
            "multi_page_visitors": multi,
            "single_page_visitors": total - multi,
            "bounce_rate": round((total - multi) * 100.0 / total, 1) if total else 0.0,
        },
        "insights": {
            "top_entry_pages": [{"path": p, "visitors": n} for p, n in entries.most_common(top)],
            "top_exit_pages": [{"path": p, "visitors": n} for p, n in exits.most_common(top)],
        },
    }
