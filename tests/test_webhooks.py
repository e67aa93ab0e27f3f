"""Webhooks end to end: hits in, signed deliveries out to a real subscriber on 127.0.0.1
(allowed by TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS), retried on a test clock; exactly one
delivery per hit and webhook, none from rebuilds, replays, or for accounts not on Plus;
erasure leaves nothing."""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import dramatiq
import psycopg
import pytest
from dramatiq.brokers.stub import StubBroker
from eventsourcing.persistence import StoredEvent
from flask.testing import FlaskClient

from application.webhook_delivery import HttpOutcome
from application.webhooks import WebhookChanges, WebhookCreated
from domain.deliveries import DELIVERED, FAILED, PENDING, RETRY_DELAYS, Delivery
from domain.errors import DomainError, NotFound
from infrastructure.actors import declare_webhook_actor
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.persistence import postgres_url, sqlite_event_file
from infrastructure.safe_http import SafeHttpClient
from infrastructure.settings import Settings
from infrastructure.webhooks import DramatiqDeliveryQueue, delay_ms, webhook_policy
from tests.conftest import World, bearer
from tests.test_erasure import traces
from tests.tracking_helpers import CHROME, GOOGLEBOT
from tests.webhook_helpers import (
    FakeClock,
    ManualQueue,
    Received,
    Reply,
    Subscriber,
    standard_signature_ok,
    subscriber,
    x_signature_ok,
)

BASE_URL = "https://stats.example.org"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_BASE_URL"] = BASE_URL
    return env


@dataclass
class Hooks:
    c: Container
    world: World
    client: FlaskClient
    clock: FakeClock
    queue: ManualQueue
    sub: Subscriber
    owner: Any
    site: Any
    key: dict[str, str]
    dramatiq_queue: Any

    def create(self, events: str = "new_hit", path: str = "/hook", **kwargs: Any) -> WebhookCreated:
        return self.c.webhooks.create_webhook(self.owner.uuid, self.sub.url(path), events, **kwargs)

    def dispatch(self) -> int:
        self.c.projections.catch_up()
        return self.c.webhook_dispatch.catch_up()

    def hit(self, path: str = "/a", **fields: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/sites/{self.site.id}/hits",
            data=json.dumps({"path": path, **fields}),
            headers={**self.key, "Content-Type": "application/json"},
        )
        assert response.status_code in (201, 202), response.json
        return dict(response.json)

    def deliver(self) -> list[Received]:
        """Dispatch what is new and make every attempt due now."""
        self.dispatch()
        self.queue.run_due()
        return list(self.sub.received)

    def deliveries(self) -> list[Delivery]:
        app = self.c.webhooks
        found = app.recorder.select_notifications(start=1, limit=100_000)
        return [
            app.get_delivery(n.originator_id)  # type: ignore[arg-type]
            for n in found
            if n.topic.endswith("Delivery.Scheduled")
        ]


@pytest.fixture
def hooks(container: Container, world: World, client: FlaskClient) -> Iterator[Hooks]:
    clock = FakeClock()
    queue = ManualQueue(clock)
    queue.sender = container.webhook_sender
    original = container.webhooks.queue
    container.webhooks.clock = clock
    container.webhooks.queue = queue
    owner = world.account("owner@example.com", is_subscribed=True, confirmed=True)
    site = world.site(owner, "https://example.com", label="Example Blog")
    key = bearer(world.key(owner, "writer", "full_access"))
    with subscriber() as sub:
        yield Hooks(container, world, client, clock, queue, sub, owner, site, key, original)


def secret_of(h: Hooks, created: WebhookCreated) -> str:
    return h.c.webhooks.get_webhook(created.uuid).secret


