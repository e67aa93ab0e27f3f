"""One process's connection to Redis, and what runs in its place while Redis is away.

Redis holds what is shared between web processes: the rate-limit windows, the
hashes handed out this morning, the job queue. None of it is worth losing a hit
for. So each shared call goes through `RedisLink.call` with a local stand-in (this
process's memory): while Redis does not answer, the stand-in answers, the call is
counted as degraded, and a warning is logged once a minute, not once a hit. The
first failure opens the circuit: later calls go straight to the stand-in (no
connection attempt on the hot path) while a probe thread pings Redis twice a
second; its first answer closes the circuit again.

Limits are then per process, and a visitor first seen in another process this
morning may count as unique once more: the cost of an outage, written down in
docs/deploy.md.
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("tinylytics.redis")

T = TypeVar("T")

# A refused connection fails at once; these bound a Redis that hangs (a partition).
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0
# Any Redis failure sends the call to its stand-in: an error answer (OOM, READONLY)
# must no more cost a hit than a refused connection.
DOWN_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, OSError)


def redis_client(url: str) -> redis.Redis:
    """A client that gives up quickly: one retry (a pooled connection that Redis closed
    when it restarted), no backoff, short timeouts. redis-py's default (ten retries
    with backoff) held every hit for seconds while Redis was down."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=READ_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )


def _where(url: str) -> str:
    """host:port of a Redis URL, never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


class RedisLink:
    WARN_EVERY_SECONDS = 60.0
    PROBE_EVERY_SECONDS = 0.5

    def __init__(self, url: str) -> None:
        self.client = redis_client(url)
        self.where = _where(url)
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_warning = 0.0
        self._degraded: Counter[str] = Counter()
        self._probe: threading.Thread | None = None
        self._closed = threading.Event()

    # -- calls ---------------------------------------------------------------------------
    def call(self, use: str, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """`shared()` (which talks to Redis), or `local()` when Redis does not answer."""
        if self._down_since is None:
            try:
                return shared()
            except DOWN_ERRORS as error:
                self._went_down(error)
        self._count(use)
        return local()

    @property
    def is_up(self) -> bool:
        return self._down_since is None

    def check(self) -> bool:
        """Ask Redis now (the health check); a failure opens the circuit like any other."""
        if self._down_since is not None:
            return False  # the probe is asking already
        try:
            self.client.ping()
        except DOWN_ERRORS as error:
            self._went_down(error)
            return False
        return True

    def degraded_calls(self) -> dict[str, int]:
        """How many calls of each use ran without Redis since this process started."""
        with self._lock:
            return dict(self._degraded)

    # -- the circuit -----------------------------------------------------------------------
    def _went_down(self, error: Exception) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.time()
            self._next_warning = self._down_since + self.WARN_EVERY_SECONDS
            if not self._closed.is_set():
                self._probe = threading.Thread(
                    target=self._wait_for_redis, name="redis-probe", daemon=True
                )
                self._probe.start()
        log.warning(
            "Redis at %s is unreachable (%s): rate limits and unique-visitor bookkeeping "
            "are kept in this process until it is back",
            self.where,
            type(error).__name__,
        )

    def _count(self, use: str) -> None:
        now = time.time()
        with self._lock:
            self._degraded[use] += 1
            if now < self._next_warning or self._down_since is None:
                return
            self._next_warning = now + self.WARN_EVERY_SECONDS
            since, total = self._down_since, sum(self._degraded.values())
        log.warning(
            "Redis at %s is still unreachable (for %.0f s): %d calls ran without it so far",
            self.where,
            now - since,
            total,
        )

    def _wait_for_redis(self) -> None:
        while not self._closed.wait(self.PROBE_EVERY_SECONDS):
            try:
                self.client.ping()
            except DOWN_ERRORS:
                continue
            with self._lock:
                since, self._down_since = self._down_since, None
                self._probe = None
                total = sum(self._degraded.values())
            log.warning(
                "Redis at %s is back after %.0f s; %d calls ran without it since this "
                "process started",
                self.where,
                time.time() - (since or time.time()),
                total,
            )
            return

    def close(self) -> None:
        self._closed.set()
        probe = self._probe
        if probe is not None:
            probe.join(timeout=2)
        self.client.close()
