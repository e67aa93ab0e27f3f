"""Counts of hits dropped before recording (bots, rate limits), per site and day.

Dropped hits are not domain events (nothing happened that the site owner asked
to record), but an owner and an operator want to know how many there were. The
counts gather in memory and are added to a table every few seconds.
"""

import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    select,
    update,
)

metadata = MetaData()
dropped_hits = Table(
    "dropped_hits",
    metadata,
    Column("site_uuid", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

FLUSH_EVERY_SECONDS = 5.0


class SqlDropCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: Counter[tuple[UUID, date, str]] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def count(self, site_id: UUID, reason: str) -> None:
        with self._lock:
            self._pending[(site_id, datetime.now(UTC).date(), reason)] += 1
            due = time.monotonic() - self._last_flush >= FLUSH_EVERY_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return
        with self.engine.begin() as conn:
            for (site_id, day, reason), n in pending.items():
                key = (
                    (dropped_hits.c.site_uuid == site_id)
                    & (dropped_hits.c.day == day)
                    & (dropped_hits.c.reason == reason)
                )
                changed = conn.execute(
                    update(dropped_hits).where(key).values(count=dropped_hits.c.count + n)
                ).rowcount
                if not changed:
                    conn.execute(
                        dropped_hits.insert().values(
                            site_uuid=site_id, day=day, reason=reason, count=n
                        )
                    )

    def totals(self, site_id: UUID) -> dict[str, int]:
        self.flush()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(dropped_hits.c.reason, dropped_hits.c.count).where(
                    dropped_hits.c.site_uuid == site_id
                )
            )
            totals: Counter[str] = Counter()
            for reason, n in rows:
                totals[reason] += int(n)
        return dict(totals)

    def forget(self, conn: Connection, site_ids: tuple[UUID, ...]) -> None:
        if site_ids:
            conn.execute(delete(dropped_hits).where(dropped_hits.c.site_uuid.in_(site_ids)))
        with self._lock:
            for key in [k for k in self._pending if k[0] in site_ids]:
                del self._pending[key]