# -- a delivery, as documented -----------------------------------------------------------------
def test_a_live_hit_arrives_signed_and_shaped_as_documented(hooks: Hooks) -> None:
    h = hooks
    created = h.create()
    assert created.secret.startswith("whsec_")
    h.sub.secrets = [created.secret]  # it answers 401 unless both signatures verify
    answer = h.hit("/articles/webhooks", referrer="https://example.org", country="US")
    sending = int(h.clock.now.timestamp())
    (got,) = h.deliver()
    sent = int(h.clock.now.timestamp())
    secret = created.secret
    (delivery,) = h.deliveries()
    (number,) = [
        str(n.id)
        for n in h.c.webhooks.recorder.select_notifications(start=1, limit=100)
        if n.topic.endswith("Delivery.Scheduled")
    ]
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-tinylytics-event"] == "new_hit"
    assert got.headers["x-tinylytics-delivery"] == got.headers["webhook-id"] == number
    assert got.headers["x-tinylytics-timestamp"] == got.headers["webhook-timestamp"]
    # Stamped when sent (the clock follows real time: a second may tick over meanwhile).
    assert sending <= int(got.headers["x-tinylytics-timestamp"]) <= sent
    assert x_signature_ok(secret, got.body, got.headers["x-signature"])
    assert got.headers["x-signature"].startswith("sha256=")
    assert standard_signature_ok(
        secret,
        got.headers["webhook-id"],
        got.headers["webhook-timestamp"],
        got.body,
        got.headers["webhook-signature"],
    )
    body = got.json
    assert list(body) == ["event", "timestamp", "site", "hit"]
    assert body["event"] == "new_hit"
    datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert body["site"] == {
        "id": h.site.id,
        "name": "Example Blog",
        "url": "https://example.com",
        "dashboard_url": f"{BASE_URL}/sites/{h.site.uid}",
    }
    # The create-hit response, field for field; the time with milliseconds (webhooks.md).
    shown = {**answer["hit"], "created_at": body["hit"]["created_at"]}
    assert body["hit"] == shown
    assert body["hit"]["created_at"][:19] == answer["hit"]["created_at"][:19]
    assert delivery.status == DELIVERED and delivery.attempts == 1
    assert delivery.history[0]["status_code"] == 200
    assert delivery.history[0]["response_body"] == "ok"


def test_every_live_channel_sends_one_per_accepted_hit_and_nothing_else(hooks: Hooks) -> None:
    h = hooks
    h.create()
    from application.sites import SiteChanges

    h.c.configuration.change_site(h.site.uuid, SiteChanges(ignored_paths=["/private"]))
    h.c.collection._cache.clear()
    page = {"k": "hit", "u": "https://example.com/from-script"}
    script = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": "https://example.com"}
    assert h.client.post(f"/collect/{h.site.uid}", data=json.dumps(page), headers=script)
    bot = {**script, "User-Agent": GOOGLEBOT}
    h.client.post(f"/collect/{h.site.uid}", data=json.dumps(page), headers=bot)  # a bot
    event = {"k": "event", "u": "https://example.com/", "e": "signup.started"}
    h.client.post(f"/collect/{h.site.uid}", data=json.dumps(event), headers=script)
    h.client.get(f"/pixel/{h.site.uid}.gif?path=/from-pixel", headers={"User-Agent": CHROME})
    h.hit("/private")  # ignored: 202
    batch = [{"path": "/b1"}, {"path": "/b2"}, {"path": ""}, {"path": "/b3"}]
    response = h.client.post(
        f"/api/v1/sites/{h.site.id}/hits/batch",
        data=json.dumps(batch),
        headers={**h.key, "Content-Type": "application/json"},
    )
    assert response.json["created_count"] == 3
    received = h.deliver()
    paths = sorted(r.json["hit"]["path"] for r in received)
    assert paths == ["/b1", "/b2", "/b3", "/from-pixel", "/from-script"]
    assert len({r.headers["x-tinylytics-delivery"] for r in received}) == 5
    assert h.deliver() == received  # nothing more, ever


def test_rate_limited_hits_send_nothing(hooks: Hooks) -> None:
    h = hooks
    h.create()
    limit = h.c.settings.visitor_rate_limit_per_minute
    for i in range(limit + 5):
        h.client.get(f"/pixel/{h.site.uid}.gif?path=/p{i}", headers={"User-Agent": CHROME})
    assert len(h.deliver()) == limit
    assert len(h.deliveries()) == limit


def test_a_batch_of_three_hits_sends_three_deliveries(hooks: Hooks) -> None:
    h = hooks
    h.create()
    response = h.client.post(
        f"/api/v1/sites/{h.site.id}/hits/batch",
        data=json.dumps([{"path": f"/p{i}"} for i in range(3)]),
        headers={**h.key, "Content-Type": "application/json"},
    )
    ids = [r["id"] for r in response.json["results"]]
    received = h.deliver()
    assert sorted(r.json["hit"]["id"] for r in received) == ids
    assert len(h.deliveries()) == 3


def test_each_webhook_that_asked_gets_its_own_delivery(hooks: Hooks) -> None:
    h = hooks
    h.create(path="/one")
    h.create(path="/two", wrap=True)
    h.create("monitor_down,monitor_up", path="/monitors")
    other = h.world.account("other@example.com", is_subscribed=True)
    h.c.webhooks.create_webhook(other.uuid, h.sub.url("/other"), "new_hit")
    h.hit("/x")
    received = h.deliver()
    assert sorted(r.path for r in received) == ["/one", "/two"]
    wrapped = next(r for r in received if r.path == "/two").json
    assert list(wrapped) == ["content"] and wrapped["content"]["hit"]["path"] == "/x"


