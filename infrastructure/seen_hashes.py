"""The hashes handed out earlier today, so a salt rotation keeps morning visitors' hashes.

`MemorySeenHashes` serves the embedded, single-process server; `RedisSeenHashes`
shares the set between web processes. Both hold salted hashes only, and only for the
current UTC day.
"""

import threading
from collections.abc import Collection
from datetime import date, timedelta

from infrastructure.redis_link import RedisLink

# A day's set is read until midnight UTC; the margin covers clock skew between
# processes and a late batch, then Redis drops it without a cleanup job.
REDIS_TTL = timedelta(hours=26)


class MemorySeenHashes:
    """One process's memory: today's set only, the earlier days' dropped as a day begins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._day: date | None = None
        self._hashes: set[str] = set()

    def remember(self, day: date, hashes: Collection[str]) -> None:
        with self._lock:
            if self._day is None or day > self._day:
                self._day, self._hashes = day, set()
            if day == self._day:
                self._hashes.update(hashes)
            # A straggler from a finished day is never looked up again: nothing to keep.

    def known(self, day: date, hashes: Collection[str]) -> set[str]:
        with self._lock:
            if day != self._day:
                return set()
            return self._hashes.intersection(hashes)

    def taken(self) -> tuple[date | None, set[str]]:
        """Today's set, emptied: the day and the hashes it held."""
        with self._lock:
            hashes, self._hashes = self._hashes, set()
            return self._day, hashes


class RedisSeenHashes:
    """A Redis set per UTC day; each call is one round trip. Needs Redis 6.2+ (SMISMEMBER).

    While Redis does not answer, what is remembered is kept in this process's memory
    (and found there), then written to Redis by the first call that reaches it again,
    so the other web processes find this morning's visitors in the afternoon too.
    """

    USE = "seen hashes"

    def __init__(self, redis_url: str, prefix: str, link: RedisLink | None = None) -> None:
        self._owns_link = link is None
        self._link = link or RedisLink(redis_url)
        self._redis = self._link.client
        self._prefix = prefix
        self._pending = MemorySeenHashes()
        self._pending_lock = threading.Lock()
        self._has_pending = False

    def _key(self, day: date) -> str:
        return f"{self._prefix}:seen:{day.isoformat()}"

    def remember(self, day: date, hashes: Collection[str]) -> None:
        if not hashes:
            return
        self._link.call(
            self.USE,
            lambda: self._remember_shared(day, hashes),
            lambda: self._remember_local(day, hashes),
        )

    def _remember_local(self, day: date, hashes: Collection[str]) -> None:
        with self._pending_lock:
            self._pending.remember(day, hashes)
            self._has_pending = True

    def known(self, day: date, hashes: Collection[str]) -> set[str]:
        if not hashes:
            return set()
        candidates = list(hashes)
        found = self._link.call(
            self.USE, lambda: self._known_shared(day, candidates), lambda: set[str]()
        )
        if self._has_pending:
            found |= self._pending.known(day, candidates)
        return found

    def _remember_shared(self, day: date, hashes: Collection[str]) -> None:
        self._flush_pending()
        self._add(day, hashes)

    def _known_shared(self, day: date, candidates: list[str]) -> set[str]:
        self._flush_pending()
        flags = self._redis.smismember(self._key(day), candidates)
        return {h for h, flag in zip(candidates, flags, strict=True) if flag}

    def _add(self, day: date, hashes: Collection[str]) -> None:
        key = self._key(day)
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(key, *hashes)
        pipe.expire(key, REDIS_TTL)
        pipe.execute()

    def _flush_pending(self) -> None:
        """Write what was remembered during an outage to Redis (a no-op otherwise)."""
        if not self._has_pending:
            return
        with self._pending_lock:
            day, hashes = self._pending.taken()
            if day is not None and hashes:
                try:
                    self._add(day, hashes)
                except BaseException:
                    self._pending.remember(day, hashes)  # not written: kept for the next try
                    raise
            self._has_pending = False

    def close(self) -> None:
        if self._owns_link:
            self._link.close()
