"""Which hits are unique: the first of their unique hash on their site and UTC day.

A unique hash (site, path, visitor, UTC day) can only recur on its own day, so only
the last few days' hashes are remembered. Live batches keep them in the
`traffic_unique_seen` table. A rebuild replays the whole log in order in one
process, so it keeps them in memory instead, with the same days forgotten at the
same moments, and writes what is left into its fresh table once, at the end, for
the live batches that follow the swap.
"""

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table

from projections.bulk import Bulk

SEEN_DAYS = 2  # a unique hash can only recur on its own UTC day; keep a spare day
SEEN_COLUMNS = ("site_uuid", "day", "hash")

Seen = tuple[str, str, str]  # site id in hex, day as "YYYY-MM-DD", unique hash
Hit = tuple[int, Any]  # a notification id and its `TrafficItem` hit


def _oldest_kept(newest: str) -> str:
    return (date.fromisoformat(newest) - timedelta(days=SEEN_DAYS)).isoformat()


def _candidates(items: Sequence[Hit]) -> dict[Seen, int]:
    """Each (site, day, hash) of a batch with the first notification that has it."""
    found: dict[Seen, int] = {}
    for nid, item in items:
        unique = item.fields.get("unique_hash")
        if unique:
            found.setdefault((item.site, item.moment[:10], unique), nid)
    return found


def first_in_table(bulk: Bulk, seen: Table, items: Sequence[Hit]) -> set[int]:
    """The notification ids of the hits whose hash the table did not know; adds them."""
    candidates = _candidates(items)
    if not candidates:
        return set()
    fresh = bulk.insert_new(seen, SEEN_COLUMNS, list(candidates))
    bulk.conn.exec_driver_sql(
        f'DELETE FROM "{seen.name}" WHERE day < {bulk.mark}',
        (_oldest_kept(max(item.moment[:10] for _, item in items)),),
    )
    return {candidates[(site, day, unique)] for site, day, unique in fresh}


class SeenInMemory:
    """The seen hashes of one replay: what `first_in_table` would keep, as sets per day."""

    def __init__(self) -> None:
        self.hashes: dict[tuple[str, str], set[str]] = {}

    def first(self, items: Sequence[Hit]) -> set[int]:
        fresh: set[int] = set()
        hashes = self.hashes
        newest = ""
        looked_up = False
        for nid, item in items:
            day = item.moment[:10]
            if day > newest:
                newest = day
            unique = item.fields.get("unique_hash")
            if unique:
                looked_up = True
                known = hashes.get((item.site, day))
                if known is None:
                    known = hashes[(item.site, day)] = set()
                if unique not in known:
                    known.add(unique)
                    fresh.add(nid)
        # The table forgets old days only in a batch that had hashes to look up.
        if looked_up:
            oldest = _oldest_kept(newest)
            for key in [key for key in hashes if key[1] < oldest]:
                del hashes[key]
        return fresh

    def forget(self, sites: Iterable[str]) -> None:
        gone = set(sites)
        for key in [key for key in self.hashes if key[0] in gone]:
            del self.hashes[key]

    def rows(self) -> list[Seen]:
        return [
            (site, day, unique) for (site, day), known in self.hashes.items() for unique in known
        ]