# -- who gets deliveries -----------------------------------------------------------------------
def test_accounts_not_on_plus_get_none(hooks: Hooks) -> None:
    h = hooks
    created = h.create()
    h.c.configuration.set_subscribed(h.owner.uuid, False)
    h.hit("/while-free")
    assert h.deliver() == [] and h.deliveries() == []
    with pytest.raises(DomainError, match="Plus"):
        h.c.webhooks.send_test(created.uuid)
    h.c.configuration.set_subscribed(h.owner.uuid, True)
    h.hit("/on-plus")
    assert [r.json["hit"]["path"] for r in h.deliver()] == ["/on-plus"]


def test_a_delivery_gives_up_when_its_owner_leaves_plus_before_it_is_sent(hooks: Hooks) -> None:
    h = hooks
    h.create()
    h.hit()
    h.dispatch()
    h.c.configuration.set_subscribed(h.owner.uuid, False)
    h.queue.run_due()
    (delivery,) = h.deliveries()
    assert (
        delivery.status == FAILED
        and delivery.gave_up_reason == "Webhooks are available to Plus accounts"
    )
    assert h.sub.received == []


def test_a_monitor_only_webhook_gets_hits_only_once_selected_and_only_new_ones(
    hooks: Hooks,
) -> None:
    h = hooks
    created = h.create("monitor_down,monitor_up")
    h.hit("/before")
    assert h.deliver() == []
    h.hit("/still-before")  # recorded, but not yet dispatched when new_hit is selected
    h.c.webhooks.change_webhook(
        created.uuid, WebhookChanges(events="monitor_down,monitor_up,new_hit")
    )
    assert h.deliver() == []
    h.hit("/after")
    assert [r.json["hit"]["path"] for r in h.deliver()] == ["/after"]


def test_a_webhook_never_receives_what_happened_before_it_existed(hooks: Hooks) -> None:
    h = hooks
    h.hit("/old")  # not dispatched yet: the dispatcher is behind when the webhook comes
    h.create()
    assert h.deliver() == []
    h.hit("/new")
    assert [r.json["hit"]["path"] for r in h.deliver()] == ["/new"]


def test_disabled_and_deleted_webhooks_get_nothing_and_resume_without_the_gap(
    hooks: Hooks,
) -> None:
    h = hooks
    created = h.create()
    h.c.webhooks.disable_webhook(created.uuid)
    h.hit("/off")
    assert h.deliver() == []
    h.c.webhooks.change_webhook(created.uuid, WebhookChanges(active=True))
    h.hit("/on")
    assert [r.json["hit"]["path"] for r in h.deliver()] == ["/on"]
    h.hit("/pending")
    h.dispatch()
    h.c.webhooks.delete_webhook(created.uuid)
    h.queue.run_due()
    assert len(h.sub.received) == 1
    assert h.deliveries()[-1].gave_up_reason == "The webhook was deleted"
    with pytest.raises(NotFound):
        h.c.webhooks.get_webhook(created.uuid)
    assert h.c.webhooks.webhooks_of(h.owner.uuid) == []


def test_a_name_resolving_to_a_refused_address_is_refused_when_saved_and_when_sent(
    hooks: Hooks,
) -> None:
    h = hooks
    answers = {"intranet.example": ["10.0.0.7"], "hooks.example": ["93.184.216.34"]}

    def resolver(host: str) -> list[str]:
        if host not in answers:
            raise OSError("Name or service not known")
        return answers[host]

    h.c.webhooks.resolver = resolver
    with pytest.raises(DomainError, match=r"intranet\.example resolves to 10\.0\.0\.7, a private"):
        h.c.webhooks.create_webhook(h.owner.uuid, "https://intranet.example/in", "new_hit")
    # Unknown now: saved, and checked again at each attempt.
    h.c.webhooks.create_webhook(h.owner.uuid, "https://not-yet.example/in", "new_hit")
    created = h.c.webhooks.create_webhook(h.owner.uuid, "https://hooks.example/in", "new_hit")
    # DNS rebinding: public when saved, loopback when sent. The client connects to
    # nothing it has not checked (the test allow list is not the client's here).
    h.c.webhook_sender.http = SafeHttpClient(
        webhook_policy(Settings.from_env({})), resolver=lambda host, port: ["127.0.0.1"]
    )
    h.hit()
    h.deliver()
    errors = {d.webhook_id: d.history[0]["error"] for d in h.deliveries()}
    assert errors[created.uuid] == "Refused address: 127.0.0.1 is a loopback address (localhost)"
    assert all(d.status == PENDING and d.next_attempt_at for d in h.deliveries())
    assert h.sub.received == []


