"""Projections: rebuilds keep ids and answers, status, exactly-once batches, recovery."""

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    inspect,
    select,
    update,
)

import projections.runner as runner
from application.erasure import ErasureScope
from application.sites import SiteChanges
from domain.sites import Site
from infrastructure.bootstrap import Container
from projections.base import Projection, Tables, event_type
from projections.runner import ProjectionRunner
from projections.sites import SitesProjection
from tests.conftest import World, bearer

OURS = ("accounts", "sites", "api_keys")
LAST_USED = re.compile(rb'"last_used_at":\s*"[^"]*"')


class Crash(Exception):
    """Stands for a process dying half-way through a batch."""


class CountingProjection(Projection):
    """Writes one row per event it sees, with no unique key: a repeat shows as a duplicate."""

    name = "counting"
    source = "configuration"

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        table = Table(
            "counted" + suffix,
            metadata,
            Column("nid", BigInteger, nullable=False),
            Column("topic", String(200), nullable=False),
        )
        return {"counted": table}

    def apply_batch(
        self, conn: Connection, tables: Tables, events: Sequence[tuple[int, Any]]
    ) -> None:
        for nid, domain_event in events:
            # Half of the batch is already written when the crash comes.
            if nid == self.fail_at:
                raise Crash(f"crashed at notification {nid}")
            conn.execute(
                tables["counted"].insert().values(nid=nid, topic=type(domain_event).__qualname__)
            )

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        pass


def counting_engine(container: Container, fail_at: int | None = None) -> ProjectionRunner:
    """A runner for the counting projection alone, as a freshly started process would make."""
    engine = ProjectionRunner(
        container.engine,
        sources={"configuration": container.configuration},
        projections=[CountingProjection(fail_at)],
    )
    engine.setup()
    return engine


def counted(engine: ProjectionRunner) -> list[int]:
    table = engine.tables["counting"]["counted"]
    with engine.engine.connect() as conn:
        return [row.nid for row in conn.execute(select(table.c.nid).order_by(table.c.nid))]


def position(engine: ProjectionRunner, name: str) -> int:
    return next(s.position for s in engine.status() if s.name == name)


def notification_ids(container: Container) -> list[int]:
    found = container.configuration.recorder.select_notifications(start=1, limit=100_000)
    return [n.id for n in found]


def populate(world: World, container: Container, accounts: int = 2) -> list[str]:
    """Accounts with sites and keys, and a history of changes; returns a key per account."""
    secrets = []
    app = container.configuration
    for i in range(accounts):
        owner = world.account(f"owner{i}@example.com")
        first = world.site(owner, f"https://site{i}.example.com", label=f"Site {i}")
        second = world.site(owner, f"blog{i}.example.org/")
        app.change_site(first.uuid, SiteChanges(public=True, ignored_paths=["/admin/*"]))
        app.change_site(second.uuid, SiteChanges(label="Renamed", url=f"https://new{i}.example"))
        app.change_site(second.uuid, SiteChanges(archived=True))
        world.key(owner, name="old", access="full_access")
        app.revoke_key(owner.uuid, "old")
        secrets.append(world.key(owner, name="reader"))
        app.change_account_timezone(owner.uuid, "Europe/Berlin")
    container.projections.catch_up()
    return secrets


def answers(client: FlaskClient, secrets: list[str]) -> list[bytes]:
    """Raw bytes of /sites, each /sites/:id and /me (without last_used_at) for every key."""
    result = []
    for secret in secrets:
        headers = bearer(secret)
        listed = client.get("/api/v1/sites", headers=headers)
        assert listed.status_code == 200
        result.append(listed.data)
        for site in listed.json["sites"]:
            result.append(client.get(f"/api/v1/sites/{site['id']}", headers=headers).data)
        me = client.get("/api/v1/me", headers=headers)
        assert me.status_code == 200
        unused, count = LAST_USED.subn(b'"last_used_at": "-"', me.data)
        assert count == 1
        result.append(unused)
    return result


