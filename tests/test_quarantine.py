"""An event a projection cannot apply is set aside, and the rest of the log goes on.

Whatever the cause (a value no column takes, a stored form nothing decodes, a bug in
one handler), the batch that meets it is applied again without it, exactly once;
the event is listed by `projections status` and `projections quarantine`, and
`projections retry` tries it again after a fix by replaying the log.
"""

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent
from flask.testing import FlaskClient
from sqlalchemy import exc as sa
from sqlalchemy import select

import projections.runner as runner
import projections.traffic.decoding as decoding
from domain.kudos import Kudo
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from interfaces.cli import main
from projections.base import event_type, utc
from projections.kudos import KudosProjection
from projections.quarantine import is_poison
from tests.conftest import World, bearer

GOOD_BEFORE, GOOD_AFTER = 4, 3


def _plain(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime) else value


def snapshot(container: Container, name: str) -> dict[str, list[Any]]:
    found = {}
    with container.engine.connect() as conn:
        for base, table in container.projections.tables[name].items():
            rows = [tuple(_plain(v) for v in r) for r in conn.execute(select(table))]
            found[base] = sorted(rows, key=repr)
    return found


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    owner = world.account(confirmed=True)
    site = world.site(owner, "https://example.com")
    return {"owner": owner, "site": site, "fa": bearer(world.key(owner, "w", "full_access"))}


def hit(client: FlaskClient, setup: dict[str, Any], path: str) -> None:
    answer = client.post(
        f"/api/v1/sites/{setup['site'].id}/hits",
        data=json.dumps({"path": path, "visitor_id": path}),
        headers={**setup["fa"], "Content-Type": "application/json"},
    )
    assert answer.status_code == 201, answer.json


def store(container: Container, topic: str, state: bytes) -> int:
    """An event as no code of ours writes it (a bug, a hand edit, a stored form from
    elsewhere), stored by the library directly; returns its notification id."""
    recorder = container.tracking.recorder
    recorder.insert_events([StoredEvent(uuid4(), 1, topic, state)])
    return int(recorder.max_notification_id() or 0)


def poisoned_log(client: FlaskClient, container: Container, setup: dict[str, Any]) -> list[int]:
    """Good hits, two events the traffic projection cannot apply, more good hits."""
    for i in range(GOOD_BEFORE):
        hit(client, setup, f"/before/{i}")
    (stored,) = container.tracking.recorder.select_notifications(start=1, limit=1)
    site_hex = setup["site"].uuid.hex
    # A hit without a path: its row cannot be written (NOT NULL, on both databases).
    state = json.loads(stored.state)
    state["path"] = None
    no_path = store(container, stored.topic, json.dumps(state).encode())
    # And one that is not even JSON: nothing decodes it.
    broken = store(container, stored.topic, b'{"site_id": {"_data_": "' + site_hex.encode())
    for i in range(GOOD_AFTER):
        hit(client, setup, f"/after/{i}")
    return [no_path, broken]


