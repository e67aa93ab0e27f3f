"""The webhook dispatcher: a process manager from domain events to scheduled deliveries.

It follows the Tracking log (later others: uptime monitors) with a position of its
own, kept in the Webhooks store's tracking table, never in `projection_positions`:
`projections rebuild` neither sees nor moves it, so a rebuild sends nothing. Each
batch, under the erasure fence:

1. reads the position, then the next notifications after it;
2. turns the ones a trigger knows (a live hit, a kudo) into occurrences;
3. finds, per site owner on Plus, the active webhooks that asked for that event
   since before it happened;
4. saves one `Delivery` per (webhook, notification), with an id derived from both,
   together with the new position, in one transaction of the Webhooks store;
5. only then hands each new delivery to the queue (Dramatiq).

Processing a notification twice can therefore never schedule a second delivery:
either the position moved with the deliveries (and the batch is not read again), or
a replayed batch derives the same ids and the existing deliveries are left out. A
message the queue cannot take (Redis is down) is kept and offered again at each turn
until the queue takes it, so an outage delays deliveries but loses none. A crash
between 4 and 5 leaves deliveries that are due but not queued; the sweep queues
every delivery overdue by more than `SWEEP_GRACE`.

It reads no table itself: what it needs from the read models (what a payload says of
a site, which deliveries are overdue) comes through the `DispatchReads` port, which
`projections.webhooks.WebhookReads` satisfies. The webhooks themselves (which are
active, which events they asked for since when) come from the Webhooks application,
the truth, never a read model that may lag. The projection runner runs it as a
follower (`follow`), given to it when both are made (infrastructure/bootstrap.py).

Extension point: a trigger maps one notification to an `Occurrence` (the event type,
the site, when it happened and the payload's own keys). `TRACKING_TRIGGERS` knows
`Hit.Recorded` and `Kudo.Given`/`GivenAgain`; uptime monitors will add a `Followed`
log of their own (their application) with triggers for `monitor_down` / `monitor_up`
(payload keys `monitor` and `downtime`; `domain/webhook_messages.py` already renders
them, Discord embeds included). Its position is tracked under that log's name.
"""

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.persistence import Tracking as LogPosition  # a position, not our app

from application.webhooks import Webhooks
from domain.deliveries import Delivery, delivery_id
from domain.errors import NotFound
from domain.text import clean_event
from domain.webhook_messages import (
    analytics_event_payload,
    event_payload,
    hit_payload,
    insight_payload,
    kudo_payload,
    site_payload,
)
from domain.webhooks import NEW_EVENT, NEW_HIT, NEW_INSIGHT, NEW_KUDO, Webhook

log = logging.getLogger("tinylytics.webhooks")

HIT_TOPIC = "domain.hits:Hit.Recorded"
CUSTOM_EVENT_TOPIC = "domain.custom_events:CustomEvent.Recorded"
KUDO_GIVEN_TOPIC = "domain.kudos:Kudo.Given"
KUDO_GIVEN_AGAIN_TOPIC = "domain.kudos:Kudo.GivenAgain"
# What is accepted live sends webhooks; anything recorded another way (an import, a
# seed) must use a channel of its own, which is not listed here.
LIVE_CHANNELS = frozenset({"script", "pixel", "api", "webmention"})

BATCH_SIZE = 500
SWEEP_EVERY = 60.0  # seconds between sweeps for deliveries whose message was lost
SWEEP_GRACE = timedelta(minutes=5)
# Messages kept while the queue is down, at most: beyond, the sweep finds the rest.
UNQUEUED_LIMIT = 100_000
WARN_EVERY = 60.0  # seconds between warnings while messages cannot be queued


@dataclass(frozen=True)
class Occurrence:
    """Something that happened that webhooks may be told of."""

    event_type: str
    site_id: UUID
    happened_at: datetime
    position: int  # its notification id: with the webhook, the delivery's identity
    parts: dict[str, Any]  # the payload's own keys, e.g. {"hit": {...}}


Trigger = Callable[[Notification, Application[Any]], Occurrence | None]


