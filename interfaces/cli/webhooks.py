"""`tinylytics webhooks …`: create, change, test and inspect webhooks and their deliveries.

Ids are the integer ids of the event store (the notification id of the creating event).
`test` and `retry` hand the attempt to the worker when there is one (REDIS_URL);
without Redis the command makes the first attempt itself and shows its outcome.
"""

from typing import Any

import click

from application.webhooks import DeliveryRef, QueueUnavailable, WebhookChanges
from domain.errors import NotFound
from domain.webhook_messages import iso
from domain.webhooks import EVENTS, PLATFORMS
from infrastructure.bootstrap import Container
from interfaces.cli.shared import ON_OFF, admin_command, emit, on_off, wired
from projections.reads import DeliveryListing

EVENT_LIST = ",".join(EVENTS)


def _when(moment: Any) -> str | None:
    return iso(moment) if moment is not None else None


def _webhook_payload(c: Container, number: int, webhook: Any) -> dict[str, Any]:
    return {
        "id": number,
        "url": webhook.url,
        "events": list(webhook.events),
        "platform": webhook.platform,
        "wrap": webhook.wrap,
        "active": webhook.is_active,
        "disabled_reason": webhook.disabled_reason,
        "secret": webhook.secret,
        "previous_secret_expires_at": _when(
            webhook.previous_secret_expires_at
            if webhook.signing_secrets(c.webhooks.clock())[1:]
            else None
        ),
        "created_at": _when(webhook.created_at),
    }


def _run_now(c: Container, ref: DeliveryRef) -> dict[str, Any]:
    """Queue the attempt for a worker, or (no Redis: no worker to reach) make it here.

    Without Redis a retry after a failed attempt here is made by the server, whose
    sweep finds it overdue (docs/decisions/0004-webhook-deliveries.md).
    """
    if c.settings.redis_url:
        try:
            c.webhooks.queue.enqueue(ref.id, ref.attempt, c.webhooks.clock())
        except QueueUnavailable as error:
            # Saved as due: the dispatcher's sweep queues it once it is overdue.
            return {
                "delivery": ref.id,
                "queued": False,
                "status": "pending",
                "error": f"not queued ({error}); the server's sweep queues it within minutes",
            }
        return {"delivery": ref.id, "queued": True}
    result = c.webhook_sender.attempt(ref.id, ref.attempt)
    delivery = c.webhooks.get_delivery(ref.uuid)
    return {
        "delivery": ref.id,
        "queued": False,
        "status": delivery.status,
        "status_code": result.status_code if result else None,
        "error": result.error if result else None,
        "next_attempt_at": _when(delivery.next_attempt_at),
    }


def _describe(payload: dict[str, Any]) -> str:
    if payload.get("queued"):
        return f"delivery {payload['delivery']} queued"
    code = payload.get("status_code")
    line = f"delivery {payload['delivery']}: {payload.get('status')}"
    if code is not None:
        line += f" (HTTP {code})"
    if payload.get("error"):
        line += f": {payload['error']}"
    if payload.get("next_attempt_at"):
        line += f"; next attempt at {payload['next_attempt_at']}"
    return line


@click.group()
def webhooks() -> None:
    """Send events to other applications: create, test and inspect webhooks."""


@webhooks.command("create")
@click.option("--owner", required=True, help="The owner's email.")
@click.option("--url", required=True, help="A public http(s) URL.")
@click.option("--events", required=True, help=f"Comma-separated: {EVENT_LIST}.")
@click.option("--platform", type=click.Choice(PLATFORMS), default="generic", show_default=True)
@click.option("--wrap", is_flag=True, help='Wrap each payload in {"content": …}.')
@admin_command
def webhooks_create(
    owner: str, url: str, events: str, platform: str, wrap: bool, as_json: bool
) -> None:
    """Create a webhook; prints its id and signing secret."""
    with wired() as c:
        account = c.configuration.find_account(owner)
        created = c.webhooks.create_webhook(account.id, url, events, platform, wrap)
    emit(
        as_json,
        {"id": created.id, "secret": created.secret},
        f"created webhook {created.id}\nsigning secret: {created.secret}",
    )


@webhooks.command("list")
@click.option("--owner", required=True, help="The owner's email.")
@admin_command
def webhooks_list(owner: str, as_json: bool) -> None:
    """An account's webhooks."""
    with wired() as c:
        account = c.configuration.find_account(owner)
        c.reads.settle()
        rows = c.reads.webhooks.for_owner(account.id)
        listed = [_webhook_payload(c, r.id, c.webhooks.get_webhook(r.uuid)) for r in rows]
    text = "\n".join(
        f"{w['id']:>6}  {'on ' if w['active'] else 'off'}  {','.join(w['events'])}  {w['url']}"
        for w in listed
    )
    emit(as_json, {"webhooks": listed}, text or "no webhooks")