# -- retries on the test clock -----------------------------------------------------------------
def test_failures_are_retried_on_the_schedule_then_given_up(hooks: Hooks) -> None:
    h = hooks
    h.sub.default = Reply(500, body=b"Internal Server Error " + b"!" * 10_000)
    h.create()
    h.hit()
    h.clock.freeze()
    h.deliver()
    waits = []
    for _ in range(20):
        due = h.queue.next_due()
        if due is None:
            break
        waits.append(due - h.clock.now)
        h.clock.advance(due - h.clock.now - timedelta(seconds=1))
        assert h.queue.run_due() == []  # not a second early
        h.clock.advance(timedelta(seconds=1))
        h.queue.run_due()
    assert waits == list(RETRY_DELAYS)  # ten retries, the last after 12 hours
    received = h.sub.received
    assert len(received) == 11
    assert {r.headers["x-tinylytics-delivery"] for r in received} == {
        received[0].headers["webhook-id"]
    }
    assert len({r.headers["x-tinylytics-timestamp"] for r in received}) == 11
    assert len({r.body for r in received}) == 1  # the same event each time
    (delivery,) = h.deliveries()
    assert delivery.status == FAILED and delivery.attempts == 11
    assert delivery.gave_up_reason == "Gave up after 10 retries"
    assert [a["status_code"] for a in delivery.history] == [500] * 11
    assert delivery.history[0]["error"] == "HTTP 500"
    assert delivery.history[0]["response_body"].startswith("Internal Server Error")
    assert len(delivery.history[0]["response_body"]) == 4096

    # A manual retry starts it again: a new round, delivered this time.
    h.sub.default = Reply(204, body=b"")
    number = int(received[0].headers["webhook-id"])
    ref = h.c.webhooks.retry_delivery(number)
    assert ref.attempt == 12
    h.queue.run_due()
    (delivery,) = h.deliveries()
    assert delivery.status == DELIVERED and delivery.attempts == 12
    assert received[0].headers["webhook-id"] == h.sub.received[-1].headers["webhook-id"]
    with pytest.raises(DomainError, match="Only a failed delivery"):
        h.c.webhooks.retry_delivery(number)


def test_success_after_failures_keeps_one_delivery_id(hooks: Hooks) -> None:
    h = hooks
    h.sub.replies = [Reply(503), Reply(502)]
    h.create()
    h.hit()
    h.deliver()
    h.clock.advance(timedelta(seconds=30))
    h.queue.run_due()
    h.clock.advance(timedelta(minutes=1))
    h.queue.run_due()
    assert [r.headers["x-tinylytics-delivery"] for r in h.sub.received] == [
        h.sub.received[0].headers["x-tinylytics-delivery"]
    ] * 3
    (delivery,) = h.deliveries()
    assert delivery.status == DELIVERED and delivery.attempts == 3
    assert h.queue.items == []
    h.clock.advance(timedelta(days=2))
    assert h.queue.run_due() == [] and len(h.sub.received) == 3


def test_retry_after_is_honoured_on_429_and_503_when_later(hooks: Hooks) -> None:
    h = hooks
    h.sub.replies = [
        Reply(429, headers={"Retry-After": "600"}),
        Reply(503, headers={"Retry-After": "5"}),
        Reply(500, headers={"Retry-After": "7200"}),  # only 429 and 503 are asked
    ]
    h.create()
    h.hit()
    h.clock.freeze()
    h.deliver()
    assert h.queue.next_due() == h.clock.now + timedelta(seconds=600)
    h.clock.advance(timedelta(seconds=600))
    h.queue.run_due()
    assert h.queue.next_due() == h.clock.now + timedelta(minutes=1)  # the schedule's wait
    h.clock.advance(timedelta(minutes=1))
    h.queue.run_due()
    assert h.queue.next_due() == h.clock.now + timedelta(minutes=5)


def test_redirects_are_failures_and_not_followed(hooks: Hooks) -> None:
    h = hooks
    h.sub.replies = [Reply(301, headers={"Location": h.sub.url("/moved")})]
    h.create()
    h.hit()
    h.deliver()
    assert [r.path for r in h.sub.received] == ["/hook"]
    (delivery,) = h.deliveries()
    assert delivery.status == PENDING and delivery.history[0]["status_code"] == 301
    assert (
        delivery.history[0]["error"] == f"Redirect (HTTP 301 to {h.sub.url('/moved')}) not followed"
    )


def test_a_disabled_webhook_gives_up_its_pending_deliveries(hooks: Hooks) -> None:
    # A 410 is retried like any 4xx (tests/test_webhooks_dropin.py); disabling the
    # webhook is what stops its deliveries.
    h = hooks
    created = h.create()
    h.sub.replies = [Reply(410, body=b"gone")]
    h.hit("/1")
    h.hit("/2")
    h.dispatch()
    h.c.webhooks.disable_webhook(created.uuid, "Disabled by its owner")
    h.queue.run_due()
    first, second = h.deliveries()
    assert first.status == FAILED and first.gave_up_reason.startswith("The webhook is disabled")
    assert second.status == FAILED and second.attempts == 0  # given up without a request
    h.hit("/3")
    h.deliver()
    assert len(h.sub.received) == 0 and len(h.deliveries()) == 2


