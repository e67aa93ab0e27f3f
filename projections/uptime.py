"""The uptime read models: monitors and their downtimes (from the Monitoring log), and
the check samples (rows the check writes: latest state and rollups).

Monitors and downtimes are a projection like the others: rebuildable, ids from the
event store (a monitor's id is the notification id of its first event, a downtime's
that of its "went down"). Samples are too many to be events: each check updates the
monitor's `uptime_probes` row and three `uptime_rollups` rows (its minute, hour and
day), kept a day, 90 days and a year (infrastructure/uptime_store.py writes them).
Uptime percentages are read from the downtimes (time down over time monitored), so
the sparse checks of a long downtime weigh what the downtime lasted.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    case,
    delete,
    func,
    select,
    update,
)

from application.erasure import ErasureScope
from domain.certificates import Certificate, ssl_block
from domain.domain_expiry import DomainExpiry, domain_block
from domain.downtimes import duration_in_words
from domain.monitors import Monitor, monitor_id_for
from domain.uptime_rules import UP_EVERY
from projections.base import Projection, Tables, event_type, update_originator, utc

MINUTE, HOUR, DAY = "m", "h", "d"
KEEP = {MINUTE: timedelta(days=1), HOUR: timedelta(days=90), DAY: timedelta(days=366)}
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
PERIODS["90d"] = timedelta(days=90)

samples_metadata = MetaData()
probes = Table(
    "uptime_probes",
    samples_metadata,
    Column("monitor_uuid", Uuid, primary_key=True),
    Column("site_uuid", Uuid, nullable=False),
    Column("last_check_at", DateTime(timezone=True), nullable=True),
    Column("last_ok", Boolean, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_response_ms", Integer, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("successes", Integer, nullable=False, default=0),
    Column("first_failure_at", DateTime(timezone=True), nullable=True),
    Column("first_error", Text, nullable=True),
    Column("interval_s", Integer, nullable=False, default=UP_EVERY),
    Column("next_check_at", DateTime(timezone=True), nullable=True),
    # The certificate the latest HTTPS check saw.
    Column("ssl_fingerprint", String(64), nullable=True),
    Column("ssl_expires_at", DateTime(timezone=True), nullable=True),
    Column("ssl_valid", Boolean, nullable=True),
    Column("ssl_problem", Text, nullable=True),
    # The latest domain lookup (RDAP).
    Column("domain_tested_at", DateTime(timezone=True), nullable=True),
    Column("domain_expires_at", DateTime(timezone=True), nullable=True),
    Column("domain_source", String(20), nullable=True),
    Column("domain_error", Text, nullable=True),
    Index("ix_uptime_probes_site", "site_uuid"),
)
rollups = Table(
    "uptime_rollups",
    samples_metadata,
    Column("monitor_uuid", Uuid, primary_key=True),
    Column("grain", String(1), primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True),
    Column("up", Integer, nullable=False),
    Column("down", Integer, nullable=False),
    Column("ms_sum", BigInteger, nullable=False),
    Column("ms_count", Integer, nullable=False),
)


def bucket_of(moment: datetime, grain: str) -> datetime:
    moment = moment.astimezone(UTC)
    if grain == MINUTE:
        return moment.replace(second=0, microsecond=0)
    if grain == HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class UptimeProjection(Projection):
    name = "uptime"
    source = "monitoring"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        monitors = Table(
            "uptime_monitors" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("owner_uuid", Uuid, nullable=False),
            Column("url", String(2048), nullable=False),
            Column("enabled", Boolean, nullable=False),
            Column("paused", Boolean, nullable=False),
            Column("auto_paused", Boolean, nullable=False),
            Column("is_down", Boolean, nullable=False),
            Column("down_since", DateTime(timezone=True), nullable=True),
            Column("down_error", Text, nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_uptime_monitors{suffix}_uuid", "uuid", unique=True),
            Index(f"ix_uptime_monitors{suffix}_site", "site_uuid", unique=True),
        )
        downtimes = Table(
            "uptime_downtimes" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("monitor_uuid", Uuid, nullable=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("error", Text, nullable=True),
            Column("started_at", DateTime(timezone=True), nullable=False),
            Column("ended_at", DateTime(timezone=True), nullable=True),
            Index(f"ix_uptime_downtimes{suffix}_monitor", "monitor_uuid", "started_at"),
        )
        return {"monitors": monitors, "downtimes": downtimes}

    def _registered(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["monitors"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                site_uuid=e.site_id,
                owner_uuid=e.owner_id,
                url=e.url,
                enabled=True,
                paused=False,
                auto_paused=False,
                is_down=False,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    def _enabled(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["monitors"], e, enabled=True, url=e.url)

    def _disabled(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(
            conn, t["monitors"], e, enabled=False, is_down=False, down_since=None, down_error=None
        )
        self._end_open(conn, t, e.originator_id, e.timestamp)

    def _paused(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["monitors"], e, paused=True)

    def _resumed(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(
            conn,
            t["monitors"],
            e,
            paused=False,
            auto_paused=False,
            is_down=False,
            down_since=None,
            down_error=None,
        )
        self._end_open(conn, t, e.originator_id, e.timestamp)

    def _auto_paused(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["monitors"], e, paused=True, auto_paused=True)

    def _went_down(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(
            conn, t["monitors"], e, is_down=True, down_since=e.started_at, down_error=e.error
        )
        site = conn.execute(
            select(t["monitors"].c.site_uuid).where(t["monitors"].c.uuid == e.originator_id)
        ).scalar()
        conn.execute(
            t["downtimes"]
            .insert()
            .values(
                id=nid,
                monitor_uuid=e.originator_id,
                site_uuid=site,
                error=e.error,
                started_at=e.started_at,
                ended_at=None,
            )
        )

    def _recovered(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["monitors"], e, is_down=False, down_since=None, down_error=None)
        self._end_open(conn, t, e.originator_id, e.at)

    def _end_open(self, conn: Connection, t: Tables, monitor_id: UUID, at: datetime) -> None:
        table = t["downtimes"]
        conn.execute(
            update(table)
            .where(table.c.monitor_uuid == monitor_id, table.c.ended_at.is_(None))
            .values(ended_at=at)
        )

    handlers = {
        event_type(Monitor, "Registered"): _registered,
        event_type(Monitor, "Enabled"): _enabled,
        event_type(Monitor, "Disabled"): _disabled,
        event_type(Monitor, "Paused"): _paused,
        event_type(Monitor, "Resumed"): _resumed,
        event_type(Monitor, "AutoPaused"): _auto_paused,
        event_type(Monitor, "WentDown"): _went_down,
        event_type(Monitor, "Recovered"): _recovered,
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        monitors, downtimes = tables["monitors"], tables["downtimes"]
        if scope.whole_account:
            conn.execute(delete(monitors).where(monitors.c.owner_uuid == scope.account_id))
        if scope.site_ids:
            conn.execute(delete(monitors).where(monitors.c.site_uuid.in_(scope.site_ids)))
            conn.execute(delete(downtimes).where(downtimes.c.site_uuid.in_(scope.site_ids)))


# -- reading -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DowntimeRow:
    id: int
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    duration: int
    duration_in_words: str
    partial: bool
    ongoing: bool


@dataclass(frozen=True)
class MonitorView:
    """A monitor as the API, the dashboard and the widget show it."""

    id: int
    uuid: UUID
    site_uuid: UUID
    url: str
    enabled: bool
    paused: bool
    auto_paused: bool
    is_down: bool
    down_since: datetime | None
    uptime: float | None  # over `period`
    period: str
    last_check_at: datetime | None
    next_check_at: datetime | None
    last_status_code: int | None
    last_error_message: str | None
    last_response_ms: int | None
    status_description: str
    current_check_interval: int
    created_at: datetime
    updated_at: datetime
    ssl: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    uptimes: dict[str, float | None] = field(default_factory=dict)  # 24h, 7d, 30d, 90d
    ssl_problem: str | None = None
    domain_error: str | None = None


@dataclass(frozen=True)
class UptimeSummary:
    total_downtimes: int
    ongoing_downtimes: int
    recent_downtimes_30_days: int


@dataclass(frozen=True)
class UptimePage:
    """A monitor, one page of its downtimes, how many there are, and the summary."""

    monitor: MonitorView
    total: int
    downtimes: list[DowntimeRow]
    summary: UptimeSummary


@dataclass(frozen=True)
class ResponsePoint:
    at: datetime
    up: int
    down: int
    average_ms: int | None


def _status(row: Any, probe: Any) -> str:
    if not row.enabled:
        return "Disabled"
    if row.auto_paused:
        return "Auto-paused"
    if row.paused:
        return "Paused"
    if row.is_down:
        return "Down"
    if probe is None or probe.last_check_at is None:
        return "Pending"
    if probe.failures:
        return "Checking (possible downtime)"
    return "Up"


def _certificate(probe: Any) -> Certificate | None:
    if probe.ssl_expires_at is None:
        return None
    return Certificate(
        probe.ssl_fingerprint or "",
        utc(probe.ssl_expires_at),
        bool(probe.ssl_valid),
        probe.ssl_problem,
    )


def _domain(probe: Any) -> DomainExpiry | None:
    if probe.domain_tested_at is None:
        return None
    return DomainExpiry(
        utc(probe.domain_tested_at),
        _maybe(probe.domain_expires_at),
        probe.domain_source or "",
        probe.domain_error,
    )


def _maybe(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


class UptimeReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.monitors = tables["monitors"]
        self.downtimes = tables["downtimes"]

    def number_of(self, monitor_id: UUID) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(self.monitors.c.id).where(self.monitors.c.uuid == monitor_id)
            ).scalar()
        return int(found) if found is not None else None

    def monitor(self, site_id: UUID, now: datetime | None = None) -> MonitorView | None:
        """The site's monitor; None when it has none or it is disabled."""
        with self.engine.connect() as conn:
            return self._monitor(conn, site_id, now or datetime.now(UTC))

    def page(
        self, site_id: UUID, offset: int, limit: int, now: datetime | None = None
    ) -> UptimePage | None:
        """What GET /sites/:id/uptime shows, over one connection; None without a
        monitor (or a disabled one)."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            monitor = self._monitor(conn, site_id, now)
            if monitor is None:
                return None
            summary = self._summary(conn, site_id, now)
            downtimes = self._downtimes(conn, site_id, offset, limit, now)
        return UptimePage(monitor, summary.total_downtimes, downtimes, summary)

    def _monitor(self, conn: Connection, site_id: UUID, now: datetime) -> MonitorView | None:
        row = conn.execute(
            select(self.monitors).where(self.monitors.c.site_uuid == site_id)
        ).first()
        if row is None or not row.enabled:
            return None
        probe = conn.execute(select(probes).where(probes.c.monitor_uuid == row.uuid)).first()
        spans = self._spans(conn, row.uuid, now - PERIODS["90d"])
        created = utc(row.created_at)
        uptimes = {name: _uptime(spans, created, now - span, now) for name, span in PERIODS.items()}
        return MonitorView(
            id=int(row.id),
            uuid=row.uuid,
            site_uuid=row.site_uuid,
            url=row.url,
            enabled=row.enabled,
            paused=row.paused,
            auto_paused=row.auto_paused,
            is_down=row.is_down,
            down_since=_maybe(row.down_since),
            uptime=uptimes["30d"],
            period="30d",
            last_check_at=_maybe(probe.last_check_at) if probe else None,
            next_check_at=_maybe(probe.next_check_at) if probe else None,
            last_status_code=probe.last_status_code if probe else None,
            last_error_message=probe.last_error if probe else None,
            last_response_ms=probe.last_response_ms if probe else None,
            status_description=_status(row, probe),
            current_check_interval=int(probe.interval_s) if probe else UP_EVERY,
            created_at=created,
            updated_at=utc(row.updated_at),
            uptimes=uptimes,
            ssl=ssl_block(_certificate(probe), now) if probe else None,
            ssl_problem=probe.ssl_problem if probe else None,
            domain=domain_block(_domain(probe), now) if probe else None,
            domain_error=probe.domain_error if probe else None,
        )

    def _spans(
        self, conn: Connection, monitor_id: UUID, since: datetime
    ) -> list[tuple[datetime, datetime | None]]:
        t = self.downtimes
        rows = conn.execute(
            select(t.c.started_at, t.c.ended_at).where(
                t.c.monitor_uuid == monitor_id,
                (t.c.ended_at.is_(None)) | (t.c.ended_at > since),
            )
        )
        return [(utc(r.started_at), _maybe(r.ended_at)) for r in rows]

    def downtimes_of(
        self, site_id: UUID, offset: int, limit: int, now: datetime | None = None
    ) -> tuple[int, list[DowntimeRow]]:
        """The site's downtimes, newest first, and how many there are."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            total = self._summary(conn, site_id, now).total_downtimes
            return total, self._downtimes(conn, site_id, offset, limit, now)

    def _downtimes(
        self, conn: Connection, site_id: UUID, offset: int, limit: int, now: datetime
    ) -> list[DowntimeRow]:
        t = self.downtimes
        rows = conn.execute(
            select(t)
            .where(_of_site(t, site_id))
            .order_by(t.c.started_at.desc(), t.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        found = []
        for r in rows:
            started, ended = utc(r.started_at), _maybe(r.ended_at)
            seconds = max(0, int(((ended or now) - started).total_seconds()))
            found.append(
                DowntimeRow(
                    id=int(r.id),
                    error=r.error,
                    started_at=started,
                    ended_at=ended,
                    duration=seconds,
                    duration_in_words=duration_in_words(seconds),
                    # One checking location: a downtime is seen whole or not at all.
                    partial=False,
                    ongoing=ended is None,
                )
            )
        return found

    def summary(self, site_id: UUID, now: datetime | None = None) -> UptimeSummary:
        with self.engine.connect() as conn:
            return self._summary(conn, site_id, now or datetime.now(UTC))

    def _summary(self, conn: Connection, site_id: UUID, now: datetime) -> UptimeSummary:
        t = self.downtimes
        mine = _of_site(t, site_id)
        # One pass over the site's downtimes (an index range), not three.
        counts = select(
            func.count(),
            func.sum(case((t.c.ended_at.is_(None), 1), else_=0)),
            func.sum(case((t.c.started_at >= now - timedelta(days=30), 1), else_=0)),
        ).where(mine)
        total, ongoing, recent = conn.execute(counts).one()
        return UptimeSummary(int(total or 0), int(ongoing or 0), int(recent or 0))

    def response_times(self, monitor_id: UUID, grain: str, since: datetime) -> list[ResponsePoint]:
        """Checks and mean response time per minute, hour or day since a time."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rollups)
                .where(
                    rollups.c.monitor_uuid == monitor_id,
                    rollups.c.grain == grain,
                    rollups.c.bucket >= since,
                )
                .order_by(rollups.c.bucket)
            )
            return [
                ResponsePoint(
                    utc(r.bucket),
                    int(r.up),
                    int(r.down),
                    int(r.ms_sum // r.ms_count) if r.ms_count else None,
                )
                for r in rows
            ]

    def site_uptime(self, site_id: UUID, now: datetime | None = None) -> float | None:
        """The 30-day uptime of a site's monitor, for the widget; None without one."""
        view = self.monitor(site_id, now)
        return view.uptime if view else None

    def monitor_id(self, site_id: UUID) -> UUID:
        return monitor_id_for(site_id)


def _of_site(downtimes: Table, site_id: UUID) -> Any:
    """A site's downtimes, by its monitor's id (derived from the site's): the table's
    index is on (monitor, start), so a site's page reads only its own rows."""
    return downtimes.c.monitor_uuid == monitor_id_for(site_id)


def _uptime(
    spans: list[tuple[datetime, datetime | None]],
    created: datetime,
    start: datetime,
    end: datetime,
) -> float | None:
    """The share of the time monitored in [start, end) that no downtime covered, in %."""
    start = max(start, created)
    total = (end - start).total_seconds()
    if total <= 0:
        return None
    down = 0.0
    for began, ended in spans:
        overlap = (min(ended or end, end) - max(began, start)).total_seconds()
        if overlap > 0:
            down += overlap
    share = max(0.0, 100.0 * (1 - down / total))
    # Rounded down: 99.999% is not "100".
    return math.floor(share * 100) / 100
