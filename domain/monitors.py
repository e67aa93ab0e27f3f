"""The Monitor aggregate: one site's uptime monitor and the changes that matter.

A monitor's state changes are events (enabled, paused, went down, recovered,
certificate changed or expiring, auto-paused): alerts and webhooks follow them. Each
check's result is not an event: checks update rollup rows (decision 6 in
ARCHITECTURE.md). One monitor per site: its id is derived from the site's.
"""

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.certificates import noticed
from domain.errors import DomainError

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tinylytics.invalid/monitors")

NOT_SUBSCRIBED = "Uptime monitoring is available on paid plans"
NOT_CONFIRMED = "Confirm your email address first: uptime alerts go to it"
NOT_ENABLED = "Uptime monitoring is not enabled for this site"
NOT_PAUSED = "Monitoring is not paused"
ALREADY_PAUSED = "Monitoring is already paused"


def monitor_id_for(site_id: UUID) -> UUID:
    return uuid5(_NAMESPACE, str(site_id))


class Monitor(Aggregate):
    """A site's uptime monitor: whether it runs, and whether the site is down."""

    @classmethod
    def enable_for(cls, site_id: UUID, owner_id: UUID, url: str) -> "Monitor":
        return cls(id=monitor_id_for(site_id), site_id=site_id, owner_id=owner_id, url=url)

    @event("Registered")
    def __init__(self, id: UUID, site_id: UUID, owner_id: UUID, url: str) -> None:
        self.site_id = site_id
        self.owner_id = owner_id
        self.url = url
        self.enabled = True
        self.paused = False
        self.auto_paused = False
        self.is_down = False
        self.down_since: datetime | None = None
        self.down_error: str | None = None
        self.certificate_expires_at: datetime | None = None
        self.certificate_fingerprint: str | None = None
        self.expiry_notices: list[int] = []  # days-before notices sent for this expiry
        self.domain_expires_at: datetime | None = None
        self.domain_notices: list[int] = []  # days-before notices sent for this expiry

    @property
    def is_running(self) -> bool:
        return self.enabled and not self.paused

    # -- the owner's controls ----------------------------------------------------------
    def enable(self, url: str) -> None:
        if not self.enabled or url != self.url:
            self._enabled(url=url)

    @event("Enabled")
    def _enabled(self, url: str) -> None:
        self.enabled = True
        self.url = url

    def disable(self) -> None:
        if not self.enabled:
            raise DomainError(NOT_ENABLED)
        self._disabled()

    @event("Disabled")
    def _disabled(self) -> None:
        self.enabled = False
        self._clear_down()

    def pause(self) -> None:
        if not self.enabled:
            raise DomainError(NOT_ENABLED)
        if self.paused:
            raise DomainError(ALREADY_PAUSED)
        self._paused()

    @event("Paused")
    def _paused(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if not self.enabled:
            raise DomainError(NOT_ENABLED)
        if not self.paused:
            raise DomainError(NOT_PAUSED)
        self._resumed()

    @event("Resumed")
    def _resumed(self) -> None:
        # A resumed monitor starts afresh: the next checks decide whether it is down.
        self.paused = False
        self.auto_paused = False
        self._clear_down()

    # -- what the checks found ---------------------------------------------------------
    @event("WentDown")
    def went_down(self, error: str, started_at: datetime) -> None:
        """Confirmed down; `started_at` is the time of the first failed check."""
        self.is_down = True
        self.down_since = started_at
        self.down_error = error

    def recover(self, at: datetime) -> None:
        """Confirmed up again; the event keeps when the downtime began and why."""
        if not self.is_down or self.down_since is None:
            return
        self._recovered(at=at, started_at=self.down_since, error=self.down_error or "")

    @event("Recovered")
    def _recovered(self, at: datetime, started_at: datetime, error: str) -> None:
        self._clear_down()

    @event("AutoPaused")
    def auto_pause(self, at: datetime) -> None:
        """Down for 7 days: checks stop until the owner resumes them."""
        self.paused = True
        self.auto_paused = True

    @event("CertificateChanged")
    def certificate_changed(self, fingerprint: str, expires_at: datetime) -> None:
        before = self.certificate_expires_at
        self.certificate_fingerprint = fingerprint
        if before is None or expires_at > before:
            self.expiry_notices = []  # a renewal: the notices start again for the new expiry
        self.certificate_expires_at = expires_at

    @event("CertificateExpiryNoticed")
    def certificate_expiry_noticed(self, days: int, expires_at: datetime) -> None:
        self.expiry_notices = sorted({*self.expiry_notices, *noticed(days)}, reverse=True)

    @event("DomainExpiryChanged")
    def domain_expiry_changed(self, expires_at: datetime) -> None:
        before = self.domain_expires_at
        if before is None or expires_at > before:
            self.domain_notices = []  # renewed: the notices start again for the new date
        self.domain_expires_at = expires_at

    @event("DomainExpiryNoticed")
    def domain_expiry_noticed(self, days: int, expires_at: datetime) -> None:
        """The owner is told the domain lapses in `days` days (30, 14, 7, 1), once each,
        as for the certificate (domain/certificates.py)."""
        self.domain_notices = sorted({*self.domain_notices, *noticed(days)}, reverse=True)

    def _clear_down(self) -> None:
        self.is_down = False
        self.down_since = None
        self.down_error = None
