"""A process manager that follows one application's notification log on its own position.

It starts at the log's head the first time (history is never acted on), keeps its
position apart from the projections' (a rebuild or a replay acts on nothing), moves it
after each batch, and never raises from the runner's loop. What it does with each
notification is its subclass's `handle`, which must be harmless when run twice: a crash
before the position moved reads the batch again.
"""

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.application import Application

BATCH = 200


class Positions(Protocol):
    def position(self, name: str) -> int | None: ...

    def advance(self, name: str, position: int) -> None: ...


class LogFollower:
    name: str
    # The topics to read; all of them when empty.
    topics: Sequence[str] = ()
    log = logging.getLogger("tinylytics")

    def __init__(self, app: Application[Any], positions: Positions) -> None:
        self.app = app
        self.positions = positions
        self._failures = 0

    def handle(self, notification: Any) -> bool:
        """Act on one notification; whether it changed anything."""
        raise NotImplementedError

    def setup(self) -> None:
        if self.positions.position(self.name) is None:
            head = self.app.recorder.max_notification_id() or 0
            self.positions.advance(self.name, head)

    def follow(self) -> None:
        """A turn of the projection runner's loop; never raises."""
        try:
            self.catch_up()
            self._failures = 0
        except Exception:
            self._failures += 1
            self.log.exception("%s failed (failure %d)", self.name, self._failures)

    def catch_up(self) -> int:
        """Act on everything recorded since the position; how many notifications changed
        something."""
        changed = 0
        while True:
            position = self.positions.position(self.name) or 0
            notifications = self.app.recorder.select_notifications(
                start=position,
                limit=BATCH,
                inclusive_of_start=False,
                topics=tuple(self.topics),
            )
            if not notifications:
                return changed
            for notification in notifications:
                if self.handle(notification):
                    changed += 1
            self.positions.advance(self.name, notifications[-1].id)
