"""Rate limits: per API key with the `limits` library; per visitor in batches.

Both are in memory alone and shared through Redis when it is set; while Redis does
not answer, each process keeps its own windows (infrastructure/redis_link.py).
"""

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from infrastructure.redis_link import RedisLink
from infrastructure.settings import Settings


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends


class SharedOrLocalStorage(Storage, MovingWindowSupport):
    """A `limits` storage that is Redis while Redis answers, this process's memory when not.

    The library has no fallback of its own (Flask-Limiter's sits above it), so each
    call the fixed and moving window strategies make goes through the link.
    """

    def __init__(self, link: RedisLink, key_prefix: str, use: str) -> None:
        super().__init__()
        self._link = link
        self._use = use
        self._shared = RedisStorage(
            "redis://", connection_pool=link.client.connection_pool, key_prefix=key_prefix
        )
        self._local = MemoryStorage()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # the link has handled them: nothing reaches the library

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._link.call(
            self._use,
            lambda: self._shared.incr(key, expiry, amount),
            lambda: self._local.incr(key, expiry, amount),
        )

    def get(self, key: str) -> int:
        return self._link.call(
            self._use, lambda: self._shared.get(key), lambda: self._local.get(key)
        )

    def get_expiry(self, key: str) -> float:
        return self._link.call(
            self._use, lambda: self._shared.get_expiry(key), lambda: self._local.get_expiry(key)
        )

    def check(self) -> bool:
        return self._link.check()

    def reset(self) -> int | None:
        return self._link.call(self._use, self._shared.reset, self._local.reset)

    def clear(self, key: str) -> None:
        self._link.call(self._use, lambda: self._shared.clear(key), lambda: self._local.clear(key))

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._link.call(
            self._use,
            lambda: self._shared.acquire_entry(key, limit, expiry, amount),
            lambda: self._local.acquire_entry(key, limit, expiry, amount),
        )

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._link.call(
            self._use,
            lambda: self._shared.get_moving_window(key, limit, expiry),
            lambda: self._local.get_moving_window(key, limit, expiry),
        )


def limits_storage(settings: Settings, name: str, link: RedisLink | None = None) -> Storage:
    """Where a `limits` limiter keeps its windows: Redis when set (shared by every
    process, keys under `<prefix>:<name>`; this process's memory while Redis is
    down), else this process's memory."""
    if settings.redis_url:
        link = link or RedisLink(settings.redis_url)
        return SharedOrLocalStorage(link, f"{settings.redis_prefix}:{name}", f"limits:{name}")
    return MemoryStorage()


class ApiRateLimiter:
    """N requests per hour per API key, in fixed hourly windows."""

    def __init__(self, settings: Settings, link: RedisLink | None = None) -> None:
        self._limiter = FixedWindowRateLimiter(limits_storage(settings, "rl", link))
        self._item = RateLimitItemPerHour(settings.api_rate_limit_per_hour)

    def hit(self, key: str) -> RateDecision:
        allowed = self._limiter.hit(self._item, key)
        stats = self._limiter.get_window_stats(self._item, key)
        return RateDecision(
            allowed=allowed,
            limit=self._item.amount,
            remaining=max(0, stats.remaining),
            reset_at=int(stats.reset_time),
        )


# The moving window of the `limits` library (a list of the last N hit times per key),
# for many keys in one round trip. A key repeated in one call is counted in order.
_MOVING_WINDOW_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local answers = {}
for i, key in ipairs(KEYS) do
  local oldest = redis.call('LINDEX', key, limit - 1)
  if oldest and tonumber(oldest) > now - window then
    answers[i] = 0
  else
    redis.call('LPUSH', key, ARGV[3])
    redis.call('LTRIM', key, 0, limit - 1)
    redis.call('EXPIRE', key, math.ceil(window))
    answers[i] = 1
  end
end
return answers
"""


class VisitorRateLimiter:
    """At most N hits a minute from one visitor (collector and pixel), in a moving window.

    Keys are one-way hashes made by the collection service; they expire with the
    window, so nothing about a visitor outlives a minute. The collector checks a
    whole commit batch at once, and neither the `limits` library's memory storage
    (a timer thread per new key, and every visitor is a new key) nor its Redis
    storage (a round trip per key) can: so the same moving window is kept here,
    in memory alone or in Redis with one script call per batch (in memory again
    while Redis does not answer).
    """

    WINDOW_SECONDS = 60.0

    def __init__(self, settings: Settings, link: RedisLink | None = None) -> None:
        self._amount = settings.visitor_rate_limit_per_minute
        self._link: RedisLink | None = None
        self._owns_link = False
        if settings.redis_url:
            self._owns_link = link is None
            self._link = link or RedisLink(settings.redis_url)
            self._script = self._link.client.register_script(_MOVING_WINDOW_LUA)
            self._prefix = f"{settings.redis_prefix}:vl:"
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + self.WINDOW_SECONDS

    def allow(self, key: str) -> bool:
        return self.allow_many([key])[0]

    def allow_many(self, keys: Sequence[str]) -> list[bool]:
        if not keys:
            return []
        if self._link is not None:
            return self._link.call(
                "visitor rate limit", lambda: self._shared(keys), lambda: self._local(keys)
            )
        return self._local(keys)

    def _shared(self, keys: Sequence[str]) -> list[bool]:
        answers = self._script(
            keys=[self._prefix + key for key in keys],
            args=[self._amount, self.WINDOW_SECONDS, repr(time.time())],
        )
        return [bool(answer) for answer in answers]

    def _local(self, keys: Sequence[str]) -> list[bool]:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            return [self._allow_locked(key, now) for key in keys]

    def _allow_locked(self, key: str, now: float) -> bool:
        window = self._windows.setdefault(key, deque())
        while window and now - window[0] >= self.WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self._amount:
            return False
        window.append(now)
        return True

    def _sweep(self, now: float) -> None:
        """Forget visitors whose last hit has left the window."""
        stale = [k for k, w in self._windows.items() if not w or now - w[-1] >= self.WINDOW_SECONDS]
        for key in stale:
            del self._windows[key]
        self._next_sweep = now + self.WINDOW_SECONDS

    def close(self) -> None:
        if self._link is not None and self._owns_link:
            self._link.close()
