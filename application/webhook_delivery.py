"""One attempt at a webhook delivery: sign, send, record, and queue the next attempt.

A Dramatiq actor calls `attempt(number, attempt)`; so does the test harness, with a
fake clock, and the CLI when no worker can be reached. A message that is stale (the
attempt was made already, the delivery finished, or was erased) does nothing, so a
message delivered twice sends once in all but a true race. The request is made
outside any lock; its outcome is written under the erasure fence, after checking
the delivery is still there and still waiting for this very attempt.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

from application.webhooks import QueueUnavailable, Webhooks
from domain.deliveries import Delivery
from domain.errors import DomainError, NotFound
from domain.webhook_messages import delivery_headers, render_body
from domain.webhooks import Webhook

log = logging.getLogger("tinylytics.webhooks")


@dataclass(frozen=True)
class HttpOutcome:
    """What came back from one request: a status, or an error that kept it from one."""

    status: int | None
    body: str | None = None
    error: str | None = None
    retry_after: str | None = None
    location: str | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class HttpPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome: ...


@dataclass(frozen=True)
class AttemptResult:
    number: int
    attempt: int
    status: str  # the delivery's status after the attempt
    status_code: int | None
    error: str | None
    retry_at: datetime | None


def retry_after_delay(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds, or an HTTP date) as a wait from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - now)


def failure_message(outcome: HttpOutcome) -> str:
    if outcome.error:
        return outcome.error
    status = outcome.status
    if status is not None and 300 <= status < 400:
        where = f" to {outcome.location}" if outcome.location else ""
        return f"Redirect (HTTP {status}{where}) not followed"
    return f"HTTP {status}"


class WebhookSender:
    def __init__(self, webhooks: Webhooks, http: HttpPoster) -> None:
        self.webhooks = webhooks
        self.http = http

    def attempt(self, number: int, attempt: int) -> AttemptResult | None:
        """Make attempt `attempt` of delivery `number`, if it is still the one due."""
        app = self.webhooks
        try:
            delivery = app.delivery_by_number(number)
        except NotFound:
            return None  # erased, or never existed
        if not self._due(delivery, attempt):
            return None
        started = app.clock()
        try:
            webhook = app.get_webhook(delivery.webhook_id, deleted=True)
        except NotFound:
            webhook = None
        stop = self._stop_reason(delivery, webhook)
        if stop is not None or webhook is None:
            return self._give_up(number, attempt, stop or "Webhook not found")
        body = render_body(delivery.payload, webhook.platform, webhook.wrap)
        headers = delivery_headers(
            delivery.event_type,
            str(number),
            int(started.timestamp()),
            body,
            webhook.signing_secrets(started),
        )
        outcome = self.http.post(webhook.url, body, headers)
        return self._record(number, attempt, started, outcome)

    @staticmethod
    def _due(delivery: Delivery, attempt: int) -> bool:
        return delivery.is_pending and delivery.attempts + 1 == attempt

    def _stop_reason(self, delivery: Delivery, webhook: Webhook | None) -> str | None:
        if webhook is None or webhook.is_deleted:
            return "The webhook was deleted"
        if not webhook.is_active and not delivery.is_test:
            return f"The webhook is disabled ({webhook.disabled_reason or 'by its owner'})"
        try:
            self.webhooks.require_plus(delivery.owner_id)
        except NotFound:
            return "The account was deleted"
        except DomainError as error:
            return error.message
        return None

    def _give_up(self, number: int, attempt: int, reason: str) -> AttemptResult | None:
        app = self.webhooks
        with app.fence():
            try:
                delivery = app.delivery_by_number(number)
            except NotFound:
                return None
            if not self._due(delivery, attempt):
                return None
            delivery.give_up(reason, app.clock())
            try:
                app.save(delivery)
            except NotFound:
                return None
        log.info("webhook delivery %d gave up: %s", number, reason)
        return AttemptResult(number, attempt, delivery.status, None, reason, None)

    def _record(
        self, number: int, attempt: int, started: datetime, outcome: HttpOutcome
    ) -> AttemptResult | None:
        app = self.webhooks
        retry_at: datetime | None = None
        error: str | None = None
        with app.fence():
            try:
                delivery = app.delivery_by_number(number)
            except NotFound:
                return None  # erased while the request was out
            if not self._due(delivery, attempt):
                return None  # another worker made this attempt meanwhile
            changed: list[object] = [delivery]
            if outcome.ok:
                assert outcome.status is not None
                delivery.succeed(started, outcome.status, outcome.body, outcome.duration_ms)
            else:
                # Every failure is retried on the schedule, a 410 like any 4xx (webhooks.md).
                error = failure_message(outcome)
                ended = app.clock()
                wait = (
                    retry_after_delay(outcome.retry_after, ended)
                    if outcome.status in (429, 503)
                    else None
                )
                retry_at = delivery.fail(
                    started,
                    outcome.status,
                    outcome.body,
                    error,
                    outcome.duration_ms,
                    retry_after=wait,
                    ended_at=ended,
                )
            try:
                app.save(*changed)
            except NotFound:
                return None
        if retry_at is not None:
            try:
                app.queue.enqueue(number, attempt + 1, retry_at)
            except QueueUnavailable as unavailable:
                # Saved with its due time: the dispatcher's sweep queues it when overdue.
                log.warning(
                    "webhook delivery %d attempt %d is due at %s but not queued (%s)",
                    number,
                    attempt + 1,
                    retry_at.isoformat(),
                    unavailable,
                )
        if error:
            log.info("webhook delivery %d attempt %d failed: %s", number, attempt, error)
        return AttemptResult(number, attempt, delivery.status, outcome.status, error, retry_at)
