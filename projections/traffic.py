"""The traffic read models: raw hits and events, rollups per day and hour, lifetime counters.

- `traffic_hits`, `traffic_events`: one row per hit / custom event, for listings and
  journeys (and the sub-hour edges of a range in a time zone with a :30 offset).
- `traffic_daily`: hits and unique hits per site per UTC day per combination of path,
  referrer, source, country, browser and platform, so that a grouped query, filtered
  or not, sums rollup rows instead of scanning raw hits.
- `traffic_dims`: hits and unique hits per site per UTC day per value of each single
  dimension (referrer rows also keep their source), for the unfiltered grouped
  queries and the daily chart: the combinations above are about as many as the hits
  when traffic is varied, a single dimension's values a few thousand a day at most.
- `traffic_hourly`: the same per UTC hour for the last HOURLY_DAYS days (the 24-hour
  chart, and the partial days at the edges of a range in another time zone; older
  edges are read from the raw rows of at most two partial days).
- `traffic_event_daily`: custom events per day per name and value.
- `traffic_paths`, `traffic_countries`, `traffic_sites`: lifetime counters (the
  leaderboard, the visited-countries widget, `/sites` and the hit counter).

A hit is a unique hit when its `unique_hash` (site, path, visitor, UTC day) is seen
for the first time; `traffic_unique_seen` remembers the hashes of recent days.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
)

from application.erasure import ErasureScope
from domain.text import clean_multiline, clean_values
from projections.base import NEEDS_NOTIFICATION, Projection, Tables, utc
from projections.bulk import Bulk
from projections.first_seen import SEEN_COLUMNS, first_in_table
from projections.traffic_replay import Bucket, Replay, Rollup

HIT_TOPIC = "domain.hits:Hit.Recorded"
EVENT_TOPIC = "domain.custom_events:CustomEvent.Recorded"
DIMENSIONS = ("path", "referrer", "source", "country", "browser", "platform")
HOURLY_DAYS = 8
HIT_COLUMNS = (
    "id", "site_uuid", "created_at", "path", "url", "referrer", "country", "browser",
    "platform", "is_mobile", "source", "utm_campaign", "utm_medium", "unique_hash",
    "visitor_hash", "is_unique", "channel", "subscribers",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "site_uuid", "created_at", "name", "value", "path", "url", "referrer", "country",
    "source", "browser", "platform", "unique_hash", "visitor_hash",
)  # fmt: skip


def hourly_horizon() -> datetime:
    """Hourly rollups are kept for the last days only (the 24-hour chart, time-zone edges)."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=HOURLY_DAYS)


_json_decode = json.JSONDecoder().raw_decode


def utc_text(moment: datetime) -> str:
    """A time as `Tracked.moment` holds it: UTC, "YYYY-MM-DD HH:MM:SS.ffffff"."""
    return utc(moment).astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _moment_of(stamp: str) -> str:
    # The library stores UTC times as "2025-11-26T12:01:44.726071+00:00": cutting
    # that is ten times cheaper than parsing and formatting it.
    if len(stamp) == 32 and stamp[10] == "T" and stamp[19] == "." and stamp[26:] == "+00:00":
        return f"{stamp[:10]} {stamp[11:26]}"
    return utc_text(datetime.fromisoformat(stamp))


class Tracked(NamedTuple):
    """A hit or custom event as the projection needs it (decoded without the mapper).

    Values are kept in the text forms the bulk writes take (projections/bulk.py):
    texts sort as the times do, and `moment[:10]` is the UTC day.
    """

    kind: str  # "hit" or "event"
    site: str  # the site's id, 32 hex digits
    moment: str  # UTC, "YYYY-MM-DD HH:MM:SS.ffffff"
    fields: dict[str, Any]


def _cleaned_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A stored event's fields with their texts cleaned, as projections/base.py `cleaned`."""
    return {k: clean_values(v, clean_multiline) for k, v in fields.items()}


def combo_key(values: Sequence[str | None]) -> str:
    joined = "\x1f".join([v or "" for v in values])  # None and "" alike
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()


_keys: dict[tuple[str | None, ...], str] = {}


def cached_combo_key(values: tuple[str | None, ...]) -> str:
    """combo_key, remembered: traffic repeats the same few thousand combinations."""
    found = _keys.get(values)
    if found is None:
        if len(_keys) > 200_000:
            _keys.clear()
        found = _keys[values] = combo_key(values)
    return found


