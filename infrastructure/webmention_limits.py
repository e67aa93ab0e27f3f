"""Per-source limits on received Webmentions, with the `limits` library.

Each Webmention makes this server fetch a page, so a sender is held to a few an hour
per source URL and some more per source host, in fixed windows shared through Redis
when it is set (this process's memory while Redis is away, as every limit:
infrastructure/rate_limits.py). Keys are the source's URL and host, never an address.
"""

import hashlib
from urllib.parse import urlsplit

from limits import RateLimitItemPerHour
from limits.strategies import FixedWindowRateLimiter

from infrastructure.rate_limits import limits_storage
from infrastructure.redis_link import RedisLink
from infrastructure.settings import Settings

PER_SOURCE_URL = 10  # an hour: a sender re-sends after each edit of its page


class WebmentionLimiter:
    """The `SourceLimiter` port."""

    def __init__(self, settings: Settings, link: RedisLink | None = None) -> None:
        self._limiter = FixedWindowRateLimiter(limits_storage(settings, "wm", link))
        self._per_url = RateLimitItemPerHour(min(PER_SOURCE_URL, settings.webmention_rate_limit))
        self._per_host = RateLimitItemPerHour(settings.webmention_rate_limit)

    def allow(self, source: str) -> bool:
        host = (urlsplit(source).hostname or "").lower()
        url_key = hashlib.blake2b(source.encode(), digest_size=12).hexdigest()
        # Both windows are tested before either is counted: a refused one costs nothing.
        if not self._limiter.test(self._per_host, "host", host):
            return False
        if not self._limiter.test(self._per_url, "url", url_key):
            return False
        self._limiter.hit(self._per_host, "host", host)
        return self._limiter.hit(self._per_url, "url", url_key)
