"""Uptime alert mails: a process manager that follows the Monitoring log.

Owner only (reports_and_notifications.md: critical alerts go to the account owner),
when the owner's address is confirmed: confirmed down (with the error and when it
began), recovered (how long, when, the error it had), auto-paused, and certificate
expiry notices. It keeps its own position (never the projections'), so a rebuild
or a replay sends nothing; it starts at the log's head the first time, so history
is never mailed. Each mail is posted under a key naming the monitor and the event's
version: reading an event twice (a crash before the position moved) posts nothing
new, because the postbox keeps one message per key.
"""

import logging
import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import Application

from application.log_follower import LogFollower, Positions
from application.mail import MailTemplates, Message, Postbox
from domain.downtimes import duration_in_words
from domain.errors import DomainError, NotFound
from domain.text import clean_event

log = logging.getLogger("tinylytics.uptime")

TOPIC = "domain.monitors:Monitor."
ALERTED = {
    TOPIC + "WentDown": "down",
    TOPIC + "Recovered": "up",
    TOPIC + "AutoPaused": "paused",
    TOPIC + "CertificateExpiryNoticed": "certificate",
    TOPIC + "CertificateChanged": "renewed",
    TOPIC + "DomainExpiryNoticed": "domain",
}
# A kind with its own mail template; the others share `uptime`.
TEMPLATES = {"domain": "domain_expiry"}


class Owners(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...

    def get_account(self, account_id: UUID) -> Any: ...


class Links(Protocol):
    def dashboard(self, site_uid: str) -> str: ...


def _days_left(expires_at: datetime, at: datetime) -> int:
    """Rounded up: the day before expiry says "1 day", not "0 days"."""
    return max(1, math.ceil((expires_at - at).total_seconds() / 86400))


def when(moment: datetime) -> str:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment:%B} {moment.day}, {moment.year} at {moment:%H:%M}"


class UptimeAlerts(LogFollower):
    name = "uptime_alerts"
    log = log

    def __init__(
        self,
        monitoring: Application[Any],
        positions: Positions,
        postbox: Postbox,
        templates: MailTemplates,
        owners: Owners,
        links: Links,
    ) -> None:
        super().__init__(monitoring, positions)
        self.monitoring = monitoring
        self.postbox = postbox
        self.templates = templates
        self.owners = owners
        self.links = links

    def handle(self, notification: Any) -> bool:
        kind = ALERTED.get(notification.topic)
        if kind is None:
            return False
        event: Any = clean_event(self.monitoring.mapper.to_domain_event(notification))
        return self.alert(kind, event, f"uptime:{event.originator_id}:{event.originator_version}")

    def alert(self, kind: str, event: Any, key: str) -> bool:
        monitor: Any = self.monitoring.repository.get(
            event.originator_id, version=event.originator_version
        )
        try:
            site = self.owners.get_site(monitor.site_id)
            owner = self.owners.get_account(site.owner_id)
        except NotFound:
            return False  # erased meanwhile
        if not owner.email_confirmed:
            return False
        if kind == "renewed" and not self._renewal(event):
            return False  # the first certificate seen, or one that expires sooner
        context = self.context(kind, site, event)
        message = self.message(owner.email, context)
        self.postbox.post(message, key, "uptime", account_id=site.owner_id, site_id=site.id)
        return True

    def send_test(self, site_id: UUID, owner_id: UUID, kind: str) -> None:
        """Test Down / Test Up: a sample alert to the owner, flagged as a test."""
        if kind not in ("down", "up"):
            raise DomainError("A test alert is down or up")
        site = self.owners.get_site(site_id, owner_id)
        owner = self.owners.get_account(site.owner_id)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        sample = SimpleNamespace(
            error="Connection timed out: the server did not answer in time (a test)",
            started_at=now - timedelta(minutes=10),
            at=now,
        )
        context = self.context(kind, site, sample, test=True)
        key = f"uptime-test:{site_id}:{kind}:{uuid4().hex}"
        self.postbox.post(
            self.message(owner.email, context),
            key,
            "uptime",
            account_id=site.owner_id,
            site_id=site.id,
        )

    def _renewal(self, event: Any) -> bool:
        if event.originator_version < 2:
            return False
        before: Any = self.monitoring.repository.get(
            event.originator_id, version=event.originator_version - 1
        )
        previous = before.certificate_expires_at
        return previous is not None and event.expires_at > previous

    def context(self, kind: str, site: Any, event: Any, test: bool = False) -> dict[str, Any]:
        context: dict[str, Any] = {
            "kind": kind,
            "label": site.label,
            "url": site.url,
            "dashboard_url": self.links.dashboard(site.uid),
            "test": test,
        }
        if kind == "down":
            context.update(error=event.error, started=when(event.started_at))
            subject = f"{site.label} is down"
        elif kind == "up":
            seconds = (event.at - event.started_at).total_seconds()
            context.update(
                error=event.error,
                started=when(event.started_at),
                ended=when(event.at),
                duration=duration_in_words(seconds),
            )
            subject = f"{site.label} is up again (down for {duration_in_words(seconds)})"
        elif kind == "paused":
            before: Any = self.monitoring.repository.get(
                event.originator_id, version=event.originator_version - 1
            )
            context.update(started=when(before.down_since or event.at))
            subject = f"Uptime monitoring of {site.label} is paused after 7 days down"
        elif kind == "renewed":
            context.update(expires=when(event.expires_at))
            subject = f"The SSL certificate of {site.label} was renewed"
        elif kind == "domain":
            left = _days_left(event.expires_at, event.timestamp)
            context.update(days=left, expires=when(event.expires_at))
            subject = f"The domain of {site.label} expires in {left} day{'' if left == 1 else 's'}"
        else:
            # Rounded up: the day before expiry says "1 day", not "0 days".
            left = max(1, math.ceil((event.expires_at - event.timestamp).total_seconds() / 86400))
            days = f"{left} day{'' if left == 1 else 's'}"
            context.update(days=left, expires=when(event.expires_at))
            subject = f"The SSL certificate of {site.label} expires in {days}"
        if test:
            subject = f"[Test] {subject}"
        context["subject"] = subject
        return context

    def message(self, address: str, context: dict[str, Any]) -> Message:
        text, html = self.templates.render(TEMPLATES.get(context["kind"], "uptime"), context)
        return Message(
            to=address,
            subject=context["subject"],
            text=text,
            html=html,
            links=(context["dashboard_url"],),
        )
