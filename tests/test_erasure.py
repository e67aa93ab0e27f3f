"""Erasure is real: deleting an account leaves nothing of it in any store, and nothing else goes.

The checks read the stores' raw tables — every table of every SQLite file in the data
folder, or every table of the test's PostgreSQL schema — not the application's view.
"""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

import projections.runner as runner
from application.erasure import ErasureScope
from application.sites import SiteChanges
from domain.api_keys import hash_secret
from domain.errors import Conflict, NotFound
from infrastructure.bootstrap import Container
from infrastructure.persistence import postgres_url, sqlite_event_file
from infrastructure.settings import Settings
from interfaces.cli import main
from tests.conftest import ON_POSTGRES, World, bearer


# -- reading the raw stores --------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, UUID):
        return f"{value} {value.hex}"
    return str(value)


def dump_stores(settings: Settings) -> dict[str, str]:
    """Every row of every table the server keeps, as lower-case text, by table name."""
    dumped: dict[str, str] = {}
    if settings.is_postgres:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
            tables = [
                row[0]
                for row in db.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (settings.db_schema,),
                )
            ]
            for table in tables:
                rows = db.execute(f'SELECT * FROM "{settings.db_schema}"."{table}"').fetchall()
                dumped[table] = "\n".join(" | ".join(map(_text, r)) for r in rows).lower()
        return dumped
    for path in sorted(settings.data_dir.glob("*.sqlite3")):
        db = sqlite3.connect(path)
        try:
            tables = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                text = "\n".join(" | ".join(map(_text, r)) for r in rows).lower()
                dumped[f"{path.stem}.{table}"] = text
        finally:
            db.close()
    return dumped


def stored_event_ids(settings: Settings) -> set[UUID]:
    """The originator ids of every event in the configuration store."""
    if settings.is_postgres:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
            rows = db.execute(
                f'SELECT originator_id FROM "{settings.db_schema}".configuration_events'
            ).fetchall()
        return {UUID(str(r[0])) for r in rows}
    db = sqlite3.connect(sqlite_event_file(settings, "configuration"))
    try:
        return {UUID(r[0]) for r in db.execute("SELECT originator_id FROM stored_events")}
    finally:
        db.close()


def traces(settings: Settings, needles: list[str]) -> list[tuple[str, str]]:
    """Which (table, needle) pairs show up anywhere in the stores."""
    dumped = dump_stores(settings)
    assert dumped, "no tables found: the dump looks in the wrong place"
    return [
        (table, needle) for table, text in dumped.items() for needle in needles if needle in text
    ]


# -- a world worth erasing ---------------------------------------------------------------
@dataclass
class Person:
    created: Any
    emails: list[str]
    urls: list[str]
    secret: str
    scope: ErasureScope | None = None

    @property
    def needles(self) -> list[str]:
        """Strings that name this account: none may be left after its erasure."""
        assert self.scope is not None
        found = [*self.emails, *self.urls, *(u.split("://", 1)[1] for u in self.urls)]
        for ids in (
            (self.scope.account_id,),
            self.scope.site_ids,
            self.scope.key_ids,
            self.scope.originator_ids,
        ):
            for uuid in ids:
                found += [str(uuid), uuid.hex]
        found.append(hash_secret(self.secret))
        return [n.lower() for n in found]


def make_person(world: World, client: FlaskClient, tag: str) -> Person:
    """An account with a history: an email change, sites (one moved), keys (one revoked)."""
    app = world.c.configuration
    first_email = f"{tag}-first@{tag}-mail.example"
    email = f"{tag}@{tag}-mail.example"
    owner = world.account(first_email)
    app.change_email(owner.uuid, email)
    main_site = world.site(owner, f"https://{tag}-main.example", label=f"{tag} label")
    moved = world.site(owner, f"https://{tag}-old.example")
    app.change_site(moved.uuid, SiteChanges(url=f"https://{tag}-new.example/blog"))
    app.change_site(main_site.uuid, SiteChanges(public=True, ignored_paths=[f"/{tag}-secret"]))
    world.key(owner, name=f"{tag}-revoked", access="full_access")
    app.revoke_key(owner.uuid, f"{tag}-revoked")
    secret = world.key(owner, name=f"{tag}-reader")
    world.c.projections.catch_up()
    # Using the key leaves a last-used row outside the projections.
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    person = Person(
        created=owner,
        emails=[first_email, email],
        urls=[
            f"https://{tag}-main.example",
            f"https://{tag}-old.example",
            f"https://{tag}-new.example/blog",
        ],
        secret=secret,
    )
    person.scope = app.erasure_scope(owner.uuid)
    return person


def api_view(client: FlaskClient, secret: str) -> tuple[Any, ...]:
    headers = bearer(secret)
    me = client.get("/api/v1/me", headers=headers)
    listed = client.get("/api/v1/sites", headers=headers)
    assert me.status_code == listed.status_code == 200
    singles = [
        client.get(f"/api/v1/sites/{s['id']}", headers=headers).json for s in listed.json["sites"]
    ]
    body = dict(me.json)
    body["api_key"] = {k: v for k, v in body["api_key"].items() if k != "last_used_at"}
    return body, listed.json, singles


