"""The webhooks application: webhooks, their deliveries, and the dispatcher's position.

Webhooks and deliveries live in an event store of their own ("webhooks"), so that a
retry storm never contends with hits or settings. Its recorder is a process recorder:
the dispatcher (application/webhook_dispatch.py) saves the deliveries it schedules
and its position in the Tracking log in one transaction (`record_processed`).

Every save happens inside the erasure fence and only for an account that still
exists: a delivery attempt that ends while its account is being erased can never
write its outcome back after the erasure.
"""

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent

# The library's `Tracking` is a position in a followed log, not our Tracking application.
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Recording
from eventsourcing.persistence import Tracking as LogPosition
from eventsourcing.utils import get_topic

from application.base import Created, EventSourcedApplication
from domain.addresses import AddressPolicy, literal_address
from domain.deliveries import Delivery, random_delivery_id, webhook_id_range
from domain.errors import DomainError, NotFound
from domain.webhook_messages import sample_payload
from domain.webhooks import EVENTS, Webhook, WebhookBook

log = logging.getLogger("tinylytics.webhooks")

Clock = Callable[[], datetime]
Fence = Callable[[], AbstractContextManager[Any]]
Resolver = Callable[[str], list[str]]  # a host name to its addresses; OSError when unknown

PLUS_ONLY = "Webhooks are available to Plus accounts"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountDirectory(Protocol):
    """Who owns what: the configuration application."""

    def get_account(self, account_id: UUID) -> Any: ...


class QueueUnavailable(Exception):
    """The queue could not take a message (its broker is down). The delivery is saved
    and due: the dispatcher's sweep queues it once it is overdue."""


class DeliveryQueue(Protocol):
    """Runs attempt `attempt` of delivery `number` at `due_at` (Dramatiq in production)."""

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        """Raises QueueUnavailable when the message cannot be queued now."""
        ...


@dataclass(frozen=True)
class WebhookCreated(Created):
    secret: str


@dataclass(frozen=True)
class DeliveryRef:
    """A delivery's stable integer id (its `X-Tinylytics-Delivery`) and uuid."""

    id: int
    uuid: UUID
    attempt: int  # the number of the attempt now due


@dataclass(frozen=True)
class WebhookChanges:
    """What an owner may change at once; None leaves it as it is."""

    url: str | None = None
    events: object | None = None
    platform: str | None = None
    wrap: bool | None = None
    active: bool | None = None