# On SQLite a single INTEGER primary key is the rowid itself: one B-tree per table of
# raw rows instead of the table and an index of its ids.
NOTIFICATION_ID = BigInteger().with_variant(Integer(), "sqlite")
# Rollups and counters are only ever found by their primary key: on SQLite they are
# stored in its order (no rowid), which halves the B-trees a write updates and keeps a
# site's days together for range reads.
CLUSTERED: dict[str, Any] = {"sqlite_with_rowid": False}


def _cube(name: str, metadata: MetaData, suffix: str, bucket: Column[Any]) -> Table:
    return Table(
        name + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        bucket,
        Column("key", String(32), primary_key=True),
        Column("path", String(2048), nullable=False),
        Column("referrer", String(2048), nullable=True),
        Column("source", String(100), nullable=True),
        Column("country", String(2), nullable=False),
        Column("browser", String(100), nullable=True),
        Column("platform", String(100), nullable=True),
        Column("hits", BigInteger, nullable=False),
        Column("uniques", BigInteger, nullable=False),
        **CLUSTERED,
    )


def _cube_columns(bucket: str) -> tuple[str, ...]:
    return ("site_uuid", bucket, "key", *DIMENSIONS, "hits", "uniques")


def _cube_rows(rows: list[tuple[Bucket, Rollup]]) -> list[tuple[Any, ...]]:
    """Daily rollup rows as `_cube_columns("day")` lists them."""
    return [(s, d, k, *v) for (s, d, k), v in rows]


DIM_COLUMNS = ("site_uuid", "dim", "day", "key", "value", "source", "hits", "uniques")
# The single-dimension rows per dimension: referrer and source rows keep the source
# too, so the referrer table can leave out internal navigation (and the source table
# hidden sources) without the combinations.
KEEPS_SOURCE = frozenset({"referrer", "source"})
_SOURCE_AT = DIMENSIONS.index("source")
_DIM_SLOTS = tuple(
    (dim, DIMENSIONS.index(dim), _SOURCE_AT if dim in KEEPS_SOURCE else None) for dim in DIMENSIONS
)
# A single-dimension row's key: md5 of its value and source, NULL written as _NULL.
# Computed in Python by a live batch and in SQL by a rebuild, which must agree.
_NULL, _SEP = "\x1e", "\x1f"


@lru_cache(maxsize=200_000)
def dim_key(value: str | None, source: str | None) -> str:
    text = f"{_NULL if value is None else value}{_SEP}{_NULL if source is None else source}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _dim_rows(rows: Iterable[tuple[Bucket, Rollup]]) -> list[tuple[Any, ...]]:
    """Single-dimension daily rows (`DIM_COLUMNS`) summed from daily combination rows,
    for a live batch; `_derive_dims` does the same in SQL for a rebuild."""
    sums: dict[tuple[str, str, str, str | None, str | None], list[int]] = {}
    for (site, day, _key), entry in rows:
        hits, uniques = entry[6], entry[7]
        for dim, at, source_at in _DIM_SLOTS:
            found = (site, day, dim, entry[at], None if source_at is None else entry[source_at])
            total = sums.get(found)
            if total is None:
                sums[found] = [hits, uniques]
            else:
                total[0] += hits
                total[1] += uniques
    return [
        (site, dim, day, dim_key(value, source), value, source, hits, uniques)
        for (site, day, dim, value, source), (hits, uniques) in sums.items()
    ]


def _derive_dims(conn: Connection, t: Tables) -> None:
    """Fill the single-dimension rows from the daily combination rows, at the end of a
    replay: the database sums them in one statement, where summing in Python batch by
    batch cost a rebuild several microseconds a hit (its combinations are about as
    many as its hits). `_dim_rows` does the same for live batches; the keys agree."""
    daily, dims = t["daily"], t["dims"]
    pg = conn.dialect.name == "postgresql"
    parts = []
    for dim, _at, source_at in _DIM_SLOTS:
        value = daily.c[dim]
        source = daily.c.source if source_at is not None else None
        kept: Any = source if source is not None else cast(null(), String)
        text = func.coalesce(value, _NULL) + _SEP + func.coalesce(kept, _NULL)
        parts.append(
            select(
                daily.c.site_uuid,
                literal(dim, String).label("dim"),
                daily.c.day,
                func.md5(func.convert_to(text, "UTF8") if pg else text).label("key"),
                value.label("value"),
                kept.label("source"),
                func.sum(daily.c.hits).label("hits"),
                func.sum(daily.c.uniques).label("uniques"),
            ).group_by(
                daily.c.site_uuid, daily.c.day, value, *([source] if source is not None else [])
            )
        )
    summed: Any = union_all(*parts)
    if pg:
        # Enough memory to sum by hashing (sorting paths spilled to disk at 4 MB), and
        # rows in the order a range read wants them: a 30-day read of one dimension
        # then finds them on neighbouring pages (SQLite stores them so without asking).
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        rows = summed.subquery()
        summed = select(*rows.c).order_by(rows.c.site_uuid, rows.c.dim, rows.c.day)
    conn.execute(dims.insert().from_select(DIM_COLUMNS, summed))


