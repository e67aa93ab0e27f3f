"""The traffic projection: hits and custom events into raw rows, rollups and counters.

The tables are in schema.py, decoding in decoding.py, rollup keys and sums in
rollups.py, the blocks of days and their seal in blocks.py, what a rebuild keeps in
memory in replay.py, which hits are unique in first_seen.py.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, MetaData, Table, delete

from application.erasure import ErasureScope
from domain.feed_readers import believed_subscribers
from projections.base import Projection, Step, Tables, erase_sites
from projections.bulk import Bulk
from projections.traffic import schema
from projections.traffic.blocks import (
    close_blocks,
    late_block_rows,
    moves,
    seal,
    sealed_days,
    write_seals,
)
from projections.traffic.decoding import TrafficDecoder, TrafficItem, utc_text
from projections.traffic.first_seen import SEEN_COLUMNS, first_in_table
from projections.traffic.replay import Replay
from projections.traffic.rollups import (
    combo_key,
    country_rows,
    cube_rows,
    derive_dims,
    dim_rows,
    path_rows,
)
from projections.traffic.schema import (
    BLOCK_COLUMNS,
    COUNTRY_COLUMNS,
    DIM_COLUMNS,
    EVENT_COLUMNS,
    FEED_COLUMNS,
    HIT_COLUMNS,
    HITS_AT,
    PATH_COLUMNS,
    QUARTER_COLUMNS,
    UNIQUES_AT,
    cube_columns,
)

# The dimensions whose daily and block rows a rebuild's end sums apart (beside each
# other, on PostgreSQL): the paths hold about as many rows as all the others together
# (40% of the daily rows and 65% of the blocks in benchmarks/readmodels.py's traffic).
_SUMMED_APART = (("path",), tuple(d for d in schema.DIMENSIONS if d != "path"))

# A time's minutes ("MM" of "HH:MM") to the start of its quarter of an hour.
_QUARTER_STARTS = {f"{m:02d}": f"{m - m % 15:02d}:00.000000" for m in range(60)}


class TrafficProjection(Projection):
    name = "traffic"
    source = "tracking"

    def __init__(self) -> None:
        self._decoder = TrafficDecoder()
        # The replays (rebuilds) in progress, by the name of their fresh seen table.
        self._replays: dict[str, Replay] = {}

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        return schema.define_tables(metadata, suffix)

    # -- decoding ------------------------------------------------------------------------
    reads_states = True

    def decode_state(self, topic: str, state: bytes) -> Any:
        return self._decoder.decode_state(topic, state)

    def decode(self, notification: Any, mapper: Any) -> Any:
        return self._decoder.decode(notification, mapper)

    # -- replaying -----------------------------------------------------------------------
    written_at_replay_end = frozenset(
        {"daily", "dims", "blocks", "seal", "seen", "paths", "countries"}
    )

    def start_replay(self, tables: Tables) -> None:
        self._replays[tables["seen"].name] = Replay()

    def end_replay(self, conn: Connection | None, tables: Tables) -> Sequence[Step]:
        replay = self._replays.pop(tables["seen"].name, None)
        if replay is None or conn is None:
            return ()
        replay.forget_erased(conn, tables["sites"])
        bulk = Bulk(conn)
        bulk.insert(tables["daily"], cube_columns("day"), cube_rows(replay.rest()))
        bulk.insert(tables["seen"], SEEN_COLUMNS, replay.seen.rows())
        bulk.insert(tables["paths"], PATH_COLUMNS, path_rows(replay.paths))
        bulk.insert(tables["countries"], COUNTRY_COLUMNS, country_rows(replay.countries))
        # Every site is sealed at its newest hit's day, as live batches would have; the
        # blocks are summed by the steps, which see only sites not erased by then.
        moved = moves(_days(replay.sites), {})
        write_seals(conn, tables, moved)

        def summing(dims: tuple[str, ...]) -> Step:
            def step(conn: Connection) -> None:
                derive_dims(conn, tables, dims)
                close_blocks(conn, tables, moved, dims)

            return step

        return [summing(dims) for dims in _SUMMED_APART]

    # -- applying ------------------------------------------------------------------------
    def apply_batch(
        self, conn: Connection, tables: Tables, events: Sequence[tuple[int, Any]]
    ) -> None:
        hits: list[tuple[int, TrafficItem]] = []
        custom: list[tuple[int, TrafficItem]] = []
        for nid, item in events:
            if item is None:
                continue
            if not isinstance(item, TrafficItem):
                item = self._decoder.from_domain_event(item)
                if item is None:
                    continue
            (hits if item.kind == "hit" else custom).append((nid, item))
        if hits:
            self._apply_hits(conn, tables, hits)
        if custom:
            self._apply_events(conn, tables, custom)

    def _first_seen(
        self, bulk: Bulk, seen: Table, items: list[tuple[int, TrafficItem]]
    ) -> set[int]:
        """The notification ids of the hits whose unique hash is new for its day."""
        replay = self._replays.get(seen.name)
        if replay is not None:
            return replay.seen.first(items)
        return first_in_table(bulk, seen, items)

    def _apply_hits(self, conn: Connection, t: Tables, hits: list[tuple[int, TrafficItem]]) -> None:
        bulk = Bulk(conn)
        replay = self._replays.get(t["seen"].name)
        if replay is not None:
            replay.forget_erased(conn, t["sites"])
        first = self._first_seen(bulk, t["seen"], hits)
        horizon = schema.hourly_horizon()
        recent = utc_text(horizon)
        moment = bulk.moment
        raw: list[tuple[Any, ...]] = []
        # Keyed by (site, bucket, combination); the bucket is a day or an hour, as text.
        daily: dict[tuple[str, str, str], list[Any]] = {}
        hourly: dict[tuple[str, str, str], list[Any]] = {}
        paths: dict[tuple[str, str], list[int]] = {}
        countries: dict[tuple[str, str], int] = defaultdict(int)
        sites: dict[str, list[Any]] = {}
        quarters: dict[tuple[str, str], list[int]] = {}
        feeds: dict[tuple[str, str], tuple[str, int]] = {}  # (site, source): (at, count)
        # The batch's combinations and their keys: a process-wide cache of them cost more
        # than the digest itself when traffic is varied (their combinations are about as
        # many as their hits), and the batch's dict goes with it.
        keys: dict[tuple[str | None, ...], str] = {}
        for nid, (_kind, site, at, f) in hits:
            get = f.get
            unique = nid in first
            counted = 1 if unique else 0
            path = f["path"]
            referrer = get("referrer")
            source = get("source")
            country = get("country") or "XX"
            browser = get("browser")
            platform = get("platform")
            campaign = get("utm_campaign")
            subscribers = get("subscribers")
            if subscribers is not None:
                # Stored before the domain bounded it: any JSON number.
                subscribers = believed_subscribers(subscribers)
            raw.append(
                (
                    nid, site, moment(at), path, get("url"), referrer, country, browser,
                    platform, bool(get("is_mobile")), source, campaign,
                    get("utm_medium"), get("unique_hash"), get("visitor_hash"),
                    get("channel") or "api", subscribers, unique,
                )
            )  # fmt: skip
            dims = (path, referrer, source, country, browser, platform, campaign)
            key = keys.get(dims)
            if key is None:
                key = keys[dims] = combo_key(dims)
            bucket = (site, at[:10], key)
            entry = daily.get(bucket)
            if entry is None:
                daily[bucket] = [*dims, 1, counted]
            else:
                entry[HITS_AT] += 1
                entry[UNIQUES_AT] += counted
            if at >= recent:
                bucket = (site, at[:13] + ":00:00.000000", key)
                entry = hourly.get(bucket)
                if entry is None:
                    hourly[bucket] = [*dims, 1, counted]
                else:
                    entry[HITS_AT] += 1
                    entry[UNIQUES_AT] += counted
            quarter = (site, at[:14] + _QUARTER_STARTS[at[14:16]])
            counts = quarters.get(quarter)
            if counts is None:
                quarters[quarter] = [1, counted]
            else:
                counts[0] += 1
                counts[1] += counted
            if subscribers is not None and source is not None:
                reported = feeds.get((site, source))
                if reported is None or at >= reported[0]:
                    feeds[(site, source)] = (at, subscribers)
            path_entry = paths.get((site, path))
            if path_entry is None:
                paths[(site, path)] = [1, counted]
            else:
                path_entry[0] += 1
                path_entry[1] += counted
            countries[(site, country)] += 1
            site_entry = sites.get(site)
            if site_entry is None:
                sites[site] = [1, counted, at]
            else:
                site_entry[0] += 1
                site_entry[1] += counted
                if at > site_entry[2]:
                    site_entry[2] = at
        bulk.insert(t["hits"], HIT_COLUMNS, raw)
        conn.execute(delete(t["hourly"]).where(t["hourly"].c.hour < horizon))
        if replay is None:
            upsert_daily = list(daily.items())
        else:
            complete, upsert_daily = replay.take_daily(daily)
            bulk.insert(t["daily"], cube_columns("day"), cube_rows(complete))
            replay.add_sites(sites)
        bulk.upsert_add(
            t["daily"],
            cube_columns("day"),
            ("site_uuid", "day", "key"),
            ("hits", "uniques"),
            cube_rows(upsert_daily),
        )
        if replay is None:
            dim_sums = dim_rows(upsert_daily)
            sealed = sealed_days(conn, t, sites)
            bulk.upsert_add(
                t["dims"],
                DIM_COLUMNS,
                ("site_uuid", "dim", "day", "key"),
                ("hits", "uniques"),
                dim_sums,
            )
            bulk.upsert_add(
                t["blocks"],
                BLOCK_COLUMNS,
                ("site_uuid", "dim", "span", "start", "key"),
                ("hits", "uniques"),
                late_block_rows(dim_sums, sealed),
            )
            # The blocks that each site's newest day closes, from the days just written.
            seal(conn, t, _days({site: entry[2] for site, entry in sites.items()}), sealed)
        bulk.upsert_add(
            t["hourly"],
            cube_columns("hour"),
            ("site_uuid", "hour", "key"),
            ("hits", "uniques"),
            [(s, moment(h), k, *v) for (s, h, k), v in hourly.items()],
        )
        if replay is not None:
            replay.add_counters(paths, countries)
        else:
            bulk.upsert_add(
                t["paths"],
                PATH_COLUMNS,
                ("site_uuid", "key"),
                ("hits", "uniques"),
                path_rows(paths),
            )
            bulk.upsert_add(
                t["countries"],
                COUNTRY_COLUMNS,
                ("site_uuid", "country"),
                ("hits",),
                country_rows(countries),
            )
        bulk.upsert_add(
            t["quarters"],
            QUARTER_COLUMNS,
            ("site_uuid", "at"),
            ("hits", "uniques"),
            [(s, moment(q), h, u) for (s, q), (h, u) in quarters.items()],
        )
        bulk.upsert_latest(
            t["feeds"],
            FEED_COLUMNS,
            ("site_uuid", "source"),
            "reported_at",
            [(s, source, n, moment(at)) for (s, source), (at, n) in feeds.items()],
        )
        self._add_site_totals(bulk, t, [(s, h, u, 0, at) for s, (h, u, at) in sites.items()])

    @staticmethod
    def _add_site_totals(
        bulk: Bulk, t: Tables, totals: list[tuple[str, int, int, int, str | None]]
    ) -> None:
        bulk.upsert_add(
            t["sites"],
            ("site_uuid", "hits", "uniques", "events", "last_hit_at"),
            ("site_uuid",),
            ("hits", "uniques", "events"),
            [
                (s, h, u, e, bulk.moment(at) if at is not None else None)
                for s, h, u, e, at in totals
            ],
            latest=("last_hit_at",),
        )

    def _apply_events(
        self, conn: Connection, t: Tables, items: list[tuple[int, TrafficItem]]
    ) -> None:
        bulk = Bulk(conn)
        raw: list[tuple[Any, ...]] = []
        daily: dict[tuple[str, str, str], list[Any]] = {}
        totals: dict[str, int] = defaultdict(int)
        for nid, (_kind, site, at, f) in items:
            raw.append(
                (
                    nid,
                    site,
                    bulk.moment(at),
                    f["name"],
                    f.get("value"),
                    f.get("path"),
                    f.get("url"),
                    f.get("referrer"),
                    f.get("country") or "XX",
                    f.get("source"),
                    f.get("browser"),
                    f.get("platform"),
                    f.get("unique_hash"),
                    f.get("visitor_hash"),
                )
            )
            key = combo_key([f["name"], f.get("value")])
            entry = daily.setdefault((site, at[:10], key), [f["name"], f.get("value"), 0])
            entry[2] += 1
            totals[site] += 1
        bulk.insert(t["events"], EVENT_COLUMNS, raw)
        bulk.upsert_add(
            t["event_daily"],
            ("site_uuid", "day", "key", "name", "value", "hits", "uniques"),
            ("site_uuid", "day", "key"),
            ("hits", "uniques"),
            [(s, d, k, n, v, c, 0) for (s, d, k), (n, v, c) in daily.items()],
        )
        self._add_site_totals(bulk, t, [(s, 0, 0, n, None) for s, n in totals.items()])

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        erase_sites(conn, tables, scope)


def _days(times: dict[str, str]) -> dict[str, date]:
    """Each site's UTC day of a time given as UTC text."""
    return {site: date.fromisoformat(at[:10]) for site, at in times.items()}
