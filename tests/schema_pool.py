"""Emptied PostgreSQL schemas, handed from one test to the next.

A fresh schema costs a test 0.4 to 0.6 s on a quiet machine (about 200 DDL statements,
most of the PostgreSQL pass's time); starting on one whose tables exist costs about
half that. So a finished test's schema is set back to what a fresh start leaves and
renamed to a spare name, and the next test renames it to its own. Setting back:
every table that holds a row is truncated, every sequence restarted, and the few
rows a fresh start writes are copied in again from a template schema made by a
fresh start (the event store's tracking table, for one, holds a marker row that
says its shape is current: without it the library "migrates" the table at the next
start). A test therefore starts exactly as on a fresh schema.

Two rules keep tests apart:
- The schema is only recycled when its shape is the one a fresh bootstrap makes
  (a fingerprint of its tables, columns, indexes, constraints and functions). A test
  that dropped a table, or swapped in rebuilt ones, leaves its schema to be dropped.
- Renaming it away first means a connection the test left behind (it names the schema
  in its search path and in its queries) finds nothing: it cannot write into the next
  test's schema. If setting back has to wait for such a connection's locks, the
  schema is dropped instead, as before.
"""

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

# Schema names appear in definitions (of indexes, constraints and argument types): they are
# replaced by this before comparing.
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
parts AS (
    SELECT 'rel:' || c.relname || ':' || c.relkind::text AS part
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)
  UNION ALL
    SELECT 'col:' || c.relname || '.' || a.attname || ':'
        || format_type(a.atttypid, a.atttypmod)
        || ':' || a.attnotnull::text || ':' || a.atthasdef::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = (SELECT oid FROM ns) AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT 'idx:' || replace(pg_get_indexdef(i.indexrelid), %(schema)s, '')
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace = (SELECT oid FROM ns)
  UNION ALL
    SELECT 'con:' || conname || ':' || replace(pg_get_constraintdef(oid), %(schema)s, '')
    FROM pg_constraint WHERE connamespace = (SELECT oid FROM ns)
  UNION ALL
    SELECT 'fn:' || p.proname
        || '(' || replace(pg_get_function_identity_arguments(p.oid), %(schema)s, '') || ')'
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
)
SELECT count(*), md5(coalesce(string_agg(part, E'\\n' ORDER BY part), '')) FROM parts
"""

# How long setting a schema back waits for a lock a leftover connection holds.
RESET_LOCK_TIMEOUT = "2s"


class SchemaPool:
    """Spare schemas of this test process (`take` one for a test, `give_back` after)."""

    def __init__(self, url: str, pristine: Callable[[str], None]) -> None:
        """`pristine(schema)` makes a schema as a fresh start does (a bootstrap)."""
        self.url = url
        self.pristine = pristine
        self.prefix = f"spare_{os.getpid()}_"
        self.spares: list[str] = []
        self.template: Template | None = None

    def take(self, schema: str) -> None:
        """Give `schema` the tables of a fresh start, if a spare is at hand."""
        if not self.spares:
            return
        spare = self.spares.pop()
        with self._connect() as conn:
            conn.execute(_rename(spare, schema))

    def give_back(self, schema: str) -> None:
        """Keep the test's schema for the next one if it is still in shape; else drop it."""
        template = self.template = self.template or self._make_template()
        with self._connect() as conn:
            if _shape(conn, schema) == template.shape and self._reset(conn, schema, template):
                spare = f"{self.prefix}{uuid.uuid4().hex[:8]}"
                conn.execute(_rename(schema, spare))
                self.spares.append(spare)
                return
            conn.execute(_drop(schema))

    def close(self) -> None:
        kept = self.spares + ([self.template.schema] if self.template else [])
        with self._connect() as conn:
            for schema in kept:
                conn.execute(_drop(schema))
        self.spares.clear()
        self.template = None

    # -- inside ------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def _make_template(self) -> "Template":
        schema = f"{self.prefix}template"
        with self._connect() as conn:
            conn.execute(_drop(schema))
        self.pristine(schema)
        with self._connect() as conn:
            shape = _shape(conn, schema)
            seeded = _holding_rows(conn, schema, _relations(conn, schema, "r"))
        return Template(schema, shape, tuple(seeded))

    @staticmethod
    def _reset(conn: psycopg.Connection, schema: str, template: "Template") -> bool:
        """Set the schema back to the template's rows in one transaction; False (and
        nothing changed) if a leftover connection's lock was not let go in time."""
        tables = _relations(conn, schema, "r")
        sequences = _relations(conn, schema, "S")
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(RESET_LOCK_TIMEOUT))
                )
                used = _holding_rows(conn, schema, tables)
                if used:
                    conn.execute(
                        sql.SQL("TRUNCATE {}").format(
                            sql.SQL(", ").join(sql.Identifier(schema, t) for t in used)
                        )
                    )
                for sequence in sequences:
                    conn.execute(
                        sql.SQL("ALTER SEQUENCE {} RESTART").format(
                            sql.Identifier(schema, sequence)
                        )
                    )
                for table in template.seeded:
                    conn.execute(
                        sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                            sql.Identifier(schema, table), sql.Identifier(template.schema, table)
                        )
                    )
        except psycopg.errors.LockNotAvailable:
            return False
        return True


@dataclass(frozen=True)
class Template:
    """A schema as a fresh start leaves it: its shape, and the tables it wrote rows to."""

    schema: str
    shape: tuple[int, str]
    seeded: tuple[str, ...]


def _shape(conn: psycopg.Connection, schema: str) -> tuple[int, str]:
    count, digest = conn.execute(_FINGERPRINT, {"schema": schema}).fetchone() or (0, "")
    return int(count), str(digest)


def _relations(conn: psycopg.Connection, schema: str, kind: str) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = %s"
            " AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s)",
            (kind, schema),
        )
    ]


def _holding_rows(conn: psycopg.Connection, schema: str, tables: list[str]) -> list[str]:
    """Which of these tables hold a row, in one statement."""
    if not tables:
        return []
    probe = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} WHERE EXISTS (SELECT 1 FROM {})").format(
            sql.Literal(t), sql.Identifier(schema, t)
        )
        for t in tables
    )
    return [name for (name,) in conn.execute(probe)]


def _rename(schema: str, to: str) -> sql.Composed:
    return sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
        sql.Identifier(schema), sql.Identifier(to)
    )


def _drop(schema: str) -> sql.Composed:
    return sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
