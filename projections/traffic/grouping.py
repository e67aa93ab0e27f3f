"""Sums by dimension over a range: the grouped-query SQL of the API and the dashboard.

A range's instants are cut into whole UTC days, edge hours and leftover minutes
(intervals.py). Whole days come from the single-dimension rollups (`traffic_dims`)
when no filter asks about the other dimensions, from the combinations
(`traffic_daily`) when one does; edge hours from `traffic_hourly`; minutes from raw
rows. Grouped answers therefore never scan the raw hits of a range.
"""

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)

from domain.text import clean
from projections.base import Tables
from projections.traffic import schema
from projections.traffic.blocks import Seals, sealed_day
from projections.traffic.intervals import cut, cut_fewest, in_blocks
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


class Group(NamedTuple):
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


def _parts(
    t: Tables,
    site: Any,
    begin: datetime,
    finish: datetime,
    column: str,
    filters: Filters,
    hide_sources: tuple[str, ...],
    known: bool,
    horizon: datetime,
    sealed: date | None,
) -> list[Select[Any]]:
    """One SELECT of (value, hits, uniques) per piece of [begin, finish): their union,
    summed by value, is the range's. `site` is a site's id or a bound parameter,
    `horizon` where the hourly rollups begin and `sealed` the day the blocks end by."""

    def where(table: Table) -> list[ColumnElement[bool]]:
        found = _conditions(table, filters)
        if hide_sources:
            found.append(table.c.source.is_(None) | table.c.source.not_in(hide_sources))
        return found

    pieces = cut_fewest(begin, finish, horizon)
    parts: list[Select[Any]] = []

    def piece(table: Table, value: Any, *conditions: ColumnElement[bool], sign: int = 1) -> None:
        if known:
            conditions = (*conditions, value.is_not(None))
        hits, uniques = (
            (table.c.hits, table.c.uniques) if sign > 0 else (-table.c.hits, -table.c.uniques)
        )
        parts.append(
            select(value.label("value"), hits.label("hits"), uniques.label("uniques")).where(
                table.c.site_uuid == site, *conditions, *where(table)
            )
        )

    by_dimension = not filters.any and (not hide_sources or column in KEEPS_SOURCE)
    if pieces.days and by_dimension:
        split = in_blocks(pieces.days[0], pieces.days[1], schema.BLOCK_SPANS, sealed)
        dims, blocks = t["dims"], t["blocks"]
        for first, last in split.days:
            piece(dims, dims.c.value, dims.c.dim == column, dims.c.day >= first, dims.c.day < last)
        if split.blocks:
            chosen = or_(
                *(
                    and_(blocks.c.span == span, blocks.c.start.in_(starts))
                    for span, starts in split.blocks.items()
                )
            )
            piece(blocks, blocks.c.value, blocks.c.dim == column, chosen)
    elif pieces.days:
        daily = t["daily"]
        piece(
            daily,
            daily.c[column],
            daily.c.day >= pieces.days[0],
            daily.c.day < pieces.days[1],
        )
    hourly = t["hourly"]
    for a, b in pieces.hours:
        piece(hourly, hourly.c[column], hourly.c.hour >= a, hourly.c.hour < b)
    # The hours of an edge day outside the range, taken away from that whole day.
    for a, b in pieces.less:
        piece(hourly, hourly.c[column], hourly.c.hour >= a, hourly.c.hour < b, sign=-1)
    hits = t["hits"]
    for a, b in pieces.raw:
        parts.append(
            select(
                hits.c[column].label("value"),
                literal(1).label("hits"),
                case((hits.c.is_unique, 1), else_=0).label("uniques"),
            ).where(
                hits.c.site_uuid == site,
                hits.c.created_at >= a,
                hits.c.created_at < b,
                *where(hits),
                *([hits.c[column].is_not(None)] if known else []),
            )
        )
    return parts


def _by_value(dialect: str, value: Any) -> Any:
    """The order Python's str sorts in: code points ("C" on PostgreSQL, BINARY on SQLite)."""
    by_value: Any = func.coalesce(value, "")
    if dialect == "postgresql":
        by_value = by_value.collate("C")
    return by_value