PATH_COLUMNS = ("site_uuid", "key", "path", "hits", "uniques")
COUNTRY_COLUMNS = ("site_uuid", "country", "hits")


def _path_rows(paths: dict[tuple[str, str], list[int]]) -> list[tuple[Any, ...]]:
    return [(s, combo_key([p]), p, h, u) for (s, p), (h, u) in paths.items()]


def _country_rows(countries: dict[tuple[str, str], int]) -> list[tuple[Any, ...]]:
    return [(s, c, n) for (s, c), n in countries.items()]


class TrafficProjection(Projection):
    name = "traffic"
    source = "tracking"

    def __init__(self) -> None:
        # A log holds few sites: check each id's form once.
        self._site_ids: dict[str, str] = {}
        # The replays (rebuilds) in progress, by the name of their fresh seen table.
        self._replays: dict[str, Replay] = {}

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        hits = Table(
            "traffic_hits" + suffix,
            metadata,
            Column("id", NOTIFICATION_ID, primary_key=True, autoincrement=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("path", String(2048), nullable=False),
            Column("url", String(2048), nullable=True),
            Column("referrer", String(2048), nullable=True),
            Column("country", String(2), nullable=False),
            Column("browser", String(100), nullable=True),
            Column("platform", String(100), nullable=True),
            Column("is_mobile", Boolean, nullable=False),
            Column("source", String(100), nullable=True),
            Column("utm_campaign", String(100), nullable=True),
            Column("utm_medium", String(100), nullable=True),
            Column("unique_hash", String(64), nullable=True),
            Column("visitor_hash", String(64), nullable=True),
            Column("is_unique", Boolean, nullable=False),
            Column("channel", String(10), nullable=False),
            Column("subscribers", Integer, nullable=True),
            Index(f"ix_traffic_hits{suffix}_site_time", "site_uuid", "created_at", "id"),
            Index(f"ix_traffic_hits{suffix}_visitor", "site_uuid", "visitor_hash", "created_at"),
        )
        events = Table(
            "traffic_events" + suffix,
            metadata,
            Column("id", NOTIFICATION_ID, primary_key=True, autoincrement=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("name", String(100), nullable=False),
            Column("value", String(500), nullable=True),
            Column("path", String(2048), nullable=True),
            Column("url", String(2048), nullable=True),
            Column("referrer", String(2048), nullable=True),
            Column("country", String(2), nullable=False),
            Column("source", String(100), nullable=True),
            Column("browser", String(100), nullable=True),
            Column("platform", String(100), nullable=True),
            Column("unique_hash", String(64), nullable=True),
            Column("visitor_hash", String(64), nullable=True),
            Index(f"ix_traffic_events{suffix}_site_time", "site_uuid", "created_at", "id"),
        )
        daily = _cube("traffic_daily", metadata, suffix, Column("day", Date, primary_key=True))
        dims = Table(
            "traffic_dims" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("dim", String(10), primary_key=True),
            Column("day", Date, primary_key=True),
            Column("key", String(32), primary_key=True),
            Column("value", String(2048), nullable=True),
            Column("source", String(100), nullable=True),
            Column("hits", BigInteger, nullable=False),
            Column("uniques", BigInteger, nullable=False),
            **CLUSTERED,
        )
        hourly = _cube(
            "traffic_hourly",
            metadata,
            suffix,
            Column("hour", DateTime(timezone=True), primary_key=True),
        )
        event_daily = Table(
            "traffic_event_daily" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("day", Date, primary_key=True),
            Column("key", String(32), primary_key=True),
            Column("name", String(100), nullable=False),
            Column("value", String(500), nullable=True),
            Column("hits", BigInteger, nullable=False),
            Column("uniques", BigInteger, nullable=False),
            **CLUSTERED,
        )
        paths = Table(
            "traffic_paths" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("key", String(32), primary_key=True),
            Column("path", String(2048), nullable=False),
            Column("hits", BigInteger, nullable=False),
            Column("uniques", BigInteger, nullable=False),
            **CLUSTERED,
        )
        countries = Table(
            "traffic_countries" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("country", String(2), primary_key=True),
            Column("hits", BigInteger, nullable=False),
            **CLUSTERED,
        )
        sites = Table(
            "traffic_sites" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("hits", BigInteger, nullable=False),
            Column("uniques", BigInteger, nullable=False),
            Column("events", BigInteger, nullable=False),
            Column("last_hit_at", DateTime(timezone=True), nullable=True),
            **CLUSTERED,
        )
        seen = Table(
            "traffic_unique_seen" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("day", Date, primary_key=True),
            Column("hash", String(64), primary_key=True),
            Index(f"ix_traffic_unique_seen{suffix}_day", "day"),
            **CLUSTERED,
        )
        return {
            "hits": hits,
            "events": events,
            "daily": daily,
            "dims": dims,
            "hourly": hourly,
            "event_daily": event_daily,
            "paths": paths,
            "countries": countries,
            "sites": sites,
            "seen": seen,
        }

    # -- decoding ------------------------------------------------------------------------
    reads_states = True

    def decode_state(self, topic: str, state: bytes) -> Any:
        """Hits and events straight from their JSON, five times faster than the mapper.

        Anything else is another projection's business; a stored form this does not
        expect is left to the mapper.
        """
        if topic == HIT_TOPIC:
            kind = "hit"
        elif topic == EVENT_TOPIC:
            kind = "event"
        else:
            return None
        if not state.startswith(b"{"):
            return NEEDS_NOTIFICATION
        try:
            text = state.decode("utf-8")
            # raw_decode skips loads' whitespace checks: the library writes compact JSON.
            fields, end = _json_decode(text)
            if end != len(text):
                return NEEDS_NOTIFICATION
            # What the domain's rule removes is written escaped by the library's JSON (C0
            # controls, surrogates) or as DEL or a non-ASCII character (C1): an event
            # stored before the rule (domain/text.py) may hold them. Two C-speed scans of
            # the text tell (isascii is O(1)), and the fields of the few that may are cleaned.
            if not text.isascii() or "\\" in text or "\x7f" in text:
                fields = _cleaned_fields(fields)
            moment = _moment_of(fields.pop("timestamp")["_data_"])
            site_hex = fields.pop("site_id")["_data_"]
            site = self._site_ids.get(site_hex)
            if site is None:
                site = self._site_ids.setdefault(site_hex, UUID(hex=site_hex).hex)
        except (ValueError, KeyError, TypeError, AttributeError):
            return NEEDS_NOTIFICATION
        return Tracked(kind, site, moment, fields)

    def decode(self, notification: Any, mapper: Any) -> Any:
        decoded = self.decode_state(notification.topic, notification.state)
        if decoded is NEEDS_NOTIFICATION:
            return mapper.to_domain_event(notification)
        return decoded

    # -- replaying -----------------------------------------------------------------------
    def start_replay(self, tables: Tables) -> None:
        self._replays[tables["seen"].name] = Replay()

    def end_replay(self, conn: Connection | None, tables: Tables) -> None:
        replay = self._replays.pop(tables["seen"].name, None)
        if replay is None or conn is None:
            return
        replay.forget_erased(conn, tables["sites"])
        bulk = Bulk(conn)
        bulk.insert(tables["daily"], _cube_columns("day"), _cube_rows(replay.rest()))
        _derive_dims(conn, tables)
        bulk.insert(tables["seen"], SEEN_COLUMNS, replay.seen.rows())
        bulk.insert(tables["paths"], PATH_COLUMNS, _path_rows(replay.paths))
        bulk.insert(tables["countries"], COUNTRY_COLUMNS, _country_rows(replay.countries))

    # -- applying ------------------------------------------------------------------------
    def apply_batch(
        self, conn: Connection, tables: Tables, events: Sequence[tuple[int, Any]]
    ) -> None:
        hits: list[tuple[int, Tracked]] = []
        custom: list[tuple[int, Tracked]] = []
        for nid, item in events:
            if item is None:
                continue
            if not isinstance(item, Tracked):
                item = self._from_domain_event(item)
                if item is None:
                    continue
            (hits if item.kind == "hit" else custom).append((nid, item))
        if hits:
            self._apply_hits(conn, tables, hits)
        if custom:
            self._apply_events(conn, tables, custom)

    @staticmethod
    def _from_domain_event(event: Any) -> Tracked | None:
        topic = f"{type(event).__module__}:{type(event).__qualname__}"
        if topic not in (HIT_TOPIC, EVENT_TOPIC):
            return None
        fields = _cleaned_fields(
            {
                k: v
                for k, v in event.__dict__.items()
                if k not in ("originator_id", "originator_version", "timestamp", "site_id")
            }
        )
        kind = "hit" if topic == HIT_TOPIC else "event"
        return Tracked(kind, event.site_id.hex, utc_text(event.timestamp), fields)

    def _first_seen(self, bulk: Bulk, seen: Table, items: list[tuple[int, Tracked]]) -> set[int]:
        """The notification ids of the hits whose unique hash is new for its day."""
        replay = self._replays.get(seen.name)
        if replay is not None:
            return replay.seen.first(items)
        return first_in_table(bulk, seen, items)

    def _apply_hits(self, conn: Connection, t: Tables, hits: list[tuple[int, Tracked]]) -> None:
        bulk = Bulk(conn)
        replay = self._replays.get(t["seen"].name)
        if replay is not None:
            replay.forget_erased(conn, t["sites"])
        first = self._first_seen(bulk, t["seen"], hits)
        horizon = hourly_horizon()
        recent = utc_text(horizon)
        moment = bulk.moment
        raw: list[tuple[Any, ...]] = []
        # Keyed by (site, bucket, combination); the bucket is a day or an hour, as text.
        daily: dict[tuple[str, str, str], list[Any]] = {}
        hourly: dict[tuple[str, str, str], list[Any]] = {}
        paths: dict[tuple[str, str], list[int]] = {}
        countries: dict[tuple[str, str], int] = defaultdict(int)
        sites: dict[str, list[Any]] = {}
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
            raw.append(
                (
                    nid, site, moment(at), path, get("url"), referrer, country, browser,
                    platform, bool(get("is_mobile")), source, get("utm_campaign"),
                    get("utm_medium"), get("unique_hash"), get("visitor_hash"), unique,
                    get("channel") or "api", get("subscribers"),
                )
            )  # fmt: skip
            dims = (path, referrer, source, country, browser, platform)
            key = cached_combo_key(dims)
            bucket = (site, at[:10], key)
            entry = daily.get(bucket)
            if entry is None:
                daily[bucket] = [*dims, 1, counted]
            else:
                entry[6] += 1
                entry[7] += counted
            if at >= recent:
                bucket = (site, at[:13] + ":00:00.000000", key)
                entry = hourly.get(bucket)
                if entry is None:
                    hourly[bucket] = [*dims, 1, counted]
                else:
                    entry[6] += 1
                    entry[7] += counted
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
            bulk.insert(t["daily"], _cube_columns("day"), _cube_rows(complete))
            replay.sites.update(sites)
        bulk.upsert_add(
            t["daily"],
            _cube_columns("day"),
            ("site_uuid", "day", "key"),
            ("hits", "uniques"),
            _cube_rows(upsert_daily),
        )
        if replay is None:
            bulk.upsert_add(
                t["dims"],
                DIM_COLUMNS,
                ("site_uuid", "dim", "day", "key"),
                ("hits", "uniques"),
                _dim_rows(upsert_daily),
            )
        bulk.upsert_add(
            t["hourly"],
            _cube_columns("hour"),
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
                _path_rows(paths),
            )
            bulk.upsert_add(
                t["countries"],
                COUNTRY_COLUMNS,
                ("site_uuid", "country"),
                ("hits",),
                _country_rows(countries),
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

    def _apply_events(self, conn: Connection, t: Tables, items: list[tuple[int, Tracked]]) -> None:
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
        if not scope.site_ids:
            return
        for table in tables.values():
            conn.execute(delete(table).where(and_(table.c.site_uuid.in_(scope.site_ids))))
