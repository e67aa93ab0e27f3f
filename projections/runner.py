"""The projection runner: exactly-once batches, catch-up, status, rebuild and erasure locks.

Each batch runs in one read-model transaction that first locks the projection's
position row, then reads the next events, writes the read model and moves the
position: a crash anywhere leaves either the whole batch or none of it.

An event that cannot be applied (projections/quarantine.py) costs nothing until it
comes: the batch that meets it fails and is rolled back, then applied again in a
new transaction, in halves, each in a savepoint, down to the events that fail alone.
Those are set aside with the rest of the batch and the position, so the log goes on.
"""

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import pairwise
from typing import Any, NamedTuple, Protocol

from eventsourcing.application import Application
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    inspect,
    select,
    update,
)

from application.erasure import ErasureScope
from projections import quarantine
from projections.base import NEEDS_NOTIFICATION, Projection, ReadModelTables, Step, Tables
from projections.log import select_states
from projections.quarantine import Poisoned, Quarantined, describe, is_poison

log = logging.getLogger("tinylytics.projections")

# Erasure overwrites the newest erased row with this topic on SQLite, where a
# deleted highest rowid would otherwise be handed out again (infrastructure/erasure.py).
ERASED_TOPIC = "tinylytics:erased"
BATCH_SIZE = 5000
# A projection behind the log (a catch-up, a restart, a replay from the start) reads
# this many batches' worth at a time: a batch's fixed costs (a dozen statements, the
# blocks its days close) spread over four times the hits (+20% hits/s at 300k). A
# rebuild reads five (it holds no live reader up: its tables are not read yet).
CATCH_UP_BATCHES = 4
# A rebuild and a catch-up read what they take under one lock in this many parts, each
# read on another thread while the part before it is applied: the applying thread's
# waits on the database leave the interpreter to the decoding, and the database works
# on the writes while the next part is decoded. 1M hits on PostgreSQL: a rebuild's
# replay before its end 20.2-21.3 s in one part, 18.9-20.4 s in two, 17.0-19.4 s in
# three; a catch-up 51.2-53.8 s in one, 49.7-50.0 in two, 48.9-49.4 in three.
READ_AHEAD_PARTS = 3
# The connections a rebuild's end on PostgreSQL uses at a time for its steps (summing
# rollups, building indexes): they are few and large, and each keeps a core busy.
BESIDE = 2

positions_metadata = MetaData()
positions = Table(
    "projection_positions",
    positions_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)
quarantined = quarantine.quarantine_table(positions_metadata)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for one batch.

    A batch makes a few hundred thousand small objects (decoded events, rows), none in
    a cycle, so reference counting frees them all; yet the collector kept re-scanning
    them and took a quarter of a rebuild. It runs again once the batch that turned it
    off is over (and stays off if something else had turned it off before).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _finish(conn: Connection, tables: Sequence[Table], deferred: dict[str, set[Any]]) -> None:
    """Build the fresh tables' deferred indexes, then (PostgreSQL) their statistics."""
    for table in tables:
        for index in deferred[table.name]:
            index.create(conn)
    if conn.dialect.name == "postgresql":
        # Fresh tables have no statistics until autovacuum comes by: without them the
        # first queries after the swap are planned blind.
        for table in tables:
            conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def _in_own_transaction(engine: Engine, step: Step) -> None:
    """A step of a rebuild on PostgreSQL, on a connection and transaction of its own."""
    with engine.begin() as conn:
        # Fresh tables only: a crash before the swap loses the rebuild either way, and
        # the swap's commit comes after this one in the log.
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        step(conn)


class _Finishing:
    """`_finish` for some tables, in a thread of its own and its own transaction."""

    def __init__(self, engine: Engine, tables: list[Table], deferred: dict[str, set[Any]]) -> None:
        self.names = {table.name for table in tables}
        self._error: BaseException | None = None

        def run() -> None:
            try:
                _in_own_transaction(engine, partial(_finish, tables=tables, deferred=deferred))
            except BaseException as error:  # handed to the rebuild by wait()
                self._error = error

        self._thread = threading.Thread(target=run, name="rebuild-finishing", daemon=True)
        self._thread.start()

    def wait(self, raising: bool = True) -> set[str]:
        """The names of the tables finished; the thread's error, if it failed."""
        self._thread.join()
        if self._error is not None and raising:
            raise self._error
        return self.names


