"""The `tinylytics` command, run with click's CliRunner against the test's own stores.

Each command wires its own container from the environment, as a real invocation does;
a server started on the same stores (the `server` fixture) checks what the API sees.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from interfaces.cli import main
from tests.conftest import World, bearer
from tests.server_helpers import free_port

PASSWORD = "correct horse battery"
OURS = {"accounts", "sites", "api_keys"}


def words(line: str) -> list[str]:
    """Arguments written as one line, for those without spaces of their own."""
    return line.split()


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def ok(env: dict[str, str], *args: str) -> Any:
    """Run a command with --json; it must succeed and print one JSON document."""
    result = cli(env, *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def fails(env: dict[str, str], *args: str, message: str) -> None:
    """The command exits 1 saying why: `{"error": ...}` on stdout, `error: ...` on stderr."""
    result = cli(env, *args, "--json")
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    body = json.loads(result.stdout)
    assert set(body) == {"error"} and message in body["error"]
    assert f"error: {body['error']}" in result.stderr.splitlines()


class Server:
    """A server on the same stores as the commands: its API, and a World for quick set-up."""

    def __init__(self, container: Container) -> None:
        app = create_app(container)
        app.testing = True
        self.client: FlaskClient = app.test_client()
        self.world = World(container)
        self.container = container

    def get(self, path: str, secret: str) -> Any:
        return self.client.get(path, headers=bearer(secret))


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    # Fast password hashing only for the accounts the World makes; commands hash for real.
    wired = bootstrap(Settings.from_env(env), fast_passwords=True)
    yield Server(wired)
    wired.close()


def site_in_list(env: dict[str, str], number: int) -> dict[str, Any]:
    (found,) = [s for s in ok(env, "sites", "list")["sites"] if s["id"] == number]
    return found


# -- users -------------------------------------------------------------------------------
def test_users_create_subscribe_and_their_failures(env: dict[str, str], server: Server) -> None:
    created = ok(env, "users", "create", "--email", " New@Example.COM ", "--password", PASSWORD)
    assert set(created) == {"id", "email"}
    assert type(created["id"]) is int and created["id"] >= 1
    assert created["email"] == "new@example.com"
    text = cli(env, "users", "create", "--email", "paid@example.com", "--password", PASSWORD)
    assert text.exit_code == 0
    assert re.fullmatch(r"created user paid@example\.com \(id \d+\)\n", text.stdout)

    key = ok(env, *words("keys create --owner new@example.com --name k --access read_only"))
    me = server.get("/api/v1/me", key["key"]).json
    assert (me["id"], me["email"], me["is_subscribed"]) == (created["id"], created["email"], False)
    assert ok(env, "users", "subscribe", "--email", "NEW@example.com") == {
        "email": "new@example.com",
        "is_subscribed": True,
    }
    assert server.get("/api/v1/me", key["key"]).json["is_subscribed"] is True
    text = cli(env, "users", "unsubscribe", "--email", "new@example.com")
    assert (text.exit_code, text.stdout) == (0, "new@example.com unsubscribed\n")
    assert server.get("/api/v1/me", key["key"]).json["is_subscribed"] is False

    create = ("users", "create", "--password", PASSWORD, "--email")
    fails(env, *create, "NEW@example.com", message="Email is already taken")
    fails(env, *words("users create --email x@example.com --password short"), message="too short")
    fails(env, *words("users subscribe --email nobody@example.com"), message="No account with")
    # Without --json the message is on stderr alone.
    text = cli(env, *words("users unsubscribe --email bad@"))
    assert (text.exit_code, text.stdout) == (1, "")
    assert "error: No account with email 'bad@'" in text.stderr.splitlines()
    # A usage mistake is click's own error (exit 2), not a traceback.
    missing = cli(env, "users", "create", "--email", "z@example.com")
    assert missing.exit_code == 2 and "--password" in missing.stderr


# -- sites -------------------------------------------------------------------------------
def test_sites_create_and_its_failures(env: dict[str, str], server: Server) -> None:
    server.world.account("owner@example.com")
    owner = ("--owner", "owner@example.com")
    created = ok(env, "sites", "create", *owner, "--url", "mysite.com")
    assert set(created) == {"id", "uid", "url", "label"}
    assert type(created["id"]) is int
    assert re.fullmatch(r"[a-z0-9]{10}", created["uid"])
    assert (created["url"], created["label"]) == ("https://mysite.com", "mysite.com")
    labelled = ok(
        env,
        "sites",
        "create",
        *owner,
        "--url",
        "http://blog.example.org/",
        "--label",
        "My Blog",
        "--timezone",
        "Europe/Berlin",
    )
    assert (labelled["url"], labelled["label"]) == ("http://blog.example.org", "My Blog")
    assert labelled["id"] > created["id"] and labelled["uid"] != created["uid"]
    assert site_in_list(env, labelled["id"])["timezone"] == "Europe/Berlin"

    create = ("sites", "create", *owner, "--url")
    fails(env, *create, "HTTPS://MySite.com/", message="Site https://mysite.com is already taken")
    fails(env, *create, "ftp://mysite.com", message="only http and https")
    fails(env, *create, "ok.example", "--timezone", "Nowhere/Land", message="Unknown timezone")
    fails(env, *words("sites create --owner no@example.com --url x.example"), message="No account")


def test_sites_update_with_every_option(env: dict[str, str], server: Server) -> None:
    account = server.world.account("owner@example.com")
    site = server.world.site(account, "https://first.example", label="First")
    secret = server.world.key(account)
    number = str(site.id)

    updated = ok(
        env,
        "sites",
        "update",
        "--id",
        number,
        "--public",
        "on",
        "--unique",
        "off",
        "--any-domain",
        "on",
        "--ignore-path",
        "/admin/*",
        "--ignore-path",
        " /wp-login.php ",
        "--label",
        "Renamed",
        "--url",
        "Second.example/blog/",
        "--timezone",
        "Europe/Berlin",
    )
    assert updated == {
        "id": site.id,
        "uid": site.uid,
        "url": "https://second.example/blog",
        "label": "Renamed",
        "timezone": "Europe/Berlin",
        "public": True,
        "unique": False,
        "any_domain": True,
        "ignored_paths": ["/admin/*", "/wp-login.php"],
        "active": True,
    }
    # The list (from the read model) and the API agree with the command's answer.
    assert site_in_list(env, site.id) == updated
    shown = server.get(f"/api/v1/sites/{site.id}", secret).json
    assert (shown["url"], shown["label"], shown["public"]) == (updated["url"], "Renamed", True)

    back = ok(
        env,
        "sites",
        "update",
        "--id",
        number,
        "--public",
        "off",
        "--unique",
        "on",
        "--any-domain",
        "off",
        "--clear-ignored-paths",
    )
    assert back == {
        **updated,
        "public": False,
        "unique": True,
        "any_domain": False,
        "ignored_paths": [],
    }

    archived = ok(env, "sites", "update", "--id", number, "--archived", "on", "--label", "Old")
    assert (archived["active"], archived["label"]) == (False, "Old")
    assert server.get(f"/api/v1/sites/{site.id}", secret).json["active"] is False
    fails(env, "sites", "update", "--id", number, "--label", "Nope", message="Site is archived")
    text = cli(env, "sites", "update", "--id", number, "--archived", "off", "--label", "New")
    assert (text.exit_code, text.stdout) == (
        0,
        f"updated site https://second.example/blog (id {number})\n",
    )
    shown = server.get(f"/api/v1/sites/{site.id}", secret).json
    assert (shown["active"], shown["label"]) == (True, "New")


def test_sites_update_failures_change_nothing(env: dict[str, str], server: Server) -> None:
    account = server.world.account("owner@example.com")
    site = server.world.site(account, "https://first.example", label="First")
    server.world.site(account, "https://taken.example")
    number = str(site.id)
    before = site_in_list(env, site.id)

    update = ("sites", "update", "--id", number, "--label", "Changed")
    fails(env, *update, "--url", "https://taken.example/", message="is already taken")
    fails(env, *update, "--timezone", "Nowhere/Land", message="Unknown timezone")
    fails(env, *update, "--ignore-path", "/a", "--clear-ignored-paths", message="not both")
    assert site_in_list(env, site.id) == before  # all or nothing: the label did not change

    for unknown in (str(account.id), "99999999999999999999"):
        fails(env, "sites", "update", "--id", unknown, "--label", "x", message="Site not found")
    bad_choice = cli(env, "sites", "update", "--id", number, "--public", "maybe")
    assert bad_choice.exit_code == 2 and "maybe" in bad_choice.stderr


def test_sites_list_all_or_by_owner(env: dict[str, str], server: Server) -> None:
    world = server.world
    first = world.account("first@example.com")
    second = world.account("second@example.com")
    world.account("empty@example.com")
    a = world.site(first, "https://a.example")
    b = world.site(second, "https://b.example")
    c = world.site(first, "https://c.example", label="C")

    everything = ok(env, "sites", "list")
    assert set(everything) == {"sites"}
    assert [s["id"] for s in everything["sites"]] == [a.id, b.id, c.id]
    assert everything["sites"][2] == {
        "id": c.id,
        "uid": c.uid,
        "url": "https://c.example",
        "label": "C",
        "timezone": "UTC",
        "public": False,
        "unique": True,
        "any_domain": False,
        "ignored_paths": [],
        "active": True,
    }
    mine = ok(env, "sites", "list", "--owner", "First@Example.com")["sites"]
    assert [s["url"] for s in mine] == ["https://a.example", "https://c.example"]
    text = cli(env, "sites", "list", "--owner", "second@example.com")
    assert text.exit_code == 0
    assert text.stdout.split() == [str(b.id), b.uid, "https://b.example", "b.example"]
    assert ok(env, "sites", "list", "--owner", "empty@example.com") == {"sites": []}


# -- keys --------------------------------------------------------------------------------
def test_keys_create_and_revoke_on_the_api(env: dict[str, str], server: Server) -> None:
    server.world.account("owner@example.com")
    owner = ("--owner", "owner@example.com")
    reader = ok(env, "keys", "create", *owner, "--name", "reader", "--access", "read_only")
    assert set(reader) >= {"key"}
    assert re.fullmatch(r"tly-ro-[A-Za-z0-9]{40}", reader["key"])
    assert (reader["name"], reader["access"]) == ("reader", "read_only")
    text = cli(env, "keys", "create", *owner, "--name", "writer", "--access", "full_access")
    assert text.exit_code == 0
    writer = text.stdout.splitlines()[0]  # shown once, on a line of its own
    assert re.fullmatch(r"tly-fa-[A-Za-z0-9]{40}", writer)
    for secret, name, access in [
        (reader["key"], "reader", "read_only"),
        (writer, "writer", "full_access"),
    ]:
        me = server.get("/api/v1/me", secret)
        assert me.status_code == 200
        assert me.json["email"] == "owner@example.com"
        assert (me.json["api_key"]["name"], me.json["api_key"]["access_type"]) == (name, access)

    fails(
        env,
        "keys",
        "create",
        *owner,
        "--name",
        "reader",
        "--access",
        "read_only",
        message="Key name 'reader' is already taken",
    )
    bad_access = cli(env, "keys", "create", *owner, "--name", "x", "--access", "admin")
    assert bad_access.exit_code == 2

    assert ok(env, "keys", "revoke", *owner, "--name", "reader") == {
        "revoked": True,
        "name": "reader",
    }
    assert server.get("/api/v1/me", reader["key"]).status_code == 401
    assert server.get("/api/v1/sites", reader["key"]).json == {"error": "Invalid API key"}
    assert server.get("/api/v1/me", writer).status_code == 200
    fails(env, "keys", "revoke", *owner, "--name", "reader", message="No active key named")
    # The name is free again, for a new and different key.
    again = ok(env, "keys", "create", *owner, "--name", "reader", "--access", "read_only")
    assert again["key"] != reader["key"]
    assert server.get("/api/v1/me", again["key"]).status_code == 200
    assert server.get("/api/v1/me", reader["key"]).status_code == 401


# -- projections -------------------------------------------------------------------------
def test_projections_status_and_rebuild(env: dict[str, str], server: Server) -> None:
    world = server.world
    account = world.account("owner@example.com")
    site = world.site(account, "https://a.example")
    world.key(account)
    app = server.container.configuration
    late = app.register_site(account.uuid, "https://unprojected.example")
    head = app.recorder.max_notification_id()

    status = ok(env, "projections", "status")
    assert set(status) == {"projections"}
    rows = {r["name"]: r for r in status["projections"]}
    assert set(rows) >= OURS
    for name in OURS:
        row = rows[name]
        assert set(row) == {
            "name", "source", "position", "head", "lag", "updated_at", "quarantined",
        }  # fmt: skip
        assert row["quarantined"] == 0
        assert (row["source"], row["head"]) == ("configuration", head)
        assert row["position"] < head and row["lag"] == head - row["position"]
        datetime.fromisoformat(row["updated_at"])
    text = cli(env, "projections", "status")
    assert text.exit_code == 0
    line = rf"^sites\s+configuration\s+position\s+{rows['sites']['position']}\s+head\s+{head}\s+"
    assert re.search(line + rf"lag {head - rows['sites']['position']}$", text.stdout, re.M)

    rebuilt = ok(env, "projections", "rebuild")
    assert set(rebuilt) == {"rebuilt"}
    done = {r["name"]: r for r in rebuilt["rebuilt"]}
    assert set(done) >= OURS
    for name in OURS:
        assert set(done[name]) == {"name", "position", "seconds", "events_per_second"}
        assert done[name]["position"] == head
    after = {r["name"]: r for r in ok(env, "projections", "status")["projections"]}
    assert all(after[name]["lag"] == 0 for name in OURS)
    # The rebuild included the site that had not been projected yet.
    assert [s["id"] for s in ok(env, "sites", "list")["sites"]] == [site.id, late.id]

    one = ok(env, "projections", "rebuild", "sites")
    assert [(r["name"], r["position"]) for r in one["rebuilt"]] == [("sites", head)]
    fails(env, "projections", "rebuild", "nope", message="no projection named 'nope'")


# -- serve -------------------------------------------------------------------------------
def test_serve_refuses_several_workers_without_redis(env: dict[str, str]) -> None:
    """Limits and unique visitors live in each process without Redis: one web process only."""
    without_redis = {
        k: v
        for k, v in {**os.environ, **env}.items()
        if k not in ("REDIS_URL", "TINYLYTICS_REDIS_PREFIX")
    }
    tinylytics = Path(sys.executable).parent / "tinylytics"
    command = [str(tinylytics), "serve", "--port", str(free_port()), "--workers", "2"]
    try:
        result = subprocess.run(
            command, env=without_redis, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`serve --workers 2` without REDIS_URL started serving")
    assert result.returncode == 1
    assert "--workers 2 needs REDIS_URL" in result.stderr
