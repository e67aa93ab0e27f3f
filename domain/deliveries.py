"""The Delivery aggregate: one event sent (and, when refused, sent again) to one webhook.

A delivery is scheduled once, then attempted until an attempt succeeds (any 2xx),
its retries are used up, or the webhook is gone. webhooks.md's schedule, read in
docs/decisions/0004-webhook-deliveries.md: the first attempt goes at once; after the
n-th failed attempt the next one waits `RETRY_DELAYS[n - 1]`; the schedule lists ten
waits, so ten retries follow the first attempt (eleven requests at most, the last
after the 12-hour wait) and the 11th failed attempt ends the delivery. A manual retry
starts a new round.

A live delivery's id is derived from its webhook and the notification that caused it,
so that processing the same notification twice can only ever make the same delivery.
Its first 8 bytes are the webhook's: erasing a webhook's deliveries is one range
delete on the event store's key, as for a site's hits.
"""

import hashlib
import os
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.text import clean_multiline

RETRY_DELAYS: tuple[timedelta, ...] = (
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
)
RETRIES = len(RETRY_DELAYS)
MAX_FAILED_ATTEMPTS = RETRIES + 1  # the first attempt, then one retry per wait
# A receiver's Retry-After is honoured when it asks for more than the schedule, up to this.
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_RESPONSE_BODY = 4096  # characters of a response body kept per attempt

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def retry_delay(failures: int, retry_after: timedelta | None = None) -> timedelta | None:
    """How long to wait after the `failures`-th failed attempt of a round; None: give up."""
    if failures < 1:
        raise ValueError("retry_delay counts failures from 1")
    if failures >= MAX_FAILED_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[failures - 1]
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER)
    return delay


def delivery_id(webhook_id: UUID, source: str, position: int) -> UUID:
    """The id of the delivery to this webhook caused by one notification of one log."""
    digest = hashlib.blake2b(
        webhook_id.bytes + f"{source}\x00{position}".encode(), digest_size=8
    ).digest()
    return UUID(bytes=webhook_id.bytes[:8] + digest)


def random_delivery_id(webhook_id: UUID) -> UUID:
    return UUID(bytes=webhook_id.bytes[:8] + os.urandom(8))


def webhook_id_range(webhook_id: UUID) -> tuple[UUID, UUID]:
    """The lowest and highest ids the webhook's deliveries (and the webhook) can have."""
    prefix = webhook_id.bytes[:8]
    return UUID(bytes=prefix + b"\x00" * 8), UUID(bytes=prefix + b"\xff" * 8)


def clip_body(text: str | None) -> str | None:
    """What a receiver answered, as kept: its own text, so cleaned (domain/text.py)."""
    if text is None:
        return None
    return clean_multiline(text[:MAX_RESPONSE_BODY])


class Delivery(Aggregate):
    """A webhook event: its payload, and every attempt to deliver it."""

    @classmethod
    def schedule(
        cls,
        id: UUID,
        webhook_id: UUID,
        owner_id: UUID,
        event_type: str,
        payload: dict[str, Any],
        at: datetime,
        site_id: UUID | None = None,
        source: str | None = None,
        position: int | None = None,
        is_test: bool = False,
    ) -> "Delivery":
        if id.bytes[:8] != webhook_id.bytes[:8]:
            raise ValueError("a delivery's id starts with its webhook's")
        return cls(
            id=id,
            webhook_id=webhook_id,
            owner_id=owner_id,
            site_id=site_id,
            event_type=event_type,
            payload=payload,
            source=source,
            position=position,
            is_test=is_test,
            at=at,
        )

    @event("Scheduled")
    def __init__(
        self,
        id: UUID,
        webhook_id: UUID,
        owner_id: UUID,
        site_id: UUID | None,
        event_type: str,
        payload: dict[str, Any],
        source: str | None,
        position: int | None,
        is_test: bool,
        at: datetime,
    ) -> None:
        self.webhook_id = webhook_id
        self.owner_id = owner_id
        self.site_id = site_id
        self.event_type = event_type
        self.payload = payload
        self.source = source
        self.position = position
        self.is_test = is_test
        self.scheduled_at = at
        self.status = PENDING
        self.attempts = 0  # every attempt ever made
        self.failures = 0  # failed attempts in this round (a manual retry starts a new one)
        self.next_attempt_at: datetime | None = at
        self.history: list[dict[str, Any]] = []
        self.gave_up_reason: str | None = None
        self.delivered_at: datetime | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    def _attempt(
        self,
        at: datetime,
        status_code: int | None,
        body: str | None,
        error: str | None,
        duration_ms: int,
    ) -> dict[str, Any]:
        return {
            "number": self.attempts + 1,
            "at": at,
            "status_code": status_code,
            "response_body": clip_body(body),
            "error": None if error is None else clean_multiline(error),
            "duration_ms": duration_ms,
        }

    def _require_pending(self) -> None:
        if not self.is_pending:
            raise DomainError(f"Delivery is {self.status}, not pending")

    def succeed(self, at: datetime, status_code: int, body: str | None, duration_ms: int) -> None:
        self._require_pending()
        self._delivered(self._attempt(at, status_code, body, None, duration_ms))

    @event("Delivered")
    def _delivered(self, attempt: dict[str, Any]) -> None:
        self.history.append(attempt)
        self.attempts += 1
        self.status = DELIVERED
        self.delivered_at = attempt["at"]
        self.next_attempt_at = None

    def fail(
        self,
        at: datetime,
        status_code: int | None,
        body: str | None,
        error: str | None,
        duration_ms: int,
        retry_after: timedelta | None = None,
        final: str | None = None,
        ended_at: datetime | None = None,
    ) -> datetime | None:
        """Record a failed attempt; when the next one is due, or None when this was the last.

        The wait counts from the attempt's end (`ended_at`, else its start `at`).
        `final` names a reason to stop at once.
        """
        self._require_pending()
        delay = None if final else retry_delay(self.failures + 1, retry_after)
        retry_at = (ended_at or at) + delay if delay is not None else None
        self._attempt_failed(self._attempt(at, status_code, body, error, duration_ms), retry_at)
        if retry_at is None:
            reason = final or f"Gave up after {RETRIES} retries"
            self._gave_up(reason, at)
        return retry_at

    @event("AttemptFailed")
    def _attempt_failed(self, attempt: dict[str, Any], retry_at: datetime | None) -> None:
        self.history.append(attempt)
        self.attempts += 1
        self.failures += 1
        self.next_attempt_at = retry_at

    def give_up(self, reason: str, at: datetime) -> None:
        """Stop without an attempt (the webhook was disabled or deleted meanwhile)."""
        if self.is_pending:
            self._gave_up(reason, at)

    @event("GaveUp")
    def _gave_up(self, reason: str, at: datetime) -> None:
        self.status = FAILED
        self.gave_up_reason = reason
        self.next_attempt_at = None

    def request_retry(self, at: datetime) -> None:
        """Start a failed delivery again: a new round of attempts, the first one now."""
        if self.status != FAILED:
            raise DomainError(f"Only a failed delivery can be retried; this one is {self.status}")
        self._retry_requested(at)

    @event("RetryRequested")
    def _retry_requested(self, at: datetime) -> None:
        self.status = PENDING
        self.failures = 0
        self.gave_up_reason = None
        self.next_attempt_at = at
