"""Webhook rules without a store: the retry schedule, ids, the Webhook aggregate, payloads,
bodies per platform and both signatures (checked against a receiver's own code)."""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest

from application.webhook_delivery import HttpOutcome, failure_message, retry_after_delay
from domain.addresses import AddressPolicy
from domain.deliveries import (
    FAILED,
    MAX_FAILED_ATTEMPTS,
    PENDING,
    RETRY_DELAYS,
    Delivery,
    delivery_id,
    random_delivery_id,
    retry_delay,
    webhook_id_range,
)
from domain.errors import DomainError
from domain.webhook_messages import (
    delivery_headers,
    hit_payload,
    render_body,
    sample_payload,
)
from domain.webhooks import EVENTS, Webhook, WebhookBook, new_secret, normalize_events
from infrastructure.settings import Settings, SettingsError
from tests.webhook_helpers import (
    documented_x_signature_ok,
    standard_signature_ok,
    x_signature_ok,
)

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
OPEN = AddressPolicy()


def webhook(events: object = "new_hit", **kwargs: object) -> Webhook:
    return Webhook.register(uuid4(), "https://hooks.example.com/in", events, OPEN, NOW, **kwargs)  # type: ignore[arg-type]


# -- the schedule ---------------------------------------------------------------------------
def test_the_retry_schedule_as_read_in_the_decision() -> None:
    """First attempt at once; after failure n the wait is RETRY_DELAYS[n-1]; the 11th ends it."""
    waits = [retry_delay(n) for n in range(1, MAX_FAILED_ATTEMPTS + 1)]
    assert waits == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=4),
        timedelta(hours=8),
        timedelta(hours=12),
        None,
    ]
    assert list(RETRY_DELAYS) == waits[:10] and RETRY_DELAYS[9] == timedelta(hours=12)
    with pytest.raises(ValueError):
        retry_delay(0)


def test_retry_after_wins_only_when_later_and_is_capped() -> None:
    assert retry_delay(1, timedelta(minutes=10)) == timedelta(minutes=10)
    assert retry_delay(1, timedelta(seconds=5)) == timedelta(seconds=30)
    assert retry_delay(3, timedelta(days=9)) == timedelta(hours=24)
    assert retry_delay(MAX_FAILED_ATTEMPTS, timedelta(seconds=1)) is None
    assert retry_after_delay("120", NOW) == timedelta(seconds=120)
    assert retry_after_delay("Thu, 14 May 2026 12:05:00 GMT", NOW) == timedelta(minutes=5)
    assert retry_after_delay("Thu, 14 May 2026 11:00:00 GMT", NOW) == timedelta(0)
    assert retry_after_delay("soon", NOW) is None
    assert retry_after_delay(None, NOW) is None


def test_a_delivery_records_attempts_and_gives_up_after_ten() -> None:
    hook_id = uuid4()
    d = Delivery.schedule(
        id=delivery_id(hook_id, "Tracking", 7),
        webhook_id=hook_id,
        owner_id=uuid4(),
        event_type="new_hit",
        payload={"event": "new_hit"},
        at=NOW,
    )
    at = NOW
    for n in range(1, MAX_FAILED_ATTEMPTS + 1):
        retry_at = d.fail(at, 500, "x" * 10_000, "HTTP 500", 12)
        assert d.attempts == n
        assert len(d.history[-1]["response_body"]) == 4096
        if n < MAX_FAILED_ATTEMPTS:
            assert retry_at == at + RETRY_DELAYS[n - 1] and d.status == PENDING
            at = retry_at
    assert retry_at is None and d.status == FAILED and d.next_attempt_at is None
    assert d.gave_up_reason == "Gave up after 10 retries"
    with pytest.raises(DomainError):
        d.fail(at, 500, None, "again", 1)
    d.request_retry(at)
    assert (d.status, d.failures, d.attempts, d.next_attempt_at) == (PENDING, 0, 11, at)
    d.succeed(at, 204, "", 3)
    with pytest.raises(DomainError, match="Only a failed delivery"):
        d.request_retry(at)


def test_a_final_reason_ends_a_delivery_at_once() -> None:
    hook_id = uuid4()
    d = Delivery.schedule(
        id=random_delivery_id(hook_id),
        webhook_id=hook_id,
        owner_id=uuid4(),
        event_type="new_hit",
        payload={},
        at=NOW,
    )
    assert d.fail(NOW, 410, "gone", "HTTP 410", 5, final="gone for good") is None
    assert d.status == FAILED and d.gave_up_reason == "gone for good"


