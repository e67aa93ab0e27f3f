"""Where uptime checks write: the monitor's latest state and its rollups, in one
transaction per check (the `Probes` port of application/monitoring.py).

Each check adds to three rollup rows (its minute, hour and day: an upsert that adds
one up or down and its response time) and drops the monitor's rows that have aged
out of their grain (a day of minutes, 90 days of hours, a year of days). The tables
are declared in projections/uptime.py, beside their readers.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from application.monitoring import Sample
from domain.domain_expiry import DomainExpiry
from domain.uptime_rules import UP_EVERY, Probe
from projections.base import utc
from projections.uptime import DAY, HOUR, KEEP, MINUTE, bucket_of, probes, rollups, samples_metadata

positions_metadata = MetaData()
follower_positions = Table(
    "follower_positions",
    positions_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


class SqlProbes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    def setup(self) -> None:
        samples_metadata.create_all(self.engine)

    def _insert(self, table: Table) -> Any:
        return pg_insert(table) if self.is_postgres else sqlite_insert(table)

    def probe(self, monitor_id: UUID) -> Probe:
        with self.engine.connect() as conn:
            row = conn.execute(select(probes).where(probes.c.monitor_uuid == monitor_id)).first()
        if row is None:
            return Probe()
        return Probe(
            failures=int(row.failures or 0),
            successes=int(row.successes or 0),
            first_failure_at=utc(row.first_failure_at) if row.first_failure_at else None,
            first_error=row.first_error,
        )

    def record(self, sample: Sample) -> None:
        result, probe = sample.result, sample.probe
        state = {
            "site_uuid": sample.site_id,
            "last_check_at": sample.at,
            "last_ok": result.ok,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "last_response_ms": result.response_ms,
            "failures": probe.failures,
            "successes": probe.successes,
            "first_failure_at": probe.first_failure_at,
            "first_error": probe.first_error,
            "interval_s": sample.interval,
            "next_check_at": sample.next_check_at,
        }
        certificate = result.certificate
        if certificate is not None:
            state.update(
                ssl_fingerprint=certificate.fingerprint,
                ssl_expires_at=certificate.expires_at,
                ssl_valid=certificate.valid,
                ssl_problem=certificate.problem,
            )
        upsert = self._insert(probes).values(monitor_uuid=sample.monitor_id, **state)
        upsert = upsert.on_conflict_do_update(index_elements=["monitor_uuid"], set_=state)
        add = self._insert(rollups)
        add = add.on_conflict_do_update(
            index_elements=["monitor_uuid", "grain", "bucket"],
            set_={
                "up": rollups.c.up + add.excluded.up,
                "down": rollups.c.down + add.excluded.down,
                "ms_sum": rollups.c.ms_sum + add.excluded.ms_sum,
                "ms_count": rollups.c.ms_count + add.excluded.ms_count,
            },
        )
        # A failed check's time says how long we waited, not how fast the site is.
        timed = result.ok
        rows = [
            {
                "monitor_uuid": sample.monitor_id,
                "grain": grain,
                "bucket": bucket_of(sample.at, grain),
                "up": 1 if result.ok else 0,
                "down": 0 if result.ok else 1,
                "ms_sum": result.response_ms if timed else 0,
                "ms_count": 1 if timed else 0,
            }
            for grain in (MINUTE, HOUR, DAY)
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert)
            for row in rows:
                conn.execute(add.values(**row))
            self._prune(conn, sample.monitor_id, sample.at)

    def _prune(self, conn: Connection, monitor_id: UUID, now: datetime) -> None:
        for grain, keep in KEEP.items():
            conn.execute(
                delete(rollups).where(
                    rollups.c.monitor_uuid == monitor_id,
                    rollups.c.grain == grain,
                    rollups.c.bucket < bucket_of(now - keep, grain),
                )
            )

    def scheduled(self, monitor_id: UUID, next_check_at: datetime | None, interval: int) -> None:
        with self.engine.begin() as conn:
            found = conn.execute(
                select(probes.c.monitor_uuid).where(probes.c.monitor_uuid == monitor_id)
            ).first()
            if found is None:
                return  # the first check writes the row
            conn.execute(
                probes.update()
                .where(probes.c.monitor_uuid == monitor_id)
                .values(
                    next_check_at=next_check_at,
                    interval_s=interval or UP_EVERY,
                    failures=0,
                    successes=0,
                    first_failure_at=None,
                    first_error=None,
                )
            )

    def domain(self, monitor_id: UUID, site_id: UUID, expiry: DomainExpiry) -> None:
        state = {
            "domain_tested_at": expiry.tested_at,
            "domain_expires_at": expiry.expires_at,
            "domain_source": expiry.source,
            "domain_error": expiry.error,
        }
        upsert = self._insert(probes).values(monitor_uuid=monitor_id, site_uuid=site_id, **state)
        with self.engine.begin() as conn:
            conn.execute(upsert.on_conflict_do_update(index_elements=["monitor_uuid"], set_=state))

    def forget(self, conn: Connection, monitor_ids: Sequence[UUID]) -> None:
        """Erasure: every sample of these monitors, inside the caller's transaction."""
        if monitor_ids:
            conn.execute(delete(probes).where(probes.c.monitor_uuid.in_(monitor_ids)))
            conn.execute(delete(rollups).where(rollups.c.monitor_uuid.in_(monitor_ids)))


class SqlPositions:
    """How far a process manager that keeps no event store of its own has read a log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def setup(self) -> None:
        positions_metadata.create_all(self.engine)

    def position(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(follower_positions.c.position).where(follower_positions.c.name == name)
            ).scalar()
        return int(found) if found is not None else None

    def advance(self, name: str, position: int) -> None:
        with self.engine.begin() as conn:
            moved = conn.execute(
                follower_positions.update()
                .where(follower_positions.c.name == name)
                .values(position=position)
            ).rowcount
            if not moved:
                conn.execute(follower_positions.insert().values(name=name, position=position))
