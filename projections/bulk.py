"""Bulk writes for the busiest projection, straight to the database driver.

A rebuild writes a few rows per event for millions of events; SQLAlchemy's
per-row parameter processing cost more than the database itself. These helpers
build each statement once and hand the driver plain tuples of values in the form
both databases take as text, so SQLAlchemy's reads see the same data:

- a UUID as 32 hex digits (SQLAlchemy's storage form on SQLite, and valid
  PostgreSQL input);
- a day as "YYYY-MM-DD";
- a UTC time as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's storage form on SQLite;
  `moment` adds the offset PostgreSQL needs);
- a boolean as a bool (SQLite stores it as 1 or 0, as SQLAlchemy does).

On PostgreSQL every write goes through COPY, the bulk path: several times faster
than statements whose parameters the driver has to adapt one value at a time.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Date, Table, Uuid


class Bulk:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"

    def moment(self, utc_text: str) -> str:
        return utc_text + "+00" if self.pg else utc_text

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pg:
            self._copy(table.name, columns, rows)
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
        keep the later of the stored and the new value (a NULL new value changes nothing).
        Rows must have distinct keys."""
        if not rows:
            return
        name = f'"{table.name}"'
        changes = [f"{c} = {name}.{c} + excluded.{c}" for c in add]
        changes += [
            f"{c} = CASE WHEN {name}.{c} IS NULL OR excluded.{c} > {name}.{c} "
            f"THEN excluded.{c} ELSE {name}.{c} END"
            for c in latest
        ]
        names = ", ".join(columns)
        tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(changes)}"
        if self.pg:
            staged = self._stage(table, columns, rows)
            self.conn.exec_driver_sql(f"{staged} INSERT INTO {name} ({names}) {_FROM_STAGE}" + tail)
            return
        marks = ", ".join([self.mark] * len(columns))
        self.conn.exec_driver_sql(f"INSERT INTO {name} ({names}) VALUES ({marks})" + tail, rows)

    def upsert_latest(
        self,
        table: Table,
        columns: Sequence[str],
        keys: Sequence[str],
        stamp: str,
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Insert rows, or replace the stored one's other columns where the new row's
        `stamp` is not earlier (the latest report wins). Rows must have distinct keys."""
        if not rows:
            return
        name = f'"{table.name}"'
        changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        names = ", ".join(columns)
        tail = (
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {changes}"
            f" WHERE excluded.{stamp} >= {name}.{stamp}"
        )
        if self.pg:
            staged = self._stage(table, columns, rows)
            self.conn.exec_driver_sql(f"{staged} INSERT INTO {name} ({names}) {_FROM_STAGE}" + tail)
            return
        marks = ", ".join([self.mark] * len(columns))
        self.conn.exec_driver_sql(f"INSERT INTO {name} ({names}) VALUES ({marks})" + tail, rows)

    def insert_new(
        self, table: Table, keys: Sequence[str], rows: Sequence[tuple[str, ...]]
    ) -> list[tuple[str, ...]]:
        """Insert the rows (all key columns, texts) the table does not have yet; returns those."""
        if not rows:
            return []
        names = ", ".join(keys)
        if self.pg:
            staged = self._stage(table, keys, rows)
            texts = ", ".join(_pg_text(table, k) for k in keys)
            found = self.conn.exec_driver_sql(
                f'{staged} INSERT INTO "{table.name}" ({names}) {_FROM_STAGE} '
                f"ON CONFLICT DO NOTHING RETURNING {texts}"
            )
            return [tuple(row) for row in found]
        known: set[tuple[str, ...]] = set()
        # One look-up per value of the leading keys: the last key goes in an IN list.
        groups: dict[tuple[str, ...], list[str]] = {}
        for row in rows:
            groups.setdefault(row[:-1], []).append(row[-1])
        where = " AND ".join(f"{k} = ?" for k in keys[:-1])
        for lead, last in groups.items():
            for start in range(0, len(last), 900):
                chunk = last[start : start + 900]
                marks = ", ".join("?" * len(chunk))
                found = self.conn.exec_driver_sql(
                    f'SELECT {keys[-1]} FROM "{table.name}" WHERE {where} '
                    f"AND {keys[-1]} IN ({marks})",
                    (*lead, *chunk),
                )
                known.update((*lead, row[0]) for row in found)
        fresh = [row for row in rows if row not in known]
        self.insert(table, keys, fresh)
        return fresh

    def _copy(self, name: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        cursor: Any = self.conn.connection.cursor()
        with cursor.copy(f'COPY "{name}" ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def _stage(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
        """COPY rows into this session's staging table for `table`; returns the start of a
        statement that takes them out again (`WITH staged AS (DELETE ... RETURNING)`),
        so a second write to the same table in one transaction starts from empty."""
        # One staging table per table of a projection, whatever rebuild suffix it has:
        # a session keeps its temporary tables, and every generation has the same columns.
        stage = f"stage_{table.name.split('__r')[0]}"
        self.conn.exec_driver_sql(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{stage}" (LIKE "{table.name}") '
            "ON COMMIT DELETE ROWS"
        )
        self._copy(stage, columns, rows)
        return f'WITH staged AS (DELETE FROM "{stage}" RETURNING {", ".join(columns)})'


_FROM_STAGE = "SELECT * FROM staged"


def _pg_text(table: Table, column: str) -> str:
    """SQL for a column's value in the text form these helpers write it in."""
    kind = table.c[column].type
    if isinstance(kind, Uuid):
        return f"replace({column}::text, '-', '')"
    if isinstance(kind, Date):
        return f"to_char({column}, 'YYYY-MM-DD')"
    return f"{column}::text"
