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
    Integer,
    Select,
    String,
    Table,
    Uuid,
    bindparam,
    case,
    func,
    literal,
    select,
    tuple_,
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
    referrer = _like(filters.referrer) if filters.referrer else None
    return _matching(table, filters.country or None, filters.path or None, referrer)


def _matching(table: Table, country: Any, path: Any, referrer: Any) -> list[ColumnElement[bool]]:
    """The conditions of a filter's values (or their parameters; None: not asked);
    `referrer` is a LIKE pattern."""
    found: list[ColumnElement[bool]] = []
    if country is not None:
        found.append(table.c.country == country)
    if path is not None:
        found.append(table.c.path == path)
    if referrer is not None:
        found.append(func.lower(table.c.referrer).like(referrer, escape="\\"))
    return found


@dataclass(frozen=True)
class _Plan:
    """The rows a range's sums read, from the range, the hourly horizon and the blocks'
    seal (`_plan`). Each value in it is the value itself, or its bound parameter's name
    (`_named`), or that parameter (`_bound`)."""

    runs: tuple[tuple[Any, Any], ...]  # [first, last) runs of single days (traffic_dims)
    blocks: Any  # (span, first day) of each block, all as one value; None: no blocks
    days: tuple[Any, Any] | None  # [first, last) days of the combinations (a filter asks)
    hours: tuple[tuple[Any, Any], ...]
    less: tuple[tuple[Any, Any], ...]  # hours to take away from an edge day
    raw: tuple[tuple[Any, Any], ...]
    country: Any
    path: Any
    referrer: Any  # a LIKE pattern
    hide: tuple[Any, ...]


# Runs of single days a plan always has: one at each end of its blocks.
_RUNS = 2


def _plan(
    begin: datetime,
    finish: datetime,
    column: str,
    filters: Filters,
    hide_sources: tuple[str, ...],
    horizon: datetime,
    sealed: date | None,
) -> _Plan:
    pieces = cut_fewest(begin, finish, horizon)
    runs: tuple[tuple[Any, Any], ...] = ()
    blocks: tuple[tuple[int, date], ...] | None = None
    days = pieces.days
    if days and not filters.any and (not hide_sources or column in KEEPS_SOURCE):
        split = in_blocks(days[0], days[1], schema.BLOCK_SPANS, sealed)
        # Ranges share a statement when their plans have the same shape (`_named`): the
        # blocks are one list whatever their spans and number, and the single days
        # always two runs, one at each end (in_blocks makes no more), empty if need be.
        # 30-day ranges ending on random days came in 11 shapes a dimension before.
        runs = tuple(split.days)
        runs += ((days[0], days[0]),) * (_RUNS - len(runs))
        pairs = [(span, start) for span, starts in split.blocks.items() for start in starts]
        blocks = tuple(pairs) or None
        days = None
    return _Plan(
        runs=runs,
        blocks=blocks,
        days=days,
        hours=tuple(pieces.hours),
        less=tuple(pieces.less),
        raw=tuple(pieces.raw),
        country=filters.country or None,
        path=filters.path or None,
        referrer=_like(filters.referrer) if filters.referrer else None,
        hide=hide_sources,
    )


def _mapped(plan: _Plan, leaf: Any) -> _Plan:
    """The plan with each value replaced by `leaf(value)`, always in the same order; the
    blocks are one value."""

    def pair(found: tuple[Any, Any]) -> tuple[Any, Any]:
        return leaf(found[0]), leaf(found[1])

    def one(found: Any) -> Any:
        return None if found is None else leaf(found)

    return _Plan(
        runs=tuple(pair(run) for run in plan.runs),
        blocks=one(plan.blocks),
        days=None if plan.days is None else pair(plan.days),
        hours=tuple(pair(hour) for hour in plan.hours),
        less=tuple(pair(hour) for hour in plan.less),
        raw=tuple(pair(run) for run in plan.raw),
        country=one(plan.country),
        path=one(plan.path),
        referrer=one(plan.referrer),
        hide=tuple(leaf(h) for h in plan.hide),
    )


def _named(plan: _Plan) -> tuple[_Plan, dict[str, Any]]:
    """The plan with a parameter's name for each value, and the values by name: plans of
    the same shape are named alike, so one statement serves them all."""
    values: dict[str, Any] = {}

    def name(value: Any) -> str:
        found = f"p{len(values)}"
        values[found] = value
        return found

    return _mapped(plan, name), values


