"""API rate limits with the `limits` library: in memory alone, shared through Redis when set."""

from dataclasses import dataclass

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

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
