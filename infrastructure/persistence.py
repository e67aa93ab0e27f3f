"""Where events and read models are kept: SQLite files by default, PostgreSQL by DATABASE_URL."""

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import eventsourcing.persistence as es
import psycopg
import sqlalchemy.exc as sa
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from infrastructure.settings import Settings

SQLITE_TIMEOUT_SECONDS = 30
# How long an event-store call waits for a pooled connection. The library tries each
# call ten times (0.2 s apart), so a call gives up after about 22 s without the
# database: a restart of ten seconds or so (with the pool's reconnect backoff after
# it) is waited out and loses nothing, a longer outage answers 503 rather than
# holding a request for the 100 s that 10 s made of it. Past that, the web layer
# stops waiting at all (infrastructure/database_watch.py).
POSTGRES_POOL_WAIT_SECONDS = 2

# Errors that mean "the database does not answer now" (stopped, restarting, out of
# connections, locked): an answer to try again later, never a bug to report.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,
    sa.DisconnectionError,
    es.OperationalError,
    es.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def store_unavailable(error: BaseException) -> bool:
    """Whether this error (or one it was raised from) says the database is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def postgres_url(settings: Settings) -> URL:
    assert settings.database_url is not None
    url = make_url(settings.database_url)
    return url.set(drivername="postgresql+psycopg")


def event_store_env(settings: Settings, store: str) -> dict[str, str]:
    """The `eventsourcing` environment for one application's event store.

    On SQLite each application gets a file (one writer per file at a time); on
    PostgreSQL each gets a table, `<application>_events`, in the same database.
    """
    if not settings.is_postgres:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(sqlite_event_file(settings, store)),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_TIMEOUT_SECONDS),
        }
    url = postgres_url(settings)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": (
            "infrastructure.event_recorder:ArrayInsertApplicationRecorder"
        ),
        "PROCESS_RECORDER_TOPIC": "infrastructure.event_recorder:PatientProcessRecorder",
        "POSTGRES_DBNAME": url.database or "postgres",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_POOL_WAIT_SECONDS),
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
    }
    if settings.db_schema:
        env["POSTGRES_SCHEMA"] = settings.db_schema
    return env


def sqlite_event_file(settings: Settings, store: str) -> Path:
    return settings.data_dir / f"{store}.sqlite3"


def ensure_schema(settings: Settings) -> None:
    """Create the configured PostgreSQL schema, so that both stores can use it."""
    if not (settings.is_postgres and settings.db_schema):
        return
    engine = create_engine(postgres_url(settings))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"')
    engine.dispose()


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode("utf-8")).hexdigest()


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text


def read_model_engine(settings: Settings) -> Engine:
    """The SQLAlchemy engine for the read models.

    On SQLite a transaction started with `execution_options(immediate=True)` takes the
    write lock at BEGIN: a projection batch holds it while it reads new events, so an
    erasure or a rebuild swap cannot slip in between its read and its write.
    """
    if settings.is_postgres:
        connect_args: dict[str, Any] = {"connect_timeout": 10}
        if settings.db_schema:
            connect_args["options"] = f"-c search_path={settings.db_schema}"
        return create_engine(
            postgres_url(settings),
            pool_size=5,
            max_overflow=10,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{settings.data_dir / 'readmodels.sqlite3'}",
        connect_args={"timeout": SQLITE_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below decide when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten, not unlinked
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_SECONDS * 1000}")
        cursor.close()
        # SQLite's lower() folds ASCII only; case-insensitive filters must match "ÜBER" too.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        # PostgreSQL has md5(); rollup keys are computed in SQL on both (projections/traffic.py).
        dbapi_connection.create_function("md5", 1, _md5, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
