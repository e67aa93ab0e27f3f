"""Bulk writes for the busiest projection, straight to the database driver.

A rebuild writes a few rows per event for millions of events; SQLAlchemy's
per-row parameter processing cost more than the database itself. These helpers
build each statement once and hand the driver plain tuples, converting values to
what SQLAlchemy would have stored, so its reads see the same data.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, DateTime, Table


class Bulk:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"

    # SQLAlchemy's storage forms on SQLite; PostgreSQL takes the Python values.
    def uuid(self, value: UUID) -> Any:
        return value if self.pg else value.hex

    def moment(self, value: datetime) -> Any:
        # The same text as SQLAlchemy's "%Y-%m-%d %H:%M:%S.%f", made faster.
        if self.pg:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, value: date) -> Any:
        return value if self.pg else value.isoformat()

    def flag(self, value: bool) -> Any:
        return value if self.pg else int(value)

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(columns)
        if self.pg:
            # COPY is PostgreSQL's bulk path: several times faster than row-by-row INSERTs.
            cursor: Any = self.conn.connection.cursor()
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join([self.mark] * len(columns))
        self.conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)

    def upsert_add(
        self,
        table: Table,
        columns: Sequence[str],
        keys: Sequence[str],
        add: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        latest: Sequence[str] = (),
    ) -> None:
        """Insert rows, or add their `add` columns to the stored ones; `latest` columns
        keep the later of the stored and the new value (a NULL new value changes nothing)."""
        if not rows:
            return
        name = f'"{table.name}"'
        changes = [f"{c} = {name}.{c} + excluded.{c}" for c in add]
        changes += [
            f"{c} = CASE WHEN {name}.{c} IS NULL OR excluded.{c} > {name}.{c} "
            f"THEN excluded.{c} ELSE {name}.{c} END"
            for c in latest
        ]
        tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(changes)}"
        head = f"INSERT INTO {name} ({', '.join(columns)}) "
        if not self.pg:
            marks = ", ".join([self.mark] * len(columns))
            self.conn.exec_driver_sql(head + f"VALUES ({marks})" + tail, rows)
            return
        # One statement whose parameters are one array per column: a round trip per row
        # is what costs on PostgreSQL, and a statement with a placeholder per value is
        # slow to prepare.
        arrays = ", ".join(f"%s::{_pg_array_type(table, c)}" for c in columns)
        self.conn.exec_driver_sql(
            head + f"SELECT * FROM unnest({arrays})" + tail,
            tuple([row[i] for row in rows] for i in range(len(columns))),
        )


def _pg_array_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    name = type(kind).__name__
    if isinstance(kind, DateTime):
        return "timestamptz[]"
    return {
        "Uuid": "uuid[]",
        "Date": "date[]",
        "BigInteger": "int8[]",
        "Integer": "int4[]",
        "Boolean": "bool[]",
    }.get(name, "text[]")
