"""`tinylytics webhooks …` with --json, against the test's stores and a real subscriber.

Without Redis the commands that send (`test`, `retry`) make the attempt themselves; with
REDIS_URL they queue it, and a Dramatiq worker on the server's container sends it.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import pytest
from click.testing import CliRunner, Result

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from interfaces.cli import main
from tests.test_cli import Server
from tests.webhook_helpers import Reply, Subscriber, subscriber, x_signature_ok


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1"
    return env


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    wired = bootstrap(Settings.from_env(env), fast_passwords=True)
    yield Server(wired)
    wired.close()


@pytest.fixture
def sub() -> Iterator[Subscriber]:
    with subscriber() as running:
        yield running


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["webhooks", *args], env=env)


def ok(env: dict[str, str], *args: str) -> Any:
    result = cli(env, *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def fails(env: dict[str, str], *args: str, message: str) -> None:
    result = cli(env, *args, "--json")
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    body = json.loads(result.stdout)
    assert set(body) == {"error"} and message in body["error"], body
    assert f"error: {body['error']}" in result.stderr.splitlines()


@contextmanager
def worker_if_redis(server: Server) -> Iterator[None]:
    """With Redis, what the commands queue is sent by a worker, as in production."""
    if not server.container.settings.redis_url:
        yield
        return
    running = dramatiq.Worker(server.container.broker, worker_threads=1, worker_timeout=50)
    running.start()
    try:
        yield
    finally:
        running.stop(timeout=10_000)


def test_create_list_update_rotate_disable_delete(
    env: dict[str, str], server: Server, sub: Subscriber
) -> None:
    server.world.account("owner@example.com", is_subscribed=True)
    owner = ("--owner", "owner@example.com")
    created = ok(env, "create", *owner, "--url", sub.url(), "--events", "new_hit,monitor_down")
    assert set(created) == {"id", "secret"} and created["secret"].startswith("whsec_")
    (listed,) = ok(env, "list", *owner)["webhooks"]
    assert listed["id"] == created["id"] and listed["secret"] == created["secret"]
    assert listed["events"] == ["new_hit", "monitor_down"]
    assert (listed["platform"], listed["wrap"], listed["active"]) == ("generic", False, True)
    assert listed["previous_secret_expires_at"] is None
    number = str(created["id"])

    changed = ok(
        env, "update", "--id", number, "--events", "monitor_up", "--platform", "discord",
        "--wrap", "on", "--active", "off",
    )  # fmt: skip
    assert changed["events"] == ["monitor_up"] and changed["platform"] == "discord"
    assert changed["wrap"] is True and changed["active"] is False
    fails(env, "update", "--id", number, "--url", "http://10.1.2.3/x", message="private network")
    fails(env, "update", "--id", number, "--events", "hits", message="Unknown event 'hits'")
    assert ok(env, "list", *owner)["webhooks"][0]["url"] == sub.url()  # nothing applied
    assert ok(env, "update", "--id", number, "--active", "on")["active"] is True

    rotated = ok(env, "rotate-secret", "--id", number)
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    again = ok(env, "list", *owner)["webhooks"][0]
    assert again["secret"] == rotated["secret"]
    assert again["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]

    assert ok(env, "disable", "--id", number) == {"id": created["id"], "active": False}
    assert ok(env, "list", *owner)["webhooks"][0]["active"] is False
    assert ok(env, "delete", "--id", number) == {"id": created["id"], "deleted": True}
    assert ok(env, "list", *owner) == {"webhooks": []}
    fails(env, "test", "--id", number, message="Webhook not found")
    fails(env, "delete", "--id", "999", message="Webhook not found")
    text = cli(env, "list", *owner)
    assert text.exit_code == 0 and text.stdout.strip() == "no webhooks"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "http://localhost:5000/hook"), "localhost"),
        (("--url", "ftp://example.com/hook"), "http:// or https://"),
        (("--url", "https://user:pw@example.com/hook"), "user name or password"),
        (("--url", "http://169.254.169.254/"), "link-local"),
        (("--url", "http://[::ffff:127.0.0.1]/"), "IPv4-mapped"),
        (("--url", "https://example.com/hook", "--events", "everything"), "Unknown event"),
    ],
)
def test_create_refuses_bad_input_clearly(
    env: dict[str, str], server: Server, args: tuple[str, ...], message: str
) -> None:
    server.world.account("owner@example.com", is_subscribed=True)
    full = ("--owner", "owner@example.com", "--events", "new_hit", *args)
    fails(env, "create", *full, message=message)
    fails(env, "create", "--owner", "nobody@example.com", "--url", "https://example.com/h",
          "--events", "new_hit", message="No account with email")  # fmt: skip


def test_send_test_deliveries_and_retry(
    env: dict[str, str], server: Server, sub: Subscriber
) -> None:
    server.world.account("owner@example.com", is_subscribed=True)
    owner = ("--owner", "owner@example.com")
    created = ok(env, "create", *owner, "--url", sub.url(), "--events", "new_hit", "--wrap")
    number = str(created["id"])
    sub.replies = [Reply(410, body=b"no such hook")]
    with worker_if_redis(server):
        first = ok(env, "test", "--id", number)
        (gone,) = sub.wait_for(1)
        assert json.loads(gone.body)["content"]["test"] is True
        assert x_signature_ok(created["secret"], gone.body, gone.headers["x-signature"])
        if first["queued"]:
            assert set(first) == {"delivery", "queued"}
        else:
            assert first["status"] == "failed" and first["status_code"] == 410
        # 410 disabled the webhook; a test can still be retried once it is on again.
        (hook,) = ok(env, "list", *owner)["webhooks"]
        assert hook["active"] is False
        assert hook["disabled_reason"] == "The endpoint answered 410 Gone"
        fails(env, "retry", "--delivery", "999999", message="Delivery not found")
        ok(env, "update", "--id", number, "--active", "on")
        retried = ok(env, "retry", "--delivery", str(first["delivery"]))
        assert retried["delivery"] == first["delivery"]
        received = sub.wait_for(2)
    assert [r.headers["x-tinylytics-delivery"] for r in received] == [str(first["delivery"])] * 2
    server.container.projections.catch_up()
    (delivery,) = ok(env, "deliveries", "--id", number)["deliveries"]
    assert delivery["id"] == first["delivery"]
    assert (delivery["status"], delivery["attempts"], delivery["test"]) == ("delivered", 2, True)
    assert delivery["response_code"] == 200 and delivery["error"] is None
    assert delivery["payload"]["test"] is True and delivery["payload"]["event"] == "new_hit"
    assert [a["status_code"] for a in delivery["history"]] == [410, 200]
    assert delivery["history"][0]["error"] == "HTTP 410"
    assert delivery["history"][0]["response_body"] == "no such hook"
    fails(env, "retry", "--delivery", str(first["delivery"]), message="Only a failed delivery")


def test_status_shows_the_dispatchers_position(env: dict[str, str], server: Server) -> None:
    status = ok(env, "status")
    assert status == {
        "dispatch": [
            {"name": "webhook_dispatch", "source": source, "position": 0, "head": 0, "lag": 0}
            for source in ("Tracking", "Monitoring")
        ]
    }
    projections = json.loads(
        CliRunner().invoke(main, ["projections", "status", "--json"], env=env).stdout
    )
    assert "webhook_dispatch" not in {p["name"] for p in projections["projections"]}
