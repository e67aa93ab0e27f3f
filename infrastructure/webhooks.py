"""Webhook adapters: the Dramatiq delivery queue, the erasure fence, the store's eraser.

infrastructure/bootstrap.py makes them and wires them, with the SSRF-safe HTTP client,
the sender and its actor (infrastructure/actors.py) and the dispatcher
(application/webhook_dispatch.py), each given what it needs when it is made.
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
from application.webhooks import QueueUnavailable, Webhooks
from domain.addresses import AddressPolicy
from infrastructure.actors import DELIVER_WEBHOOK, WEBHOOK_QUEUE
from infrastructure.erasure import EventStoreRows
from infrastructure.safe_http import system_resolver
from infrastructure.settings import Settings
from projections.runner import PositionLocks
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
    """The application's `DeliveryQueue`: one message per attempt, delayed until it is due.

    It sends to the `deliver_webhook` actor by name, on the broker, rather than through
    the actor object: the actor calls the sender, the sender needs the Webhooks
    application, and the application needs this queue. Sending by name breaks that
    circle with no collaborator set after construction; the actor is declared on the
    same broker right after the sender is made (infrastructure/bootstrap.py), before
    anything can be queued.
    """

    def __init__(self, broker: dramatiq.Broker, clock: Callable[[], datetime]) -> None:
        self.broker = broker
        self.clock = clock

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        message: dramatiq.Message[None] = dramatiq.Message(
            queue_name=WEBHOOK_QUEUE,
            actor_name=DELIVER_WEBHOOK,
            args=(number, attempt),
            kwargs={},
            options={},
        )
        try:
            self.broker.enqueue(message, delay=delay_ms(due_at, self.clock()))
        except (redis.RedisError, BrokerError, OSError) as error:
            raise QueueUnavailable(f"{type(error).__name__}: {error}") from error


class ErasureFence:
    """Holds the webhooks projection's position lock, which erasure takes with every other.

    Inside it, a save to the Webhooks store cannot interleave with an erasure. It is
    re-entrant in a thread (the dispatcher's batch saves through the application,
    which takes it too) and hands out the locked read-model connection.
    """

    def __init__(self, locks: PositionLocks, name: str = WebhooksProjection.name) -> None:
        self.locks = locks
        self.name = name
        self._held = threading.local()

    @contextmanager
    def __call__(self) -> Iterator[Connection]:
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.locks.locked([self.name]) as (conn, _positions):
            self._held.conn = conn
            try:
                yield conn
            finally:
                self._held.conn = None


class WebhookEraser:
    """A forgetter for `StoreEraser`: the account's webhooks and all their deliveries, or,
    when only sites go, the deliveries about those sites."""

    def __init__(self, webhooks: Webhooks, rows: EventStoreRows) -> None:
        self.webhooks = webhooks
        self.rows = rows

    def __call__(self, conn: Connection, scope: ErasureScope) -> None:
        if not scope.whole_account:
            ids = self.webhooks.site_deliveries(scope.account_id, scope.site_ids)
            self.rows.delete(conn, originator_ids=ids)
            return
        ids, ranges = self.webhooks.erasure_targets(scope.account_id)
        self.rows.delete(conn, originator_ids=ids, ranges=ranges)


def host_resolver(host: str) -> list[str]:
    """The addresses a webhook's host name resolves to, for the check when it is saved."""
    return system_resolver(host, 443)
