"""The hashes handed out earlier today, so a salt rotation keeps morning visitors' hashes.

`MemorySeenHashes` serves the embedded, single-process server; `RedisSeenHashes`
shares the set between web processes. Both hold salted hashes only, and only for the
current UTC day.
"""

import threading
from collections.abc import Collection
from datetime import date, timedelta

import redis

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


class RedisSeenHashes:
    """A Redis set per UTC day; each call is one round trip. Needs Redis 6.2+ (SMISMEMBER)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(redis_url)
        self._prefix = prefix

    def _key(self, day: date) -> str:
        return f"{self._prefix}:seen:{day.isoformat()}"

    def remember(self, day: date, hashes: Collection[str]) -> None:
        if not hashes:
            return
        key = self._key(day)
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(key, *hashes)
        pipe.expire(key, REDIS_TTL)
        pipe.execute()

    def known(self, day: date, hashes: Collection[str]) -> set[str]:
        if not hashes:
            return set()
        candidates = list(hashes)
        flags = self._redis.smismember(self._key(day), candidates)
        return {h for h, flag in zip(candidates, flags, strict=True) if flag}

    def close(self) -> None:
        self._redis.close()
