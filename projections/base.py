"""What every projection is: tables it owns, how events change them, how erasure clears them."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, MetaData, Table, delete, update

from application.erasure import ErasureScope
from domain.text import clean_event

Tables = dict[str, Table]


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def for_reading(engine: Engine) -> Engine:
    """The engine the readers ask through: on PostgreSQL each statement commits on its
    own. At READ COMMITTED a statement sees a snapshot of its own inside a transaction
    too, so a reader's transaction bought only the ROLLBACK every connection sends on
    its way back to the pool: about 0.3 ms, a third of a small grouped read (a warm
    30-day read of spread traffic, 200k hits: 1.03 -> 0.74 ms p50). Only readers get
    it (projections/reads.py): the crawl's sample rows write through the plain engine,
    in transactions."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def streamed(conn: Connection, rows: int) -> Connection:
    """`conn` reading its answer `rows` at a time: on PostgreSQL a server-side cursor,
    which lives only in a transaction, so a reader's connection (`for_reading`) goes
    back to the engine's own isolation for it. Ask it before the connection's first
    statement."""
    options: dict[str, Any] = {"stream_results": True, "yield_per": rows}
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        options["isolation_level"] = conn.default_isolation_level
    return conn.execution_options(**options)


Handler = Callable[[Any, Connection, Tables, Any, int], None]
# Work a rebuild's end leaves to do in a transaction of its own (`Projection.end_replay`).
Step = Callable[[Connection], None]

# What `decode_state` returns for a stored event it cannot decode from its state alone.
NEEDS_NOTIFICATION: Any = object()


def event_type(aggregate: type, name: str) -> type:
    """The event class the `@event("Name")` decorator made on an aggregate.

    The library makes these classes at run time, so type checkers cannot see them
    as attributes; naming them here fails loudly at import if one is renamed.
    """
    found = aggregate.__dict__.get(name)
    if not isinstance(found, type):
        raise LookupError(f"{aggregate.__name__} has no event {name!r}")
    return found


def cleaned(event: Any) -> Any:
    """A decoded event with its texts cleaned by the domain's rule (`domain.text.clean_event`)."""
    return clean_event(event)


def update_originator(conn: Connection, target: Table, event: Any, **values: Any) -> None:
    """Update the row of `target` whose `uuid` is the event's originator, and move its
    `updated_at` to the event's time."""
    conn.execute(
        update(target)
        .where(target.c.uuid == event.originator_id)
        .values(updated_at=event.timestamp, **values)
    )


def erase_sites(conn: Connection, tables: Tables, scope: ErasureScope) -> None:
    """Delete every row, in tables keyed by `site_uuid`, of the sites being erased."""
    if scope.site_ids:
        for table in tables.values():
            conn.execute(delete(table).where(table.c.site_uuid.in_(scope.site_ids)))


def set_columns(table: str, key: str = "uuid", **columns: Callable[[Any], Any]) -> Handler:
    """A handler that updates one row, found by the event's originator, from the event.

    Each keyword names a column and says how to get its value from the event; every
    change also moves `updated_at` to the event's time.
    """

    def handler(_self: Any, conn: Connection, tables: Tables, event: Any, _nid: int) -> None:
        target = tables[table]
        values = {name: get(event) for name, get in columns.items()}
        conn.execute(
            update(target)
            .where(target.c[key] == event.originator_id)
            .values(updated_at=event.timestamp, **values)
        )

    return handler


class Projection(ABC):
    """A read model that follows one application's notification log.

    `define(metadata, suffix)` declares the tables; a rebuild asks for a fresh set
    under a suffix, fills it, then renames it into place, so index names carry the
    suffix too and two generations never clash.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    handlers: ClassVar[dict[type, Handler]] = {}
    # True when `decode_state` can decode (most) stored events: the runner then reads
    # the log as plain rows, and whole notifications only for a batch that needs them.
    reads_states: ClassVar[bool] = False
    # The topic prefix of the events this projection reads from a log it shares with
    # others (kudos in the tracking log of hits): the rest decode to None, and with
    # `reads_states` a batch of others' events is skipped without being decoded.
    topics: ClassVar[str | None] = None

    @staticmethod
    @abstractmethod
    def define(metadata: MetaData, suffix: str) -> Tables: ...

    def decode(self, notification: Any, mapper: Any) -> Any:
        """The domain event of a notification, its texts `cleaned`; a projection may read
        fewer fields faster."""
        if self.topics is not None and not notification.topic.startswith(self.topics):
            return None
        return cleaned(mapper.to_domain_event(notification))

    def decode_state(self, topic: str, state: bytes) -> Any:
        """What `decode` would give, from the stored topic and state alone; or
        NEEDS_NOTIFICATION when only `decode` can tell (used when `reads_states`)."""
        if self.topics is not None and not topic.startswith(self.topics):
            return None
        return NEEDS_NOTIFICATION

    # The tables `end_replay` writes (None: any of them). A rebuild on PostgreSQL builds
    # the indexes and statistics of the others meanwhile, on a connection of their own.
    written_at_replay_end: ClassVar[frozenset[str] | None] = None

    # Optional hooks: most projections keep nothing in memory.
    def start_replay(self, tables: Tables) -> None:  # noqa: B027
        """A rebuild is about to replay the whole log, in order and in this process, into
        these fresh tables: until `end_replay`, the projection may keep what it needs
        to remember between batches in memory instead of reading it back."""

    def end_replay(self, conn: Connection | None, tables: Tables) -> Sequence[Step]:
        """The replay is over: write what was kept in memory into the fresh tables
        (inside the caller's transaction), or, without a connection (the rebuild
        failed), forget it.

        Returns the steps left: each derives rows of its own from what is committed
        by then, so the runner runs them after this transaction, each in one of its
        own, beside each other on PostgreSQL, under the position lock."""
        return ()

    def apply_batch(
        self, conn: Connection, tables: Tables, events: Sequence[tuple[int, Any]]
    ) -> None:
        """Apply events in log order; override to write a whole batch at once."""
        for notification_id, domain_event in events:
            if domain_event is None:
                continue
            handler = self.handlers.get(type(domain_event))
            if handler is not None:
                handler(self, conn, tables, domain_event, notification_id)

    @abstractmethod
    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None: ...


@dataclass(frozen=True)
class ReadModelTables:
    """Every read model's tables, defined once from the projections' own definitions.

    Made before the projection runner, which writes them: the readers made beside it
    (the webhook dispatcher, which the runner runs as a follower) need the same tables.
    """

    metadata: MetaData
    by_projection: dict[str, Tables]

    @classmethod
    def of(cls, projections: Sequence[Projection]) -> "ReadModelTables":
        metadata = MetaData()
        return cls(metadata, {p.name: p.define(metadata, "") for p in projections})


def upsert_add(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: Sequence[str],
    replace: Sequence[str] = (),
) -> None:
    """Insert rows, or add their counters to the rows already there (one statement).

    `add` columns are summed with what is stored; `replace` columns take the new value.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    changes = {name: table.c[name] + statement.excluded[name] for name in add}
    changes.update({name: statement.excluded[name] for name in replace})
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes), rows)
