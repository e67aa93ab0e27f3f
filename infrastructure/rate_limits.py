"""API rate limits with the `limits` library: in memory alone, shared through Redis when set."""

import threading
import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from infrastructure.settings import Settings


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends


class ApiRateLimiter:
    """N requests per hour per API key, in fixed hourly windows."""

    def __init__(self, settings: Settings) -> None:
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(settings.redis_url, key_prefix=f"{settings.redis_prefix}:rl")
        else:
            storage = MemoryStorage()
        self._limiter = FixedWindowRateLimiter(storage)
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


class VisitorRateLimiter:
    """At most N hits a minute from one visitor (collector and pixel), in a moving window.

    Keys are one-way hashes made by the collection service; they expire with the
    window, so nothing about a visitor outlives a minute. With Redis the window is
    shared by every web process (the `limits` library); alone, it is kept in memory
    here, because the library's memory storage starts a timer thread for every new
    key, and every visitor is a new key on the hot path.
    """

    WINDOW_SECONDS = 60.0

    def __init__(self, settings: Settings) -> None:
        self._amount = settings.visitor_rate_limit_per_minute
        self._limiter: MovingWindowRateLimiter | None = None
        if settings.redis_url:
            storage = RedisStorage(settings.redis_url, key_prefix=f"{settings.redis_prefix}:vl")
            self._limiter = MovingWindowRateLimiter(storage)
            self._item = RateLimitItemPerMinute(self._amount)
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + self.WINDOW_SECONDS

    def allow(self, key: str) -> bool:
        if self._limiter is not None:
            return self._limiter.hit(self._item, key)
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
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
