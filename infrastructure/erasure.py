"""Erasure: remove an account's aggregates from the event stores and every read model.

The library has no delete; rows go from its tables directly. It all happens while
the projections' position rows are locked, so no batch can be half-way through
events that are being removed and write them back afterwards.
"""

import sqlite3
from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

from sqlalchemy import Connection, text

from application.erasure import ErasureScope
from domain.hits import site_id_range
from infrastructure.persistence import SQLITE_TIMEOUT_SECONDS, sqlite_event_file
from infrastructure.settings import Settings
from projections.runner import ERASED_TOPIC, ProjectionRunner


class EventStoreRows:
    """One application's stored events: `<name>_events` on PostgreSQL, a file on SQLite."""

    def __init__(self, settings: Settings, store: str, app_name: str) -> None:
        self.settings = settings
        self.store = store
        self.table = f"{app_name.lower()}_events"

    def delete(
        self,
        conn: Connection,
        originator_ids: Sequence[UUID] = (),
        ranges: Sequence[tuple[UUID, UUID]] = (),
    ) -> int:
        """Delete the events of these aggregates, and of every aggregate whose id lies in
        one of the (inclusive) ranges — a site's hits share its id's first bytes."""
        if not originator_ids and not ranges:
            return 0
        if self.settings.is_postgres:
            # Same database as the read models: this delete commits with their cleanup.
            table = f'"{self.settings.db_schema or "public"}"."{self.table}"'
            removed = 0
            if originator_ids:
                removed += conn.execute(
                    text(f"DELETE FROM {table} WHERE originator_id = ANY(:ids)"),
                    {"ids": list(originator_ids)},
                ).rowcount
            for low, high in ranges:
                removed += conn.execute(
                    text(f"DELETE FROM {table} WHERE originator_id BETWEEN :low AND :high"),
                    {"low": low, "high": high},
                ).rowcount
            return removed
        return self._delete_sqlite(
            [i.hex for i in originator_ids], [(lo.hex, hi.hex) for lo, hi in ranges]
        )

    def _delete_sqlite(self, hex_ids: list[str], hex_ranges: list[tuple[str, str]]) -> int:
        db = sqlite3.connect(
            sqlite_event_file(self.settings, self.store),
            timeout=SQLITE_TIMEOUT_SECONDS,
            isolation_level=None,
        )
        try:
            # Erased rows are overwritten with zeros, not just unlinked.
            db.execute("PRAGMA secure_delete=ON")
            db.execute("BEGIN IMMEDIATE")
            highest = db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
            removed = 0
            for start in range(0, len(hex_ids), 500):
                chunk = hex_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                removed += db.execute(
                    f"DELETE FROM stored_events WHERE originator_id IN ({marks})", chunk
                ).rowcount
            for low, high in hex_ranges:
                # Ids are stored as lower-case hex, whose order is the bytes' order.
                removed += db.execute(
                    "DELETE FROM stored_events WHERE originator_id BETWEEN ? AND ?", (low, high)
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
            # Copy the write-ahead log into the database and empty it: until then the
            # erased rows' old pages still sit in the -wal file.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return removed
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()


# Operational tables outside the projections (key usage, drop counts) clear their rows.
Forgetter = Callable[[Connection, ErasureScope], None]


class StoreEraser:
    """The application's `Eraser` port, under one lock of every projection.

    Read-model rows go first, in the locked transaction; then the events. On
    PostgreSQL both commit together; on SQLite a failing event delete rolls the
    read-model cleanup back, so a retry finds the account whole.
    """

    def __init__(
        self,
        projections: ProjectionRunner,
        configuration: EventStoreRows,
        tracking: EventStoreRows,
        forgetters: Sequence[Forgetter],
    ) -> None:
        self.projections = projections
        self.configuration = configuration
        self.tracking = tracking
        self.forgetters = forgetters

    def erase(self, scope: ErasureScope) -> None:
        with self.projections.locked(list(self.projections.projections)) as (conn, _):
            self.projections.erase(conn, scope)
            for forget in self.forgetters:
                forget(conn, scope)
            self.tracking.delete(conn, ranges=[site_id_range(s) for s in scope.site_ids])
            self.configuration.delete(conn, originator_ids=scope.originator_ids)
        if not self.projections.is_postgres:
            with self.projections.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