def test_a_poison_event_is_set_aside_and_the_rest_is_applied_once(
    client: FlaskClient,
    container: Container,
    setup: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    poison = poisoned_log(client, container, setup)
    engine = container.projections
    with caplog.at_level(logging.INFO, logger="tinylytics.projections"):
        engine.catch_up()  # one batch holds them all: the good ones around the poison too
    status = {s.name: s for s in engine.status()}
    assert status["traffic"].lag == 0 and status["traffic"].quarantined == 2
    assert all(s.quarantined == 0 for s in status.values() if s.name != "traffic")
    entries = engine.quarantined()
    assert [(e.name, e.notification_id) for e in entries] == [("traffic", n) for n in poison]
    assert "IntegrityError" in entries[0].error or "NotNullViolation" in entries[0].error
    assert "MapperDeserialisationError" in entries[1].error
    lines = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(lines) == 2
    assert all(f"notification {n}" in line for n, line in zip(poison, lines, strict=True))
    # The log line names the event, not what it holds.
    assert not any(setup["site"].uuid.hex in line or "/before" in line for line in lines)

    # Every good hit counted once: the batch was applied again without the two.
    t = engine.tables["traffic"]
    with container.engine.connect() as conn:
        paths = sorted(conn.execute(select(t["hits"].c.path)).scalars())
        (total,) = conn.execute(select(t["sites"].c.hits)).scalars()
    assert paths == sorted(
        [f"/before/{i}" for i in range(GOOD_BEFORE)] + [f"/after/{i}" for i in range(GOOD_AFTER)]
    )
    assert total == GOOD_BEFORE + GOOD_AFTER
    reader = bearer(World(container).key(setup["owner"], "r"))
    listed = client.get(f"/api/v1/sites/{setup['site'].id}/hits", headers=reader).json
    assert listed["pagination"]["total_count"] == GOOD_BEFORE + GOOD_AFTER

    # More traffic keeps flowing.
    hit(client, setup, "/later")
    engine.catch_up()
    assert next(s for s in engine.status() if s.name == "traffic").lag == 0


def test_a_rebuild_sets_the_same_events_aside_and_gives_the_same_tables(
    client: FlaskClient,
    container: Container,
    setup: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison = poisoned_log(client, container, setup)
    engine = container.projections
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)  # live batches of 2, rebuild batches of 10
    engine.catch_up()
    live = snapshot(container, "traffic")
    with caplog.at_level(logging.WARNING, logger="tinylytics.projections"):
        engine.rebuild("traffic")
    # The replay kept what it needed in memory, and that memory had seen the failed
    # batch: it started again without it rather than count anything twice.
    assert any("replaying again" in r.getMessage() for r in caplog.records)
    assert snapshot(container, "traffic") == live
    assert [e.notification_id for e in engine.quarantined(["traffic"])] == poison
    engine.rebuild("kudos")  # a projection that ignores them sets nothing aside
    assert engine.quarantined(["kudos"]) == []


def test_retry_after_a_fix_gives_what_a_clean_replay_gives(
    client: FlaskClient,
    container: Container,
    setup: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A handler that fails on one kudo (a bug) sets it aside; its withdrawal, applied
    in its place, finds nothing to withdraw. Applied late, the kudo would come back to
    life; replayed, it is given and then withdrawn, as the log says."""
    given = event_type(Kudo, "Given")
    original = KudosProjection.handlers[given]

    def buggy(self: Any, conn: Any, tables: Any, event: Any, nid: int) -> None:
        if event.path == "/buggy":
            raise KeyError("a bug that only this kudo meets")
        original(self, conn, tables, event, nid)

    monkeypatch.setitem(KudosProjection.handlers, given, buggy)
    url = f"/api/v1/sites/{setup['site'].id}/kudos"
    headers = {**setup["fa"], "Content-Type": "application/json"}
    for path, uid in [("/a", "ka"), ("/buggy", "kb"), ("/c", "kc")]:
        answer = client.post(
            url, data=json.dumps({"path": path, "custom_uid": uid}), headers=headers
        )
        assert answer.status_code == 201
    assert client.delete(f"{url}/kb", headers=setup["fa"]).status_code == 200
    engine = container.projections
    engine.catch_up()
    assert [(e.name, e.error) for e in engine.quarantined()] == [
        ("kudos", "KeyError: 'a bug that only this kudo meets'")
    ]

    monkeypatch.undo()  # the fix
    (retried,) = engine.retry()
    assert (retried.name, retried.before, retried.after) == ("kudos", 1, 0)
    assert engine.quarantined() == []
    t = engine.tables["kudos"]
    with container.engine.connect() as conn:
        kudos = {r.uid: r.withdrawn_at is not None for r in conn.execute(select(t["kudos"]))}
        counts = dict(conn.execute(select(t["counts"].c.path, t["counts"].c.count)).all())
    assert kudos == {"ka": False, "kb": True, "kc": False}
    assert counts == {"/a": 1, "/buggy": 0, "/c": 1}
    retried_tables = snapshot(container, "kudos")
    engine.rebuild("kudos")
    assert snapshot(container, "kudos") == retried_tables
    assert engine.retry() == []  # nothing left to retry


def test_a_failure_that_is_not_the_events_stops_the_batch_as_before(
    client: FlaskClient,
    container: Container,
    setup: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hit(client, setup, "/a")
    engine = container.projections
    engine.catch_up()
    before = snapshot(container, "traffic")
    at = next(s.position for s in engine.status() if s.name == "traffic")
    hit(client, setup, "/b")

    def gone(*_args: Any, **_kwargs: Any) -> None:
        raise sa.OperationalError("INSERT ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(type(engine.projections["traffic"]), "_apply_hits", gone)
    with pytest.raises(sa.OperationalError):
        engine.catch_up(["traffic"])
    assert snapshot(container, "traffic") == before
    assert next(s.position for s in engine.status() if s.name == "traffic") == at
    assert engine.quarantined() == []
    monkeypatch.undo()
    engine.catch_up()
    assert next(s for s in engine.status() if s.name == "traffic").lag == 0


@pytest.mark.parametrize(
    ("error", "poison"),
    [
        (ValueError("bad value"), True),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (KeyError("path"), True),
        (TypeError("NoneType"), True),
        (psycopg.errors.NotNullViolation("null value"), True),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), True),
        (psycopg.OperationalError("server closed the connection"), False),
        (sqlite3.IntegrityError("NOT NULL constraint failed"), True),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), True),
        (sqlite3.OperationalError("database is locked"), False),
        (sa.DataError("INSERT", {}, Exception("value too long")), True),
        (sa.IntegrityError("INSERT", {}, Exception("duplicate key")), True),
        (sa.OperationalError("INSERT", {}, Exception("gone")), False),
        (sa.ProgrammingError("INSERT", {}, Exception("no such table")), False),
        (sa.StatementError("bind", "INSERT", {}, ValueError("badly formed uuid")), True),
        (RuntimeError("anything else"), False),
        (Exception("a plain failure"), False),
    ],
)
def test_what_counts_as_the_events_doing(error: BaseException, poison: bool) -> None:
    assert is_poison(error) is poison


# -- the commands ----------------------------------------------------------------------
@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Container]:
    wired = bootstrap(Settings.from_env(env), fast_passwords=True)
    yield wired
    wired.close()


def cli(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def test_status_quarantine_and_retry_commands(env: dict[str, str], served: Container) -> None:
    world = World(served)
    owner = world.account(confirmed=True)
    site = world.site(owner, "https://example.com")
    setup = {"owner": owner, "site": site, "fa": bearer(world.key(owner, "w", "full_access"))}
    app = create_app(served)
    app.testing = True
    poison = poisoned_log(app.test_client(), served, setup)
    served.projections.catch_up()

    status = json.loads(cli(env, "projections", "status", "--json"))["projections"]
    assert {r["name"]: r["quarantined"] for r in status}["traffic"] == 2
    assert "quarantined 2" in next(
        line
        for line in cli(env, "projections", "status").splitlines()
        if line.startswith("traffic")
    )
    listed = json.loads(cli(env, "projections", "quarantine", "--json"))["quarantined"]
    assert [(e["name"], e["notification_id"]) for e in listed] == [("traffic", n) for n in poison]
    assert set(listed[0]) == {"name", "notification_id", "error", "quarantined_at"}
    text = cli(env, "projections", "quarantine", "traffic")
    assert all(f"notification {n:>10}" in text for n in poison)
    assert cli(env, "projections", "quarantine", "kudos").strip() == "no events set aside"

    # Nothing was fixed: both still fail, and say so.
    retried = json.loads(cli(env, "projections", "retry", "--json"))["retried"]
    assert retried == [{"name": "traffic", "before": 2, "after": 2}]
    assert "2 set aside before, 2 still failing" in cli(env, "projections", "retry", "traffic")
    failed = CliRunner().invoke(main, ["projections", "retry", "nope", "--json"], env=env)
    assert failed.exit_code == 1 and "no projection named 'nope'" in failed.stdout


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "surrogate"])
def test_the_net_holds_where_the_cleaning_would_not(
    client: FlaskClient,
    container: Container,
    setup: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    bad: str,
) -> None:
    """Without the cleaning on decode, the event that stopped the log in issue 12
    (a NUL on PostgreSQL; a lone surrogate on both) is set aside, and nothing else."""
    monkeypatch.setattr(decoding, "cleaned_fields", lambda fields: fields)
    hit(client, setup, "/a")
    (stored,) = container.tracking.recorder.select_notifications(start=1, limit=1)
    state = json.loads(stored.state)
    state["path"] = f"/x{bad}y"
    poison = store(container, stored.topic, json.dumps(state).encode())
    hit(client, setup, "/b")
    engine = container.projections
    engine.catch_up()
    live = snapshot(container, "traffic")
    engine.rebuild("traffic")
    assert snapshot(container, "traffic") == live
    stops = bad == "\ud800" or container.engine.dialect.name == "postgresql"
    assert [e.notification_id for e in engine.quarantined()] == ([poison] if stops else [])
    with container.engine.connect() as conn:
        paths = set(conn.execute(select(engine.tables["traffic"]["hits"].c.path)).scalars())
    assert paths == ({"/a", "/b"} if stops else {"/a", "/b", f"/x{bad}y"})
