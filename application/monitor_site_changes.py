"""A site's changes that its monitor follows: a process manager on the Configuration log.

A new URL is the one checked from then on (the monitor records `Enabled` with it, and
checks it at once); unarchiving a site restarts the checks that its archiving stopped
(the check finds an archived site and removes its own job). Like the uptime alerts,
it keeps its own position, starts at the log's head the first time, and acts on the
site's state now rather than on the event's, so reading an event twice changes nothing.
"""

import logging
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from domain.errors import NotFound

log = logging.getLogger("tinylytics.uptime")

TOPIC = "domain.sites:Site."
FOLLOWED = (TOPIC + "UrlChanged", TOPIC + "Unarchived")
BATCH = 200


class Positions(Protocol):
    def position(self, name: str) -> int | None: ...

    def advance(self, name: str, position: int) -> None: ...


class Monitors(Protocol):
    """The Monitoring application, as far as a site's changes need it."""

    def follow_site(self, site_id: UUID, url: str, archived: bool) -> bool: ...


class Sites(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...


class MonitorSiteChanges:
    name = "monitor_site_changes"

    def __init__(
        self,
        configuration: Application[Any],
        sites: Sites,
        positions: Positions,
        monitors: Monitors,
    ) -> None:
        self.configuration = configuration
        self.sites = sites
        self.positions = positions
        self.monitors = monitors
        self._failures = 0

    def setup(self) -> None:
        if self.positions.position(self.name) is None:
            head = self.configuration.recorder.max_notification_id() or 0
            self.positions.advance(self.name, head)

    def follow(self) -> None:
        """A turn of the projection runner's loop; never raises."""
        try:
            self.catch_up()
            self._failures = 0
        except Exception:
            self._failures += 1
            log.exception("monitor site changes failed (failure %d)", self._failures)

    def catch_up(self) -> int:
        """Bring monitors up to their sites' changes; how many monitors changed."""
        changed = 0
        while True:
            position = self.positions.position(self.name) or 0
            notifications = self.configuration.recorder.select_notifications(
                start=position, limit=BATCH, inclusive_of_start=False, topics=FOLLOWED
            )
            if not notifications:
                return changed
            for notification in notifications:
                try:
                    site = self.sites.get_site(UUID(str(notification.originator_id)))
                except NotFound:
                    continue  # erased meanwhile
                if self.monitors.follow_site(site.id, site.url, site.is_archived):
                    changed += 1
            self.positions.advance(self.name, notifications[-1].id)