def _bound(named: _Plan) -> _Plan:
    """The named plan with its parameters, each of the type of the column it meets; the
    blocks' list expanded into the statement when it runs."""
    return _mapped(named, lambda name: bindparam(name, expanding=name == named.blocks))


def _parts(t: Tables, site: Any, column: str, known: bool, plan: _Plan) -> list[Select[Any]]:
    """One SELECT of (value, hits, uniques) per piece of the plan: their union, summed by
    value, is the range's. `site` is a site's id or a bound parameter."""

    def where(table: Table) -> list[ColumnElement[bool]]:
        found = _matching(table, plan.country, plan.path, plan.referrer)
        if plan.hide:
            found.append(table.c.source.is_(None) | table.c.source.not_in(plan.hide))
        return found

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

    dims, blocks = t["dims"], t["blocks"]
    for first, last in plan.runs:
        piece(dims, dims.c.value, dims.c.dim == column, dims.c.day >= first, dims.c.day < last)
    if plan.blocks is not None:
        chosen = tuple_(blocks.c.span, blocks.c.start).in_(plan.blocks)
        piece(blocks, blocks.c.value, blocks.c.dim == column, chosen)
    if plan.days is not None:
        daily = t["daily"]
        piece(daily, daily.c[column], daily.c.day >= plan.days[0], daily.c.day < plan.days[1])
    hourly = t["hourly"]
    for a, b in plan.hours:
        piece(hourly, hourly.c[column], hourly.c.hour >= a, hourly.c.hour < b)
    # The hours of an edge day outside the range, taken away from that whole day.
    for a, b in plan.less:
        piece(hourly, hourly.c[column], hourly.c.hour >= a, hourly.c.hour < b, sign=-1)
    hits = t["hits"]
    for a, b in plan.raw:
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
    named, values = _named(_plan(begin, finish, column, filters, hide_sources, horizon, sealed))
    limited = limit is not None
    tables = tuple(t[name] for name in _PART_TABLES)
    key = (tables, conn.dialect.name, column, known, limited, named)
    statements = _SUMS_STATEMENTS.get(key, _UNBUILT)
    if statements is _UNBUILT:
        plan = _bound(named)
        statements = _sums_statements(t, conn.dialect.name, column, known, limited, plan)
        if len(_SUMS_STATEMENTS) >= 512:
            _SUMS_STATEMENTS.clear()  # shapes are few: this happens only to odd traffic
        _SUMS_STATEMENTS[key] = statements
    if statements is None:
        return 0, []
    page, count = statements
    values |= {"site": site, "limit": limit, "offset": offset}
    found = conn.execute(page, values).all()
    if not found:
        if offset == 0:
            return 0, []
        # A page past the end: how many there are still has to be told.
        return int(conn.execute(count, values).scalar() or 0), []
    return int(found[0][3]), [Group(value, int(h), int(u or 0)) for value, h, u, _ in found]


# Building a grouped statement cost more of this process's time than the database's
# answer for most ranges. Every value is a parameter, so ranges of the same shape (the
# same number of single days, blocks of each span, edge hours) share one statement.
_SUMS_STATEMENTS: dict[Any, Any] = {}
_UNBUILT = object()


def _sums_statements(
    t: Tables, dialect: str, column: str, known: bool, limited: bool, plan: _Plan
) -> tuple[Any, Any] | None:
    """The page statement of `sums_by` (values, sums, how many values in all) and the
    statement that counts the values, with the site, offset and (if `limited`) limit
    as parameters."""
    site = bindparam("site", type_=Uuid())
    parts = _parts(t, site, column, known, plan)
    if not parts:
        return None
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    total_hits = func.sum(rows.c.hits)
    page = (
        select(rows.c.value, total_hits, func.sum(rows.c.uniques), func.count().over())
        .group_by(rows.c.value)
        .having(total_hits > 0)
        .order_by(total_hits.desc(), _by_value(dialect, rows.c.value))
        .offset(bindparam("offset", type_=Integer()))
    )
    if limited:
        page = page.limit(bindparam("limit", type_=Integer()))
    grouped = select(rows.c.value).group_by(rows.c.value).having(total_hits > 0).subquery()
    return page, select(func.count()).select_from(grouped)


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
        plan = _plan(begin, finish, w.column, NO_FILTERS, w.hide_sources, horizon, sealed)
        parts = _parts(t, site, w.column, w.known, plan)
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
