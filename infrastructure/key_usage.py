"""When each API key was last used: operational state, not an event.

Recording an event per request would grow the event store with every API call;
this table is written at most once a minute per key and survives rebuilds, since
no projection owns it.
"""

import threading
import time
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    Uuid,
    delete,
    select,
    update,
)

metadata = MetaData()
key_usage = Table(
    "api_key_usage",
    metadata,
    Column("key_uuid", Uuid, primary_key=True),
    Column("last_used_at", DateTime(timezone=True), nullable=False),
)

WRITE_EVERY_SECONDS = 60.0


class KeyUsage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._written: dict[UUID, float] = {}
        self._lock = threading.Lock()

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def touch(self, key_id: UUID) -> datetime:
        now = datetime.now(UTC)
        with self._lock:
            if time.monotonic() - self._written.get(key_id, -1e9) < WRITE_EVERY_SECONDS:
                return now
            self._written[key_id] = time.monotonic()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(key_usage).where(key_usage.c.key_uuid == key_id).values(last_used_at=now)
            ).rowcount
            if not changed:
                conn.execute(key_usage.insert().values(key_uuid=key_id, last_used_at=now))
        return now

    def last_used(self, key_id: UUID) -> datetime | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(key_usage.c.last_used_at).where(key_usage.c.key_uuid == key_id)
            ).scalar()
        return found

    def forget(self, conn: Connection, key_ids: tuple[UUID, ...]) -> None:
        if key_ids:
            conn.execute(delete(key_usage).where(key_usage.c.key_uuid.in_(key_ids)))
        with self._lock:
            for key_id in key_ids:
                self._written.pop(key_id, None)
