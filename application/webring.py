"""Webring use cases: the operator adds and removes members; pages ask for a random one."""

from typing import Any

from eventsourcing.application import AggregateNotFoundError

from application.base import EventSourcedApplication
from domain.webring import RING_ID, Webring


class WebringCommands(EventSourcedApplication):
    def webring(self) -> Webring:
        try:
            ring: Any = self.repository.get(RING_ID)
        except AggregateNotFoundError:
            return Webring.create()
        assert isinstance(ring, Webring)
        return ring

    def add_webring_member(self, url: str, label: str | None, avatar: str | None) -> str:
        ring = self.webring()
        added = ring.add_member(url, label, avatar)
        self.save(ring)
        return added

    def remove_webring_member(self, url: str) -> str:
        ring = self.webring()
        removed = ring.remove_member(url)
        self.save(ring)
        return removed
