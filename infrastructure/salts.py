"""The rotating privacy salts, in a read-model database table outside the event store.

One random salt per 12-hour UTC period, shared by every process through the table.
The first process to need a period's salt inserts it; a racing process's insert does
nothing and both then read the one row. A salt is destroyed at the first rotation 48
hours or more after its period began; until then nothing but this table holds it, so
deleting the row is what makes older hashes unlinkable. No projection owns the table,
so rebuilds leave it alone.
"""

import secrets
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Insert,
    LargeBinary,
    MetaData,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from domain.privacy import SALT_PERIOD, salt_period

metadata = MetaData()
privacy_salts = Table(
    "privacy_salts",
    metadata,
    # Always written as UTC; SQLite hands it back without a zone, PostgreSQL with one.
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("salt", LargeBinary(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

SALT_BYTES = 32
SALT_LIFETIME = timedelta(hours=48)


class SqlSaltStore:
    """Salts for `VisitorHasher`; one database round trip per process per period."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        # period start -> (current, previous); two entries at most, so that a call
        # carrying a moment just before a rotation does not evict the new period.
        self._cache: dict[datetime, tuple[bytes, bytes | None]] = {}

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def salts(self, now: datetime) -> tuple[bytes, bytes | None]:
        period = salt_period(now)
        cached = self._cache.get(period)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._cache.get(period)
            if cached is None:
                cached = self._load(period, now)
                newest = max([period, *self._cache])
                self._cache = {
                    start: pair
                    for start, pair in {**self._cache, period: cached}.items()
                    if start >= newest - SALT_PERIOD
                }
            return cached

    def _load(self, period: datetime, now: datetime) -> tuple[bytes, bytes | None]:
        previous = period - SALT_PERIOD
        # Write first: a SQLite transaction that reads before it writes can fail to
        # upgrade its lock when another process writes in between.
        with self.engine.begin() as conn:
            self._insert_if_absent(conn, period, now)
            self._destroy_expired(conn, period)
            rows = conn.execute(
                select(privacy_salts.c.period_start, privacy_salts.c.salt).where(
                    privacy_salts.c.period_start.in_([period, previous])
                )
            ).all()
        found = {_utc(start): bytes(salt) for start, salt in rows}
        return found[period], found.get(previous)

    def _insert_if_absent(self, conn: Connection, period: datetime, now: datetime) -> None:
        values = {
            "period_start": period,
            "salt": secrets.token_bytes(SALT_BYTES),
            "created_at": now.astimezone(UTC),
        }
        statement: Insert
        dialect = conn.dialect.name
        if dialect == "postgresql":
            statement = postgresql.insert(privacy_salts).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite.insert(privacy_salts).on_conflict_do_nothing()
        else:
            try:
                with conn.begin_nested():
                    conn.execute(privacy_salts.insert().values(values))
            except IntegrityError:
                pass  # another process made this period's salt first: read theirs
            return
        conn.execute(statement.values(values))

    def _destroy_expired(self, conn: Connection, period: datetime) -> None:
        expired = privacy_salts.c.period_start <= period - SALT_LIFETIME
        # Overwrite before deleting: SQLite leaves deleted bytes in free pages, an
        # updated cell is rewritten in place.
        conn.execute(update(privacy_salts).where(expired).values(salt=bytes(SALT_BYTES)))
        conn.execute(delete(privacy_salts).where(expired))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
