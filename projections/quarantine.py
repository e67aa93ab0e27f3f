"""Events a projection cannot apply: told from failures that are not theirs, and set aside.

A batch that fails because of what one of its events holds (a value no column takes,
a stored form nothing decodes) would fail again on every try and hold the whole log
up behind it. The runner (projections/runner.py) finds such events by applying the
batch again in halves, each in a savepoint, and sets each one aside here, in the same
transaction as the rest of the batch and the new position. A failure that is not the
event's (the database went away, a lock timed out, a bug that raises anything else)
stops the batch as before and is retried as a whole.

An entry keeps the projection, the notification id and the first line of the error:
never the event's data, which the log has. A rebuild tries every event again; one
that still fails is set aside again (docs/decisions/0008-text-fields.md).
"""

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy import exc as sa

from domain.text import clean

MAX_ERROR_LENGTH = 300


def quarantine_table(metadata: MetaData) -> Table:
    return Table(
        "projection_quarantine",
        metadata,
        Column("name", String(100), primary_key=True),
        Column("notification_id", BigInteger, primary_key=True, autoincrement=False),
        Column("error", String(MAX_ERROR_LENGTH), nullable=False),
        Column("quarantined_at", DateTime(timezone=True), nullable=False),
    )


@dataclass(frozen=True)
class Poisoned:
    """An event found unusable, not yet written down."""

    notification_id: int
    error: str


@dataclass(frozen=True)
class Quarantined:
    name: str
    notification_id: int
    error: str
    quarantined_at: datetime


# What an event's own content makes a handler or the database raise. Anything else
# (OperationalError, InterfaceError, ProgrammingError, a plain Exception) is not the
# event's doing, and setting the event aside would lose it for nothing. sqlite3 raises
# OverflowError for an integer too large to bind, where psycopg raises a DataError.
_DATA_ERRORS = (ValueError, TypeError, LookupError, AttributeError, OverflowError)
_DRIVER_DATA_ERRORS = (
    psycopg.DataError,
    psycopg.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
)


def is_poison(error: BaseException) -> bool:
    """Whether a failure comes from an event's content (and so would come again)."""
    if isinstance(error, sa.DBAPIError):
        return isinstance(error, sa.DataError | sa.IntegrityError)
    if isinstance(error, sa.StatementError):
        # Raised while SQLAlchemy turned a value into a parameter: the value's fault.
        return error.orig is not None and is_poison(error.orig)
    if isinstance(error, psycopg.Error | sqlite3.Error):
        return isinstance(error, _DRIVER_DATA_ERRORS)
    return isinstance(error, _DATA_ERRORS)


def describe(error: BaseException) -> str:
    """The error's kind and first line: enough to tell what went wrong, never the
    statement's parameters (SQLAlchemy adds them to its message) or the event's values."""
    inner = error.orig if isinstance(error, sa.StatementError) and error.orig else error
    lines = str(inner).strip().splitlines()
    text = f"{type(inner).__name__}: {lines[0]}" if lines else type(inner).__name__
    return clean(text)[:MAX_ERROR_LENGTH]


def set_aside(conn: Connection, table: Table, name: str, found: Sequence[Poisoned]) -> None:
    """Write entries for these events (again, when a replay meets one already there)."""
    if not found:
        return
    ids = [p.notification_id for p in found]
    conn.execute(delete(table).where(table.c.name == name, table.c.notification_id.in_(ids)))
    now = datetime.now(UTC)
    conn.execute(
        insert(table),
        [
            {"name": name, "notification_id": p.notification_id, "error": p.error}
            | {"quarantined_at": now}
            for p in found
        ],
    )


def forget(conn: Connection, table: Table, name: str) -> None:
    conn.execute(delete(table).where(table.c.name == name))


def counts(conn: Connection, table: Table) -> dict[str, int]:
    query = select(table.c.name, func.count()).group_by(table.c.name)
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def entries(conn: Connection, table: Table, names: Sequence[str] | None) -> list[Quarantined]:
    query = select(table).order_by(table.c.name, table.c.notification_id)
    if names is not None:
        query = query.where(table.c.name.in_(list(names)))
    return [
        Quarantined(
            r.name,
            int(r.notification_id),
            r.error,
            r.quarantined_at if r.quarantined_at.tzinfo else r.quarantined_at.replace(tzinfo=UTC),
        )
        for r in conn.execute(query)
    ]