def assert_erased(settings: Settings, container: Container, person: Person) -> None:
    assert person.scope is not None
    assert traces(settings, person.needles) == []
    assert not set(person.scope.originator_ids) & stored_event_ids(settings)
    for email in person.emails:
        with pytest.raises(NotFound):
            container.configuration.find_account(email)
    with pytest.raises(NotFound):
        container.configuration.get_account(person.scope.account_id)


# -- tests -------------------------------------------------------------------------------
def test_delete_account_leaves_nothing_and_spares_the_others(
    settings: Settings, container: Container, world: World, client: FlaskClient
) -> None:
    keep = make_person(world, client, "keeper")
    gone = make_person(world, client, "erased")
    assert gone.scope is not None and keep.scope is not None
    # Before, the account shows in the raw stores: the search below can find what it seeks.
    assert {n for _t, n in traces(settings, gone.needles)} >= {
        gone.emails[1],
        "erased-main.example",
    }
    kept_view = api_view(client, keep.secret)
    kept_traces = traces(settings, keep.needles)

    scope = container.erasure.delete_account(gone.scope.account_id)
    assert scope == gone.scope
    assert len(scope.site_ids) == 2 and len(scope.key_ids) == 2

    assert_erased(settings, container, gone)
    assert client.get("/api/v1/me", headers=bearer(gone.secret)).status_code == 401
    # The other account is whole: same answers, same traces, still found by email.
    assert api_view(client, keep.secret) == kept_view
    assert traces(settings, keep.needles) == kept_traces
    assert container.configuration.find_account(keep.emails[1]).id == keep.scope.account_id
    assert set(keep.scope.originator_ids) <= stored_event_ids(settings)
    # Projections carry on, and a rebuild brings back nothing erased.
    container.projections.catch_up()
    for name in list(container.projections.projections):
        container.projections.rebuild(name)
    assert traces(settings, gone.needles) == []
    assert api_view(client, keep.secret) == kept_view


def test_the_same_email_can_register_again_with_a_fresh_id(
    settings: Settings, container: Container, world: World, client: FlaskClient
) -> None:
    keep = make_person(world, client, "keeper")
    # The erased account is the newest: on SQLite its events hold the highest rowids.
    gone = make_person(world, client, "erased")
    assert gone.scope is not None
    app = container.configuration
    last = max(n.id for n in app.recorder.select_notifications(start=1, limit=10_000))
    container.erasure.delete_account(gone.scope.account_id)
    container.projections.catch_up()

    again = world.account(gone.emails[1])
    assert again.id > last
    # Its past email is free again too.
    other = world.account(gone.emails[0])
    assert other.id > again.id
    site = world.site(again, gone.urls[0])
    secret = world.key(again, name=f"{gone.emails[1]}-k")
    assert site.id > last
    me = client.get("/api/v1/me", headers=bearer(secret)).json
    assert (me["id"], me["email"]) == (again.id, gone.emails[1])
    listed = client.get("/api/v1/sites", headers=bearer(secret)).json["sites"]
    assert [(s["id"], s["url"]) for s in listed] == [(site.id, gone.urls[0])]
    # The old key stays dead and the keeper is untouched.
    assert client.get("/api/v1/me", headers=bearer(gone.secret)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(keep.secret)).status_code == 200
    assert all(s.lag == 0 for s in container.projections.status())


def test_new_events_after_erasure_get_fresh_ids_and_are_projected(
    settings: Settings, container: Container, world: World
) -> None:
    keep = world.account("keep@example.org")
    gone = world.account("gone@example.org")
    world.site(gone, "https://gone.example")
    app = container.configuration
    highest = app.recorder.max_notification_id()
    container.erasure.delete_account(gone.uuid)
    if not settings.is_postgres:
        # SQLite hands out MAX(rowid)+1: a placeholder keeps the erased newest id taken.
        assert app.recorder.max_notification_id() == highest
    # The erased events were the newest; their ids are never handed out again.
    site = app.register_site(keep.uuid, "https://after.example")
    assert site.id > highest
    container.projections.catch_up()
    status = {s.name: s for s in container.projections.status()}
    assert status["sites"].position >= site.id
    assert [s.name for s in status.values() if s.lag] == []
    tables = container.projections.tables["sites"]["sites"]
    with container.engine.connect() as conn:
        ids = [r.id for r in conn.execute(tables.select())]
    assert ids == [site.id]


def test_erasure_before_the_projections_ran_leaves_nothing(
    settings: Settings, container: Container, world: World, client: FlaskClient
) -> None:
    container.projections.catch_up()
    app = container.configuration
    owner = app.register_account("unseen@example.org", "correct horse")
    app.register_site(owner.uuid, "https://unseen.example")
    app.issue_key(owner.uuid, "k", "read_only")
    scope = app.erasure_scope(owner.uuid)
    container.erasure.delete_account(owner.uuid)
    container.projections.catch_up()
    needles = ["unseen@example.org", "unseen.example", str(owner.uuid), owner.uuid.hex]
    assert traces(settings, needles) == []
    assert not set(scope.originator_ids) & stored_event_ids(settings)


