"""Where uptime checks write: the monitor's latest state and its rollups, one
transaction per batch of checks (the `Probes` port of application/monitoring.py; the
clock's checks come in batches, application/check_batch.py).

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
    bindparam,
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


# The columns a check writes to its monitor's `uptime_probes` row (and, over HTTPS,
# the certificate it saw).
STATE = (
    "site_uuid",
    "last_check_at",
    "last_ok",
    "last_status_code",
    "last_error",
    "last_response_ms",
    "failures",
    "successes",
    "first_failure_at",
    "first_error",
    "interval_s",
    "next_check_at",
)
SSL = ("ssl_fingerprint", "ssl_expires_at", "ssl_valid", "ssl_problem")


def _state(sample: Sample) -> dict[str, Any]:
    result, probe = sample.result, sample.probe
    state: dict[str, Any] = {
        "monitor_uuid": sample.monitor_id,
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
    return state


class SqlProbes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._statements()

    def setup(self) -> None:
        samples_metadata.create_all(self.engine)

    def _insert(self, table: Table) -> Any:
        return pg_insert(table) if self.is_postgres else sqlite_insert(table)

    def _statements(self) -> None:
        """Built once: a statement built per check costs more than running it."""
        self._read_probe = select(
            probes.c.failures, probes.c.successes, probes.c.first_failure_at, probes.c.first_error
        ).where(probes.c.monitor_uuid == bindparam("m"))
        upsert = self._insert(probes)
        self._upsert_probe = upsert.on_conflict_do_update(
            index_elements=["monitor_uuid"],
            set_={c: getattr(upsert.excluded, c) for c in STATE},
        )
        self._upsert_probe_ssl = upsert.on_conflict_do_update(
            index_elements=["monitor_uuid"],
            set_={c: getattr(upsert.excluded, c) for c in STATE + SSL},
        )
        add = self._insert(rollups)
        self._add_rollup = add.on_conflict_do_update(
            index_elements=["monitor_uuid", "grain", "bucket"],
            set_={
                "up": rollups.c.up + add.excluded.up,
                "down": rollups.c.down + add.excluded.down,
                "ms_sum": rollups.c.ms_sum + add.excluded.ms_sum,
                "ms_count": rollups.c.ms_count + add.excluded.ms_count,
            },
        )
        self._prune = {
            grain: delete(rollups).where(
                rollups.c.monitor_uuid.in_(bindparam("ms", expanding=True)),
                rollups.c.grain == grain,
                rollups.c.bucket < bindparam("before"),
            )
            for grain in KEEP
        }

    def probe(self, monitor_id: UUID) -> Probe:
        with self.engine.connect() as conn:
            row = conn.execute(self._read_probe, {"m": monitor_id}).first()
        if row is None:
            return Probe()
        return Probe(
            failures=int(row.failures or 0),
            successes=int(row.successes or 0),
            first_failure_at=utc(row.first_failure_at) if row.first_failure_at else None,
            first_error=row.first_error,
        )

    def record(self, samples: Sequence[Sample]) -> None:
        """A batch of checks in one transaction: one upsert of each monitor's latest
        state, one of each touched rollup row (a batch's checks of one minute add up
        before they are written), and one prune per grain for all its monitors."""
        if not samples:
            return
        latest: dict[UUID, dict[str, Any]] = {}
        certified: dict[UUID, dict[str, Any]] = {}
        added: dict[tuple[UUID, str, datetime], dict[str, Any]] = {}
        for sample in samples:
            # A later check of a monitor in the batch writes over an earlier one, as
            # when each was written at once (the certificate seen stays).
            earlier = latest.pop(sample.monitor_id, None) or certified.pop(sample.monitor_id, {})
            state = {**earlier, **_state(sample)}
            target = certified if SSL[0] in state else latest
            target[sample.monitor_id] = state
            result = sample.result
            # A failed check's time says how long we waited, not how fast the site is.
            timed = result.ok
            for grain in (MINUTE, HOUR, DAY):
                key = (sample.monitor_id, grain, bucket_of(sample.at, grain))
                row = added.get(key)
                if row is None:
                    row = added[key] = {
                        "monitor_uuid": sample.monitor_id,
                        "grain": grain,
                        "bucket": key[2],
                        "up": 0,
                        "down": 0,
                        "ms_sum": 0,
                        "ms_count": 0,
                    }
                row["up" if result.ok else "down"] += 1
                if timed:
                    row["ms_sum"] += result.response_ms
                    row["ms_count"] += 1
        newest = max(s.at for s in samples)
        monitors = sorted({s.monitor_id for s in samples})
        with self.engine.begin() as conn:
            if latest:
                conn.execute(self._upsert_probe, list(latest.values()))
            if certified:
                conn.execute(self._upsert_probe_ssl, list(certified.values()))
            conn.execute(self._add_rollup, list(added.values()))
            for grain, keep in KEEP.items():
                conn.execute(
                    self._prune[grain],
                    {"ms": monitors, "before": bucket_of(newest - keep, grain)},
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