def test_hanging_refusing_and_huge_answers_are_recorded_and_retried(hooks: Hooks) -> None:
    h = hooks
    h.c.webhook_sender.http = SafeHttpClient(
        webhook_policy(h.c.settings), connect_timeout=1, total_timeout=0.5
    )
    h.sub.replies = [Reply(200, delay=2), Reply(500, body=b"y" * (8 * 1024 * 1024))]
    h.create()
    with subscriber() as closed:
        gone_port = closed.port
    h.c.webhooks.create_webhook(h.owner.uuid, f"http://127.0.0.1:{gone_port}/down", "new_hit")
    h.hit()
    h.deliver()
    errors = sorted(d.history[0]["error"] for d in h.deliveries())
    assert errors == ["Connection refused", "Timed out (no complete answer within 0.5 s)"]
    assert all(d.status == PENDING and d.next_attempt_at for d in h.deliveries())
    h.clock.advance(timedelta(seconds=30))
    started = time.monotonic()
    h.queue.run_due()
    assert time.monotonic() - started < 3
    bodies = [d.history[-1]["response_body"] for d in h.deliveries() if d.attempts == 2]
    assert any(b and len(b) == 4096 for b in bodies)


def test_what_a_receiver_answers_is_kept_cleaned_and_blocks_no_read_model(hooks: Hooks) -> None:
    """A receiver is anyone's server: its answer may hold a NUL, which PostgreSQL text
    cannot, or bytes that are not UTF-8. Kept cleaned (docs/decisions/0008), its lines too."""
    h = hooks
    h.sub.replies = [Reply(500, body=b"line one\x00\r\nline\ttwo\xc2\x9b\xed\xa0\x80 end")]
    created = h.create()
    h.hit()
    h.deliver()
    (delivery,) = h.deliveries()
    kept = "line one\r\nline\ttwo\x9b\ufffd\ufffd\ufffd end"  # as received, UTF-8 decoded
    assert delivery.history[0]["response_body"] == kept.replace("\x9b", "")
    h.c.projections.catch_up()
    assert all(s.lag == 0 and s.quarantined == 0 for s in h.c.projections.status())
    (row,) = h.c.reads.webhooks.deliveries_of(created.uuid)
    assert row.last_response_body == kept.replace("\x9b", "")


def test_a_hit_stored_before_the_text_rule_is_sent_cleaned(hooks: Hooks) -> None:
    """The dispatcher reads the log like a projection: an event stored before the rule
    (docs/decisions/0008) with a NUL and a lone surrogate is sent cleaned, not stuck."""
    h = hooks
    h.create()
    h.hit("/placeholder")
    (stored,) = [
        n
        for n in h.c.tracking.recorder.select_notifications(start=1, limit=10)
        if n.topic.endswith("Hit.Recorded")
    ]
    state = stored.state.replace(b'"/placeholder"', b'"/a\\u0000b\\ud800c"')
    h.c.tracking.recorder.insert_events([StoredEvent(uuid4(), 1, stored.topic, state)])
    got = h.deliver()
    assert [r.json["hit"]["path"] for r in got] == ["/placeholder", "/abc"]


# -- never twice, never from a rebuild or a replay ---------------------------------------------
def rewind(settings: Settings, position: int) -> None:
    """Move the dispatcher's recorded position back, as a restore from backup might."""
    if settings.is_postgres:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
            db.execute(
                f'UPDATE "{settings.db_schema}".webhooks_tracking SET notification_id = %s'
                " WHERE application_name = 'Tracking'",
                (position,),
            )
        return
    db = sqlite3.connect(sqlite_event_file(settings, "webhooks"))
    with db:
        db.execute(
            "UPDATE tracking SET notification_id = ? WHERE application_name = 'Tracking'",
            (position,),
        )
    db.close()


def test_a_rebuild_sends_nothing(hooks: Hooks) -> None:
    h = hooks
    h.create()
    for i in range(3):
        h.hit(f"/{i}")
    assert len(h.deliver()) == 3
    for name in list(h.c.projections.projections):
        h.c.projections.rebuild(name)
    assert "webhook_dispatch" not in h.c.projections.projections
    assert h.c.webhook_dispatch.catch_up() == 0
    assert h.queue.items == [] and len(h.deliveries()) == 3 and len(h.sub.received) == 3
    # One status per followed log: tracking, monitoring, insights and content monitoring.
    assert [s.lag for s in h.c.webhook_dispatch.status()] == [0, 0, 0, 0]


