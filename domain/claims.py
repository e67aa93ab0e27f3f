"""Unique claims: how the domain keeps a name (an email, a site URL) held by one aggregate.

An event store has no unique index on attributes, so uniqueness is an aggregate of
its own whose id is derived from the name: two writers that claim the same name
create the same aggregate at version 1, and the store lets only one of them win.
"""

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tinylytics.invalid/claims")


class Claim(Aggregate):
    """A name in a namespace, held by at most one aggregate at a time."""

    @staticmethod
    def id_for(namespace: str, name: str) -> UUID:
        return uuid5(_NAMESPACE, f"{namespace}\x00{name}")

    @event("Made")
    def __init__(self, id: UUID, holder_id: UUID) -> None:
        self.holder_id: UUID | None = holder_id

    @property
    def is_held(self) -> bool:
        return self.holder_id is not None

    def take(self, holder_id: UUID, what: str) -> None:
        """Take a released claim again; refuse one that someone else holds."""
        if self.holder_id == holder_id:
            return
        if self.holder_id is not None:
            raise Conflict(f"{what} is already taken")
        self._taken(holder_id)

    @event("Taken")
    def _taken(self, holder_id: UUID) -> None:
        self.holder_id = holder_id

    def release(self) -> None:
        if self.holder_id is not None:
            self._released()

    @event("Released")
    def _released(self) -> None:
        self.holder_id = None
