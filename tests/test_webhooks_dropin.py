"""Webhooks as the receivers people already run expect them (issue 19, items 1-5, 9):
the documented receivers (webhooks.md's Rails and Node examples compare the whole
`X-Signature` header to one expected value) through a secret rotation, the dashboard
link, the whole retry schedule, Discord's fallback message, `new_event`, and the
payload details the docs show."""

import json
import re
from datetime import datetime, timedelta
from typing import Any

from domain.deliveries import DELIVERED, FAILED, PENDING, RETRY_DELAYS
from tests import test_webhooks
from tests.test_webhooks import BASE_URL, Hooks
from tests.tracking_helpers import CHROME
from tests.webhook_helpers import Reply, documented_x_signature_ok, standard_signature_ok

# The webhook tests' fixtures: a subscriber on 127.0.0.1, a test clock, a manual queue.
env = test_webhooks.env
hooks = test_webhooks.hooks
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SCRIPT = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": "https://example.com"}


def collect(h: Hooks, **page: Any) -> None:
    body = {"k": "hit", "u": "https://example.com/from-script", **page}
    response = h.client.post(f"/collect/{h.site.uid}", data=json.dumps(body), headers=SCRIPT)
    assert response.status_code < 300


# -- 1. a rotation never breaks a documented receiver ----------------------------------------
def test_a_documented_receiver_accepts_every_delivery_during_a_rotation(hooks: Hooks) -> None:
    h = hooks
    created = h.create()
    old = created.secret
    h.clock.freeze()
    new = h.c.webhooks.rotate_secret(created.uuid).secret
    # The receiver is updated with the new secret and compares the whole header.
    h.sub.documented_secret = new
    for n, step in enumerate((0, 1, 11, 11)):  # at 0 h, 1 h, 12 h and 23 h
        h.clock.advance(timedelta(hours=step))
        h.hit(f"/during-{n}")
        got = h.deliver()[-1]
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", got.headers["x-signature"])
        assert documented_x_signature_ok(new, got.body, got.headers["x-signature"])
        # A Standard Webhooks verifier still holding the old secret verifies too.
        for secret in (old, new):
            assert standard_signature_ok(
                secret, got.headers["webhook-id"], got.headers["webhook-timestamp"], got.body,
                got.headers["webhook-signature"],
            )  # fmt: skip
    assert [d.status for d in h.deliveries()] == [DELIVERED] * 4
    h.clock.advance(timedelta(hours=2))  # the old secret has expired
    h.hit("/after")
    got = h.deliver()[-1]
    assert not standard_signature_ok(
        old, got.headers["webhook-id"], got.headers["webhook-timestamp"], got.body,
        got.headers["webhook-signature"],
    )  # fmt: skip
    assert h.deliveries()[-1].status == DELIVERED


# -- 2. the dashboard link works -------------------------------------------------------------
def test_dashboard_url_is_the_sites_dashboard_page(hooks: Hooks) -> None:
    h = hooks
    h.create()
    h.hit()
    (got,) = h.deliver()
    link = got.json["site"]["dashboard_url"]
    assert link == f"{BASE_URL}/sites/{h.site.uid}"
    assert got.json["site"]["id"] == h.site.id  # the integer id stays the site's id


# -- 4. the whole schedule: ten retries after the first attempt ------------------------------
def test_ten_retries_follow_the_first_attempt_the_last_after_12_hours(hooks: Hooks) -> None:
    h = hooks
    h.sub.default = Reply(500, body=b"down")
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
        h.clock.advance(due - h.clock.now)
        h.queue.run_due()
    assert waits == list(RETRY_DELAYS) and waits[-1] == timedelta(hours=12)
    assert len(h.sub.received) == 11
    (delivery,) = h.deliveries()
    assert delivery.status == FAILED and delivery.attempts == 11
    assert delivery.gave_up_reason == "Gave up after 10 retries"


def test_a_410_is_a_failure_like_any_4xx(hooks: Hooks) -> None:
    h = hooks
    created = h.create()
    h.sub.replies = [Reply(410, body=b"gone")]
    h.hit("/1")
    h.deliver()
    (delivery,) = h.deliveries()
    assert delivery.status == PENDING and delivery.history[0]["status_code"] == 410
    assert h.c.webhooks.get_webhook(created.uuid).is_active
    h.clock.advance(timedelta(seconds=30))
    h.queue.run_due()
    assert h.deliveries()[0].status == DELIVERED


