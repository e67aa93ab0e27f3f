"""Account → Webhooks: the list, create, edit, rotate, disable/enable, delete and Send Test
forms, and each webhook's Events page (deliveries, retry, paging)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import World
from tests.dashboard.conftest import text

GOOD_URL = "http://127.0.0.1:9/hook"


@dataclass
class Enqueued:
    number: int
    attempt: int
    due_at: datetime


class RecordingQueue:
    """The application's delivery queue, keeping what it is given (no worker runs)."""

    def __init__(self) -> None:
        self.items: list[Enqueued] = []

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        self.items.append(Enqueued(number, attempt, due_at))


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # The operator's allow-list lets a test use a loopback URL.
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    return env


@pytest.fixture
def queue(owner: Any) -> Iterator[RecordingQueue]:
    webhooks = owner.browser.container.webhooks
    original, recording = webhooks.queue, RecordingQueue()
    webhooks.queue = recording
    webhooks.resolver = None  # no DNS look-ups in tests
    yield recording
    webhooks.queue = original


@pytest.fixture
def plus(owner: Any, queue: RecordingQueue) -> Any:
    """The signed-in owner, subscribed to Plus."""
    owner.browser.container.configuration.set_subscribed(owner.account.uuid, True)
    return owner


def form(
    url: str = GOOD_URL,
    events: list[str] | None = None,
    platform: str = "generic",
    wrap: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "hook-url": url,
        "hook-events": ["new_hit"] if events is None else events,
        "hook-platform": platform,
    }
    if wrap:
        data["hook-wrap"] = "y"
    return data


def create(owner: Any, **kwargs: Any) -> tuple[int, str]:
    response = owner.browser.submit("/account/webhooks", form(**kwargs))
    assert response.status_code == 201, text(response)
    body = response.get_data(as_text=True)
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", body)
    number = re.search(r"Webhook (\d+) created", text(response))
    assert secret and number
    return int(number.group(1)), secret.group(1)


def test_the_account_page_and_navigation_link_to_webhooks(owner: Any) -> None:
    body = owner.browser.get("/account").get_data(as_text=True)
    assert body.count('href="/account/webhooks"') == 2  # the navigation and the section
    page = owner.browser.get("/account/webhooks")
    assert page.status_code == 200
    assert "No webhooks yet" in text(page)


