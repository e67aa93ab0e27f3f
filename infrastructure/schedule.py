"""The schedule of due jobs, in a table beside the read models, with leases.

`clock_jobs` holds one row per (kind, key): its due time, its recurrence, the lease
of the clock firing it, and what its last firing did. A claim leases a batch in one
transaction: on PostgreSQL `FOR UPDATE SKIP LOCKED` (clocks in several processes
never wait on each other's rows), on SQLite under the database's write lock
(`BEGIN IMMEDIATE`). A finish only touches rows whose lease is still the firing's
own: a job rescheduled meanwhile (or re-leased after its lease ran out) keeps its
new state. See docs/decisions/0009-the-clock.md.
"""

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
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
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from application.clock import Done, Firing, Job, KindStatus, Recurrence

metadata = MetaData()
clock_jobs = Table(
    "clock_jobs",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("occurrence_at", DateTime(timezone=True), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("cron", String(100), nullable=True),
    Column("zone", String(64), nullable=True),
    Column("every_s", Integer, nullable=True),
    Column("host", String(300), nullable=True),
    Column("lease", String(32), nullable=True),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("last_due_at", DateTime(timezone=True), nullable=True),
    Column("last_fired_at", DateTime(timezone=True), nullable=True),
    Column("last_lateness_ms", Integer, nullable=True),
    Column("last_ok", Boolean, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_clock_jobs_due", "due_at"),
    Index("ix_clock_jobs_leased", "leased_until"),
    Index("ix_clock_jobs_fired", "kind", "last_fired_at"),
)

# What `put` changes on a job that exists: its time, recurrence and place; the lease
# goes too, so a firing in flight cannot write its outcome over the new due time.
REPLACED = (
    "due_at",
    "occurrence_at",
    "attempt",
    "cron",
    "zone",
    "every_s",
    "host",
    "lease",
    "leased_until",
)
RECENT_FIRINGS = 1000  # per kind, for the lateness figures of `jobs status`


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _recurrence(row: Any) -> Recurrence | None:
    if row.cron:
        return Recurrence(cron=row.cron, zone=row.zone or "UTC")
    if row.every_s:
        return Recurrence(every=int(row.every_s))
    return None


def _values(job: Job) -> dict[str, Any]:
    r = job.recurrence
    return {
        "kind": job.kind,
        "key": job.key,
        "due_at": job.due_at,
        "occurrence_at": job.due_at,
        "attempt": 1,
        "cron": r.cron if r else None,
        "zone": r.zone if r and r.cron else None,
        "every_s": r.every if r else None,
        "host": job.host,
        "lease": None,
        "leased_until": None,
    }


def _percentile(ordered: list[int], share: float) -> int | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class SqlSchedule:
    """The `Schedule` port on the read-model database (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def _begin(self) -> Any:
        # SQLite: take the write lock at BEGIN, so two claims cannot read the same rows.
        if self.is_postgres:
            return self.engine.begin()
        return self.engine.execution_options(immediate=True).begin()

    # -- jobs --------------------------------------------------------------------------
    def put(self, jobs: Sequence[Job], replace: bool = True) -> None:
        if not jobs:
            return
        with self._begin() as conn:
            self.put_in(conn, jobs, replace)

    def put_in(self, conn: Connection, jobs: Sequence[Job], replace: bool = True) -> None:
        """`put` inside a caller's transaction (a kept mail and its retry job commit together)."""
        if not jobs:
            return
        rows = [_values(j) for j in jobs]
        insert = pg_insert(clock_jobs) if self.is_postgres else sqlite_insert(clock_jobs)
        if replace:
            changed = {c: getattr(insert.excluded, c) for c in REPLACED}
            statement = insert.on_conflict_do_update(index_elements=["kind", "key"], set_=changed)
        else:
            statement = insert.on_conflict_do_nothing(index_elements=["kind", "key"])
        for start in range(0, len(rows), 1000):
            conn.execute(statement, rows[start : start + 1000])

    def remove(self, kind: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        with self._begin() as conn:
            for start in range(0, len(keys), 500):
                conn.execute(
                    delete(clock_jobs).where(
                        clock_jobs.c.kind == kind, clock_jobs.c.key.in_(keys[start : start + 500])
                    )
                )

    def get(self, kind: str, key: str) -> Job | None:
        return self.keys(kind, key).get(key)

    def keys(self, kind: str, key: str | None = None) -> dict[str, Job]:
        query = select(clock_jobs).where(clock_jobs.c.kind == kind)
        if key is not None:
            query = query.where(clock_jobs.c.key == key)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        found = {}
        for row in rows:
            due = _utc(row.due_at)
            assert due is not None
            found[row.key] = Job(row.kind, row.key, due, _recurrence(row), row.host)
        return found

    # -- firing ------------------------------------------------------------------------
    def _hosts(self, hosts: Sequence[str | None]) -> Any:
        named = [h for h in hosts if h is not None]
        conditions = []
        if None in hosts:
            conditions.append(clock_jobs.c.host.is_(None))
        if named:
            conditions.append(clock_jobs.c.host.in_(named))
        return or_(*conditions)

    def claim(
        self, now: datetime, limit: int, lease_for: timedelta, hosts: Sequence[str | None]
    ) -> list[Firing]:
        lease = secrets.token_hex(8)
        until = now + lease_for
        free = or_(clock_jobs.c.leased_until.is_(None), clock_jobs.c.leased_until < now)
        due = (
            select(clock_jobs.c.kind, clock_jobs.c.key)
            .where(clock_jobs.c.due_at <= now, free, self._hosts(hosts))
            .order_by(clock_jobs.c.due_at)
            .limit(limit)
        )
        # Most turns find nothing due: look before taking a write lock (SQLite's is the
        # whole database's).
        with self.engine.connect() as conn:
            if conn.execute(due.limit(1)).first() is None:
                return []
        with self._begin() as conn:
            if self.is_postgres:
                picked = due.with_for_update(skip_locked=True).cte("picked")
                rows = list(
                    conn.execute(
                        update(clock_jobs)
                        .where(clock_jobs.c.kind == picked.c.kind, clock_jobs.c.key == picked.c.key)
                        .values(lease=lease, leased_until=until)
                        .returning(*clock_jobs.c)
                    )
                )
            else:
                keys = [(r.kind, r.key) for r in conn.execute(due)]
                rows = []
                if keys:
                    conn.execute(
                        update(clock_jobs)
                        .where(
                            clock_jobs.c.kind == bindparam("k"), clock_jobs.c.key == bindparam("y")
                        )
                        .values(lease=lease, leased_until=until),
                        [{"k": k, "y": y} for k, y in keys],
                    )
                    rows = list(conn.execute(select(clock_jobs).where(clock_jobs.c.lease == lease)))
        firings = []
        for row in rows:
            due_at, occurrence = _utc(row.due_at), _utc(row.occurrence_at)
            assert due_at is not None and occurrence is not None
            firings.append(
                Firing(
                    kind=row.kind,
                    key=row.key,
                    occurrence=occurrence,
                    due_at=due_at,
                    attempt=int(row.attempt),
                    recurrence=_recurrence(row),
                    lease=lease,
                )
            )
        firings.sort(key=lambda f: f.due_at)
        return firings

    def finish(self, done: Sequence[Done], next_due: Mapping[int, datetime | None]) -> None:
        moves: list[dict[str, Any]] = []
        gone: list[dict[str, Any]] = []
        for i, d in enumerate(done):
            f = d.firing
            lateness = int((d.fired_at - f.due_at).total_seconds() * 1000)
            common = {
                "k": f.kind,
                "y": f.key,
                "l": f.lease,
                "last_due": f.due_at,
                "fired": d.fired_at,
                "late": max(0, min(lateness, 2**31 - 1)),
                "ok": d.error is None,
                "error": d.error[:2000] if d.error else None,
            }
            upcoming = next_due.get(i)
            if upcoming is None:
                gone.append(common)
                continue
            same = d.again_at is not None or d.error is not None
            moves.append(
                {
                    **common,
                    "due": upcoming,
                    # A retry keeps its occurrence (and so its idempotency key).
                    "occ": f.occurrence if same else upcoming,
                    "attempt": f.attempt + 1 if same else 1,
                }
            )
        mine = and_(
            clock_jobs.c.kind == bindparam("k"),
            clock_jobs.c.key == bindparam("y"),
            clock_jobs.c.lease == bindparam("l"),
        )
        with self._begin() as conn:
            if moves:
                conn.execute(
                    update(clock_jobs)
                    .where(mine)
                    .values(
                        due_at=bindparam("due"),
                        occurrence_at=bindparam("occ"),
                        attempt=bindparam("attempt"),
                        lease=None,
                        leased_until=None,
                        last_due_at=bindparam("last_due"),
                        last_fired_at=bindparam("fired"),
                        last_lateness_ms=bindparam("late"),
                        last_ok=bindparam("ok"),
                        last_error=bindparam("error"),
                    ),
                    moves,
                )
            if gone:
                conn.execute(delete(clock_jobs).where(mine), gone)

    def renew(self, firing: Firing, until: datetime) -> bool:
        c = clock_jobs.c
        with self._begin() as conn:
            done = conn.execute(
                update(clock_jobs)
                .where(c.kind == firing.kind, c.key == firing.key, c.lease == firing.lease)
                .values(leased_until=until)
            )
        return bool(done.rowcount)

    def next_due(self, hosts: Sequence[str | None]) -> datetime | None:
        where = self._hosts(hosts)
        with self.engine.connect() as conn:
            free = conn.execute(
                select(func.min(clock_jobs.c.due_at)).where(
                    clock_jobs.c.leased_until.is_(None), where
                )
            ).scalar()
            leased = conn.execute(
                select(func.min(clock_jobs.c.leased_until)).where(
                    clock_jobs.c.leased_until.is_not(None), where
                )
            ).scalar()
        found = [m for m in (_utc(free), _utc(leased)) if m is not None]
        return min(found) if found else None

    # -- status ------------------------------------------------------------------------
    def status(self, now: datetime) -> list[KindStatus]:
        c = clock_jobs.c
        live = and_(c.leased_until.is_not(None), c.leased_until >= now)
        with self.engine.connect() as conn:
            counts = list(
                conn.execute(
                    select(
                        c.kind,
                        func.count(),
                        func.sum(_case(and_(c.due_at <= now, ~live))),
                        func.sum(_case(live)),
                        func.sum(_case(c.attempt > 1)),
                        func.min(c.due_at),
                        func.max(c.last_fired_at),
                    ).group_by(c.kind)
                )
            )
            result = []
            for kind, jobs, due_now, leased, failing, next_due, last_fired in counts:
                recent = list(
                    conn.execute(
                        select(c.last_lateness_ms)
                        .where(c.kind == kind, c.last_fired_at.is_not(None))
                        .order_by(c.last_fired_at.desc())
                        .limit(RECENT_FIRINGS)
                    ).scalars()
                )
                error = conn.execute(
                    select(c.last_error)
                    .where(c.kind == kind, c.last_ok.is_(False))
                    .order_by(c.last_fired_at.desc())
                    .limit(1)
                ).scalar()
                ordered = sorted(int(x) for x in recent if x is not None)
                result.append(
                    KindStatus(
                        kind=kind,
                        jobs=int(jobs),
                        due_now=int(due_now or 0),
                        leased=int(leased or 0),
                        failing=int(failing or 0),
                        next_due_at=_utc(next_due),
                        last_fired_at=_utc(last_fired),
                        lateness_p50_ms=_percentile(ordered, 0.50),
                        lateness_p99_ms=_percentile(ordered, 0.99),
                        lateness_max_ms=ordered[-1] if ordered else None,
                        last_error=error,
                    )
                )
        return sorted(result, key=lambda s: s.kind)

    def clear(self, conn: Connection, kind: str, keys: Sequence[str]) -> None:
        """Remove jobs inside a caller's transaction (erasure)."""
        if keys:
            conn.execute(
                delete(clock_jobs).where(clock_jobs.c.kind == kind, clock_jobs.c.key.in_(keys))
            )


def _case(condition: Any) -> Any:
    return case((condition, 1), else_=0)
