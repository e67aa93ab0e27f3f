"""Monitors in lists: the trouble each shows in an owner's sites list, and every monitor
for the operator.

Both read the monitors' projection table joined to the latest check (`uptime_probes`)
in one query, whatever the number of sites: the sites list must stay fast for an
owner with thousands of monitored sites (docs/decisions/0012-uptime.md). A disabled
monitor is in neither list: it is not monitoring anything.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, Table, false, or_, select, true

from domain.certificates import EXPIRING_SOON_DAYS, days_left
from projections.base import Tables, utc
from projections.uptime import probes

UP, DOWN, CHECKING, PENDING = "up", "down", "checking", "pending"
PAUSED, AUTO_PAUSED = "paused", "auto_paused"
STATUSES = (UP, DOWN, CHECKING, PENDING, PAUSED, AUTO_PAUSED)


@dataclass(frozen=True)
class MonitorLine:
    """One monitor as a list shows it: its state, its schedule, its certificate."""

    monitor_uuid: UUID
    site_uuid: UUID
    site_id: int | None
    site_label: str | None
    site_uid: str | None
    url: str
    status: str  # one of STATUSES
    since: datetime  # when it went down; otherwise its last change of state
    last_check_at: datetime | None
    next_check_at: datetime | None
    interval_s: int | None
    ssl_days_left: int | None
    ssl_valid: bool | None
    ssl_problem: str | None
    last_error: str | None

    @property
    def trouble(self) -> list[str]:
        """What the owner should look at, in words for a badge; empty when all is well."""
        found = []
        if self.status == DOWN:
            found.append("Down")
        elif self.status == AUTO_PAUSED:
            found.append("Monitoring auto-paused")
        elif self.status == PAUSED:
            found.append("Monitoring paused")
        if self.ssl_valid is False:
            found.append("SSL invalid")
        elif self.ssl_days_left is not None and self.ssl_days_left < 0:
            found.append("SSL expired")
        elif self.ssl_days_left is not None and self.ssl_days_left < EXPIRING_SOON_DAYS:
            days = self.ssl_days_left
            found.append(f"SSL expires in {days} day{'' if days == 1 else 's'}")
        return found


def _status(row: Any) -> str:
    if row.auto_paused:
        return AUTO_PAUSED
    if row.paused:
        return PAUSED
    if row.is_down:
        return DOWN
    if row.last_check_at is None:
        return PENDING
    if row.failures:
        return CHECKING
    return UP


def _maybe(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


class MonitorListing:
    def __init__(self, engine: Engine, uptime: Tables, sites: Table) -> None:
        self.engine = engine
        self.monitors = uptime["monitors"]
        self.sites = sites

    def _query(self) -> Any:
        m, s = self.monitors, self.sites
        return (
            select(
                m.c.uuid,
                m.c.site_uuid,
                m.c.url,
                m.c.paused,
                m.c.auto_paused,
                m.c.is_down,
                m.c.down_since,
                m.c.updated_at,
                s.c.id.label("site_id"),
                s.c.label.label("site_label"),
                s.c.uid.label("site_uid"),
                probes.c.last_check_at,
                probes.c.next_check_at,
                probes.c.interval_s,
                probes.c.failures,
                probes.c.last_error,
                probes.c.ssl_expires_at,
                probes.c.ssl_valid,
                probes.c.ssl_problem,
            )
            .select_from(m)
            .outerjoin(probes, probes.c.monitor_uuid == m.c.uuid)
            .outerjoin(s, s.c.uuid == m.c.site_uuid)
            .where(m.c.enabled == true())
        )

    def _line(self, row: Any, now: datetime) -> MonitorLine:
        expires = _maybe(row.ssl_expires_at)
        return MonitorLine(
            monitor_uuid=row.uuid,
            site_uuid=row.site_uuid,
            site_id=int(row.site_id) if row.site_id is not None else None,
            site_label=row.site_label,
            site_uid=row.site_uid,
            url=row.url,
            status=_status(row),
            since=utc(row.down_since if row.is_down and row.down_since else row.updated_at),
            last_check_at=_maybe(row.last_check_at),
            next_check_at=_maybe(row.next_check_at),
            interval_s=int(row.interval_s) if row.interval_s is not None else None,
            ssl_days_left=days_left(expires, now) if expires is not None else None,
            ssl_valid=row.ssl_valid if expires is not None else None,
            ssl_problem=row.ssl_problem,
            last_error=row.last_error,
        )

    def trouble_of_owner(
        self, owner_id: UUID, now: datetime | None = None
    ) -> dict[UUID, MonitorLine]:
        """The owner's monitors in trouble (down, paused, SSL invalid or expiring within
        30 days), by site: one query, which leaves the healthy ones in the database."""
        now = now or datetime.now(UTC)
        m = self.monitors
        soon = now + timedelta(days=EXPIRING_SOON_DAYS)
        query = self._query().where(
            m.c.owner_uuid == owner_id,
            or_(
                m.c.is_down == true(),
                m.c.paused == true(),
                probes.c.ssl_valid == false(),
                probes.c.ssl_expires_at < soon,
            ),
        )
        with self.engine.connect() as conn:
            return {row.site_uuid: self._line(row, now) for row in conn.execute(query)}

    def all(self, status: str | None = None, now: datetime | None = None) -> list[MonitorLine]:
        """Every enabled monitor (for the operator), down ones first, then by site."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            lines = [self._line(row, now) for row in conn.execute(self._query())]
        if status is not None:
            lines = [line for line in lines if line.status == status]
        order = {DOWN: 0, CHECKING: 1, AUTO_PAUSED: 2, PAUSED: 3, PENDING: 4, UP: 5}
        lines.sort(key=lambda x: (order[x.status], x.site_id or 0))
        return lines