def sums_by(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    column: str,
    filters: Filters = NO_FILTERS,
    hide_sources: tuple[str, ...] = (),
    limit: int | None = None,
    offset: int = 0,
    known: bool = False,
    seals: Seals | None = None,
) -> tuple[int, list[Group]]:
    """Hits and uniques per value of a rollup column over [begin, finish), most first
    (then by value), and how many values there are in all; `limit` and `offset` choose
    a page of them. Rows whose source is in `hide_sources` are left out (the referrers
    without internal navigation), and with `known` the hits without a value (the
    campaigns of hits that came from none). The blocks' seal comes from `seals` when
    given, else from the table.

    Every piece of the range is one SELECT of (value, hits, uniques); the database sums
    them all in one statement, sorts, counts and cuts the page, so only the page
    leaves it."""
    horizon = schema.hourly_horizon()
    sealed = seals.day(conn, t, site) if seals is not None else sealed_day(conn, t, site)
    parts = _parts(t, site, begin, finish, column, filters, hide_sources, known, horizon, sealed)
    if not parts:
        return 0, []
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    total_hits = func.sum(rows.c.hits)
    query = (
        select(rows.c.value, total_hits, func.sum(rows.c.uniques), func.count().over())
        .group_by(rows.c.value)
        .having(total_hits > 0)
        .order_by(total_hits.desc(), _by_value(conn.dialect.name, rows.c.value))
        .limit(limit)
        .offset(offset)
    )
    found = conn.execute(query).all()
    if not found:
        if offset == 0:
            return 0, []
        # A page past the end: how many there are still has to be told.
        return _count(conn, rows, total_hits), []
    return int(found[0][3]), [Group(value, int(h), int(u or 0)) for value, h, u, _ in found]


@dataclass(frozen=True)
class Top:
    """One breakdown of `tops`: the first `limit` values of a rollup column (all without
    a limit), as `sums_by` lists them with the same `known` and `hide_sources`."""

    column: str
    limit: int | None = None
    known: bool = False
    hide_sources: tuple[str, ...] = ()


def tops(
    conn: Connection, t: Tables, site: UUID, begin: datetime, finish: datetime, wanted: list[Top]
) -> dict[str, list[Group]]:
    """Several breakdowns of one range in one statement (an insight reads four a week):
    each is `sums_by`'s query (summed, sorted and cut in the database), tagged with its
    column's name; the union of them is one round trip instead of four."""
    tables = tuple(t[name] for name in _PART_TABLES)
    query = _tops_query(
        tables,
        conn.dialect.name,
        begin,
        finish,
        schema.hourly_horizon(),
        sealed_day(conn, t, site),
        tuple(wanted),
    )
    found: dict[str, list[Group]] = {w.column: [] for w in wanted}
    if query is None:
        return found
    for dim, value, hits, uniques in conn.execute(query, {"site": site}):
        found[dim].append(Group(value, int(hits), int(uniques or 0)))
    # A union keeps no order: each page sorted again as the database sorted it (most
    # hits first, then by value in code points, which is how Python compares str).
    for groups in found.values():
        groups.sort(key=lambda g: (-g.hits, g.value or ""))
    return found


_PART_TABLES = ("dims", "blocks", "daily", "hourly", "hits")


# Building the statement costs more of this process's time than the database's answer
# for most sites. Its shape and every value but the site's id depend only on the range,
# the hourly horizon and the blocks' seal, which all the sites of a zone share in the
# hour their nightly insights run: it is built once for them, with the site as a parameter.
@lru_cache(maxsize=64)
def _tops_query(
    tables: tuple[Table, ...],
    dialect: str,
    begin: datetime,
    finish: datetime,
    horizon: datetime,
    sealed: date | None,
    wanted: tuple[Top, ...],
) -> Any:
    t = dict(zip(_PART_TABLES, tables, strict=True))
    site = bindparam("site", type_=Uuid())
    pages: list[Select[Any]] = []
    for w in wanted:
        parts = _parts(
            t, site, begin, finish, w.column, NO_FILTERS, w.hide_sources, w.known, horizon, sealed
        )
        if not parts:
            continue
        rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
        total_hits = func.sum(rows.c.hits)
        page = (
            select(
                rows.c.value.label("value"),
                total_hits.label("hits"),
                func.sum(rows.c.uniques).label("uniques"),
            )
            .group_by(rows.c.value)
            .having(total_hits > 0)
            .order_by(total_hits.desc(), _by_value(dialect, rows.c.value))
            .limit(w.limit)
            .subquery()
        )
        label = literal(w.column, String()).label("dim")
        columns: list[Any] = [label, page.c.value, page.c.hits, page.c.uniques]
        pages.append(select(*columns))
    if not pages:
        return None
    return union_all(*pages) if len(pages) > 1 else pages[0]


def _count(conn: Connection, rows: Any, total_hits: Any) -> int:
    grouped = select(rows.c.value).group_by(rows.c.value).having(total_hits > 0).subquery()
    return int(conn.execute(select(func.count()).select_from(grouped)).scalar() or 0)


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
