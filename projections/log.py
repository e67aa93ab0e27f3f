"""Reading a notification log as plain (id, topic, state) rows.

The library's `select_notifications` makes a `Notification` per row with its
originator id parsed into a UUID; a projection that decodes the stored state
itself needs neither, and on PostgreSQL that work cost five times the query.
This reads the same rows, in the same order, with one query and no objects;
a recorder it does not know gets `None`, and the caller uses the library.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

Row = tuple[int, str, bytes]


def select_states(recorder: Any, after: int, limit: int) -> Sequence[Row] | None:
    """Up to `limit` rows after the notification id `after`, as the library would
    select them (`inclusive_of_start=False`); None for a recorder it does not know."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as wrapped:
            # Typed as the library's wrapper, it is the sqlite3 cursor the wrapper enters.
            lite = cast(sqlite3.Cursor, wrapped)
            lite.row_factory = None  # tuples, not the connection's sqlite3.Row
            lite.execute(
                f"SELECT rowid, topic, state FROM {recorder.events_table_name} "
                "WHERE rowid>? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            rows: list[Row] = lite.fetchall()
            return rows
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT notification_id, topic, state FROM {schema}.{table} "
            "WHERE notification_id>%s ORDER BY notification_id LIMIT %s"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with (
            recorder.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(statement, (after, limit), prepare=True)
            found: list[Row] = cursor.fetchall()
            return found
    return None
