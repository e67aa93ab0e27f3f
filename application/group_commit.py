"""Group commit: concurrent requests' hits saved together, each request answered after commit.

A request thread hands its hits over and waits; one committer thread saves whatever
has queued up since its last commit in a single transaction, then wakes every
waiting request. Under load a transaction carries many requests (the cost of a
commit is shared); when idle a lone hit is committed at once, with no added wait.
An acknowledged hit is therefore always a committed one.
"""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tinylytics.group_commit")

# Saves items in one transaction and answers one result per item, in order.
Save = Callable[[Sequence[Any]], list[Any]]


class CommitFailed(RuntimeError):
    """The hits of this request could not be saved; nothing of them was kept."""


@dataclass
class _Request:
    items: Sequence[Any]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[Any] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Commits with `committers` threads: while one waits on the database, another
    can prepare the next batch (a commit is several network round trips)."""

    def __init__(
        self,
        save: Save,
        max_batch: int = 2000,
        committers: int = 1,
        is_outage: Callable[[BaseException], bool] = lambda _error: False,
    ) -> None:
        self._save = save
        self._is_outage = is_outage
        self._max_batch = max_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._run, name=f"group-commit-{n}", daemon=True)
            for n in range(committers)
        ]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def submit(self, items: Sequence[Any], timeout: float = 60.0) -> list[Any]:
        """Save these items (atomically, with others); their results once committed."""
        if not items:
            return []
        if self._closed:
            raise CommitFailed("the server is shutting down")
        request = _Request(items)
        self._queue.put(request)
        if not request.done.wait(timeout):
            raise CommitFailed("timed out waiting for the database")
        if request.error is not None:
            raise CommitFailed(str(request.error)) from request.error
        assert request.results is not None
        return request.results

    def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def _take_batch(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size, stop = [first], len(first.items), False
        while size < self._max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                stop = True
                break
            batch.append(more)
            size += len(more.items)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._take_batch(first)
            outage = self._commit(batch)
            while outage is not None and not stop:
                # What queued while the database kept this batch waiting would wait as
                # long again, one batch after another: it fails with it, at once.
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                self._fail([more], outage)
            if stop:
                return

    def _commit(self, batch: list[_Request]) -> BaseException | None:
        """Save a batch; returns the error when the database did not answer."""
        try:
            results = self._save([item for request in batch for item in request.items])
        except Exception as error:
            outage = self._is_outage(error)
            if len(batch) == 1 or outage:
                # Alone, or the database is down (one by one, each would wait as long).
                log.warning("commit of %d request(s) failed: %s", len(batch), error)
                self._fail(batch, error)
                return error if outage else None
            # One request's rows must not sink the others': commit them one by one.
            for request in batch:
                self._commit([request])
            return None
        offset = 0
        for request in batch:
            request.results = results[offset : offset + len(request.items)]
            offset += len(request.items)
            request.done.set()
        return None

    @staticmethod
    def _fail(batch: list[_Request], error: BaseException) -> None:
        for request in batch:
            request.error = error
            request.done.set()
