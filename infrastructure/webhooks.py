"""Webhook adapters and wiring: the Dramatiq queue, the erasure fence, the store's eraser.

`wire_webhooks` connects the Webhooks application to the rest (infrastructure/
bootstrap.py calls it): the SSRF-safe HTTP client, the sender and its Dramatiq actor
(interfaces/actors.py), the dispatcher that the projection runner's loop runs, and
the forgetter that erases an account's webhooks and deliveries.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import dramatiq
import redis
from dramatiq.errors import BrokerError
from sqlalchemy import Connection

from application.erasure import ErasureScope
from application.tracking import Tracking
from application.webhook_delivery import WebhookSender
from application.webhooks import QueueUnavailable, Webhooks
from domain.addresses import AddressPolicy
from infrastructure.erasure import EventStoreRows
from infrastructure.safe_http import SafeHttpClient, system_resolver
from infrastructure.settings import Settings
from interfaces.actors import declare_webhook_actor
from projections.runner import ProjectionEngine
from projections.webhook_dispatch import TRACKING_TRIGGERS, Followed, SiteSource, WebhookDispatch
from projections.webhooks import WebhooksProjection

WEBHOOKS_STORE = "webhooks"


def webhook_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(
        allowed_networks=settings.webhook_allowed_networks,
        allowed_hosts=settings.webhook_allowed_hosts,
    )


def delay_ms(due_at: datetime, now: datetime) -> int | None:
    """The delay Dramatiq is given for a message due at `due_at`; None when due now."""
    milliseconds = int((due_at - now).total_seconds() * 1000)
    return milliseconds if milliseconds > 0 else None


class DramatiqDeliveryQueue:
    """The application's `DeliveryQueue`: one message per attempt, delayed until it is due."""

    def __init__(self, actor: dramatiq.Actor, clock: Callable[[], datetime]) -> None:
        self.actor = actor
        self.clock = clock

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        try:
            self.actor.send_with_options(
                args=(number, attempt), delay=delay_ms(due_at, self.clock())
            )
        except (redis.RedisError, BrokerError, OSError) as error:
            raise QueueUnavailable(f"{type(error).__name__}: {error}") from error


class ErasureFence:
    """Holds the webhooks projection's position lock, which erasure takes with every other.

    Inside it, a save to the Webhooks store cannot interleave with an erasure. It is
    re-entrant in a thread (the dispatcher's batch saves through the application,
    which takes it too) and hands out the locked read-model connection.
    """

    def __init__(self, projections: ProjectionEngine, name: str = WebhooksProjection.name) -> None:
        self.projections = projections
        self.name = name
        self._held = threading.local()

    @contextmanager
    def __call__(self) -> Iterator[Connection]:
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.projections.locked([self.name]) as (conn, _positions):
            self._held.conn = conn
            try:
                yield conn
            finally:
                self._held.conn = None


class WebhookEraser:
    """A forgetter for `StoreEraser`: the account's webhooks and all their deliveries."""

    def __init__(self, webhooks: Webhooks, rows: EventStoreRows) -> None:
        self.webhooks = webhooks
        self.rows = rows

    def __call__(self, conn: Connection, scope: ErasureScope) -> None:
        ids, ranges = self.webhooks.erasure_targets(scope.account_id)
        self.rows.delete(conn, originator_ids=ids, ranges=ranges)


def _host_resolver(host: str) -> list[str]:
    return system_resolver(host, 443)


def wire_webhooks(
    settings: Settings,
    webhooks: Webhooks,
    configuration: SiteSource,
    tracking: Tracking,
    projections: ProjectionEngine,
    broker: dramatiq.Broker,
) -> tuple[WebhookDispatch, WebhookSender, WebhookEraser]:
    """Connect the Webhooks application (made with the other stores) to everything else."""
    fence = ErasureFence(projections)
    webhooks.fence = fence
    webhooks.resolver = _host_resolver
    sender = WebhookSender(webhooks, SafeHttpClient(webhook_policy(settings)))
    actor = declare_webhook_actor(broker, sender.attempt)
    webhooks.queue = DramatiqDeliveryQueue(actor, lambda: webhooks.clock())
    dispatch = WebhookDispatch(
        webhooks=webhooks,
        followed=[Followed(tracking, TRACKING_TRIGGERS)],
        projections=projections,
        configuration=configuration,
        fence=fence,
    )
    dispatch.setup()
    projections.followers.append(dispatch)
    eraser = WebhookEraser(webhooks, EventStoreRows(settings, WEBHOOKS_STORE, webhooks.name))
    return dispatch, sender, eraser
