"""The content monitoring application: each site's `ContentMonitor` aggregate, kept in
an event store of its own (a crawl's events must never make a sign-up wait).

Its commands are the state changes (domain/content_monitoring.py); the use cases that
schedule, crawl and alert (application/content_checks.py) call them.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Notification

from application.base import EventSourcedApplication
from application.premium import (
    CONTENT_NOT_ENABLED,
    SUBSCRIPTION_REQUIRED,
    FeatureNotEnabled,
    SubscriptionRequired,
)
from application.webhook_dispatch import Occurrence, Trigger
from domain.content_monitoring import ContentMonitor, Finding, monitor_id, validate_root_path
from domain.webhook_messages import content_check_payload
from domain.webhooks import CONTENT_ISSUE


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sites(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...

    def get_account(self, account_id: UUID) -> Any: ...


class ContentMonitoring(EventSourcedApplication):
    name = "ContentMonitoring"

    def __init__(
        self,
        env: dict[str, str],
        sites: Sites,
        now: Callable[[], datetime] = utcnow,
        listeners: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__(env=env, listeners=listeners)
        self.sites = sites
        self.now = now

    def monitor(self, site_id: UUID) -> ContentMonitor | None:
        try:
            found: Any = self.repository.get(monitor_id(site_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ContentMonitor) else None

    def subscribed(self, owner_id: UUID) -> bool:
        return bool(self.sites.get_account(owner_id).is_subscribed)

    def enabled(self, site_id: UUID, owner_id: UUID | None = None) -> ContentMonitor:
        """The site's monitor, for its owner (NotFound for anyone else's site), when the
        plan allows it (SubscriptionRequired) and it is on (FeatureNotEnabled)."""
        site = self.sites.get_site(site_id, owner_id)
        if not self.subscribed(site.owner_id):
            raise SubscriptionRequired(SUBSCRIPTION_REQUIRED)
        monitor = self.monitor(site_id)
        if monitor is None or not monitor.enabled:
            raise FeatureNotEnabled(CONTENT_NOT_ENABLED)
        return monitor

    # -- commands --------------------------------------------------------------------
    def enable(
        self, site_id: UUID, root_path: str | None = None, owner_id: UUID | None = None
    ) -> ContentMonitor:
        site = self.sites.get_site(site_id, owner_id)
        if not self.subscribed(site.owner_id):
            raise SubscriptionRequired(SUBSCRIPTION_REQUIRED)
        root = validate_root_path(root_path)
        monitor = self.monitor(site_id)
        if monitor is None:
            monitor = ContentMonitor(site_id=site_id, root_path=root, at=self.now())
        else:
            monitor.enable(root, self.now())
        self.save(monitor)
        return monitor

    def disable(self, site_id: UUID, owner_id: UUID | None = None) -> None:
        self.sites.get_site(site_id, owner_id)
        monitor = self.monitor(site_id)
        if monitor is not None:
            monitor.disable()
            self.save(monitor)

    def ignore(self, site_id: UUID, key: str, owner_id: UUID | None = None) -> None:
        monitor = self.enabled(site_id, owner_id)
        monitor.ignore(key)
        self.save(monitor)

    def unignore(self, site_id: UUID, key: str, owner_id: UUID | None = None) -> None:
        monitor = self.enabled(site_id, owner_id)
        monitor.unignore(key)
        self.save(monitor)

    def pause_emails(self, site_id: UUID, until: datetime, owner_id: UUID | None = None) -> None:
        monitor = self.enabled(site_id, owner_id)
        monitor.pause_emails(until, self.now())
        self.save(monitor)

    def resume_emails(self, site_id: UUID, owner_id: UUID | None = None) -> None:
        monitor = self.enabled(site_id, owner_id)
        monitor.resume_emails()
        self.save(monitor)

    def switch_alerts(self, site_id: UUID, on: bool, owner_id: UUID | None = None) -> None:
        monitor = self.enabled(site_id, owner_id)
        monitor.switch_alerts(on)
        self.save(monitor)

    def start_crawl(self, site_id: UUID, crawl_id: str, scope: str) -> ContentMonitor:
        monitor = self.enabled(site_id)
        monitor.start_crawl(crawl_id, scope)
        self.save(monitor)
        return monitor

    def finish_crawl(
        self,
        site_id: UUID,
        crawl_id: str,
        findings: Sequence[Finding],
        answered: Sequence[str],
        complete: bool,
        at: datetime,
        checked: int,
    ) -> tuple[ContentMonitor, list[Finding]] | None:
        """Record a crawl's findings; the monitor and its new, not ignored issues (None
        when monitoring was turned off meanwhile: nothing is recorded)."""
        monitor = self.monitor(site_id)
        if monitor is None or not monitor.enabled:
            return None
        new = monitor.finish_crawl(crawl_id, findings, set(answered), complete, at, checked)
        self.save(monitor)
        return monitor, new


ISSUE_FOUND_TOPIC = "domain.content_monitoring:ContentMonitor.IssueFound"


def issue_trigger(notification: Notification, app: Application[Any]) -> Occurrence | None:
    """`content_issue` for each new issue a crawl found, unless the owner ignores it.
    The dispatcher follows this log with its own position: a rebuild or a replay sends
    nothing twice (ARCHITECTURE.md decision 4)."""
    found: Any = app.mapper.to_domain_event(notification)
    monitor: Any = app.repository.get(found.originator_id, version=found.originator_version)
    if found.key in monitor.ignored:
        return None
    checked_at = (
        found.checked_at if found.checked_at.tzinfo else found.checked_at.replace(tzinfo=UTC)
    )
    check = content_check_payload(
        found.url, found.issue_type, found.status_code, found.error_message, checked_at
    )
    return Occurrence(CONTENT_ISSUE, monitor.site_id, checked_at, notification.id, {"check": check})


CONTENT_TRIGGERS: dict[str, Trigger] = {ISSUE_FOUND_TOPIC: issue_trigger}
