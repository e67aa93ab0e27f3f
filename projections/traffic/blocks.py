"""Block rollups: the single-dimension rows summed over aligned blocks of days, and their seal.

A block of `span` days (schema.BLOCK_SPANS) starts on a day whose number since
1970-01-01 is a multiple of `span`: any range of days is the fewest such blocks and
a few single days (intervals.in_blocks), which a long range reads instead of every
day's rows.

Only closed blocks are kept. A site's seal (`traffic_block_seal`) is a UTC day:
every block of the site that ends on or before it is in the table, complete, and no
other is. A batch whose newest hit of a site is on a later day moves the site's seal
to that day and sums the blocks that closed from the single-dimension days, in the
database (`seal`); a late hit, on a day before its site's seal, adds to the closed
blocks that hold its day (`late_block_rows`). The hits of the open days, almost every
hit of a live stream, cost a batch no block rows at all: upserting five block rows
for every single-dimension row was a third of a catch-up. A read takes blocks up to
the site's seal and single days after it (`sealed_day`); a rebuild seals every site
at its newest hit's day, as the live batches did.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Integer, cast, func, literal, select, union_all

from projections.base import Tables
from projections.bulk import Bulk
from projections.traffic.schema import BLOCK_COLUMNS, BLOCK_SPANS, DIMENSIONS

_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=4096)
def _blocks_of(day: str) -> tuple[tuple[int, str, str], ...]:
    """The blocks (span, first day, the day after the last) of each span that hold a day."""
    number = (date.fromisoformat(day) - _EPOCH).days
    found = []
    for span in BLOCK_SPANS:
        start = _EPOCH + timedelta(days=number - number % span)
        found.append((span, start.isoformat(), (start + timedelta(days=span)).isoformat()))
    return tuple(found)


def late_block_rows(
    dims: Iterable[tuple[Any, ...]], sealed: dict[str, date]
) -> list[tuple[Any, ...]]:
    """Block rows (`BLOCK_COLUMNS`) to add for single-dimension daily rows (`DIM_COLUMNS`)
    of a live batch: only the closed blocks (ending on or before their site's seal) are
    kept, so only rows of days before the seal have any."""
    if not sealed:
        return []
    closed_by = {site: day.isoformat() for site, day in sealed.items()}
    sums: dict[tuple[str, str, int, str, str], list[Any]] = {}
    for site, dim, day, key, value, source, hits, uniques in dims:
        by = closed_by.get(site)
        if by is None or day >= by:
            continue
        for span, start, end in _blocks_of(day):
            if end > by:
                break  # a longer span's block ends later still
            found = (site, dim, span, start, key)
            total = sums.get(found)
            if total is None:
                sums[found] = [value, source, hits, uniques]
            else:
                total[2] += hits
                total[3] += uniques
    return [(*bucket, *rest) for bucket, rest in sums.items()]


def sealed_day(conn: Connection, t: Tables, site: UUID) -> date | None:
    """The day every block of the site ending on or before is complete (None: no block yet)."""
    table = t["seal"]
    found: date | None = conn.execute(select(table.c.day).where(table.c.site_uuid == site)).scalar()
    return found


class Seals:
    """The seals one reader read lately. A seal only moves on (a rebuild seals each site
    where its live batches did, an erasure takes the whole site) and the blocks up to an
    older seal stay complete, so a read may take a seal read up to `max_age` seconds
    ago: it loses nothing but sums a few more single days. Reading the seal for every
    read was a fifth of a small grouped read."""

    def __init__(self, max_age: float = 60.0, most: int = 10_000) -> None:
        self._max_age = max_age
        self._most = most
        self._read: dict[UUID, tuple[float, date | None]] = {}

    def day(self, conn: Connection, t: Tables, site: UUID) -> date | None:
        now = time.monotonic()
        found = self._read.get(site)
        if found is not None and now - found[0] < self._max_age:
            return found[1]
        day = sealed_day(conn, t, site)
        if len(self._read) >= self._most:
            self._read.clear()  # a few entries read again beats a bounded structure here
        self._read[site] = (now, day)
        return day


def sealed_days(conn: Connection, t: Tables, sites: Iterable[str]) -> dict[str, date]:
    """The seals of these sites (ids as hex) that have one."""
    table, wanted = t["seal"], [UUID(hex=site) for site in sites]
    found: dict[str, date] = {}
    for at in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(table.c.site_uuid, table.c.day).where(
                table.c.site_uuid.in_(wanted[at : at + _CHUNK])
            )
        )
        found.update((site.hex, day) for site, day in rows)
    return found


Moves = dict[tuple[date | None, date], list[UUID]]  # (seal before, after): the sites


def seal(conn: Connection, t: Tables, through: dict[str, date], sealed: dict[str, date]) -> None:
    """Move each site's seal (`sealed`, as `sealed_days` read it) on to its day in
    `through`, summing the blocks that close from the single-dimension days (which must
    hold every hit of those days)."""
    moved = moves(through, sealed)
    close_blocks(conn, t, moved)
    write_seals(conn, t, moved)


def moves(through: dict[str, date], sealed: dict[str, date]) -> Moves:
    """The seals that move on to the days in `through`, grouped by where they were and
    where they go: the sites of a group have their blocks summed together."""
    moved: Moves = defaultdict(list)
    for site, day in through.items():
        before = sealed.get(site)
        if before is None or day > before:
            moved[(before, day)].append(UUID(hex=site))
    return moved


def close_blocks(
    conn: Connection, t: Tables, moved: Moves, dims: tuple[str, ...] = DIMENSIONS
) -> None:
    """Sum the blocks of these dimensions that the moves close."""
    for (before, day), sites in moved.items():
        for at in range(0, len(sites), _CHUNK):
            _derive(conn, t, sites[at : at + _CHUNK], before, day, dims)


def write_seals(conn: Connection, t: Tables, moved: Moves) -> None:
    Bulk(conn).upsert_latest(
        t["seal"],
        ("site_uuid", "day"),
        ("site_uuid",),
        "day",
        [(site.hex, day.isoformat()) for (_b, day), sites in moved.items() for site in sites],
    )


# Sites per statement: SQLite takes at most 32,766 parameters in one.
_CHUNK = 1000


def _derive(
    conn: Connection,
    t: Tables,
    sites: list[UUID],
    after: date | None,
    through: date,
    wanted: tuple[str, ...],
) -> None:
    """Insert the sites' blocks of the `wanted` dimensions that end after `after` (any,
    for None) and on or before `through`, one statement per span: the 2-day blocks from
    the single-dimension daily rows, and each longer span from the one before it
    (aligned blocks nest, so a 4-day block is two 2-day blocks), which reads a fraction
    of the rows that summing every span from the days would."""
    dims, blocks = t["dims"], t["blocks"]
    pg = conn.dialect.name == "postgresql"
    last = (through - _EPOCH).days
    first = None if after is None else (after - _EPOCH).days
    source: Any = dims
    day: Any = dims.c.day
    previous: int | None = None
    for span in BLOCK_SPANS:
        # The days of the blocks wanted: from the start of the block that holds `after`
        # (it ends after it) to the end of the last block that ends by `through`.
        end = last - last % span
        begin = None if first is None else first - first % span
        if begin is not None and begin >= end:
            break  # no block of this span closes, so none of a longer one
        if pg:
            start: Any = day - func.mod(day - literal(_EPOCH), span)
        else:
            # julianday() of 1970-01-01 is 2440587.5: whole days since then, as an integer.
            number = cast(func.julianday(day) - 2440587.5, Integer)
            start = func.date(func.julianday(day) - number % span)
        summing: Any = select(
            source.c.site_uuid,
            source.c.dim,
            literal(span, Integer).label("span"),
            start.label("start"),
            source.c.key,
            func.min(source.c.value).label("value"),
            func.min(source.c.source).label("source"),
            func.sum(source.c.hits).label("hits"),
            func.sum(source.c.uniques).label("uniques"),
        ).group_by(source.c.site_uuid, source.c.dim, start, source.c.key)
        summing = summing.where(source.c.site_uuid.in_(sites), day < _EPOCH + timedelta(days=end))
        if previous is not None:
            summing = summing.where(source.c.span == previous)
        summed: Any
        if begin is None:
            if wanted != DIMENSIONS:
                summing = summing.where(source.c.dim.in_(wanted))
            summed = summing
            if pg:
                # All of the sites' blocks at once (a rebuild): in the primary key's order,
                # so the index grows at its right edge instead of splitting pages all
                # over, and a range read finds its rows on neighbouring pages.
                rows = summed.subquery()
                summed = select(*rows.c).order_by(
                    rows.c.site_uuid, rows.c.dim, rows.c.start, rows.c.key
                )
        else:
            # A few days of the sites (a live batch): one part per dimension, so that the
            # primary key (site, dim, then day or span and start) finds just those days
            # instead of every row of the sites, whatever the planner guesses.
            summing = summing.where(day >= _EPOCH + timedelta(days=begin))
            summed = union_all(*(summing.where(source.c.dim == dim) for dim in wanted))
        conn.execute(blocks.insert().from_select(BLOCK_COLUMNS, summed))
        source, day, previous = blocks, blocks.c.start, span
