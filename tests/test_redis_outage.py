"""Redis down: collection and reads keep working on in-process limits and seen hashes,
the outage is counted and warned about once a minute, webhook messages that could not
be queued are queued once Redis is back, and a real server under load loses no hit.

Every test stops a Redis of its own (tests/fault_harness.py), never the shared one.
"""

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
import time_machine
from flask.testing import FlaskClient

from domain.deliveries import DELIVERED
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from tests.conftest import World, bearer
from tests.fault_harness import (
    CollectorLoad,
    PrivateRedis,
    Server,
    books,
    make_site,
    stored_paths,
)
from tests.tracking_helpers import CHROME, recorded
from tests.webhook_helpers import Received, subscriber


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with PrivateRedis() as running:
        yield running


@pytest.fixture
def settings(env: dict[str, str], redis_server: PrivateRedis) -> Settings:
    # A copy: the `env` fixture cleans the shared Redis up with its own values.
    return Settings.from_env(
        {
            **env,
            "REDIS_URL": redis_server.url,
            "TINYLYTICS_REDIS_PREFIX": "outage",
            "TINYLYTICS_API_RATE_LIMIT": "50",
            "TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        }
    )


@pytest.fixture
def owner(world: World) -> Any:
    return world.account(is_subscribed=True)


@pytest.fixture
def site(world: World, owner: Any) -> Any:
    return world.site(owner, "https://example.com")


def collect(client: FlaskClient, uid: str, path: str, visitor: str = "203.0.113.7") -> Any:
    return client.post(
        f"/collect/{uid}",
        data=json.dumps({"k": "hit", "u": f"https://example.com{path}"}),
        headers={
            "Content-Type": "text/plain",
            "Origin": "https://example.com",
            "User-Agent": CHROME,
            "X-Forwarded-For": visitor,
        },
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def redis_health(client: FlaskClient) -> Any:
    body = client.get("/healthz").get_json()
    return body.get("checks", {}).get("redis", {})


def wait_until_redis_is_back(client: FlaskClient) -> None:
    """Redis was started again: the health check (which asks it) sees it answer."""
    deadline = time.monotonic() + 10
    while redis_health(client).get("status") != "ok":
        assert time.monotonic() < deadline, "Redis is not seen as back"
        time.sleep(0.05)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_TRUSTED_PROXIES"] = "127.0.0.1"
    return env


def test_collection_and_the_api_keep_answering_while_redis_is_down(
    world: World,
    container: Container,
    client: FlaskClient,
    owner: Any,
    site: Any,
    redis_server: PrivateRedis,
) -> None:
    reader = bearer(world.key(owner, "reader"))
    writer = bearer(world.key(owner, "writer", "full_access"))
    assert collect(client, site.uid, "/before").status_code == 204
    redis_server.stop()

    answers = [collect(client, site.uid, f"/down-{n}", f"198.51.100.{n}") for n in range(20)]
    assert [a.status_code for a in answers] == [204] * 20
    pixel = client.get(
        f"/pixel/{site.uid}.gif?path=/pixel",
        headers={"User-Agent": CHROME, "X-Forwarded-For": "192.0.2.9"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert pixel.status_code == 200
    written = client.post(
        f"/api/v1/sites/{site.id}/hits",
        data=json.dumps({"path": "/api", "visitor_id": "v1"}),
        headers={**writer, "Content-Type": "application/json"},
    )
    assert written.status_code == 201, written.get_json()
    container.projections.catch_up()
    for url in ("/api/v1/me", "/api/v1/sites", f"/api/v1/sites/{site.id}/hits"):
        read = client.get(url, headers=reader)
        assert read.status_code == 200, (url, read.get_json())
        assert read.headers["X-RateLimit-Limit"] == "50"
    paths = {hit.path for hit in recorded(container)}
    assert paths == {"/before", "/pixel", "/api", *(f"/down-{n}" for n in range(20))}

    redis_server.start()
    wait_until_redis_is_back(client)
    assert collect(client, site.uid, "/after").status_code == 204
    assert "/after" in {hit.path for hit in recorded(container)}


def test_limits_still_hold_in_this_process_while_redis_is_down(
    world: World,
    container: Container,
    client: FlaskClient,
    owner: Any,
    site: Any,
    redis_server: PrivateRedis,
) -> None:
    reader = bearer(world.key(owner, "reader"))
    redis_server.stop()
    answers = [collect(client, site.uid, f"/same-{n}").status_code for n in range(30)]
    assert answers == [204] * 30  # a rate-limited hit is answered like any other
    assert len(recorded(container)) == 25  # TINYLYTICS_VISITOR_RATE_LIMIT's default
    assert container.drops.totals(site.uuid).get("rate_limited") == 5

    statuses = [client.get("/api/v1/me", headers=reader).status_code for _ in range(51)]
    assert statuses == [200] * 50 + [429]


def test_an_outage_is_counted_and_warned_about_once_a_minute(
    container: Container,
    client: FlaskClient,
    site: Any,
    redis_server: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "Redis" in r.getMessage()
        ]

    caplog.set_level(logging.WARNING)
    assert client.get("/healthz").get_json()["checks"]["redis"] == {"status": "ok"}
    redis_server.stop()
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        for n in range(10):
            assert collect(client, site.uid, f"/a{n}", f"198.51.100.{n}").status_code == 204
        assert len(warnings()) == 1
        traveller.shift(timedelta(seconds=30))
        assert collect(client, site.uid, "/b", "198.51.100.50").status_code == 204
        assert len(warnings()) == 1
        traveller.shift(timedelta(seconds=31))
        assert collect(client, site.uid, "/c", "198.51.100.51").status_code == 204
        assert len(warnings()) == 2

    health = client.get("/healthz")
    assert health.status_code == 200  # collection works: no reason to take the node out
    body = health.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "down"
    # Each hit asked the visitor limiter once (the seen-hash set only at a salt change).
    assert body["checks"]["redis"]["degraded_calls"] >= 12

    redis_server.start()
    wait_until_redis_is_back(client)
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert any("back" in w for w in warnings())


def test_unique_visitors_are_remembered_through_an_outage(
    container: Container,
    client: FlaskClient,
    site: Any,
    redis_server: PrivateRedis,
    settings: Settings,
) -> None:
    """Morning hashes are remembered in memory while Redis is down, and written to
    Redis once it is back, so that another web process finds them in the afternoon."""
    morning = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    with time_machine.travel(morning, tick=True) as traveller:
        redis_server.stop()
        assert collect(client, site.uid, "/page", "192.0.2.1").status_code == 204
        first = recorded(container)[-1]
        traveller.shift(timedelta(hours=5))  # after the noon salt rotation
        assert collect(client, site.uid, "/page", "192.0.2.1").status_code == 204
        again = recorded(container)[-1]
        assert (again.unique_hash, again.visitor_hash) == (first.unique_hash, first.visitor_hash)

        redis_server.start()
        wait_until_redis_is_back(client)
        assert collect(client, site.uid, "/other", "192.0.2.2").status_code == 204
        other_process = bootstrap(settings, fast_passwords=True)
        try:
            other = create_app(other_process).test_client()
            assert collect(other, site.uid, "/page", "192.0.2.1").status_code == 204
            third = recorded(other_process)[-1]
        finally:
            other_process.close()
        assert (third.unique_hash, third.visitor_hash) == (first.unique_hash, first.visitor_hash)


def wait_until_delivered(container: Container, received: list[Received]) -> None:
    """The worker records an outcome just after the subscriber has answered."""
    deadline = time.monotonic() + 10
    for request in received:
        number = int(request.headers["webhook-id"])
        while container.webhooks.delivery_by_number(number).status != DELIVERED:
            assert time.monotonic() < deadline, f"delivery {number} is not recorded"
            time.sleep(0.02)


def test_webhook_messages_that_could_not_be_queued_are_queued_once_redis_is_back(
    world: World,
    container: Container,
    client: FlaskClient,
    owner: Any,
    site: Any,
    redis_server: PrivateRedis,
) -> None:
    writer = bearer(world.key(owner, "writer", "full_access"))
    with subscriber() as sub:
        hook = container.webhooks.create_webhook(owner.uuid, sub.url(), "new_hit")
        worker = dramatiq.Worker(container.broker, worker_threads=1, worker_timeout=100)
        worker.start()
        try:
            redis_server.stop()
            for n in range(3):
                written = client.post(
                    f"/api/v1/sites/{site.id}/hits",
                    data=json.dumps({"path": f"/hook-{n}"}),
                    headers={**writer, "Content-Type": "application/json"},
                )
                assert written.status_code == 201
            container.projections.catch_up()
            container.webhook_dispatch.follow()  # schedules three; none can be queued
            # "Send test" from the dashboard: saved, not queued, and no error for it.
            container.webhooks.send_test(hook.uuid)
            assert sub.received == []

            redis_server.start()
            wait_until_redis_is_back(client)
            container.webhook_dispatch.follow()  # the runner's next turn
            received = sub.wait_for(3, timeout=15)
            assert sorted(r.json["hit"]["path"] for r in received) == [
                "/hook-0",
                "/hook-1",
                "/hook-2",
            ]
            # The test delivery was queued by no one: the sweep finds it once overdue.
            wait_until_delivered(container, received)
            container.projections.catch_up()
            with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
                assert container.webhook_dispatch.sweep() == 1
            received = sub.wait_for(4, timeout=15)
        finally:
            worker.stop(timeout=5_000)
    assert len(received) == 4 and received[-1].json["test"] is True


@pytest.mark.slow
def test_a_server_under_load_loses_no_hit_while_redis_is_stopped_and_started(
    env: dict[str, str], redis_server: PrivateRedis, tmp_path: Any
) -> None:
    server_env = {**env, "REDIS_URL": redis_server.url, "TINYLYTICS_REDIS_PREFIX": "load"}
    site = make_site(server_env)
    with (
        Server(server_env, log=tmp_path / "server.log") as server,
        CollectorLoad(server, site.uid) as load,
    ):
        assert load.wait_for("before", 300, timeout=30)
        load.phase = "outage"
        redis_server.stop()
        load.wait_for_requests("outage", 600, timeout=30)
        redis_server.start()
        load.phase = "after"
        load.wait_for_requests("after", 300, timeout=30)
    figures = books("Redis outage", load.tally, stored_paths(server_env))
    print("\n".join(figures.lines()))
    assert figures.answers.get("outage", {}).get("204", 0) >= 300, figures
    assert {answer for phase in figures.answers.values() for answer in phase} == {"204"}, figures
    assert figures.lost == 0, figures