@dataclass(frozen=True)
class Status:
    name: str
    source: str
    position: int
    head: int
    lag: int
    updated_at: datetime | None
    quarantined: int = 0  # events set aside (projections/quarantine.py)


@dataclass(frozen=True)
class Retried:
    name: str
    before: int  # events set aside before the retry
    after: int  # events that still fail


class Batch(NamedTuple):
    """What `_read` found: the last notification id read, the decoded events, and the
    events nothing could decode (set aside with the batch)."""

    last: int
    events: list[tuple[int, Any]]
    unreadable: list[Poisoned]


Progress = Callable[[int, int], None]


class Follower(Protocol):
    """A process manager (webhook dispatch) run beside the projections by `run` only:
    never by `catch_up` or `rebuild`. `follow` does one turn and handles its own errors."""

    def follow(self) -> None: ...


class PositionLocks:
    """Transactions that hold projections' position rows: while one is open, no batch
    of those projections runs. The runner takes them for each batch; erasure and the
    webhooks' erasure fence (infrastructure/webhooks.py) take them too."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def locked(self, names: Sequence[str]) -> Iterator[tuple[Connection, dict[str, int]]]:
        """A transaction that holds the position rows of these projections.

        No batch of theirs can run until it ends: on SQLite the write lock is taken
        at BEGIN, on PostgreSQL the rows are locked FOR UPDATE (in name order, so two
        lockers never deadlock).
        """
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                if self.is_postgres:
                    # Read models can be rebuilt from the log, and the position commits
                    # with them: an unflushed commit lost to a crash is simply redone.
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                query = select(positions.c.name, positions.c.position).where(
                    positions.c.name.in_(sorted(names))
                )
                if self.is_postgres:
                    query = query.order_by(positions.c.name).with_for_update()
                found = {row.name: int(row.position) for row in conn.execute(query)}
                yield conn, found


class ProjectionRunner:
    def __init__(
        self,
        engine: Engine,
        sources: dict[str, Application[Any]],
        projections: list[Projection],
        followers: Sequence[Follower] = (),
        schema: ReadModelTables | None = None,
    ) -> None:
        """`schema`, when given, holds the projections' tables (made first, for readers
        that the followers need); `followers` run after each turn of `run`."""
        self.engine = engine
        self.sources = sources
        self.projections = {p.name: p for p in projections}
        schema = schema or ReadModelTables.of(projections)
        if set(schema.by_projection) != set(self.projections):
            raise ValueError("the read-model tables are not those of these projections")
        self.metadata = schema.metadata
        self.tables: dict[str, Tables] = schema.by_projection
        self.locks = PositionLocks(engine)
        self.is_postgres = self.locks.is_postgres
        # The last position this process saw each projection at (a hint, never trusted
        # for writing: a batch always re-reads its position under the lock).
        self._seen: dict[str, int] = {}
        self.followers: tuple[Follower, ...] = tuple(followers)

    # -- set up --------------------------------------------------------------------
    def setup(self) -> None:
        with self.engine.begin() as conn:
            positions_metadata.create_all(conn)
            self._restart_grown(conn)
            self.metadata.create_all(conn)
            known = {row.name for row in conn.execute(select(positions.c.name))}
            for name in self.projections:
                if name not in known:
                    conn.execute(positions.insert().values(name=name, position=0))

    def _restart_grown(self, conn: Connection) -> None:
        """Start again from the log any projection that has gained a table since its
        tables were made (a new version): the new table would otherwise hold only
        what comes from now on, beside complete old ones."""
        existing = set(inspect(conn).get_table_names())
        at = {row.name: int(row.position) for row in conn.execute(select(positions))}
        for name, tables in self.tables.items():
            new = sorted(t.name for t in tables.values() if t.name not in existing)
            if not new or len(new) == len(tables) or not at.get(name):
                continue
            log.warning(
                "projection %s has new tables (%s): replaying its log from the start; "
                "its read models fill up again as it goes",
                name,
                ", ".join(new),
            )
            for table in tables.values():
                table.drop(conn, checkfirst=True)
            self._set_position(conn, name, 0)
            quarantine.forget(conn, quarantined, name)

    # -- locking ---------------------------------------------------------------------
    @contextmanager
    def locked(self, names: Sequence[str]) -> Iterator[tuple[Connection, dict[str, int]]]:
        """A transaction that holds the position rows of these projections (`PositionLocks`)."""
        with self.locks.locked(names) as held:
            yield held

    def _set_position(self, conn: Connection, name: str, position: int) -> None:
        conn.execute(
            update(positions)
            .where(positions.c.name == name)
            .values(position=position, updated_at=datetime.now(UTC))
        )

    # -- reading the log -------------------------------------------------------------
    def _read(self, projection: Projection, after: int, limit: int) -> Batch:
        """The next events after a position, decoded; returns the last id read too."""
        app = self.sources[projection.source]
        if projection.reads_states:
            rows = select_states(app.recorder, after, limit)
            if rows is not None:
                if not rows:
                    return Batch(after, [], [])
                decode_state = projection.decode_state
                try:
                    decoded = [
                        (nid, decode_state(topic, state))
                        for nid, topic, state in rows
                        if topic != ERASED_TOPIC
                    ]
                except Exception as error:
                    if not is_poison(error):
                        raise
                    decoded = [(nid, NEEDS_NOTIFICATION) for nid, _, _ in rows]
                if not any(event is NEEDS_NOTIFICATION for _, event in decoded):
                    return Batch(rows[-1][0], decoded, [])
                # A stored form only the mapper reads: this batch goes the library's way.
        notifications = app.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        if not notifications:
            return Batch(after, [], [])
        decode = projection.decode
        mapper = app.mapper
        try:
            events = [(n.id, decode(n, mapper)) for n in notifications if n.topic != ERASED_TOPIC]
        except Exception as error:
            if not is_poison(error):
                raise
            return self._read_one_by_one(projection, notifications, mapper)
        return Batch(notifications[-1].id, events, [])

    def _read_ahead(
        self,
        reading: ThreadPoolExecutor,
        projection: Projection,
        after: int,
        limit: int,
        parts: int,
    ) -> Iterator[Batch]:
        """Up to `limit` events after a position, in up to `parts` batches: each part
        after the first is read on `reading` while the caller applies the one before it.
        A batch that met the head of the log is the last. Every part has been read when
        this ends, so all are read under the caller's lock."""
        parts = max(1, min(parts, limit))
        sizes = [limit // parts + (1 if i < limit % parts else 0) for i in range(parts)]
        batch = self._read(projection, after, sizes[0])
        for read, size in pairwise(sizes):
            # Ids grow by at least one a notification: fewer ids than asked for were fewer
            # notifications, so that read met the head (an empty one too).
            if batch.last - after < read:
                break
            ahead = reading.submit(self._read, projection, batch.last, size)
            try:
                yield batch
            finally:
                # Also when the caller stops early or fails: no read outlives its lock.
                wait([ahead])
            after, batch = batch.last, ahead.result()
        yield batch

    def _read_one_by_one(
        self, projection: Projection, notifications: Sequence[Any], mapper: Any
    ) -> Batch:
        """Decode a batch that did not decode as a whole, setting aside what does not."""
        events: list[tuple[int, Any]] = []
        unreadable: list[Poisoned] = []
        for n in notifications:
            if n.topic == ERASED_TOPIC:
                continue
            try:
                events.append((n.id, projection.decode(n, mapper)))
            except Exception as error:
                if not is_poison(error):
                    raise
                unreadable.append(Poisoned(n.id, describe(error)))
        return Batch(notifications[-1].id, events, unreadable)

    def head(self, source: str) -> int:
        return self.sources[source].recorder.max_notification_id() or 0

    # -- running ---------------------------------------------------------------------
    def step(self, name: str, limit: int = BATCH_SIZE, parts: int = 1) -> int:
        """Apply one batch to one projection, read and applied in `parts` (each read
        while the one before is applied, `_read_ahead`); returns how many notifications
        it read."""
        projection = self.projections[name]
        if self._seen.get(name, -1) >= self.head(projection.source):
            # Nothing new in its log since this process last looked: skip the write lock.
            return 0
        try:
            with (
                ThreadPoolExecutor(1, thread_name_prefix="projection-reading") as reading,
                collector_paused(),
                self.locked([name]) as (conn, found),
            ):
                position = last = found[name]
                for batch in self._read_ahead(reading, projection, position, limit, parts):
                    if batch.last == last:
                        break
                    projection.apply_batch(conn, self.tables[name], batch.events)
                    self._set_aside(conn, name, batch.unreadable)
                    last = batch.last
                if last == position:
                    self._seen[name] = position
                    return 0
                self._set_position(conn, name, last)
        except Exception as error:
            if not is_poison(error):
                raise
            # Rolled back whole: apply it again, finding the events that cannot be applied.
            return self._step_isolating(name, limit)
        self._seen[name] = last
        return last - position

    def _step_isolating(self, name: str, limit: int) -> int:
        projection = self.projections[name]
        with collector_paused(), self.locked([name]) as (conn, found):
            position = found[name]
            last, events, unreadable = self._read(projection, position, limit)
            if last == position:
                return 0
            poisoned = self._apply_isolating(conn, projection, self.tables[name], events)
            self._set_aside(conn, name, unreadable + poisoned)
            self._set_position(conn, name, last)
        self._seen[name] = last
        return last - position

    @staticmethod
    def _apply_isolating(
        conn: Connection, projection: Projection, tables: Tables, events: list[tuple[int, Any]]
    ) -> list[Poisoned]:
        """Apply events in log order, each half of a failing part in a savepoint of its own,
        down to the single events that fail; returns those, unapplied."""
        poisoned: list[Poisoned] = []

        def attempt(part: list[tuple[int, Any]]) -> None:
            try:
                with conn.begin_nested():
                    projection.apply_batch(conn, tables, part)
            except Exception as error:
                if not is_poison(error):
                    raise
                if len(part) == 1:
                    poisoned.append(Poisoned(part[0][0], describe(error)))
                    return
                middle = len(part) // 2
                attempt(part[:middle])
                attempt(part[middle:])

        if events:
            attempt(events)
        return poisoned

    def _set_aside(self, conn: Connection, name: str, found: list[Poisoned]) -> None:
        if not found:
            return
        found = sorted(found, key=lambda entry: entry.notification_id)
        quarantine.set_aside(conn, quarantined, name, found)
        for entry in found:
            # One line per event, no event data: `projections quarantine` lists them.
            log.error(
                "projection %s set aside notification %d, which it cannot apply (%s); "
                "the rest of the log goes on ('tinylytics projections quarantine' lists "
                "it, 'tinylytics projections retry' tries it again)",
                name,
                entry.notification_id,
                entry.error,
            )

    def catch_up(self, names: Sequence[str] | None = None) -> int:
        """Run every projection until it has read all that was recorded when it started."""
        done = 0
        for name in names or list(self.projections):
            while True:
                limit = BATCH_SIZE * CATCH_UP_BATCHES
                moved = self.step(name, limit, READ_AHEAD_PARTS)
                done += moved
                # A batch that was not full reached the head of the log. Stepping again
                # at once, under a steady stream of hits, would apply batches of a few
                # events each, paying a batch's fixed cost per handful of hits.
                if moved < limit:
                    break
        return done

    def run(self, stop: threading.Event, wake: threading.Event, idle: float = 0.5) -> None:
        """Follow the logs until `stop` is set; a failure is logged and retried."""
        failures = 0
        while not stop.is_set():
            wake.clear()
            try:
                self.catch_up()
                if failures:
                    log.warning("projection runner recovered after %d failure(s)", failures)
                failures = 0
            except Exception:
                failures += 1
                log.exception("projection runner failed; restarting it (failure %d)", failures)
                stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            for follower in self.followers:
                try:
                    follower.follow()
                except Exception:
                    log.exception("%s failed", type(follower).__name__)
            # The followers' own saves (a dispatcher records each batch it processed)
            # set `wake` too; waking for them would spin on batches of a few events.
            wake.clear()
            wake.wait(idle)

    # -- status ----------------------------------------------------------------------
    def status(self) -> list[Status]:
        with self.engine.connect() as conn:
            rows = {r.name: r for r in conn.execute(select(positions))}
            set_aside = quarantine.counts(conn, quarantined)
        heads = {source: self.head(source) for source in self.sources}
        result = []
        for name, projection in self.projections.items():
            row = rows.get(name)
            position = int(row.position) if row else 0
            head = heads[projection.source]
            result.append(
                Status(
                    name=name,
                    source=projection.source,
                    position=position,
                    head=head,
                    lag=max(0, head - position),
                    updated_at=row.updated_at if row else None,
                    quarantined=set_aside.get(name, 0),
                )
            )
        return result

    # -- events set aside ------------------------------------------------------------
    def quarantined(self, names: Sequence[str] | None = None) -> list[Quarantined]:
        """The events set aside, per projection in log order (all projections, or these)."""
        with self.engine.connect() as conn:
            return quarantine.entries(conn, quarantined, names)

    def retry(self, names: Sequence[str] | None = None) -> list[Retried]:
        """Try the events set aside again, after a fix: by rebuilding each projection that
        has some (or these), so that the read models are what a clean replay of the log
        gives, each event applied once and in its place. Those that still fail stay."""
        with self.engine.connect() as conn:
            before = quarantine.counts(conn, quarantined)
        chosen = list(names) if names is not None else [n for n in self.projections if n in before]
        done = []
        for name in chosen:
            self.rebuild(name)
            with self.engine.connect() as conn:
                after = quarantine.counts(conn, quarantined).get(name, 0)
            done.append(Retried(name, before.get(name, 0), after))
        return done

    # -- rebuild ---------------------------------------------------------------------
    def rebuild(self, name: str, progress: Progress | None = None) -> int:
        """Replay the whole log into fresh tables, then swap them in atomically.

        The old tables keep serving (and the live runner keeps them current) until
        the swap, which catches up the last events under the position lock. Every
        event set aside before is tried again; those that still fail are set aside
        again with the swap.
        """
        try:
            return self._rebuild(name, progress, careful=False)
        except Exception as error:
            if not is_poison(error):
                raise
            # What the projection kept in memory has seen the failed batch: start again
            # without that memory, each batch applied as a live one, finding such events.
            log.warning(
                "rebuilding %s met an event it cannot apply (%s): replaying again, "
                "setting such events aside",
                name,
                describe(error),
            )
            return self._rebuild(name, progress, careful=True)

    def _rebuild(self, name: str, progress: Progress | None, careful: bool) -> int:
        projection = self.projections[name]
        suffix = f"__r{time.time_ns() // 1000}"
        fresh_metadata = MetaData()
        fresh = projection.define(fresh_metadata, suffix)
        self._drop_leftovers(name)
        # Indexes are built once the tables are full: cheaper than keeping them up to
        # date through millions of inserts.
        deferred = {table.name: set(table.indexes) for table in fresh.values()}
        with self.engine.begin() as conn:
            for table in fresh.values():
                table.indexes.clear()
                table.create(conn)
                table.indexes.update(deferred[table.name])
        position = 0
        head = self.head(projection.source)
        set_aside: list[Poisoned] = []

        def apply(conn: Connection, events: list[tuple[int, Any]]) -> None:
            if careful:
                set_aside.extend(self._apply_isolating(conn, projection, fresh, events))
            else:
                projection.apply_batch(conn, fresh, events)

        if not careful:
            projection.start_replay(fresh)
        aside: _Finishing | None = None
        left: Sequence[Step] = ()
        reading = ThreadPoolExecutor(1, thread_name_prefix="rebuild-reading")
        try:
            ended = False
            while not ended:
                # Under the position lock, like a live batch: an erasure cannot fall between
                # reading events here and writing them into the fresh tables.
                with collector_paused(), self.locked([name]) as (conn, _found):
                    held_at = position
                    for last, events, unreadable in self._read_ahead(
                        reading, projection, position, BATCH_SIZE * 5, READ_AHEAD_PARTS
                    ):
                        if last == position:
                            # The end is for a lock that applied nothing: the progress
                            # callback sees every applied batch before the replay ends.
                            if position == held_at:
                                aside = self._finish_aside(projection, fresh, deferred)
                                left = projection.end_replay(conn, fresh)
                                ended = True
                            break
                        apply(conn, events)
                        set_aside.extend(unreadable)
                        position = last
                if progress and not ended:
                    progress(position, max(head, position))
            if left:
                with collector_paused(), self.locked([name]) as (conn, _found):
                    self._beside(left, conn)
            finished = aside.wait() if aside is not None else set()
            self._beside(
                [
                    partial(_finish, tables=[table], deferred=deferred)
                    for table in fresh.values()
                    if table.name not in finished
                ]
            )
            with collector_paused(), self.locked([name]) as (conn, _found):
                late: list[Poisoned] = []
                while True:
                    last, events, unreadable = self._read(projection, position, BATCH_SIZE * 5)
                    if last == position:
                        break
                    apply(conn, events)
                    late.extend(unreadable)
                    position = last
                for base, table in self.tables[name].items():
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}"')
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{fresh[base].name}" RENAME TO "{table.name}"'
                    )
                self._set_position(conn, name, position)
                # The fresh tables hold every event but these: they replace what was set
                # aside before (each entry is at or below the position, under this lock).
                quarantine.forget(conn, quarantined, name)
                self._set_aside(conn, name, set_aside + late)
        except BaseException:
            projection.end_replay(None, fresh)
            if aside is not None:
                aside.wait(raising=False)
            self._drop_leftovers(name)
            raise
        finally:
            reading.shutdown()
        if progress:
            progress(position, max(head, position))
        return position

    def _finish_aside(
        self, projection: Projection, fresh: Tables, deferred: dict[str, set[Any]]
    ) -> "_Finishing | None":
        """On PostgreSQL, start building the deferred indexes and statistics of the fresh
        tables the replay's end leaves alone, beside it on another connection (and the
        machine's other core): the hits' indexes and statistics were about a sixth of
        what a rebuild did after its last batch."""
        ends = projection.written_at_replay_end
        if not self.is_postgres or ends is None:
            return None
        tables = [table for base, table in fresh.items() if base not in ends]
        return _Finishing(self.engine, tables, deferred)

    def _beside(self, steps: Sequence[Step], conn: Connection | None = None) -> None:
        """Run steps that write rows of their own, each in a transaction of its own: on
        PostgreSQL on connections of their own, BESIDE at a time (the caller's `conn`,
        holding a lock for them, waits); on SQLite, which writes one transaction at a
        time, one after the other in `conn` (or in one transaction of their own)."""
        if not self.is_postgres:
            if conn is not None:
                for step in steps:
                    step(conn)
                return
            with self.engine.begin() as own:
                for step in steps:
                    step(own)
            return

        with ThreadPoolExecutor(BESIDE, thread_name_prefix="rebuild-beside") as pool:
            done = [pool.submit(_in_own_transaction, self.engine, step) for step in steps]
        for future in done:  # every step has ended: none writes into tables being dropped
            future.result()

    def _drop_leftovers(self, name: str) -> None:
        """Drop tables a crashed or failed rebuild left behind."""
        bases = [t.name for t in self.tables[name].values()]
        with self.engine.begin() as conn:
            existing = inspect(conn).get_table_names()
            for table_name in existing:
                if any(table_name.startswith(base + "__r") for base in bases):
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table_name}"')

    # -- erasure ---------------------------------------------------------------------
    def erase(self, conn: Connection, scope: ErasureScope) -> None:
        existing = set(inspect(conn).get_table_names())
        for name, projection in self.projections.items():
            projection.erase(conn, self.tables[name], scope)
            # A rebuild in progress (in this process or another) swaps its own tables in
            # later: they have replayed the erased events already and must lose them too.
            for suffix in self._rebuild_suffixes(name, existing):
                projection.erase(conn, projection.define(MetaData(), suffix), scope)

    def _rebuild_suffixes(self, name: str, existing: set[str]) -> list[str]:
        """The suffixes of rebuild tables that exist for every table of a projection."""
        bases = [t.name for t in self.tables[name].values()]
        found = {t[len(bases[0]) :] for t in existing if t.startswith(bases[0] + "__r")}
        return sorted(s for s in found if all(base + s in existing for base in bases))
