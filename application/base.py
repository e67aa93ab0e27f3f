"""The event-sourced application base: saving, stable integer ids and unique claims."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import get_topic

from application.kept_aggregates import KeptAggregates
from domain.claims import Claim
from domain.errors import Conflict, NotFound

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Created:
    """What a command that creates an aggregate hands back: its stable integer id and uuid."""

    id: int
    uuid: UUID


class EventSourcedApplication(Application[UUID]):
    """An `eventsourcing` application with the helpers every Tinylytics app shares."""

    # Aggregates with long histories read on every request: kept between reads
    # (application/kept_aggregates.py, decision 0018).
    kept_kinds: ClassVar[tuple[type[Aggregate], ...]] = ()

    def __init__(
        self, env: dict[str, str] | None = None, listeners: Sequence[Callable[[], None]] = ()
    ) -> None:
        """`listeners` are called after each save, so that an in-process projection runner
        wakes at once."""
        super().__init__(env=env)
        self._listeners: tuple[Callable[[], None], ...] = tuple(listeners)

    def construct_repository(self) -> Repository[UUID]:
        if not self.kept_kinds:
            return super().construct_repository()
        return KeptAggregates(self.events, self.kept_kinds, snapshot_store=self.snapshots)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        try:
            recordings = super().save(*objs, **kwargs)
        except IntegrityError:
            # Two writers raced for the same aggregate version (usually a claim).
            raise Conflict("That was changed or taken at the same moment; try again") from None
        self._saved()
        return recordings

    def save_events(self, events: Sequence[Any]) -> list[Recording[UUID]]:
        """Save domain events made directly (no aggregate object), in one transaction.

        `save` tells events from aggregates with isinstance checks against runtime
        protocols, about 25 µs an object: too much for the collector's batches of
        creating events, which need no telling.
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(events)
        try:
            recordings = self._record(processing)
        except IntegrityError:
            raise Conflict("That was changed or taken at the same moment; try again") from None
        self._notify(recordings)
        self._saved()
        return recordings

    def _saved(self) -> None:
        for listener in self._listeners:
            listener()

    def get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what} not found")
        return aggregate

    @staticmethod
    def created(recordings: list[Recording[UUID]], aggregate: Aggregate) -> Created:
        """The integer id of an aggregate is the notification id of its first event.

        The notification log never renumbers, so the id survives every rebuild.
        """
        for recording in recordings:
            event = recording.domain_event
            if event.originator_id == aggregate.id and event.originator_version == 1:
                return Created(id=recording.notification.id, uuid=aggregate.id)
        raise RuntimeError("the creating event was not among the recordings")

    def resolve_id(self, number: int, kind: type[Aggregate], what: str) -> UUID:
        """The uuid of the aggregate whose creating event has this notification id."""
        if number < 1 or number > 2**62:
            raise NotFound(f"{what} not found")
        created_topic = get_topic(kind) + ".Registered"
        found = self.recorder.select_notifications(start=number, stop=number, limit=1)
        if not found or found[0].id != number or found[0].topic != created_topic:
            raise NotFound(f"{what} not found")
        originator = found[0].originator_id
        return originator if isinstance(originator, UUID) else UUID(str(originator))

    # Claims keep names unique across aggregates (see domain/claims.py).
    def claim(self, namespace: str, name: str, holder_id: UUID, what: str) -> Claim:
        claim_id = Claim.id_for(namespace, name)
        try:
            claim: Any = self.repository.get(claim_id)
        except AggregateNotFoundError:
            return Claim(id=claim_id, holder_id=holder_id)
        assert isinstance(claim, Claim)
        claim.take(holder_id, what)
        return claim

    def holder(self, namespace: str, name: str) -> UUID | None:
        try:
            claim: Any = self.repository.get(Claim.id_for(namespace, name))
        except AggregateNotFoundError:
            return None
        return claim.holder_id if isinstance(claim, Claim) else None

    def release(self, namespace: str, name: str) -> Claim | None:
        try:
            claim: Any = self.repository.get(Claim.id_for(namespace, name))
        except AggregateNotFoundError:
            return None
        assert isinstance(claim, Claim)
        claim.release()
        return claim