# -- 9. the details the docs show -------------------------------------------------------------
def test_payload_times_carry_milliseconds_and_an_unknown_source_is_null(hooks: Hooks) -> None:
    h = hooks
    h.create("new_hit,new_kudo")
    collect(h)  # no referrer, no campaign
    collect(h, r="https://news.ycombinator.com/item?id=1")
    response = h.client.post(
        f"/api/v1/sites/{h.site.id}/kudos",
        data=json.dumps({"path": "/a"}),
        headers={**h.key, "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    received = h.deliver()
    hits = [r.json["hit"] for r in received if r.json["event"] == "new_hit"]
    (kudo,) = [r.json["kudo"] for r in received if r.json["event"] == "new_kudo"]
    assert [hit["source"] for hit in hits] == [None, "hackernews"]
    for created_at in [hit["created_at"] for hit in hits] + [kudo["created_at"]]:
        assert MILLIS.match(created_at), created_at
    datetime.strptime(received[0].json["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    listed = h.client.get(f"/api/v1/sites/{h.site.id}/hits", headers=h.key).json["hits"]
    assert sorted(map(str, (hit["source"] for hit in listed))) == ["None", "hackernews"]


# -- 3. Discord gets a message it accepts ------------------------------------------------------
def discord_message_ok(document: Any) -> bool:
    """What Discord's execute-webhook endpoint takes: `content` (a string of at most
    2,000 characters) or `embeds` (at most ten), and no keys it does not know."""
    known = {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions"}
    if not isinstance(document, dict) or set(document) - known:
        return False
    content, embeds = document.get("content"), document.get("embeds")
    if content is not None and (not isinstance(content, str) or len(content) > 2000):
        return False
    if embeds is not None and (not isinstance(embeds, list) or len(embeds) > 10):
        return False
    return bool(content) or bool(embeds)


def test_discord_gets_a_message_for_every_event_type(hooks: Hooks) -> None:
    h = hooks
    h.create("new_hit,new_kudo,new_event", platform="discord", wrap=True)
    h.hit("/articles/webhooks", referrer="https://example.org")
    response = h.client.post(
        f"/api/v1/sites/{h.site.id}/kudos",
        data=json.dumps({"path": "/articles/webhooks"}),
        headers={**h.key, "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    event = {"k": "event", "u": "https://example.com/pricing", "e": "signup.started"}
    h.client.post(f"/collect/{h.site.uid}", data=json.dumps(event), headers=SCRIPT)
    received = h.deliver()
    assert sorted(r.headers["x-tinylytics-event"] for r in received) == [
        "new_event", "new_hit", "new_kudo",
    ]  # fmt: skip
    for got in received:
        assert discord_message_ok(got.json), got.json
        text = json.dumps(got.json, ensure_ascii=False)
        assert "Example Blog" in text
    by_type = {r.headers["x-tinylytics-event"]: json.dumps(r.json) for r in received}
    assert "/articles/webhooks" in by_type["new_hit"] and "example.org" in by_type["new_hit"]
    assert "/articles/webhooks" in by_type["new_kudo"]
    assert "signup.started" in by_type["new_event"]


# -- 5. new_event ----------------------------------------------------------------------------
def test_new_event_sends_each_custom_event_in_the_documented_shape(hooks: Hooks) -> None:
    h = hooks
    created = h.create("new_event")
    h.hit("/not-an-event")
    event = {"k": "event", "u": "https://example.com/pricing", "e": "signup.started", "v": "pro"}
    h.client.post(f"/collect/{h.site.uid}", data=json.dumps(event), headers=SCRIPT)
    response = h.client.post(
        f"/api/v1/sites/{h.site.id}/events",
        data=json.dumps({"event": "newsletter.joined", "path": "/blog"}),
        headers={**h.key, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.json
    received = h.deliver()
    assert [r.headers["x-tinylytics-event"] for r in received] == ["new_event", "new_event"]
    first, second = (r.json for r in received)
    assert list(first) == ["event", "timestamp", "site", "analytics_event"]
    assert first["event"] == "new_event"
    shown = first["analytics_event"]
    assert set(shown) >= {
        "event", "value", "path", "url", "country", "source", "referrer", "created_at",
    }  # fmt: skip
    assert (shown["event"], shown["value"], shown["path"]) == ("signup.started", "pro", "/pricing")
    assert shown["url"] == "https://example.com/pricing" and shown["source"] is None
    assert MILLIS.match(shown["created_at"])
    assert second["analytics_event"]["event"] == "newsletter.joined"
    assert second["analytics_event"]["id"] == response.json["event"]["id"]
    # Its test delivery has sample data in the same shape.
    h.c.webhooks.send_test(created.uuid, "new_event")
    h.queue.run_due()
    sample = h.sub.received[-1].json
    assert sample["test"] is True and set(sample["analytics_event"]) == set(shown)
