"""Erasure: remove an account's aggregates from the event stores and every read model.

The library has no delete; rows go from its tables directly. It all happens while
the projections' position rows are locked, so no batch can be half-way through
events that are being removed and write them back afterwards.
"""

import sqlite3
from collections.abc import Sequence
from uuid import UUID, uuid4

from sqlalchemy import Connection, text

from application.erasure import ErasureScope
from infrastructure.key_usage import KeyUsage
from infrastructure.persistence import SQLITE_TIMEOUT_SECONDS, sqlite_event_file
from infrastructure.settings import Settings
from projections.runner import ERASED_TOPIC, ProjectionEngine


class EventStoreRows:
    """One application's stored events: `<name>_events` on PostgreSQL, a file on SQLite."""

    def __init__(self, settings: Settings, store: str, app_name: str) -> None:
        self.settings = settings
        self.store = store
        self.table = f"{app_name.lower()}_events"

    def delete(self, conn: Connection, originator_ids: Sequence[UUID]) -> int:
        if not originator_ids:
            return 0
        if self.settings.is_postgres:
            # Same database as the read models: this delete commits with their cleanup.
            schema = self.settings.db_schema or "public"
            result = conn.execute(
                text(f'DELETE FROM "{schema}"."{self.table}" WHERE originator_id = ANY(:ids)'),
                {"ids": list(originator_ids)},
            )
            return int(result.rowcount)
        return self._delete_sqlite([i.hex for i in originator_ids])

    def _delete_sqlite(self, hex_ids: list[str]) -> int:
        db = sqlite3.connect(
            sqlite_event_file(self.settings, self.store),
            timeout=SQLITE_TIMEOUT_SECONDS,
            isolation_level=None,
        )
        try:
            db.execute("BEGIN IMMEDIATE")
            highest = db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
            removed = 0
            for start in range(0, len(hex_ids), 500):
                chunk = hex_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                removed += db.execute(
                    f"DELETE FROM stored_events WHERE originator_id IN ({marks})", chunk
                ).rowcount
            if highest is not None:
                still = db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
                if still is None or still < highest:
                    # SQLite hands out MAX(rowid)+1 next: keep the highest id taken by a
                    # placeholder, or a new event would reuse an id projections have passed.
                    db.execute(
                        "INSERT INTO stored_events (rowid, originator_id, originator_version,"
                        " topic, state) VALUES (?, ?, 1, ?, x'')",
                        (highest, uuid4().hex, ERASED_TOPIC),
                    )
            db.execute("COMMIT")
            return removed
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()


class StoreEraser:
    """The application's `Eraser` port, under one lock of every projection.

    Read-model rows go first, in the locked transaction; then the events. On
    PostgreSQL both commit together; on SQLite a failing event delete rolls the
    read-model cleanup back, so a retry finds the account whole.
    """

    def __init__(
        self,
        projections: ProjectionEngine,
        stores: list[EventStoreRows],
        key_usage: KeyUsage,
    ) -> None:
        self.projections = projections
        self.stores = stores
        self.key_usage = key_usage

    def erase(self, scope: ErasureScope) -> None:
        with self.projections.locked(list(self.projections.projections)) as (conn, _):
            self.projections.erase(conn, scope)
            self.key_usage.forget(conn, scope.key_ids)
            for store in self.stores:
                store.delete(conn, scope.originator_ids)
