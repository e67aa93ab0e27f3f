"""Whether the database has been unreachable for a while, so that requests stop waiting.

A request that meets a database that does not answer waits for it (up to about 12 s
for an event-store call, infrastructure/persistence.py): a restart of a few seconds
is waited out and loses nothing. Once the database has been found unreachable for
longer than `GRACE_SECONDS`, waiting helps nobody: every request would hold a worker
thread for those 12 s and the server would stop answering at all. From then on the
web layer answers 503 at once (interfaces/collect/collector.py `mount`), until a
probe (a `SELECT 1` twice a second) finds the database again.

Failures are reported by whoever meets them: the health check, and the request
handlers that turn an unavailable database into a 503.
"""

import logging
import threading
import time

from sqlalchemy import Engine, text

log = logging.getLogger("tinylytics.database")


class DatabaseWatch:
    GRACE_SECONDS = 10.0
    PROBE_EVERY_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._probe: threading.Thread | None = None
        self._closed = threading.Event()

    def failed(self) -> None:
        """The database did not answer someone just now."""
        with self._lock:
            if self._down_since is not None or self._closed.is_set():
                return
            self._down_since = time.time()
            self._probe = threading.Thread(target=self._wait, name="database-probe", daemon=True)
            self._probe.start()

    def answered(self) -> None:
        """The database answered (the health check, the probe)."""
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.warning("the database answers again after %.0f s", time.time() - since)

    def refusing(self) -> bool:
        """True once the database has been unreachable for longer than the grace."""
        since = self._down_since
        return since is not None and time.time() - since >= self.GRACE_SECONDS

    def _wait(self) -> None:
        while not self._closed.wait(self.PROBE_EVERY_SECONDS):
            if self._down_since is None:
                break  # the health check saw it first
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception:
                continue
            self.answered()
            break
        with self._lock:
            if self._probe is threading.current_thread():
                self._probe = None

    def close(self) -> None:
        self._closed.set()
        probe = self._probe
        if probe is not None:
            probe.join(timeout=2)
