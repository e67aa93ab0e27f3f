"""Outgoing mail: the postbox every use case posts through, and the ports it needs.

A message is kept (`MailStore`) before it is sent, with an idempotency key: posting
the same key twice (a clock that fired again after a lost lease, a retried request)
sends one message. The first attempt is made at once; a failed one is retried on the
clock (job kind `mail.send`) with backoff, and a message that still cannot be sent
after the last retry is kept as failed, for `tinylytics mail status` and the
dashboard to show. The transport (`Mailer`) is SMTP or the outbox folder
(infrastructure/mail.py).

Sending is at least once towards the mail server: a process that dies after the
server took the message but before it was marked sent sends it again on retry, with
the same Message-ID, which mail clients use to show it once.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.clock import Firing, Job, JobKind, Schedule

log = logging.getLogger("tinylytics.mail")

MAIL_KIND = "mail.send"
# Waits after each failed attempt; after the last, the message is kept as failed.
RETRY_DELAYS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800)
# If the process dies during the first attempt, the clock tries again after this.
FIRST_RETRY = timedelta(seconds=RETRY_DELAYS[0])

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    links: tuple[str, ...] = field(default=())
    html: str | None = None
    # Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post on reports.
    headers: tuple[tuple[str, str], ...] = field(default=())
    # Set by the postbox, so that every attempt sends the same Message-ID and Date.
    id: UUID | None = None
    date: datetime | None = None


class Mailer(Protocol):
    def send(self, message: Message) -> None:
        """Hand the message over for delivery; raise MailError when that fails."""
        ...

    def forget(self, address: str) -> None:
        """Remove every kept copy of mail to this address (erasure); a no-op if none is kept."""
        ...


class MailError(RuntimeError):
    """The message could not be handed over (the mail server refused it or is unreachable)."""


class MailTemplates(Protocol):
    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """The plain-text and the HTML body of template `name`."""
        ...


@dataclass(frozen=True)
class Posted:
    """A message as the postbox keeps it."""

    id: UUID
    key: str
    purpose: str  # "confirmation", "reset", "report", …
    message: Message
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    account_id: UUID | None = None
    site_id: UUID | None = None


@dataclass(frozen=True)
class MailSummary:
    pending: int
    sent: int
    failed: int
    oldest_pending_at: datetime | None


class MailStore(Protocol):
    def add(self, posted: Posted, retry_at: datetime) -> tuple[Posted, bool]:
        """Keep a message and schedule its retry job at `retry_at`, in one transaction;
        with a key already kept, the kept message and False."""
        ...

    def get(self, mail_id: UUID) -> Posted | None: ...

    def record(
        self,
        mail_id: UUID,
        status: str,
        attempts: int,
        error: str | None,
        at: datetime,
        next_attempt_at: datetime | None,
    ) -> None: ...

    def summary(self) -> MailSummary: ...

    def recent(
        self, status: str | None = None, site_id: UUID | None = None, limit: int = 20
    ) -> list[Posted]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Attempted:
    posted: Posted
    again_at: datetime | None  # the next attempt, or None (sent, or given up)

    @property
    def sent(self) -> bool:
        return self.posted.status == SENT


class Postbox:
    def __init__(
        self,
        store: MailStore,
        mailer: Mailer,
        schedule: Schedule,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.schedule = schedule
        self.now = now

    def post(
        self,
        message: Message,
        key: str,
        purpose: str,
        account_id: UUID | None = None,
        site_id: UUID | None = None,
        send_now: bool = True,
    ) -> Attempted:
        """Keep the message under `key` (once), then make the first attempt at once
        (or leave it to the clock). A key posted before changes and sends nothing."""
        at = self.now()
        mail_id = uuid4()
        posted = Posted(
            id=mail_id,
            key=key,
            purpose=purpose,
            message=replace(message, id=mail_id, date=at),
            created_at=at,
            next_attempt_at=at,
            account_id=account_id,
            site_id=site_id,
        )
        retry_at = at + FIRST_RETRY if send_now else at
        kept, created = self.store.add(posted, retry_at)
        if not created:
            return Attempted(kept, None)
        if not send_now:
            return Attempted(kept, retry_at)
        return self._attempt(kept, reschedule=True)

    def deliver(self, firing: Firing) -> datetime | None:
        """The `mail.send` job: one attempt at a kept message, if it is still pending."""
        posted = self.store.get(UUID(firing.key))
        if posted is None or posted.status != PENDING:
            return None
        return self._attempt(posted, reschedule=False).again_at

    def job_kind(self) -> JobKind:
        return JobKind(MAIL_KIND, self.deliver, "send a kept message; retried with backoff")

    def summary(self) -> MailSummary:
        return self.store.summary()

    def recent(
        self, status: str | None = None, site_id: UUID | None = None, limit: int = 20
    ) -> list[Posted]:
        """Kept messages, newest first: what is waiting or failed, or a site's reports."""
        return self.store.recent(status=status, site_id=site_id, limit=limit)

    def _attempt(self, posted: Posted, reschedule: bool) -> Attempted:
        attempts = posted.attempts + 1
        try:
            self.mailer.send(posted.message)
        except MailError as error:
            ended = self.now()
            message = str(error)[:1000]
            if attempts <= len(RETRY_DELAYS):
                again = ended + timedelta(seconds=RETRY_DELAYS[attempts - 1])
                self.store.record(posted.id, PENDING, attempts, message, ended, again)
                if reschedule:
                    self.schedule.put([Job(MAIL_KIND, str(posted.id), again)])
                log.warning(
                    "mail %s (%s) not sent (attempt %d), retrying at %s: %s",
                    posted.id,
                    posted.purpose,
                    attempts,
                    again.isoformat(),
                    message,
                )
                return Attempted(replace(posted, attempts=attempts, last_error=message), again)
            self.store.record(posted.id, FAILED, attempts, message, ended, None)
            log.error(
                "mail %s (%s) given up after %d attempts", posted.id, posted.purpose, attempts
            )
            if reschedule:
                self.schedule.remove(MAIL_KIND, [str(posted.id)])
            failed = replace(posted, status=FAILED, attempts=attempts, last_error=message)
            return Attempted(failed, None)
        sent_at = self.now()
        self.store.record(posted.id, SENT, attempts, None, sent_at, None)
        if reschedule:
            self.schedule.remove(MAIL_KIND, [str(posted.id)])
        return Attempted(replace(posted, status=SENT, attempts=attempts, sent_at=sent_at), None)