def test_a_replay_sends_nothing(hooks: Hooks, settings: Settings) -> None:
    h = hooks
    h.create()
    h.sub.default = Reply(500)
    for i in range(3):
        h.hit(f"/{i}")
    h.deliver()
    head = h.c.tracking.recorder.max_notification_id()
    rewind(settings, 0)
    assert h.c.webhooks.position("Tracking") == 0
    assert h.c.webhook_dispatch.catch_up() == head
    assert h.c.webhooks.position("Tracking") == head
    assert len(h.deliveries()) == 3
    assert len(h.queue.items) == 3  # the three retries, none new
    # A new process on the same stores finds nothing to do either.
    again = bootstrap(h.c.settings, fast_passwords=True)
    try:
        assert again.webhook_dispatch.catch_up() == 0
    finally:
        again.close()
    assert len(h.deliveries()) == 3


def test_two_dispatchers_at_once_schedule_each_delivery_once(hooks: Hooks) -> None:
    h = hooks
    h.create()
    rows = [{"path": f"/p{i}"} for i in range(40)]
    h.client.post(
        f"/api/v1/sites/{h.site.id}/hits/batch",
        data=json.dumps(rows),
        headers={**h.key, "Content-Type": "application/json"},
    )
    h.c.projections.catch_up()
    other = bootstrap(h.c.settings, fast_passwords=True)
    other.webhooks.queue = h.queue
    other.webhooks.clock = h.clock
    for container in (h.c, other):
        container.webhook_dispatch.batch_size = 7
    try:
        threads = [threading.Thread(target=c.webhook_dispatch.catch_up) for c in (h.c, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.close()
    assert len(h.deliveries()) == 40
    assert sorted(q.number for q in h.queue.items) == sorted({q.number for q in h.queue.items})


def test_a_lost_message_is_queued_again_by_the_sweep(hooks: Hooks) -> None:
    h = hooks
    h.create()

    class Broken:
        def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
            raise ConnectionError("the broker is down")

    h.c.webhooks.queue = Broken()
    h.hit()
    h.dispatch()  # saved and due, but not queued
    h.c.webhooks.queue = h.queue
    h.c.projections.catch_up()
    assert h.c.webhook_dispatch.sweep() == 0  # not overdue enough yet
    h.clock.advance(timedelta(minutes=6))
    assert h.c.webhook_dispatch.sweep() == 1
    assert h.c.webhook_dispatch.sweep() == 0  # queued already
    h.queue.run_due()
    assert len(h.sub.received) == 1 and h.deliveries()[0].status == DELIVERED


def test_a_stale_or_repeated_message_sends_nothing(hooks: Hooks) -> None:
    h = hooks
    h.create()
    h.hit()
    h.deliver()
    number = int(h.sub.received[0].headers["webhook-id"])
    assert h.c.webhook_sender.attempt(number, 1) is None  # delivered already
    assert h.c.webhook_sender.attempt(number, 5) is None
    assert h.c.webhook_sender.attempt(999_999, 1) is None
    assert len(h.sub.received) == 1


# -- tests, rotation, kudos --------------------------------------------------------------------
def test_send_test_goes_the_same_way_with_sample_data(hooks: Hooks) -> None:
    h = hooks
    created = h.create("monitor_down,new_hit", platform="discord")
    h.c.webhooks.disable_webhook(created.uuid)  # a test works on a disabled webhook too
    ref = h.c.webhooks.send_test(created.uuid, "monitor_down")
    h.queue.run_due()
    h.c.webhooks.send_test(created.uuid)  # its first event: new_hit
    h.queue.run_due()
    monitor, hit = h.sub.received
    assert monitor.headers["x-tinylytics-event"] == "monitor_down"
    assert monitor.headers["x-tinylytics-delivery"] == str(ref.id)
    assert monitor.json["embeds"][0]["title"] == "[Test] Example Blog is down"
    # Discord: the generic fallback, a Discord message summarising the sample hit.
    assert hit.json["content"] == "[Test] New hit on Example Blog: /articles/webhooks"
    assert hit.json["embeds"][0]["url"] == f"{BASE_URL}/sites/abc123"
    (stored,) = [d for d in h.deliveries() if d.event_type == "new_hit"]
    assert stored.payload["test"] is True and stored.payload["hit"]["path"] == "/articles/webhooks"
    for got in (monitor, hit):
        assert x_signature_ok(created.secret, got.body, got.headers["x-signature"])
    with pytest.raises(DomainError, match="Unknown event"):
        h.c.webhooks.send_test(created.uuid, "new_thing")


def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(hooks: Hooks) -> None:
    h = hooks
    created = h.create()
    old = created.secret
    new = h.c.webhooks.rotate_secret(created.uuid).secret
    h.sub.secrets = [new]
    h.hit("/during")
    (got,) = h.deliver()
    assert h.deliveries()[0].status == DELIVERED
    # X-Signature: the current secret only; webhook-signature: both (issue 19).
    assert x_signature_ok(new, got.body, got.headers["x-signature"])
    assert not x_signature_ok(old, got.body, got.headers["x-signature"])
    for secret in (old, new):
        assert standard_signature_ok(
            secret, got.headers["webhook-id"], got.headers["webhook-timestamp"], got.body,
            got.headers["webhook-signature"],
        )  # fmt: skip
    h.clock.advance(timedelta(hours=24))
    h.sub.secrets = [new]
    h.hit("/after")
    later = h.deliver()[-1]
    assert h.deliveries()[-1].status == DELIVERED
    assert x_signature_ok(new, later.body, later.headers["x-signature"])
    assert not x_signature_ok(old, later.body, later.headers["x-signature"])


def test_each_kudo_given_sends_new_kudo_in_the_api_shape(hooks: Hooks) -> None:
    h = hooks
    h.create("new_kudo")
    h.hit("/not-a-kudo")

    def give(uid: str) -> dict[str, Any]:
        response = h.client.post(
            f"/api/v1/sites/{h.site.id}/kudos",
            data=json.dumps({"path": "/articles/webhooks", "custom_uid": uid}),
            headers={**h.key, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.json
        return dict(response.json["kudo"])

    first = give("kudo_d4f96c")
    (got,) = h.deliver()
    assert got.headers["x-tinylytics-event"] == "new_kudo"
    assert list(got.json) == ["event", "timestamp", "site", "kudo"]
    assert got.json["kudo"] == {**first, "created_at": got.json["kudo"]["created_at"]}
    assert got.json["kudo"]["created_at"][:19] == first["created_at"][:19]
    # Withdrawn: nothing; given again: a new kudo, with its new id.
    deleted = h.client.delete(f"/api/v1/sites/{h.site.id}/kudos/kudo_d4f96c", headers=h.key)
    assert deleted.status_code == 200
    assert len(h.deliver()) == 1
    again = give("kudo_d4f96c")
    assert again["id"] != first["id"]
    shown = [{**r.json["kudo"], "created_at": None} for r in h.deliver()]
    assert shown == [{**first, "created_at": None}, {**again, "created_at": None}]


# -- erasure -----------------------------------------------------------------------------------
def test_erasure_leaves_no_webhook_or_delivery_behind(hooks: Hooks, settings: Settings) -> None:
    h = hooks
    keep = h.create(path="/kept-hook")
    gone = h.world.account("gone@example.org", is_subscribed=True)
    site = h.world.site(gone, "https://gone.example")
    key = bearer(h.world.key(gone, "w", "full_access"))
    first = h.c.webhooks.create_webhook(gone.uuid, h.sub.url("/gone-hook"), "new_hit")
    second = h.c.webhooks.create_webhook(gone.uuid, h.sub.url("/gone-other"), "new_hit")
    h.c.webhooks.rotate_secret(first.uuid)
    h.c.webhooks.delete_webhook(second.uuid)
    h.hit("/kept-page")
    h.deliver()  # answered "ok"; what the erased account's endpoint answers is its own
    h.sub.default = Reply(500, body=b"gone-response-body")
    for _ in range(2):
        h.client.post(
            f"/api/v1/sites/{site.id}/hits",
            data=json.dumps({"path": "/gone-page"}),
            headers={**key, "Content-Type": "application/json"},
        )
    h.deliver()
    h.c.webhooks.send_test(first.uuid)
    h.queue.run_due()
    h.c.projections.catch_up()
    ids = [first.uuid, second.uuid, *(d.id for d in h.deliveries() if d.owner_id == gone.uuid)]
    needles = ["gone-hook", "gone-other", "gone-page", first.secret, gone.uuid.hex, str(gone.uuid)]
    needles += [i.hex for i in ids] + [str(i) for i in ids]
    assert {n for _t, n in traces(settings, needles)} >= {"gone-hook", "gone-page"}
    kept_before = traces(settings, ["kept-hook", "kept-page"])

    h.c.erasure.delete_account(gone.uuid)
    h.c.projections.catch_up()
    assert traces(settings, needles) == []
    assert traces(settings, ["kept-hook", "kept-page"]) == kept_before
    if not settings.is_postgres:  # not even in a file's free pages or its -wal
        raw = [n.encode() for n in ("gone-hook", "gone-page", "gone-response-body", first.secret)]
        files = [p for p in sorted(settings.data_dir.iterdir()) if p.is_file()]
        assert [(p.name, n) for p in files for n in raw if n in p.read_bytes()] == []
    for name in list(h.c.projections.projections):
        h.c.projections.rebuild(name)
    assert traces(settings, needles) == []
    # Retries still queued for the erased deliveries do nothing; the kept webhook goes on.
    h.sub.default = Reply(200)
    h.clock.advance(timedelta(seconds=30))
    before = len(h.sub.received)
    waiting = len(h.queue.items)
    assert waiting == 3  # two live deliveries and the test, all failed once
    assert h.queue.run_due() == [None] * waiting
    assert len(h.sub.received) == before
    assert traces(settings, needles) == []
    h.hit("/kept-later")
    assert [r.path for r in h.deliver()[before:]] == ["/kept-hook"]
    assert h.c.webhooks.webhooks_of(h.owner.uuid)[0].id == keep.uuid


def test_an_attempt_that_ends_after_its_account_was_erased_writes_nothing(
    hooks: Hooks, settings: Settings
) -> None:
    h = hooks
    gone = h.world.account("gone@example.org", is_subscribed=True)
    site = h.world.site(gone, "https://gone.example")
    created = h.c.webhooks.create_webhook(gone.uuid, h.sub.url("/gone-hook"), "new_hit")
    real = h.c.webhook_sender.http

    class EraseMidway:
        def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
            h.c.erasure.delete_account(gone.uuid)
            return HttpOutcome(500, body="late-outcome-body", duration_ms=5)

    h.c.webhook_sender.http = EraseMidway()
    try:
        from domain.hits import Hit, Visit

        visit = Visit("/gone-page", None, None, "XX", None, None, False, None, None, None,
                      None, None, "api")  # fmt: skip
        h.c.tracking.record([Hit.record(site.uuid, visit)])
        h.deliver()
    finally:
        h.c.webhook_sender.http = real
    needles = ["gone-hook", "late-outcome-body", "gone-page", created.uuid.hex, gone.uuid.hex]
    h.c.projections.catch_up()
    assert traces(settings, needles) == []
    assert h.queue.items == []
    with pytest.raises(NotFound):
        h.c.webhooks.create_webhook(gone.uuid, h.sub.url("/again"), "new_hit")


# -- through Dramatiq --------------------------------------------------------------------------
def test_deliveries_run_on_the_dramatiq_worker_and_a_hanging_one_blocks_no_other(
    hooks: Hooks,
) -> None:
    h = hooks
    h.c.webhooks.queue = h.dramatiq_queue
    h.c.webhook_sender.http = SafeHttpClient(
        webhook_policy(h.c.settings), connect_timeout=1, total_timeout=2.5
    )
    with subscriber() as hanging:
        hanging.default = Reply(200, delay=4)
        h.c.webhooks.create_webhook(h.owner.uuid, hanging.url(), "new_hit")
        h.create(path="/quick")
        worker = dramatiq.Worker(h.c.broker, worker_threads=2, worker_timeout=50)
        worker.start()
        try:
            h.hit("/via-worker")
            h.dispatch()
            assert hanging.wait_for(1)
            (quick,) = h.sub.wait_for(1)
            assert quick.json["hit"]["path"] == "/via-worker"
            started = time.monotonic()
            h.hit("/meanwhile")  # the hit path does not wait for webhooks
            assert time.monotonic() - started < 1.0
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                done = [d for d in h.deliveries() if d.attempts]
                if len(done) == 2:
                    break
                time.sleep(0.1)
        finally:
            worker.stop(timeout=10_000)
    statuses = sorted(
        (d.payload["hit"]["path"], d.status, d.history[0]["error"])
        for d in h.deliveries()
        if d.attempts
    )
    assert statuses == [
        ("/via-worker", DELIVERED, None),
        ("/via-worker", PENDING, "Timed out (no complete answer within 2.5 s)"),
    ]


def test_the_dramatiq_queue_delays_each_attempt_until_it_is_due() -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")
    calls: list[tuple[int, int]] = []
    actor = declare_webhook_actor(broker, lambda n, a: calls.append((n, a)))
    clock = FakeClock(datetime(2026, 5, 14, 12, 0, tzinfo=UTC))
    queue = DramatiqDeliveryQueue(broker, clock)
    queue.enqueue(7, 1, clock.now)
    queue.enqueue(7, 2, clock.now + timedelta(seconds=30))
    now_message = broker.queues["webhooks"].get_nowait()
    assert json.loads(now_message)["args"] == [7, 1]
    delayed = json.loads(broker.queues["webhooks.DQ"].get_nowait())
    assert delayed["args"] == [7, 2]
    assert delayed["options"]["eta"] - delayed["message_timestamp"] in range(29_000, 31_001)
    assert delay_ms(clock.now + timedelta(hours=8), clock.now) == 8 * 3600 * 1000
    assert delay_ms(clock.now - timedelta(seconds=1), clock.now) is None
    assert actor.options["max_retries"] == 0
