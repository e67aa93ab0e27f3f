"""Long aggregates kept in memory between reads, checked against the event store on each.

An owner of 10,000 sites has an account of 10,000 events; every API request and
dashboard page asks for that account (its plan, its time zone), and replaying it
took about 200 ms on PostgreSQL. Here an aggregate with a long history is kept
after its first replay, and each later read asks the store for the kept version's
own event and any after it: one indexed query of one row when nothing changed.

The check is what keeps this correct across processes. A change another process
saved arrives as the newer events. An erasure deletes the aggregate's events: the
kept version's event is missing, so the aggregate is forgotten and the store
answers (not found). The library's own cache fast-forwards with "events after the
version", which cannot tell an erased aggregate from an unchanged one.
"""

import copy
from collections import OrderedDict
from threading import Lock
from typing import Any
from uuid import UUID

from eventsourcing.application import ProjectorFunction, Repository, project_aggregate
from eventsourcing.persistence import EventStore

# Below this many events a replay is one short query anyway: not worth the memory.
LONG_HISTORY = 32
# Aggregates this long are few (owners of many sites); an LRU of them bounds memory.
KEPT = 128


class KeptAggregates(Repository[UUID]):
    """The library's repository, keeping long aggregates of the given kinds (never the
    objects a command got: every caller is handed its own copy, so a failed command
    corrupts nothing).

    Kinds are named, not every aggregate: keeping costs a copy per read, which the
    kinds named here make cheap (`Account.__deepcopy__`), and an LRU over aggregates
    read once each in turn (10,000 monitors checked by the clock) would only churn.
    """

    def __init__(
        self,
        event_store: EventStore[UUID],
        kinds: tuple[type, ...],
        snapshot_store: EventStore[UUID] | None = None,
        long_history: int = LONG_HISTORY,
        kept: int = KEPT,
    ) -> None:
        super().__init__(event_store, snapshot_store=snapshot_store)
        self.kinds = kinds
        self.long_history = long_history
        self.capacity = kept
        self._kept: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = Lock()

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = project_aggregate,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        if version is not None or projector_func is not project_aggregate:
            return super().get(aggregate_id, version=version, projector_func=projector_func)
        with self._lock:
            kept = self._kept.get(aggregate_id)
            if kept is not None:
                self._kept.move_to_end(aggregate_id)
        if kept is not None:
            current = self._current(aggregate_id, kept)
            if current is not None:
                return current
        aggregate: Any = super().get(aggregate_id)
        if aggregate.version >= self.long_history and isinstance(aggregate, self.kinds):
            self._keep(aggregate_id, copy.deepcopy(aggregate))
        return aggregate

    def _current(self, aggregate_id: UUID, kept: Any) -> Any:
        """The kept aggregate brought up to date, or None when its history is not the
        one kept (erased, or erased and made again)."""
        events = list(self.event_store.get(originator_id=aggregate_id, gt=kept.version - 1))
        if not events or not _same_event(events[0], kept):
            self.forget(aggregate_id)
            return None
        aggregate = project_aggregate(copy.deepcopy(kept), events[1:])
        if len(events) > 1:
            self._keep(aggregate_id, copy.deepcopy(aggregate))
        return aggregate

    def _keep(self, aggregate_id: UUID, aggregate: Any) -> None:
        with self._lock:
            held = self._kept.get(aggregate_id)
            if held is not None and held.version > aggregate.version:
                return  # a racing read kept a newer one
            self._kept[aggregate_id] = aggregate
            self._kept.move_to_end(aggregate_id)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)

    def forget(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._kept.pop(aggregate_id, None)


def _same_event(event: Any, kept: Any) -> bool:
    return bool(event.originator_version == kept.version and event.timestamp == kept.modified_on)
