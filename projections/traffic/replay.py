"""What a rebuild of the traffic read models keeps in memory between batches.

A rebuild replays the whole log, in order and in one process, into fresh tables
(projections/runner.py), so two things need not make a round trip through them:

- the unique hashes of recent days, which decide which hits are unique
  (projections/first_seen.py);
- the daily rollup rows of the last OPEN_DAYS days. Hits arrive in time order, so a
  day's rows are complete soon after the day is over: each is then written once, by
  a plain insert (COPY on PostgreSQL), instead of being upserted batch after batch.
  A hit that comes after its day was written still adds to it, by an upsert;
- the lifetime counters per path and per country, which every batch would upsert
  again: they are written once, at the end. (The sites' totals are still written
  with every batch: they tell which sites were erased meanwhile.)

An erasure while the replay runs deletes its sites' rows from the fresh tables, but
cannot reach this memory: before each batch, and before the end writes what is
left, the sites whose lifetime totals are gone from the fresh tables are forgotten.
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Table, select

from projections.traffic.first_seen import SeenInMemory
from projections.traffic.schema import HITS_AT, UNIQUES_AT

OPEN_DAYS = 2
Bucket = tuple[str, str, str]  # site (hex), day ("YYYY-MM-DD"), combination key
Rollup = list[Any]  # the dimensions (schema.DIMENSIONS), hits, uniques


class Replay:
    def __init__(self) -> None:
        self.seen = SeenInMemory()
        self.days: dict[str, dict[Bucket, Rollup]] = {}
        # The daily rows of days before this one are in the table, the others only here.
        self.written_before = ""
        # The sites of the batches so far, each with its newest hit (UTC text): each has
        # lifetime totals in the fresh tables, unless it was erased since, and the
        # blocks that end by its newest day are summed at the end (blocks.py).
        self.sites: dict[str, str] = {}
        self.paths: dict[tuple[str, str], list[int]] = {}  # (site, path): hits, uniques
        self.countries: dict[tuple[str, str], int] = {}  # (site, country): hits

    def forget_erased(self, conn: Connection, totals: Table) -> None:
        if not self.sites:
            return
        remaining = {site.hex for site in conn.execute(select(totals.c.site_uuid)).scalars()}
        gone = self.sites.keys() - remaining
        if not gone:
            return
        for site in gone:
            del self.sites[site]
        self.seen.forget(gone)
        kept: list[dict[Any, Any]] = [*self.days.values(), self.paths, self.countries]
        for rows in kept:
            for key in [key for key in rows if key[0] in gone]:
                del rows[key]

    def add_sites(self, sites: dict[str, list[Any]]) -> None:
        """Keep a batch's sites and their newest hits, from its totals (hits, uniques, newest)."""
        for site, (_hits, _uniques, at) in sites.items():
            if at > self.sites.get(site, ""):
                self.sites[site] = at

    def add_counters(
        self, paths: dict[tuple[str, str], list[int]], countries: dict[tuple[str, str], int]
    ) -> None:
        for key, (hits, uniques) in paths.items():
            kept = self.paths.get(key)
            if kept is None:
                self.paths[key] = [hits, uniques]
            else:
                kept[0] += hits
                kept[1] += uniques
        for key, hits in countries.items():
            self.countries[key] = self.countries.get(key, 0) + hits

    def take_daily(
        self, batch: dict[Bucket, Rollup]
    ) -> tuple[list[tuple[Bucket, Rollup]], list[tuple[Bucket, Rollup]]]:
        """Keep a batch's daily rows; returns the rows of the days now complete, to
        insert, and the rows of days written already, to upsert."""
        late: list[tuple[Bucket, Rollup]] = []
        newest = self.written_before
        for bucket, entry in batch.items():
            day = bucket[1]
            if day < self.written_before:
                late.append((bucket, entry))
                continue
            if day > newest:
                newest = day
            rows = self.days.get(day)
            if rows is None:
                rows = self.days[day] = {}
            kept = rows.get(bucket)
            if kept is None:
                rows[bucket] = entry
            else:
                kept[HITS_AT] += entry[HITS_AT]
                kept[UNIQUES_AT] += entry[UNIQUES_AT]
        complete: list[tuple[Bucket, Rollup]] = []
        if newest > self.written_before:
            oldest_open = date.fromisoformat(newest) - timedelta(days=OPEN_DAYS - 1)
            self.written_before = oldest_open.isoformat()
            for day in sorted(d for d in self.days if d < self.written_before):
                complete += self.days.pop(day).items()
        return complete, late

    def rest(self) -> list[tuple[Bucket, Rollup]]:
        """The daily rows not written yet (the replay is over)."""
        rest = [item for day in sorted(self.days) for item in self.days[day].items()]
        self.days.clear()
        return rest
