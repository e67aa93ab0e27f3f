"""Hashing visits with rotating salts, so a salt rotation does not double a day's uniques.

Salts change at 00:00 and 12:00 UTC while uniques count per UTC day, so each day has
exactly one rotation inside it, at noon. A visitor first seen in the morning must keep
their morning hashes in the afternoon. So in the morning the hashes we hand out are
remembered for the day, and in the afternoon we also hash with the morning (previous)
salt: if that hash was handed out this morning we answer with it again, otherwise we
answer with the afternoon (current) salt's hash. Afternoon hashes are never needed
again (tomorrow hashes over another day), so they are not remembered; this keeps
every call to one operation on the seen set: remember in the morning, look up in the
afternoon.
"""

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import NamedTuple, Protocol

from domain.privacy import SALT_PERIOD, hash_day, salt_period, unique_hash, visitor_hash


class SaltStore(Protocol):
    """Salts per 12-hour period, kept outside the event store and destroyed after 48 hours."""

    def salts(self, now: datetime) -> tuple[bytes, bytes | None]:
        """The salt of `now`'s period (created if missing) and the previous period's, if kept."""
        ...


class SeenHashes(Protocol):
    """Hashes handed out earlier in a UTC day; forgotten once the day is over."""

    def remember(self, day: date, hashes: Collection[str]) -> None: ...

    def known(self, day: date, hashes: Collection[str]) -> set[str]:
        """Those of `hashes` remembered for `day`."""
        ...


class HashInput(NamedTuple):
    """One visit's hash inputs, for `VisitorHasher.hashes_many`."""

    site: str
    path: str
    visitor: str  # from domain.privacy.visitor_key: hash input only


class VisitorHasher:
    """Gives (unique_hash, visitor_hash) per visit; safe to share between threads."""

    def __init__(self, salts: SaltStore, seen: SeenHashes) -> None:
        self._salts = salts
        self._seen = seen

    def hashes(self, site: str, path: str, visitor: str, now: datetime) -> tuple[str, str]:
        return self.hashes_many([HashInput(site, path, visitor)], now)[0]

    def hashes_many(self, inputs: Sequence[HashInput], now: datetime) -> list[tuple[str, str]]:
        """Hash a batch received at `now` with one look-up in the seen set at most."""
        if not inputs:
            return []
        day = hash_day(now)
        period = salt_period(now)
        current, previous = self._salts.salts(now)
        answers = [_pair(current, item, day) for item in inputs]
        if previous is not None and (period - SALT_PERIOD).date() == day:
            earlier = [_pair(previous, item, day) for item in inputs]
            known = self._seen.known(day, [h for pair in earlier for h in pair])
            if known:
                answers = [
                    (
                        old_unique if old_unique in known else new_unique,
                        old_visitor if old_visitor in known else new_visitor,
                    )
                    for (old_unique, old_visitor), (new_unique, new_visitor) in zip(
                        earlier, answers, strict=True
                    )
                ]
        if (period + SALT_PERIOD).date() == day:
            self._seen.remember(day, [h for pair in answers for h in pair])
        return answers


def _pair(salt: bytes, item: HashInput, day: date) -> tuple[str, str]:
    return (
        unique_hash(salt, item.site, item.path, item.visitor, day),
        visitor_hash(salt, item.site, item.visitor, day),
    )
