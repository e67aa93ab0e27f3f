"""The traffic read models' tables.

- `traffic_hits`, `traffic_events`: one row per hit / custom event, for listings and
  journeys (and the sub-hour edges of a range in a time zone with a :30 offset).
- `traffic_daily`: hits and unique hits per site per UTC day per combination of path,
  referrer, source, country, browser, platform and campaign, so that a grouped query, filtered
  or not, sums rollup rows instead of scanning raw hits.
- `traffic_dims`: hits and unique hits per site per UTC day per value of each single
  dimension (referrer rows also keep their source), for the unfiltered grouped
  queries and the daily chart: the combinations above are about as many as the hits
  when traffic is varied, a single dimension's values a few thousand a day at most.
- `traffic_dim_blocks`: the same summed over aligned blocks of 2 to 32 days, the
  closed ones only: those that end by their site's day in `traffic_block_seal`
  (blocks.py).
- `traffic_hourly`: the same per UTC hour for the last HOURLY_DAYS days (the 24-hour
  chart, and the partial days at the edges of a range in another time zone; older
  edges are read from the raw rows of at most two partial days).
- `traffic_quarters`: hits and unique hits per site per quarter of an hour (UTC), kept
  for good: range totals and the charts, on the right local days in any zone.
- `traffic_event_daily`: custom events per day per name and value.
- `traffic_feeds`: the subscriber count each feed reader reported last.
- `traffic_paths`, `traffic_countries`, `traffic_sites`: lifetime counters (the
  leaderboard, the visited-countries widget, `/sites` and the hit counter).
- `traffic_unique_seen`: the unique hashes of recent days (first_seen.py).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

from domain.hits import VISIT_FIELDS
from projections.base import Tables

# The dimensions a rollup row is keyed by, named as the raw hits' columns; a combination
# row holds them in this order, then its hits and unique hits.
DIMENSIONS = ("path", "referrer", "source", "country", "browser", "platform", "utm_campaign")
HITS_AT = len(DIMENSIONS)
UNIQUES_AT = HITS_AT + 1
HOURLY_DAYS = 8
QUARTER_MINUTES = 15
# A hit's row: its id, site and time, every field it was recorded with (domain/hits.py),
# and whether it was the first of its unique hash that day.
HIT_COLUMNS = ("id", "site_uuid", "created_at", *VISIT_FIELDS, "is_unique")
EVENT_COLUMNS = (
    "id", "site_uuid", "created_at", "name", "value", "path", "url", "referrer", "country",
    "source", "browser", "platform", "unique_hash", "visitor_hash",
)  # fmt: skip


def hourly_horizon() -> datetime:
    """Hourly rollups are kept for the last days only (the 24-hour chart, time-zone edges)."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=HOURLY_DAYS)


# On SQLite a single INTEGER primary key is the rowid itself: one B-tree per table of
# raw rows instead of the table and an index of its ids.
NOTIFICATION_ID = BigInteger().with_variant(Integer(), "sqlite")
# Rollups and counters are only ever found by their primary key: on SQLite they are
# stored in its order (no rowid), which halves the B-trees a write updates and keeps a
# site's days together for range reads.
CLUSTERED: dict[str, Any] = {"sqlite_with_rowid": False}


def cube(name: str, metadata: MetaData, suffix: str, bucket: Column[Any]) -> Table:
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
        Column("utm_campaign", String(100), nullable=True),
        Column("hits", BigInteger, nullable=False),
        Column("uniques", BigInteger, nullable=False),
        **CLUSTERED,
    )


def cube_columns(bucket: str) -> tuple[str, ...]:
    return ("site_uuid", bucket, "key", *DIMENSIONS, "hits", "uniques")


DIM_COLUMNS = ("site_uuid", "dim", "day", "key", "value", "source", "hits", "uniques")
BLOCK_COLUMNS = (
    "site_uuid", "dim", "span", "start", "key", "value", "source", "hits", "uniques",
)  # fmt: skip
# The single-dimension rows are also summed over aligned blocks of 2, 4, 8, 16 and 32
# days (a block of `span` days starts on a day whose number since 1970-01-01 is a
# multiple of `span`): any range of days is at most two blocks of each length and a
# few single days, so a month of a site's thousands of pages reads a fifth of the
# rows its days hold (docs/decisions/0011-read-side.md).
BLOCK_SPANS = (2, 4, 8, 16, 32)
PATH_COLUMNS = ("site_uuid", "key", "path", "hits", "uniques")
COUNTRY_COLUMNS = ("site_uuid", "country", "hits")
QUARTER_COLUMNS = ("site_uuid", "at", "hits", "uniques")
FEED_COLUMNS = ("site_uuid", "source", "subscribers", "reported_at")


def define_tables(metadata: MetaData, suffix: str) -> Tables:
    """The traffic read models' tables; `suffix` names a rebuild's fresh set."""
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
    daily = cube("traffic_daily", metadata, suffix, Column("day", Date, primary_key=True))
    dims = Table(
        "traffic_dims" + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("dim", String(16), primary_key=True),
        Column("day", Date, primary_key=True),
        Column("key", String(32), primary_key=True),
        Column("value", String(2048), nullable=True),
        Column("source", String(100), nullable=True),
        Column("hits", BigInteger, nullable=False),
        Column("uniques", BigInteger, nullable=False),
        **CLUSTERED,
    )
    blocks = Table(
        "traffic_dim_blocks" + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("dim", String(16), primary_key=True),
        Column("span", Integer, primary_key=True),
        Column("start", Date, primary_key=True),
        Column("key", String(32), primary_key=True),
        Column("value", String(2048), nullable=True),
        Column("source", String(100), nullable=True),
        Column("hits", BigInteger, nullable=False),
        Column("uniques", BigInteger, nullable=False),
        **CLUSTERED,
    )
    # Every block of a site that ends on or before its UTC day here is in `blocks`,
    # complete, and no other (blocks.py).
    seal = Table(
        "traffic_block_seal" + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("day", Date, nullable=False),
        **CLUSTERED,
    )
    hourly = cube(
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
    # Every hit counted once per quarter of an hour, kept for good (96 rows a site a day
    # at most): the totals and charts of any range in any zone, to the minute (every
    # zone's offset is a whole number of quarters of an hour).
    quarters = Table(
        "traffic_quarters" + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("at", DateTime(timezone=True), primary_key=True),
        Column("hits", BigInteger, nullable=False),
        Column("uniques", BigInteger, nullable=False),
        **CLUSTERED,
    )
    # The subscriber count each feed reader (by source) reported last.
    feeds = Table(
        "traffic_feeds" + suffix,
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("source", String(100), primary_key=True),
        Column("subscribers", Integer, nullable=False),
        Column("reported_at", DateTime(timezone=True), nullable=False),
        **CLUSTERED,
    )
    return {
        "hits": hits,
        "events": events,
        "daily": daily,
        "dims": dims,
        "blocks": blocks,
        "seal": seal,
        "hourly": hourly,
        "event_daily": event_daily,
        "paths": paths,
        "countries": countries,
        "sites": sites,
        "seen": seen,
        "quarters": quarters,
        "feeds": feeds,
    }