def test_delivery_ids_are_derived_and_share_the_webhooks_prefix() -> None:
    hook_id = uuid4()
    first = delivery_id(hook_id, "Tracking", 42)
    assert first == delivery_id(hook_id, "Tracking", 42)
    assert first != delivery_id(hook_id, "Tracking", 43)
    assert first != delivery_id(hook_id, "Monitoring", 42)
    assert first != delivery_id(uuid4(), "Tracking", 42)
    low, high = webhook_id_range(hook_id)
    for inside in (first, random_delivery_id(hook_id), hook_id):
        assert low <= inside <= high
    with pytest.raises(ValueError):
        Delivery.schedule(
            id=uuid4(), webhook_id=hook_id, owner_id=uuid4(), event_type="new_hit",
            payload={}, at=NOW,
        )  # fmt: skip


# -- the webhook ----------------------------------------------------------------------------
def test_events_are_checked_and_kept_in_order() -> None:
    assert normalize_events("monitor_up, new_hit") == ["new_hit", "monitor_up"]
    assert normalize_events(list(reversed(EVENTS))) == list(EVENTS)
    with pytest.raises(DomainError, match="Unknown event 'hits'"):
        normalize_events("hits")
    with pytest.raises(DomainError, match="at least one"):
        normalize_events("")
    with pytest.raises(DomainError, match="Platform"):
        webhook(platform="slack")


def test_each_event_is_live_from_when_it_was_selected() -> None:
    hook = webhook("monitor_down")
    later = NOW + timedelta(hours=1)
    assert not hook.accepts("new_hit", later)
    hook.select_events(["monitor_down", "new_hit"], later)
    assert not hook.accepts("new_hit", later - timedelta(seconds=1))
    assert hook.accepts("new_hit", later)
    assert hook.accepts("monitor_down", NOW)  # kept its first time
    hook.disable("paused")
    assert not hook.accepts("new_hit", later + timedelta(hours=1))
    hook.activate(later + timedelta(hours=2))
    assert not hook.accepts("new_hit", later + timedelta(hours=1))  # while it was off
    assert hook.accepts("new_hit", later + timedelta(hours=2))
    hook.delete()
    assert not hook.accepts("new_hit", later + timedelta(hours=3))
    with pytest.raises(DomainError, match="deleted"):
        hook.activate(NOW)


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours() -> None:
    hook = webhook()
    old = hook.secret
    assert old.startswith("whsec_") and old != new_secret()
    hook.rotate_secret(NOW)
    assert hook.secret != old
    assert hook.signing_secrets(NOW + timedelta(hours=23)) == [hook.secret, old]
    assert hook.signing_secrets(NOW + timedelta(hours=24)) == [hook.secret]


def test_the_book_remembers_deleted_webhooks_for_erasure() -> None:
    owner = uuid4()
    book = WebhookBook.open(owner)
    assert book.id == WebhookBook.id_for(owner) != WebhookBook.id_for(uuid4())
    a, b = uuid4(), uuid4()
    book.add(a)
    book.add(b)
    book.remove(a)
    assert book.webhook_ids == [b] and book.all_webhook_ids == [a, b]


# -- payloads, bodies, signatures -------------------------------------------------------------
def test_hit_payload_is_the_create_hit_shape() -> None:
    from interfaces.api.hits import hit_shape

    hit = SimpleNamespace(
        url="https://example.com/a", path="/a", referrer=None, country="US", browser="Safari",
        platform="macOS", is_mobile=True, source="newsletter", unique_hash="u",
        visitor_hash=None, timestamp=datetime(2026, 5, 14, 12, 15, 0, 123456, tzinfo=UTC),
    )  # fmt: skip
    assert hit_payload(hit, 789) == {
        **hit_shape(hit, 789),
        "created_at": "2026-05-14T12:15:00.123Z",
    }
    assert hit_shape(hit, 789)["created_at"] == "2026-05-14T12:15:00Z"


