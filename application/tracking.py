"""The tracking application: hits and custom events, kept apart from configuration.

On PostgreSQL the library locks an application's events table for each insert;
a separate application keeps a flood of hits from ever delaying a sign-up.
"""

from collections.abc import Sequence
from typing import Any

from application.base import EventSourcedApplication
from application.kudos import KudoCommands

# The creating events of hits and custom events (`Hit.Recorded`, `CustomEvent.Recorded`):
# both are saved as events, never changed, so no aggregate object is built for them.
TrafficEvent = Any


class Tracking(KudoCommands, EventSourcedApplication):
    name = "Tracking"

    def record(self, items: Sequence[TrafficEvent]) -> list[int]:
        """Save hits and events in one transaction; their stable integer ids, in order."""
        if not items:
            return []
        recordings = self.save_events(items)
        ids = {r.domain_event.originator_id: r.notification.id for r in recordings}
        return [ids[item.originator_id] for item in items]
