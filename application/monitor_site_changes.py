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

from application.log_follower import LogFollower, Positions
from domain.errors import NotFound

log = logging.getLogger("tinylytics.uptime")

TOPIC = "domain.sites:Site."
FOLLOWED = (TOPIC + "UrlChanged", TOPIC + "Unarchived")


class Monitors(Protocol):
    """The Monitoring application, as far as a site's changes need it."""

    def follow_site(self, site_id: UUID, url: str, archived: bool) -> bool: ...


class Sites(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...


class MonitorSiteChanges(LogFollower):
    name = "monitor_site_changes"
    topics = FOLLOWED
    log = log

    def __init__(
        self,
        configuration: Application[Any],
        sites: Sites,
        positions: Positions,
        monitors: Monitors,
    ) -> None:
        super().__init__(configuration, positions)
        self.sites = sites
        self.monitors = monitors

    def handle(self, notification: Any) -> bool:
        """Bring a monitor up to its site's change; whether it changed."""
        try:
            site = self.sites.get_site(UUID(str(notification.originator_id)))
        except NotFound:
            return False  # erased meanwhile
        return bool(self.monitors.follow_site(site.id, site.url, site.is_archived))
