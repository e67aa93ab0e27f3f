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

from sqlalchemy import Connection, Table


class Bulk:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"

    # SQLAlchemy's storage forms on SQLite; PostgreSQL takes the Python values.
    def uuid(self, value: UUID) -> Any:
        return value if self.pg else value.hex

    def moment(self, value: datetime) -> Any:
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def day(self, value: date) -> Any:
        return value if self.pg else value.isoformat()

    def flag(self, value: bool) -> Any:
        return value if self.pg else int(value)

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(columns)
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
        marks = ", ".join([self.mark] * len(columns))
        sql = (
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(changes)}"
        )
        self.conn.exec_driver_sql(sql, rows)