@pytest.mark.parametrize("event_type", EVENTS)
def test_sample_payloads_have_the_documented_keys(event_type: str) -> None:
    payload = sample_payload(event_type, NOW, "https://stats.example.org")
    assert list(payload)[:3] == ["event", "timestamp", "test"]
    assert payload["test"] is True and payload["event"] == event_type
    assert payload["timestamp"] == "2026-05-14T12:00:00Z"
    assert payload["site"] == {
        "id": 123,
        "name": "Example Blog",
        "url": "https://example.com",
        "dashboard_url": "https://stats.example.org/sites/abc123",
    }
    keys = {
        "new_hit": {"hit"},
        "new_kudo": {"kudo"},
        "monitor_down": {"monitor", "downtime"},
        "monitor_up": {"monitor", "downtime"},
        "new_event": {"analytics_event"},
        "new_insight": {"insight"},
        "content_issue": {"check"},
    }[event_type]
    assert set(payload) - {"event", "timestamp", "test", "site"} == keys
    if event_type == "new_kudo":
        assert set(payload["kudo"]) == {"id", "uid", "path", "created_at"}


def test_bodies_per_platform() -> None:
    hit = sample_payload("new_hit", NOW, None)
    down = sample_payload("monitor_down", NOW, "https://stats.example.org")
    assert json.loads(render_body(hit, "generic", False)) == hit
    assert json.loads(render_body(hit, "generic", True)) == {"content": hit}
    fallback = json.loads(render_body(hit, "discord", True))  # a Discord message, never raw
    assert set(fallback) == {"username", "content", "embeds"}
    assert fallback["content"] == "[Test] New hit on Example Blog: /articles/webhooks"
    embed = json.loads(render_body(down, "discord", True))
    (card,) = embed["embeds"]
    assert card["title"] == "[Test] Example Blog is down"
    assert card["url"] == "https://stats.example.org/sites/abc123"
    assert {f["name"] for f in card["fields"]} == {"Site", "Down since", "Duration", "Error"}
    up = json.loads(render_body(sample_payload("monitor_up", NOW, None), "discord", False))
    assert "url" not in up["embeds"][0]  # a relative dashboard path is no link for Discord
    assert up["embeds"][0]["title"].endswith("is up")


def test_headers_carry_both_signatures_over_the_exact_body() -> None:
    secret, old = new_secret(), new_secret()
    body = render_body(sample_payload("new_hit", NOW, None), "generic", False)
    headers = delivery_headers("new_hit", "42", 1778760000, body, [secret, old])
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Tinylytics-Event"] == "new_hit"
    assert headers["X-Tinylytics-Delivery"] == headers["webhook-id"] == "42"
    assert headers["X-Tinylytics-Timestamp"] == headers["webhook-timestamp"] == "1778760000"
    # X-Signature: exactly one, the current secret's; the old one only in webhook-signature.
    assert documented_x_signature_ok(secret, body, headers["X-Signature"])
    assert not x_signature_ok(old, body, headers["X-Signature"])
    for key in (secret, old):
        assert standard_signature_ok(key, "42", "1778760000", body, headers["webhook-signature"])
    assert not x_signature_ok(new_secret(), body, headers["X-Signature"])
    assert not x_signature_ok(secret, body + b" ", headers["X-Signature"])
    assert not standard_signature_ok(secret, "43", "1778760000", body, headers["webhook-signature"])
    single = delivery_headers("new_hit", "42", 1778760000, body, [secret])
    assert single["X-Signature"].count("sha256=") == 1 and " " not in single["webhook-signature"]


def test_failure_messages() -> None:
    assert failure_message(HttpOutcome(500)) == "HTTP 500"
    assert failure_message(HttpOutcome(None, error="Connection refused")) == "Connection refused"
    moved = HttpOutcome(302, location="https://elsewhere.example/")
    assert (
        failure_message(moved) == "Redirect (HTTP 302 to https://elsewhere.example/) not followed"
    )


# -- the operator's allow list ----------------------------------------------------------------
def test_the_allowed_networks_setting() -> None:
    allowed = " 127.0.0.1, 10.0.0.0/8,fd00::/8 , Hooks.Internal. "
    settings = Settings.from_env({"TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS": allowed})
    assert [str(n) for n in settings.webhook_allowed_networks] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "fd00::/8",
    ]
    assert settings.webhook_allowed_hosts == frozenset({"hooks.internal"})
    assert Settings.from_env({}).webhook_allowed_networks == ()
    with pytest.raises(SettingsError, match="TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"):
        Settings.from_env({"TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS": "http://x"})