@webhooks.command("update")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@click.option("--url")
@click.option("--events", help=f"Comma-separated: {EVENT_LIST}.")
@click.option("--platform", type=click.Choice(PLATFORMS))
@click.option("--wrap", type=ON_OFF)
@click.option("--active", type=ON_OFF)
@admin_command
def webhooks_update(
    number: int,
    url: str | None,
    events: str | None,
    platform: str | None,
    wrap: str | None,
    active: str | None,
    as_json: bool,
) -> None:
    """Change a webhook; every change is applied, or none."""
    changes = WebhookChanges(
        url=url, events=events, platform=platform, wrap=on_off(wrap), active=on_off(active)
    )
    with wired() as c:
        webhook = c.webhooks.change_webhook(c.webhooks.webhook_uuid(number), changes)
        payload = _webhook_payload(c, number, webhook)
    emit(as_json, payload, f"updated webhook {number}")


@webhooks.command("rotate-secret")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@admin_command
def webhooks_rotate_secret(number: int, as_json: bool) -> None:
    """A new signing secret; the old one keeps signing too for 24 hours."""
    with wired() as c:
        webhook = c.webhooks.rotate_secret(c.webhooks.webhook_uuid(number))
    expires = _when(webhook.previous_secret_expires_at)
    emit(
        as_json,
        {"id": number, "secret": webhook.secret, "previous_secret_expires_at": expires},
        f"new signing secret: {webhook.secret}\n(the previous one is valid until {expires})",
    )


@webhooks.command("disable")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@admin_command
def webhooks_disable(number: int, as_json: bool) -> None:
    """Stop sending to a webhook (`update --active on` starts it again)."""
    with wired() as c:
        c.webhooks.disable_webhook(c.webhooks.webhook_uuid(number), "Disabled by an administrator")
    emit(as_json, {"id": number, "active": False}, f"disabled webhook {number}")


@webhooks.command("delete")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@admin_command
def webhooks_delete(number: int, as_json: bool) -> None:
    """Delete a webhook; its pending deliveries give up."""
    with wired() as c:
        c.webhooks.delete_webhook(c.webhooks.webhook_uuid(number))
    emit(as_json, {"id": number, "deleted": True}, f"deleted webhook {number}")


@webhooks.command("test")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@click.option("--event", type=click.Choice(EVENTS), help="Default: its first selected event.")
@admin_command
def webhooks_test(number: int, event: str | None, as_json: bool) -> None:
    """Send sample data ("test": true) the way live deliveries go."""
    with wired() as c:
        ref = c.webhooks.send_test(c.webhooks.webhook_uuid(number), event, enqueue=False)
        payload = _run_now(c, ref)
    emit(as_json, payload, _describe(payload))


def _delivery_payload(c: Container, row: DeliveryListing) -> dict[str, Any]:
    delivery = c.webhooks.get_delivery(row.uuid)
    return {
        "id": row.id,
        "event": delivery.event_type,
        "test": delivery.is_test,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _when(delivery.next_attempt_at),
        "gave_up_reason": delivery.gave_up_reason,
        "response_code": delivery.history[-1]["status_code"] if delivery.history else None,
        "response_body": delivery.history[-1]["response_body"] if delivery.history else None,
        "error": delivery.history[-1]["error"] if delivery.history else None,
        "created_at": _when(delivery.scheduled_at),
        "payload": delivery.payload,
        "history": [{**attempt, "at": _when(attempt["at"])} for attempt in delivery.history],
    }


@webhooks.command("deliveries")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@admin_command
def webhooks_deliveries(number: int, limit: int, as_json: bool) -> None:
    """A webhook's recent deliveries, newest first, with every attempt."""
    with wired() as c:
        webhook = c.webhooks.webhook_by_number(number)
        c.reads.settle()
        rows = c.reads.webhooks.deliveries_of(webhook.id, limit)
        listed = []
        for row in rows:
            try:
                listed.append(_delivery_payload(c, row))
            except NotFound:
                continue
    text = "\n".join(
        f"{d['id']:>8}  {d['event']:<12} {d['status']:<9} attempts {d['attempts']}"
        f"  code {d['response_code']}  {d['error'] or ''}".rstrip()
        for d in listed
    )
    emit(as_json, {"deliveries": listed}, text or "no deliveries")


@webhooks.command("retry")
@click.option("--delivery", "number", required=True, type=click.IntRange(min=1))
@admin_command
def webhooks_retry(number: int, as_json: bool) -> None:
    """Start a failed delivery again (a new round of attempts)."""
    with wired() as c:
        ref = c.webhooks.retry_delivery(number, enqueue=False)
        payload = _run_now(c, ref)
    emit(as_json, payload, _describe(payload))


@webhooks.command("status")
@admin_command
def webhooks_status(as_json: bool) -> None:
    """The dispatcher's position in each log it follows, and its lag."""
    with wired(catch_up=False) as c:
        rows = c.webhook_dispatch.status()
    payload = {"dispatch": [row.__dict__ for row in rows]}
    text = "\n".join(
        f"{r.name} {r.source:<10} position {r.position:>10}  head {r.head:>10}  lag {r.lag}"
        for r in rows
    )
    emit(as_json, payload, text)