def _utc(moment: datetime) -> datetime:
    """Events decoded from SQLite may carry naive times; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hit_trigger(notification: Notification, app: Application[Any]) -> Occurrence | None:
    """`new_hit` for each accepted live hit: collector, pixel, API, each row of a batch."""
    hit: Any = clean_event(app.mapper.to_domain_event(notification))
    if getattr(hit, "channel", None) not in LIVE_CHANNELS:
        return None
    return Occurrence(
        NEW_HIT,
        hit.site_id,
        _utc(hit.timestamp),
        notification.id,
        {"hit": hit_payload(hit, notification.id)},
    )


def kudo_trigger(notification: Notification, app: Application[Any]) -> Occurrence | None:
    """`new_kudo` for each kudo given (or given again after a withdrawal): browser, API
    or verified Webmention like. A withdrawal sends nothing. The kudo's id is the
    notification id of the event that gave it, as the kudos API shows it."""
    given: Any = clean_event(app.mapper.to_domain_event(notification))
    if getattr(given, "channel", None) not in LIVE_CHANNELS:
        return None
    kudo: Any = app.repository.get(given.originator_id, version=given.originator_version)
    at = _utc(given.timestamp)
    payload = kudo_payload(notification.id, kudo.uid, given.path, at)
    return Occurrence(NEW_KUDO, kudo.site_id, at, notification.id, {"kudo": payload})


def custom_event_trigger(notification: Notification, app: Application[Any]) -> Occurrence | None:
    """`new_event` for each accepted live custom event: collector, API, each batch row."""
    item: Any = clean_event(app.mapper.to_domain_event(notification))
    if getattr(item, "channel", None) not in LIVE_CHANNELS:
        return None
    return Occurrence(
        NEW_EVENT,
        item.site_id,
        _utc(item.timestamp),
        notification.id,
        {"analytics_event": analytics_event_payload(item, notification.id)},
    )


TRACKING_TRIGGERS: Mapping[str, Trigger] = {
    HIT_TOPIC: hit_trigger,
    CUSTOM_EVENT_TOPIC: custom_event_trigger,
    KUDO_GIVEN_TOPIC: kudo_trigger,
    KUDO_GIVEN_AGAIN_TOPIC: kudo_trigger,
}


INSIGHT_TOPIC = "domain.insights:SiteInsights.Generated"


def insight_trigger(notification: Notification, app: Application[Any]) -> Occurrence | None:
    """`new_insight` for each insight generated (docs/webhooks-new-insight.md); its id is
    the notification id of its event, as the insights API shows it."""
    generated: Any = app.mapper.to_domain_event(notification)
    insights: Any = app.repository.get(
        generated.originator_id, version=generated.originator_version
    )
    at = _utc(generated.generated_at)
    stored = {
        "insights_for_date": generated.for_day,
        "generated_at": at,
        "summary": generated.summary,
        "traffic_patterns": generated.traffic_patterns,
        "best_content": generated.best_content,
        "recommendations": generated.recommendations,
        "signals": list(generated.signals),
    }
    payload = insight_payload(notification.id, stored)
    return Occurrence(NEW_INSIGHT, insights.site_id, at, notification.id, {"insight": payload})


# The insights store's log (application/insights.py).
INSIGHTS_TRIGGERS: Mapping[str, Trigger] = {INSIGHT_TOPIC: insight_trigger}


@dataclass(frozen=True)
class Followed:
    """A log the dispatcher follows, and what in it can trigger a webhook."""

    app: Application[Any]
    triggers: Mapping[str, Trigger]

    @property
    def name(self) -> str:
        return self.app.name


@dataclass(frozen=True)
class SiteCard:
    """What a webhook payload says of a site (`site_payload`), and whose it is."""

    number: int
    owner_id: UUID
    name: str
    url: str
    uid: str  # the dashboard's address for the site (`/sites/<uid>`)


@dataclass(frozen=True)
class DueDelivery:
    """A pending delivery and the attempt it waits for."""

    number: int
    attempts: int  # made so far: the next message is for attempt `attempts + 1`
    next_attempt_at: datetime


class DispatchReads(Protocol):
    """What the dispatcher reads from the read models (projections/webhooks.py)."""

    def site_cards(self, site_ids: Collection[UUID]) -> dict[UUID, SiteCard]:
        """The sites the sites read model has, of these."""
        ...

    def overdue(self, cutoff: datetime, limit: int = 500) -> list[DueDelivery]:
        """Pending deliveries whose next attempt was due before `cutoff`, oldest first."""
        ...


class SiteSource(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...


class NotReady(Exception):
    """A site is in the event store but not yet in the sites read model: try again later."""


@dataclass(frozen=True)
class DispatchStatus:
    name: str
    source: str
    position: int
    head: int
    lag: int


Fence = Callable[[], AbstractContextManager[object]]


@dataclass
class WebhookDispatch:
    webhooks: Webhooks
    followed: Sequence[Followed]
    reads: DispatchReads
    configuration: SiteSource
    fence: Fence
    batch_size: int = BATCH_SIZE
    sweep_every: float = SWEEP_EVERY
    sweep_grace: timedelta = SWEEP_GRACE
    name: str = "webhook_dispatch"
    _queued: dict[tuple[int, int], datetime] = field(default_factory=dict)
    _unqueued: dict[tuple[int, int], datetime] = field(default_factory=dict)
    _next_warning: float = 0.0
    _next_sweep: float = 0.0
    _resume_at: float = 0.0
    _failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set up ------------------------------------------------------------------------
    def setup(self) -> None:
        """Start following each log at its head the first time: history is never sent."""
        for followed in self.followed:
            head = followed.app.recorder.max_notification_id() or 0
            self.webhooks.start_position(followed.name, head)

    # -- running -----------------------------------------------------------------------
    def follow(self) -> None:
        """One turn of the projection runner's loop: catch up, sweep now and then.

        Never raises: a failure is logged and the dispatcher waits (longer each time)
        before it tries again, without holding up the projections beside it.
        """
        now = time.monotonic()
        if now < self._resume_at:
            return
        try:
            self.requeue()
            self.catch_up()
            if now >= self._next_sweep:
                self.sweep()
                self._next_sweep = now + self.sweep_every
            if self._failures:
                log.warning("webhook dispatch recovered after %d failure(s)", self._failures)
            self._failures = 0
        except NotReady:
            pass  # the sites projection is a moment behind; the next turn finds the site
        except Exception:
            self._failures += 1
            log.exception("webhook dispatch failed (failure %d)", self._failures)
            self._resume_at = now + min(60.0, 0.5 * 2 ** min(self._failures, 7))

    def catch_up(self) -> int:
        """Process every log until it has read all that was recorded when it started."""
        done = 0
        with self._lock:
            for followed in self.followed:
                while True:
                    moved = self.step(followed)
                    done += moved
                    # A batch that was not full reached the head: under a steady stream,
                    # stepping again at once would process a few events a batch.
                    if moved < self.batch_size:
                        break
        return done

    def step(self, followed: Followed) -> int:
        """Process one batch of one log; returns how many notifications it moved past."""
        app = followed.app
        if self.webhooks.position(followed.name) >= (app.recorder.max_notification_id() or 0):
            return 0  # nothing new: no need for the lock (the position is re-read under it)
        with self.fence():
            position = self.webhooks.position(followed.name)
            notifications = app.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return 0
            last = notifications[-1].id
            occurrences: list[Occurrence] = []
            for notification in notifications:
                trigger = followed.triggers.get(notification.topic)
                if trigger is not None:
                    found = trigger(notification, app)
                    if found is not None:
                        occurrences.append(found)
            deliveries = self._plan(followed.name, occurrences)
            recordings = self.webhooks.record_processed(
                deliveries, LogPosition(followed.name, last)
            )
        if recordings is None:
            return 0  # another dispatcher processed this batch
        for recording in recordings:
            scheduled: Any = recording.domain_event
            self._queue(recording.notification.id, 1, scheduled.at)
        return last - position

    # -- planning ----------------------------------------------------------------------
    def _plan(self, source: str, occurrences: list[Occurrence]) -> list[Delivery]:
        if not occurrences:
            return []
        sites = self._sites({o.site_id for o in occurrences})
        hooks = {owner: self._webhooks_of(owner) for owner in {s.owner_id for s in sites.values()}}
        now = self.webhooks.clock()
        base_url = self.webhooks.base_url
        deliveries = []
        for o in occurrences:
            site = sites.get(o.site_id)
            if site is None:
                continue
            for webhook in hooks.get(site.owner_id, []):
                if not webhook.accepts(o.event_type, o.happened_at):
                    continue
                payload = event_payload(
                    o.event_type,
                    now,
                    site_payload(site.number, site.uid, site.name, site.url, base_url),
                    **o.parts,
                )
                deliveries.append(
                    Delivery.schedule(
                        id=delivery_id(webhook.id, source, o.position),
                        webhook_id=webhook.id,
                        owner_id=webhook.owner_id,
                        event_type=o.event_type,
                        payload=payload,
                        at=now,
                        site_id=o.site_id,
                        source=source,
                        position=o.position,
                    )
                )
        return deliveries

    def _webhooks_of(self, owner_id: UUID) -> list[Webhook]:
        """The owner's active webhooks, if the owner is on Plus; else none."""
        book = self.webhooks.book_of(owner_id)
        if book is None or not book.webhook_ids:
            return []
        try:
            if not self.webhooks.accounts.get_account(owner_id).is_subscribed:
                return []
        except NotFound:
            return []
        found = []
        for webhook_id in book.webhook_ids:
            try:
                webhook = self.webhooks.get_webhook(webhook_id)
            except NotFound:
                continue
            if webhook.is_active:
                found.append(webhook)
        return found

    def _sites(self, site_ids: set[UUID]) -> dict[UUID, SiteCard]:
        sites = self.reads.site_cards(site_ids)
        for missing in site_ids - set(sites):
            try:
                self.configuration.get_site(missing)
            except NotFound:
                continue  # erased: nothing to tell anyone
            raise NotReady(f"site {missing} is not in the sites read model yet")
        return sites

    # -- queueing ----------------------------------------------------------------------
    def _queue(self, number: int, attempt: int, due_at: datetime) -> bool:
        key = (number, attempt)
        try:
            self.webhooks.queue.enqueue(number, attempt, due_at)
        except Exception as error:
            # Saved and due: offered again at each turn (and found by the sweep anyway).
            if key not in self._unqueued and len(self._unqueued) < UNQUEUED_LIMIT:
                self._unqueued[key] = due_at
            self._warn_unqueued(error)
            return False
        self._unqueued.pop(key, None)
        self._queued[key] = self.webhooks.clock()
        return True

    def _warn_unqueued(self, error: Exception) -> None:
        now = time.monotonic()
        if now < self._next_warning:
            return
        self._next_warning = now + WARN_EVERY
        log.warning(
            "webhook deliveries cannot be queued (%s: %s): %d wait, and are queued as soon "
            "as the queue takes messages again",
            type(error).__name__,
            error,
            len(self._unqueued),
        )

    def requeue(self) -> int:
        """Offer the queue the messages it could not take, oldest first; stop at the
        first it refuses (it is still down). Returns how many it took."""
        taken = 0
        for (number, attempt), due_at in list(self._unqueued.items()):
            if not self._queue(number, attempt, due_at):
                break
            taken += 1
        if taken:
            log.info("queued %d webhook deliveries that had waited for the queue", taken)
            if not self._unqueued:
                self._next_warning = 0.0
        return taken

    def sweep(self) -> int:
        """Queue pending deliveries overdue by more than the grace (their message was lost:
        a restart of the embedded server, a crash before queueing, a CLI with no worker)."""
        now = self.webhooks.clock()
        cutoff = now - self.sweep_grace
        for key, at in list(self._queued.items()):
            if at < cutoff:
                del self._queued[key]
        queued = 0
        for due in self.reads.overdue(cutoff):
            key = (due.number, due.attempts + 1)
            if key in self._queued:
                continue
            log.info("queueing overdue webhook delivery %d (attempt %d)", *key)
            self._queue(key[0], key[1], now)
            queued += 1
        return queued

    # -- status ------------------------------------------------------------------------
    def status(self) -> list[DispatchStatus]:
        result = []
        for followed in self.followed:
            position = self.webhooks.position(followed.name)
            head = followed.app.recorder.max_notification_id() or 0
            result.append(
                DispatchStatus(self.name, followed.name, position, head, max(0, head - position))
            )
        return result