def test_a_webhook_is_created_listed_and_its_secret_shown_once(plus: Any) -> None:
    number, secret = create(
        plus, events=["new_kudo", "monitor_down"], platform="discord", wrap=True
    )
    webhooks = plus.browser.container.webhooks
    webhook = webhooks.webhook_by_number(number, plus.account.uuid)
    assert webhook.secret == secret
    assert (webhook.url, webhook.events, webhook.platform, webhook.wrap) == (
        GOOD_URL,
        ["new_kudo", "monitor_down"],
        "discord",
        True,
    )
    listed = plus.browser.get("/account/webhooks")
    body = listed.get_data(as_text=True)
    assert secret not in body  # never shown again
    shown = text(listed)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"{GOOD_URL} new_kudo, monitor_down Discord yes Active {today}" in shown
    assert f'href="/account/webhooks/{number}"' in body
    assert f'href="/account/webhooks/{number}/events"' in body
    assert plus.browser.get(f"/account/webhooks/{number}").status_code == 200
    assert secret not in plus.browser.get(f"/account/webhooks/{number}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form(url="ftp://example.com/hook"), "hook-url", "must start with http:// or https://"),
        (form(url="https://user:pw@example.com/"), "hook-url", "must not contain a user name"),
        (form(url="http://10.0.0.1/hook"), "hook-url", "is not allowed"),
        (form(url="http://169.254.169.254/latest"), "hook-url", "is not allowed"),
        (form(url=""), "hook-url", "Enter the URL"),
        (form(events=[]), "hook-events", "Select at least one event"),
        (form(events=["new_sale"]), "hook-events", "not a valid choice"),
        (form(platform="slack"), "hook-platform", "Not a valid choice"),
    ],
)
def test_create_errors_are_shown_in_place_with_what_was_typed(
    plus: Any, data: dict[str, Any], field: str, message: str
) -> None:
    response = plus.browser.submit("/account/webhooks", data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(response)
    if data["hook-url"]:
        assert f'value="{data["hook-url"]}"' in body
    assert plus.browser.container.webhooks.webhooks_of(plus.account.uuid) == []


def test_a_bad_url_keeps_the_selected_events(plus: Any) -> None:
    response = plus.browser.submit(
        "/account/webhooks", form(url="ftp://x", events=["monitor_up"], wrap=True)
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="monitor_up"', body)
    assert not re.search(r'<input checked[^>]*value="new_hit"', body)
    assert re.search(r'<input checked[^>]*name="hook-wrap"', body)


def test_a_webhook_is_edited_and_errors_are_shown_in_place(plus: Any) -> None:
    number, _ = create(plus)
    url = f"/account/webhooks/{number}"
    bad = plus.browser.submit(url, form(url="https://a:b@example.com/", events=[]))
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert 'id="hook-url-error"' in body and 'id="hook-events-error"' in body
    assert 'value="https://a:b@example.com/"' in body
    webhooks = plus.browser.container.webhooks
    assert webhooks.webhook_by_number(number).url == GOOD_URL  # unchanged

    saved = plus.browser.submit(
        url,
        form(url="http://127.0.0.1:9/other", events=["monitor_up"], platform="discord", wrap=True),
    )
    assert saved.status_code == 302
    webhook = webhooks.webhook_by_number(number)
    assert (webhook.url, webhook.events, webhook.platform, webhook.wrap) == (
        "http://127.0.0.1:9/other",
        ["monitor_up"],
        "discord",
        True,
    )
    assert "Webhook saved" in text(plus.browser.get(saved.location))


def test_rotating_shows_the_new_secret_once_and_explains_both_signatures(plus: Any) -> None:
    number, first = create(plus)
    rotated = plus.browser.submit(
        f"/account/webhooks/{number}/rotate", {}, page=f"/account/webhooks/{number}"
    )
    assert rotated.status_code == 200
    webhook = plus.browser.container.webhooks.webhook_by_number(number)
    body = rotated.get_data(as_text=True)
    assert webhook.secret != first and webhook.secret in body and first not in body
    assert "in webhook-signature only" in text(rotated)
    again = plus.browser.get(f"/account/webhooks/{number}")
    assert webhook.secret not in again.get_data(as_text=True)
    assert "the previous one signs too" in text(again)


def test_a_webhook_is_disabled_and_enabled_again(plus: Any) -> None:
    number, _ = create(plus)
    page = f"/account/webhooks/{number}"
    webhooks = plus.browser.container.webhooks
    disabled = plus.browser.submit(f"{page}/disable", {}, page=page)
    assert disabled.status_code == 302
    assert not webhooks.webhook_by_number(number).is_active
    shown = text(plus.browser.get("/account/webhooks"))
    assert "Disabled Disabled by its owner" in shown
    assert "Enable webhook" in text(plus.browser.get(page))
    enabled = plus.browser.submit(f"{page}/enable", {}, page=page)
    assert enabled.status_code == 302
    assert webhooks.webhook_by_number(number).is_active
    assert "Disable webhook" in text(plus.browser.get(page))


def test_deleting_asks_for_confirmation(plus: Any) -> None:
    number, _ = create(plus)
    confirm = plus.browser.get(f"/account/webhooks/{number}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in text(confirm)
    deleted = plus.browser.submit(f"/account/webhooks/{number}/delete", {})
    assert deleted.status_code == 302
    assert plus.browser.container.webhooks.webhooks_of(plus.account.uuid) == []
    listed = plus.browser.get(deleted.location)
    assert "deleted" in text(listed) and "No webhooks yet" in text(listed)
    assert plus.browser.get(f"/account/webhooks/{number}").status_code == 404


def test_forms_without_a_token_are_refused(plus: Any) -> None:
    number, _ = create(plus)
    for action in ("rotate", "disable", "delete", "test"):
        response = plus.browser.client.post(f"/account/webhooks/{number}/{action}")
        assert response.status_code == 400
    assert plus.browser.container.webhooks.webhook_by_number(number).is_active


def test_send_test_schedules_a_delivery_shown_on_the_events_page(
    plus: Any, queue: RecordingQueue
) -> None:
    number, _ = create(plus, events=["monitor_down", "new_hit"])
    page = f"/account/webhooks/{number}"
    sent = plus.browser.submit(f"{page}/test", {}, page=page)
    assert sent.status_code == 302 and sent.location.endswith(f"{page}/events")
    assert len(queue.items) == 1 and queue.items[0].attempt == 1
    events = plus.browser.get(sent.location)
    assert events.status_code == 200
    shown = text(events)
    assert f"Test delivery {queue.items[0].number} scheduled" in shown
    assert f"{queue.items[0].number} new_hit Test" in shown
    assert "scheduled" in shown
    assert '"test": true' in events.get_data(as_text=True)  # the payload, in <details>


def _deliveries(owner: Any, number: int, count: int) -> list[Any]:
    webhooks = owner.browser.container.webhooks
    webhook = webhooks.webhook_by_number(number)
    refs = [webhooks.send_test(webhook.id, enqueue=False) for _ in range(count)]
    return [webhooks.get_delivery(ref.uuid) for ref in refs]


def test_the_events_page_shows_outcomes_and_retries_a_delivery_that_gave_up(
    plus: Any, queue: RecordingQueue
) -> None:
    number, _ = create(plus)
    webhooks = plus.browser.container.webhooks
    delivered, failing, gave_up = _deliveries(plus, number, 3)
    now = datetime.now(UTC)
    delivered.succeed(now, 200, "thanks!", 12)
    failing.fail(now, 503, "busy", "HTTP 503", 20)
    gave_up.fail(now, 410, "gone", "HTTP 410", 5, final="The endpoint answered 410 Gone")
    webhooks.save(delivered, failing, gave_up)

    page = plus.browser.get(f"/account/webhooks/{number}/events")
    assert page.status_code == 200
    shown = text(page)
    body = page.get_data(as_text=True)
    assert "1 delivered — 200" in shown and "Response body thanks!" in shown
    # a retry is scheduled, at a time shown
    assert re.search(r"1 failed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 503 HTTP 503", shown)
    assert "1 gave up — 410 The endpoint answered 410 Gone HTTP 410" in shown
    assert body.count("Retry</button>") == 1
    gave_up_number = int(re.findall(r'deliveries/(\d+)/retry"', body)[0])

    retried = plus.browser.submit(
        f"/account/webhooks/{number}/deliveries/{gave_up_number}/retry",
        {},
        page=f"/account/webhooks/{number}/events",
    )
    assert retried.status_code == 302
    assert webhooks.get_delivery(gave_up.id).status == "pending"
    assert [(q.number, q.attempt) for q in queue.items] == [(gave_up_number, 2)]
    after = plus.browser.get(retried.location)
    assert "is being sent again" in text(after)
    assert "Retry</button>" not in after.get_data(as_text=True)


def test_the_events_page_pages_with_before(plus: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from interfaces.dashboard import webhooks as pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    number, _ = create(plus)
    _deliveries(plus, number, 3)
    first = plus.browser.get(f"/account/webhooks/{number}/events")
    older = re.search(r'href="([^"]*before=(\d+))"', first.get_data(as_text=True))
    assert older is not None
    ids = [int(i) for i in re.findall(r'class="mono">(\d+)</td>', first.get_data(as_text=True))]
    assert len(ids) == 2 and ids[0] > ids[1] == int(older.group(2))
    second = plus.browser.get(older.group(1).replace("&amp;", "&"))
    rest = [int(i) for i in re.findall(r'class="mono">(\d+)</td>', second.get_data(as_text=True))]
    assert len(rest) == 1 and rest[0] < ids[1]
    assert "before=" not in second.get_data(as_text=True)
    assert "Newest" in text(second)


def test_paging_and_webhook_numbers_are_ascii_digits_only(
    plus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interfaces.dashboard import webhooks as pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    number, _ = create(plus)
    _deliveries(plus, number, 3)
    first = plus.browser.get(f"/account/webhooks/{number}/events").get_data(as_text=True)
    older = re.search(r"before=(\d+)", first)
    assert older is not None
    # before= in Arabic-Indic or fullwidth digits is no page: the newest page is shown.
    for zero in (0x660, 0xFF10):
        other = "".join(chr(zero + int(d)) for d in older.group(1))
        page = plus.browser.get(f"/account/webhooks/{number}/events?before={other}")
        assert page.status_code == 200
        assert "Newest" not in text(page) and "before=" in page.get_data(as_text=True)
        spelled = "".join(chr(zero + int(d)) for d in str(number))
        for tail in ("", "/events", "/delete"):
            assert plus.browser.get(f"/account/webhooks/{spelled}{tail}").status_code == 404


@pytest.mark.parametrize("before", ["abc", "0", "-5", "99999999999999999999", ""])
def test_odd_paging_values_show_the_newest_page(plus: Any, before: str) -> None:
    number, _ = create(plus)
    _deliveries(plus, number, 1)
    page = plus.browser.get(f"/account/webhooks/{number}/events?before={before}")
    assert page.status_code == 200 and "new_hit Test" in text(page)


def test_another_accounts_webhook_and_deliveries_are_not_found(
    plus: Any, world: World, other: Any, queue: RecordingQueue
) -> None:
    number, _ = create(plus)
    (delivery,) = _deliveries(plus, number, 1)
    delivery.fail(datetime.now(UTC), 410, None, "gone", 1, final="gone")
    plus.browser.container.webhooks.save(delivery)
    delivery_number = int(
        re.findall(
            r'deliveries/(\d+)/retry"',
            plus.browser.get(f"/account/webhooks/{number}/events").get_data(as_text=True),
        )[0]
    )
    world.account("other@example.com", is_subscribed=True)
    assert other.sign_in("other@example.com").status_code == 302
    base = f"/account/webhooks/{number}"
    for path in (base, f"{base}/events", f"{base}/delete"):
        assert other.get(path).status_code == 404
    for path in (
        base,
        f"{base}/rotate",
        f"{base}/disable",
        f"{base}/enable",
        f"{base}/delete",
        f"{base}/test",
        f"{base}/deliveries/{delivery_number}/retry",
    ):
        response = other.submit(path, form(url="http://127.0.0.1:9/mine"), page="/account/webhooks")
        assert response.status_code == 404, path
    webhook = plus.browser.container.webhooks.webhook_by_number(number)
    assert webhook.url == GOOD_URL and webhook.is_active and not webhook.is_deleted
    assert queue.items == []
    assert plus.browser.get("/account/webhooks/999999/events").status_code == 404


def test_a_delivery_of_another_webhook_is_not_retried_through_this_one(plus: Any) -> None:
    first, _ = create(plus)
    second, _ = create(plus)
    (delivery,) = _deliveries(plus, first, 1)
    delivery.fail(datetime.now(UTC), 410, None, "gone", 1, final="gone")
    plus.browser.container.webhooks.save(delivery)
    body = plus.browser.get(f"/account/webhooks/{first}/events").get_data(as_text=True)
    delivery_number = re.findall(r'deliveries/(\d+)/retry"', body)[0]
    response = plus.browser.submit(
        f"/account/webhooks/{second}/deliveries/{delivery_number}/retry",
        {},
        page=f"/account/webhooks/{second}",
    )
    assert response.status_code == 404


def test_unsubscribed_accounts_are_told_and_send_test_is_refused(
    owner: Any, queue: RecordingQueue
) -> None:
    page = owner.browser.get("/account/webhooks")
    assert "available to Plus accounts" in text(page)
    number, _ = create(owner)  # the forms still work
    assert "available to Plus accounts" in text(owner.browser.get(f"/account/webhooks/{number}"))
    sent = owner.browser.submit(
        f"/account/webhooks/{number}/test", {}, page=f"/account/webhooks/{number}"
    )
    assert sent.status_code == 302
    assert "Webhooks are available to Plus accounts" in text(owner.browser.get(sent.location))
    assert queue.items == []
    events = owner.browser.get(f"/account/webhooks/{number}/events")
    assert events.status_code == 200 and "No deliveries yet" in text(events)


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    for path in ("/account/webhooks", "/account/webhooks/1", "/account/webhooks/1/events"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/sign_in" in response.location