class Webhooks(EventSourcedApplication):
    name = "Webhooks"

    def __init__(
        self,
        env: dict[str, str],
        accounts: AccountDirectory,
        policy: AddressPolicy,
        queue: DeliveryQueue,
        fence: Fence,
        base_url: str | None = None,
        clock: Clock = utcnow,
        resolver: Resolver | None = None,
        listeners: Sequence[Callable[[], None]] = (),
    ) -> None:
        """`fence` is held around every save (the erasure fence, infrastructure/webhooks.py);
        `resolver`, when given, checks the addresses a webhook's host name resolves to."""
        super().__init__(env=env, listeners=listeners)
        self.accounts = accounts
        self.policy = policy
        self.queue = queue
        self.fence = fence
        self.base_url = base_url
        self.clock = clock
        self.resolver = resolver

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder keeps a tracking table beside the events: the dispatcher's
        # position is written in the same transaction as the deliveries it schedules.
        return self.factory.process_recorder()

    @property
    def tracker(self) -> ProcessRecorder:
        return cast(ProcessRecorder, self.recorder)

    # -- saving ------------------------------------------------------------------------
    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        with self.fence():
            for owner in {o.owner_id for o in objs if o is not None and hasattr(o, "owner_id")}:
                self.accounts.get_account(owner)  # NotFound once the account is erased
            return super().save(*objs, **kwargs)

    def position(self, source: str) -> int:
        """How far the dispatcher has processed the log of the application `source`."""
        return self.tracker.max_tracking_id(source) or 0

    def record_processed(
        self, deliveries: Sequence[Delivery], tracking: LogPosition
    ) -> list[Recording[UUID]] | None:
        """Save scheduled deliveries and the log position they were made up to, at once.

        None when that position is already recorded: another dispatcher processed the
        same notifications first. Deliveries that exist already (the position was moved
        back, a replay) are left out: a delivery is only ever scheduled once.
        """
        events = [e for d in deliveries for e in d.collect_events()]
        with self.fence():
            while True:
                processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
                processing.collect_events(*events)
                try:
                    recordings = self._record(processing)
                    break
                except IntegrityError:
                    if self.position(tracking.application_name) >= tracking.notification_id:
                        return None
                    fresh = [e for e in events if not self._exists(e.originator_id)]
                    if len(fresh) == len(events):
                        raise
                    events = fresh
        for listener in self._listeners:
            listener()
        return recordings

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def start_position(self, source: str, head: int) -> None:
        """Begin following a log at its head, unless a position is recorded already:
        what was recorded before webhooks existed is never sent."""
        if self.tracker.max_tracking_id(source) is None:
            # Another process may have started it meanwhile: then its position stands.
            with suppress(IntegrityError):
                self.tracker.insert_tracking(LogPosition(source, head))

    # -- webhooks ----------------------------------------------------------------------
    def create_webhook(
        self,
        owner_id: UUID,
        url: str,
        events: object,
        platform: str | None = None,
        wrap: bool = False,
    ) -> WebhookCreated:
        owner = self.accounts.get_account(owner_id)
        webhook = Webhook.register(
            owner_id=owner.id,
            url=url,
            events=events,
            policy=self.policy,
            at=self.clock(),
            platform=platform,
            wrap=wrap,
        )
        self._check_resolved(webhook.url)
        book = self.book_of(owner.id) or WebhookBook.open(owner.id)
        book.add(webhook.id)
        created = self.created(self.save(webhook, book), webhook)
        return WebhookCreated(id=created.id, uuid=created.uuid, secret=webhook.secret)

    def _check_resolved(self, url: str) -> None:
        """Refuse a host name that resolves only to refused addresses.

        A name that does not resolve now is accepted: each delivery resolves it again
        and checks the address it connects to.
        """
        host = urlsplit(url).hostname or ""
        if self.resolver is None or literal_address(host) is not None:
            return
        if self.policy.host_allowed(host):
            return
        try:
            addresses = self.resolver(host)
        except (OSError, UnicodeError):
            return
        refusals = []
        for address in addresses:
            ip = literal_address(address)
            reason = self.policy.refusal(ip, host) if ip is not None else "not an address"
            if reason is None:
                return
            refusals.append(f"{host} resolves to {address}, {reason}")
        if refusals:
            raise DomainError(f"Webhook URL is not allowed: {refusals[0]}")

    def book_of(self, owner_id: UUID) -> WebhookBook | None:
        try:
            book: Any = self.repository.get(WebhookBook.id_for(owner_id))
        except AggregateNotFoundError:
            return None
        return book if isinstance(book, WebhookBook) else None

    def get_webhook(
        self, webhook_id: UUID, owner_id: UUID | None = None, deleted: bool = False
    ) -> Webhook:
        """The webhook; another account's, or a deleted one, is not found."""
        webhook = self.get(webhook_id, Webhook, "Webhook")
        if (owner_id is not None and webhook.owner_id != owner_id) or (
            webhook.is_deleted and not deleted
        ):
            raise NotFound("Webhook not found")
        return webhook

    def webhook_uuid(self, number: int) -> UUID:
        return self.resolve_id(number, Webhook, "Webhook")

    def webhook_by_number(self, number: int, owner_id: UUID | None = None) -> Webhook:
        return self.get_webhook(self.webhook_uuid(number), owner_id)

    def webhooks_of(self, owner_id: UUID) -> list[Webhook]:
        """The account's webhooks, oldest first (deleted ones left out)."""
        book = self.book_of(owner_id)
        return [self.get_webhook(i) for i in book.webhook_ids] if book else []

    def change_webhook(self, webhook_id: UUID, changes: WebhookChanges) -> Webhook:
        """Apply every change or none: a bad value leaves the webhook as it was."""
        webhook = self.get_webhook(webhook_id)
        now = self.clock()
        if changes.url is not None:
            webhook.change_url(changes.url, self.policy)
            self._check_resolved(webhook.url)
        if changes.events is not None:
            webhook.select_events(changes.events, now)
        if changes.platform is not None:
            webhook.change_platform(changes.platform)
        if changes.wrap is not None:
            webhook.set_wrap(changes.wrap)
        if changes.active is True:
            webhook.activate(now)
        elif changes.active is False:
            webhook.disable("Disabled by its owner")
        self.save(webhook)
        return webhook

    def rotate_secret(self, webhook_id: UUID) -> Webhook:
        webhook = self.get_webhook(webhook_id)
        webhook.rotate_secret(self.clock())
        self.save(webhook)
        return webhook

    def disable_webhook(self, webhook_id: UUID, reason: str = "Disabled by its owner") -> Webhook:
        webhook = self.get_webhook(webhook_id)
        webhook.disable(reason)
        self.save(webhook)
        return webhook

    def delete_webhook(self, webhook_id: UUID) -> Webhook:
        """Stop it for good: pending deliveries give up at their next attempt."""
        webhook = self.get_webhook(webhook_id)
        webhook.delete()
        book = self.book_of(webhook.owner_id)
        if book is not None:
            book.remove(webhook.id)
        self.save(webhook, book)
        return webhook

    # -- deliveries --------------------------------------------------------------------
    def send_test(
        self, webhook_id: UUID, event_type: str | None = None, enqueue: bool = True
    ) -> DeliveryRef:
        """Schedule sample data (`"test": true`) through the path live deliveries take.

        A disabled webhook can be tested (to check an endpoint before turning it on).
        """
        webhook = self.get_webhook(webhook_id)
        self.require_plus(webhook.owner_id)
        event_type = event_type or webhook.events[0]
        if event_type not in EVENTS:
            raise DomainError(f"Unknown event {event_type!r} (known: {', '.join(EVENTS)})")
        now = self.clock()
        delivery = Delivery.schedule(
            id=random_delivery_id(webhook.id),
            webhook_id=webhook.id,
            owner_id=webhook.owner_id,
            event_type=event_type,
            payload=sample_payload(event_type, now, self.base_url),
            at=now,
            is_test=True,
        )
        created = self.created(self.save(delivery), delivery)
        ref = DeliveryRef(id=created.id, uuid=delivery.id, attempt=1)
        if enqueue:
            self._enqueue(ref, now)
        return ref

    def _enqueue(self, ref: DeliveryRef, now: datetime) -> None:
        try:
            self.queue.enqueue(ref.id, ref.attempt, now)
        except QueueUnavailable as error:
            log.warning(
                "webhook delivery %d is saved but not queued (%s); the sweep will", ref.id, error
            )

    def require_plus(self, owner_id: UUID) -> None:
        if not self.accounts.get_account(owner_id).is_subscribed:
            raise DomainError(PLUS_ONLY)

    def delivery_uuid(self, number: int) -> UUID:
        """The uuid of the delivery whose `Scheduled` event has this notification id."""
        if number < 1 or number > 2**62:
            raise NotFound("Delivery not found")
        found = self.recorder.select_notifications(start=number, stop=number, limit=1)
        if not found or found[0].id != number or found[0].topic != _SCHEDULED:
            raise NotFound("Delivery not found")
        originator = found[0].originator_id
        return originator if isinstance(originator, UUID) else UUID(str(originator))

    def get_delivery(self, delivery_id: UUID, owner_id: UUID | None = None) -> Delivery:
        delivery = self.get(delivery_id, Delivery, "Delivery")
        if owner_id is not None and delivery.owner_id != owner_id:
            raise NotFound("Delivery not found")
        return delivery

    def delivery_by_number(self, number: int, owner_id: UUID | None = None) -> Delivery:
        return self.get_delivery(self.delivery_uuid(number), owner_id)

    def retry_delivery(
        self, number: int, owner_id: UUID | None = None, enqueue: bool = True
    ) -> DeliveryRef:
        """Start a failed delivery again, now, with a new round of attempts."""
        delivery = self.delivery_by_number(number, owner_id)
        webhook = self.get_webhook(delivery.webhook_id, deleted=True)
        if webhook.is_deleted:
            raise DomainError("The webhook of this delivery is deleted")
        if not webhook.is_active and not delivery.is_test:
            raise DomainError("The webhook is disabled; enable it before retrying")
        self.require_plus(delivery.owner_id)
        now = self.clock()
        delivery.request_retry(now)
        self.save(delivery)
        ref = DeliveryRef(id=number, uuid=delivery.id, attempt=delivery.attempts + 1)
        if enqueue:
            self._enqueue(ref, now)
        return ref

    # -- erasure -----------------------------------------------------------------------
    def erasure_targets(self, owner_id: UUID) -> tuple[list[UUID], list[tuple[UUID, UUID]]]:
        """The ids and id ranges whose events erasing the account removes from this store:
        its book, and each webhook it ever had with all of that webhook's deliveries."""
        book = self.book_of(owner_id)
        if book is None:
            return [], []
        return [book.id], [webhook_id_range(w) for w in book.all_webhook_ids]

    def site_deliveries(self, owner_id: UUID, site_ids: Sequence[UUID]) -> list[UUID]:
        """The ids of the owner's deliveries about these sites, from the store itself (the
        read model may not have them yet): erasing a site erases them, not the webhooks."""
        book = self.book_of(owner_id)
        if book is None or not site_ids:
            return []
        prefixes = {w.bytes[:8] for w in book.all_webhook_ids}
        wanted = set(site_ids)
        found: list[UUID] = []
        start = 1
        while True:
            batch = self.recorder.select_notifications(
                start=start, limit=_SCAN_BATCH, topics=[_SCHEDULED]
            )
            for notification in batch:
                originator = notification.originator_id
                uuid = originator if isinstance(originator, UUID) else UUID(str(originator))
                if uuid.bytes[:8] in prefixes:
                    scheduled: Any = self.mapper.to_domain_event(notification)
                    if scheduled.site_id in wanted:
                        found.append(uuid)
            if len(batch) < _SCAN_BATCH:
                return found
            start = batch[-1].id + 1


_SCHEDULED = get_topic(Delivery) + ".Scheduled"
_SCAN_BATCH = 1000