def table_rows(container: Container, name: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    with container.engine.connect() as conn:
        for base, table in container.projections.tables[name].items():
            query = select(table).order_by(*table.primary_key.columns)
            rows[base] = [tuple(r) for r in conn.execute(query)]
    return rows


def site_rows(container: Container) -> list[dict[str, Any]]:
    table = container.projections.tables["sites"]["sites"]
    with container.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


def leftover_tables(container: Container) -> list[str]:
    with container.engine.connect() as conn:
        return [t for t in inspect(conn).get_table_names() if "__r" in t]


# -- rebuild -----------------------------------------------------------------------------
def test_rebuild_keeps_ids_and_gives_identical_answers(
    client: FlaskClient, world: World, container: Container
) -> None:
    secrets = populate(world, container)
    before = answers(client, secrets)
    rows_before = {name: table_rows(container, name) for name in OURS}
    ids_before = [r[0] for r in rows_before["sites"]["sites"]]
    assert len(ids_before) == 4

    # Damage the read model so that a rebuild that did nothing could not pass.
    sites = container.projections.tables["sites"]["sites"]
    with container.engine.begin() as conn:
        conn.execute(update(sites).values(label="damaged", public=False))
    assert answers(client, secrets) != before

    for name in OURS:
        assert container.projections.rebuild(name) == max(notification_ids(container))

    assert answers(client, secrets) == before
    assert {name: table_rows(container, name) for name in OURS} == rows_before
    assert leftover_tables(container) == []
    # A rebuilt projection is at the head: the live runner has nothing left to do.
    assert all(container.projections.step(name) == 0 for name in OURS)

    # Again, and then a new runner (a restarted process) carries on in the swapped-in tables.
    container.projections.rebuild("sites")
    fresh = ProjectionRunner(
        container.engine,
        sources={"configuration": container.configuration},
        projections=[SitesProjection()],
    )
    fresh.setup()
    owner = container.configuration.find_account("owner0@example.com")
    created = container.configuration.register_site(owner.id, "https://later.example.com")
    assert fresh.catch_up() > 0
    rows = table_rows(container, "sites")["sites"]
    assert rows[:-1] == rows_before["sites"]["sites"]
    assert rows[-1][0] == created.id


def test_rebuild_loses_nothing_while_events_keep_arriving(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events recorded during the replay (and projected live into the old tables meanwhile)
    are all in the swapped-in tables, once each."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 1)  # the rebuild reads 5 events at a time
    owner = world.account()
    expected = [world.site(owner, f"https://s{i}.example.com").id for i in range(6)]
    app = container.configuration
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) <= 6:
            created = app.register_site(owner.uuid, f"https://late{len(calls)}.example.com")
            expected.append(created.id)
            app.change_site(created.uuid, SiteChanges(label=f"late {len(calls)}"))
            if len(calls) % 2:
                container.projections.catch_up(["sites"])  # the live runner keeps going

    head = container.projections.rebuild("sites", progress)
    assert len(calls) > 6
    assert head == max(notification_ids(container))
    rows = table_rows(container, "sites")["sites"]
    assert [r[0] for r in rows] == expected
    labels = {r["id"]: r["label"] for r in site_rows(container)}
    assert [labels[i] for i in expected[6:]] == [f"late {n}" for n in range(1, 7)]
    assert position(container.projections, "sites") == head
    assert container.projections.step("sites") == 0
    # Replaying again from scratch agrees with what the live rebuild produced.
    container.projections.rebuild("sites")
    assert table_rows(container, "sites")["sites"] == rows


def test_a_rebuild_reads_its_parts_beside_applying_them_all_under_its_lock(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild reads the events it takes under one lock in parts, the next part on
    another thread while it applies the one before; no part is read outside the lock
    (an erasure between reading and applying would be undone), and the tables are those
    of a rebuild that reads in one part."""
    populate(world, container, accounts=3)
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)  # 10 events a lock, in parts of 4, 3, 3
    engine = container.projections
    held: list[bool] = []
    reads: list[tuple[str, bool, int]] = []
    real_locked, real_read = engine.locked, engine._read

    @contextmanager
    def locked(names: Sequence[str]) -> Iterator[tuple[Any, dict[str, int]]]:
        with real_locked(names) as found:
            held.append(True)
            try:
                yield found
            finally:
                held.pop()

    def read(projection: Projection, after: int, limit: int) -> Any:
        began = bool(held)
        found = real_read(projection, after, limit)
        reads.append((threading.current_thread().name, began and bool(held), limit))
        return found

    monkeypatch.setattr(engine, "locked", locked)
    monkeypatch.setattr(engine, "_read", read)
    for name in ("sites", "api_keys"):
        monkeypatch.setattr(runner, "READ_AHEAD_PARTS", 1)
        engine.rebuild(name)
        in_one_part = table_rows(container, name)
        monkeypatch.setattr(runner, "READ_AHEAD_PARTS", 3)
        reads.clear()
        engine.rebuild(name)
        assert table_rows(container, name) == in_one_part
        assert all(under_lock for _thread, under_lock, _limit in reads)
        beside = {limit for thread, _, limit in reads if thread.startswith("rebuild-reading")}
        first = {limit for thread, _, limit in reads if not thread.startswith("rebuild-reading")}
        # The swap's last look at the log (its own lock) reads in one part.
        assert beside == {3} and first == {4, 10}


def test_rebuild_alongside_a_writer_thread(world: World, container: Container) -> None:
    owner = world.account()
    for i in range(10):
        world.site(owner, f"https://before{i}.example.com")
    app = container.configuration
    written: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            n = 0
            while not stop.is_set() and n < 200:
                written.append(app.register_site(owner.uuid, f"https://w{n}.example.com").id)
                n += 1
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(3):
            container.projections.rebuild("sites")
            container.projections.catch_up(["sites"])
    finally:
        stop.set()
        thread.join()
    assert errors == []
    container.projections.catch_up()
    ids = [r[0] for r in table_rows(container, "sites")["sites"]]
    assert len(ids) == len(set(ids)) == 10 + len(written)
    assert set(written) <= set(ids)


def test_failed_and_crashed_rebuilds_leave_no_tables_behind(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(world, container, accounts=1)
    before = table_rows(container, "sites")
    at = position(container.projections, "sites")

    def boom(*_args: Any) -> None:
        raise Crash("handler failed")

    monkeypatch.setitem(SitesProjection.handlers, event_type(Site, "Archived"), boom)
    with pytest.raises(Crash):
        container.projections.rebuild("sites")
    # A rebuild that fails drops its half-filled tables; the old ones keep serving.
    assert leftover_tables(container) == []
    assert table_rows(container, "sites") == before
    assert position(container.projections, "sites") == at
    monkeypatch.undo()

    # What a rebuild that died (kill -9) before its swap leaves behind...
    stale = MetaData()
    SitesProjection.define(stale, "__r123")
    SitesProjection.define(stale, "__r456")
    with container.engine.begin() as conn:
        stale.create_all(conn)
    assert sorted(leftover_tables(container)) == sorted(stale.tables)
    # ...the next rebuild drops.
    container.projections.rebuild("sites")
    assert leftover_tables(container) == []
    assert table_rows(container, "sites") == before


# -- status ------------------------------------------------------------------------------
def test_status_shows_position_head_and_lag(world: World, container: Container) -> None:
    container.projections.catch_up()
    app = container.configuration
    owner = app.register_account("lag@example.com", "correct horse")
    for i in range(3):
        app.register_site(owner.uuid, f"https://lag{i}.example.com")
    head = max(notification_ids(container))
    engine = container.projections

    def ours() -> dict[str, runner.Status]:
        return {s.name: s for s in engine.status() if s.name in OURS}

    status = ours()
    assert set(status) == set(OURS)
    for s in status.values():
        assert s.source == "configuration"
        assert (s.position, s.head, s.lag) == (0, head, head)
        assert s.updated_at is None

    assert engine.step("sites", limit=2) == 2
    status = ours()
    assert (status["sites"].position, status["sites"].lag) == (2, head - 2)
    assert status["sites"].updated_at is not None
    assert status["accounts"].lag == head

    engine.catch_up()
    for s in ours().values():
        assert (s.position, s.head, s.lag) == (head, head, 0)


# -- exactly once ------------------------------------------------------------------------
def test_a_crash_mid_batch_counts_nothing_twice_and_loses_nothing(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(world, container, accounts=1)
    ids = notification_ids(container)
    crash_at = ids[len(ids) // 2 + 1]

    first = counting_engine(container, fail_at=crash_at)
    with pytest.raises(Crash):
        while first.step("counting", limit=4):
            pass
    done = position(first, "counting")
    assert 0 < done < crash_at
    # Only whole batches before the crash are kept, and the position agrees with them.
    assert counted(first) == [i for i in ids if i <= done]

    restarted = counting_engine(container)
    assert restarted.catch_up() == max(ids) - done
    assert counted(restarted) == ids
    assert position(restarted, "counting") == max(ids)
    assert restarted.catch_up() == 0
    assert counted(restarted) == ids

    # Now the crash comes after the read model was written, as the position moves.
    owner = container.configuration.find_account("owner0@example.com")
    for i in range(4):
        container.configuration.register_site(owner.id, f"https://more{i}.example.com")
    more = notification_ids(container)
    assert len(more) > len(ids)

    def crash(*_args: Any) -> None:
        raise Crash("died before the position was written")

    monkeypatch.setattr(ProjectionRunner, "_set_position", crash)
    with pytest.raises(Crash):
        restarted.step("counting", limit=3)
    assert counted(restarted) == ids
    assert position(restarted, "counting") == max(ids)
    monkeypatch.undo()

    again = counting_engine(container)
    assert again.catch_up() == max(more) - max(ids)
    assert counted(again) == more
    assert position(again, "counting") == max(more)


def test_a_failing_real_handler_leaves_the_read_model_as_it_was(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = world.account()
    site = world.site(owner, label="Before")
    before = table_rows(container, "sites")
    at = position(container.projections, "sites")
    app = container.configuration
    app.change_site(site.uuid, SiteChanges(public=True))
    app.change_site(site.uuid, SiteChanges(label="After"))

    def boom(*_args: Any) -> None:
        raise Crash("relabel handler failed")

    monkeypatch.setitem(SitesProjection.handlers, event_type(Site, "Relabelled"), boom)
    with pytest.raises(Crash):
        container.projections.catch_up(["sites"])
    # The public flag came in the same batch: it is rolled back with it.
    assert table_rows(container, "sites") == before
    assert position(container.projections, "sites") == at
    monkeypatch.undo()

    container.projections.catch_up()
    (row,) = site_rows(container)
    assert (row["label"], row["public"]) == ("After", True)


# -- the run loop ------------------------------------------------------------------------
class NoWaitEvent(threading.Event):
    """An event whose waits return at once, noting how long they were asked to last."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


class StopWhenIdle(threading.Event):
    """The wake event: the first time the loop goes idle, the test is over."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def wait(self, timeout: float | None = None) -> bool:
        self.stop.set()
        return True


def test_run_logs_a_failure_and_retries_until_it_recovers(
    world: World,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = world.account()
    site = world.site(owner)
    container.configuration.change_site(site.uuid, SiteChanges(label="Renamed"))
    original = SitesProjection.handlers[event_type(Site, "Relabelled")]
    failures = [2]

    def flaky(*args: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise Crash("database went away")
        original(*args)

    monkeypatch.setitem(SitesProjection.handlers, event_type(Site, "Relabelled"), flaky)
    stop = NoWaitEvent()
    engine = container.projections
    with caplog.at_level(logging.INFO, logger="tinylytics.projections"):
        engine.run(stop, StopWhenIdle(stop), idle=0.5)

    assert failures == [0]
    # It backed off (longer each time) rather than spinning, then carried on.
    assert stop.waits == [1.0, 2.0]
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 2 and all(r.exc_info for r in failed)
    assert any("recovered after 2 failure(s)" in r.getMessage() for r in caplog.records)
    (row,) = site_rows(container)
    assert row["label"] == "Renamed"
    assert all(s.lag == 0 for s in engine.status() if s.name in OURS)


def test_run_follows_new_events_until_stopped(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real loop in a thread: a save wakes it, and stop ends it."""
    owner = world.account()
    engine = container.projections
    target: list[int] = []
    projected = threading.Event()
    original = engine.catch_up

    def catch_up(names: Sequence[str] | None = None) -> int:
        moved = original(names)
        if target and position(engine, "sites") >= target[0]:
            projected.set()
        return moved

    monkeypatch.setattr(engine, "catch_up", catch_up)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop, container.wake))
    thread.start()
    try:
        created = container.configuration.register_site(owner.uuid, "https://woken.example.com")
        target.append(created.id)
        assert projected.wait(timeout=30), "the runner never projected the new site"
        assert site_rows(container)[-1]["id"] == created.id
    finally:
        stop.set()
        container.wake.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