def erase_once_past(
    container: Container, account_id: UUID, after: int, erased: list[int]
) -> Callable[[int, int], None]:
    """A rebuild progress callback: erase the account once the replay has passed `after`."""

    def progress(done: int, _total: int) -> None:
        if not erased and done >= after:
            erased.append(done)
            container.erasure.delete_account(account_id)

    return progress


def test_erasure_during_a_rebuild_is_not_undone_by_its_swap(
    settings: Settings, container: Container, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild replays into tables of its own and swaps them in at the end: an erasure
    that comes while it runs must reach those tables too."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 1)  # the rebuild reads 5 events at a time
    keep = world.account("keep@example.org")
    world.site(keep, "https://kept.example")
    world.key(keep)
    app = container.configuration
    for name in ("accounts", "sites", "api_keys"):
        for when in ("early", "late"):
            tag = f"gone-{when}-{name.replace('_', '-')}"
            gone = world.account(f"{tag}@example.org")
            world.site(gone, f"https://{tag}.example")
            world.key(gone, name=tag)
            # Early: before the replay reaches the account; late: after the whole log has
            # been replayed into the fresh tables, just before they are swapped in.
            after = 1 if when == "early" else app.recorder.max_notification_id()
            erased: list[int] = []
            container.projections.rebuild(
                name, erase_once_past(container, gone.uuid, after, erased)
            )
            assert erased
            assert traces(settings, [f"{tag}@example.org", f"{tag}.example", gone.uuid.hex]) == []
    container.projections.catch_up()
    assert traces(settings, ["keep@example.org", "kept.example"]) != []
    assert all(s.lag == 0 for s in container.projections.status())


def test_erasing_spares_an_email_another_account_took_over(
    settings: Settings, container: Container, world: World
) -> None:
    """A's old address, released by an email change, now belongs to B: erasing A must
    not take B's claim on it along."""
    app = container.configuration
    a = world.account("shared@example.org")
    app.change_email(a.uuid, "a-new@example.org")
    b = world.account("shared@example.org")
    container.erasure.delete_account(a.uuid)
    assert app.find_account("shared@example.org").id == b.uuid
    # And nobody can register over B: the address is still held.
    with pytest.raises(Conflict, match="already taken"):
        app.register_account("shared@example.org", "correct horse")
    assert traces(settings, ["a-new@example.org"]) == []
    assert a.uuid not in stored_event_ids(settings)
    with pytest.raises(NotFound):
        app.find_account("a-new@example.org")


def test_erasing_the_account_that_took_over_an_address_spares_its_first_owner(
    settings: Settings, container: Container, world: World
) -> None:
    app = container.configuration
    a = world.account("first@example.org")
    app.change_email(a.uuid, "second@example.org")
    b = world.account("first@example.org")
    container.erasure.delete_account(b.uuid)
    assert app.find_account("second@example.org").id == a.uuid
    with pytest.raises(NotFound):
        app.find_account("first@example.org")
    container.erasure.delete_account(a.uuid)
    needles = ["first@example.org", "second@example.org", a.uuid.hex, b.uuid.hex]
    assert traces(settings, needles) == []
    for email in ("first@example.org", "second@example.org"):
        with pytest.raises(NotFound):
            app.find_account(email)
        world.account(email)


def test_cli_users_delete_leaves_nothing(
    env: dict[str, str], settings: Settings, container: Container, world: World, client: FlaskClient
) -> None:
    keep = make_person(world, client, "keeper")
    gone = make_person(world, client, "erased")
    kept_view = api_view(client, keep.secret)
    result = CliRunner().invoke(
        main, ["users", "delete", "--email", gone.emails[1].upper(), "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": True, "email": gone.emails[1], "sites": 2}
    assert_erased(settings, container, gone)
    assert api_view(client, keep.secret) == kept_view

    again = CliRunner().invoke(main, ["users", "delete", "--email", gone.emails[1]], env=env)
    assert again.exit_code == 1
    assert "No account with email" in again.stderr


@pytest.mark.skipif(ON_POSTGRES, reason="reads SQLite files; PostgreSQL keeps dead rows to VACUUM")
def test_no_erased_bytes_stay_in_the_sqlite_files(
    settings: Settings, container: Container, world: World
) -> None:
    keep = world.account("keep@example.org")
    world.site(keep, "https://kept.example")
    gone = world.account("wal-person@example.org")
    world.site(gone, "https://wal-site.example")
    container.erasure.delete_account(gone.uuid)
    container.projections.catch_up()
    found = [
        path.name
        for path in sorted(settings.data_dir.iterdir())
        if path.is_file()
        and any(n in path.read_bytes() for n in (b"wal-person@example.org", b"wal-site.example"))
    ]
    assert found == []
