"""The PostgreSQL event recorder, inserting a batch in one round trip from plain arrays.

The library inserts a transaction's events as one array of a composite type, which
psycopg dumps in Python, field by field (about 50 µs an event), and it takes four
round trips in pipeline mode (lock, notify, insert, commit). Here a server-side
function does the same lock, NOTIFY and insert, called once with four binary
arrays of plain types (about 2 µs an event): a collector commit costs one round
trip. The table, the EXCLUSIVE lock that keeps notification ids in commit order and
the returned notification ids are the library's own.
"""

import zlib
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresRecorder,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

# The library's calls wait out a database slow to answer this way (ten tries, 0.2 s
# apart, each waiting POSTGRES_CONNECT_TIMEOUT for a connection): about 22 s.
_WHILE_UNAVAILABLE = retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)


class _MadePatiently(PostgresRecorder):
    """Building a recorder reads its composite types from the database, and making its
    tables follows: neither is retried by the library, so a process starting while its
    database restarts, or while a new pool's first connection is slow to come on a
    loaded machine, failed after one wait of 2 s. Each step sets its attributes
    afresh, so a second try starts clean."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _WHILE_UNAVAILABLE(super().__init__)(*args, **kwargs)

    @_WHILE_UNAVAILABLE
    def create_table(self) -> None:
        super().create_table()


class ArrayInsertApplicationRecorder(_MadePatiently, PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        function = Identifier(f"{self.events_table_name}_insert")
        # Every process creates the function at start: one at a time, or PostgreSQL
        # answers "tuple concurrently updated".
        self.sql_create_statements.append(
            SQL("SELECT pg_advisory_xact_lock({0})").format(
                Literal(zlib.crc32(f"{self.datastore.schema}.{self.events_table_name}".encode()))
            )
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids uuid[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
                "BEGIN "
                "PERFORM set_config('lock_timeout', {timeout}, true); "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} "
                "(originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) "
                "RETURNING notification_id; "
                "END; $body$"
            ).format(
                schema=schema,
                function=function,
                table=table,
                channel=Identifier(self.channel_name),
                timeout=Literal(f"{self.datastore.lock_timeout}s"),
            )
        )
        self._insert_call = SQL(
            "SELECT * FROM {schema}.{function}(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(schema=schema, function=function)

    @_WHILE_UNAVAILABLE
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None:
            return super().insert_events(stored_events, **kwargs)
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            # An autocommit connection: the call is its own transaction.
            cursor.execute(
                self._insert_call,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                prepare=True,
            )
            return [next(iter(row.values())) for row in cursor.fetchall()]


class PatientProcessRecorder(_MadePatiently, PostgresProcessRecorder):
    """The library's process recorder (the webhooks' store: its events and the
    dispatcher's position in one transaction), made as patiently as the one above."""
