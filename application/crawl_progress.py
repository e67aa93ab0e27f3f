"""Progress of a running content check: a sample, not an event.

While a crawl runs, the crawler reports its counts after each batch of answers (many a
second). `Sampler` keeps one row per site up to date through the `ProgressBoard` port
(projections/content_progress.py), at most every `every` or every `pages` pages, so a
big crawl costs a few writes, not one per URL. The row is written with zeros when the
crawl starts and removed when it finishes; the Content tab reads it while the site's
status says a check is running. A lost sample costs nothing but a stale number, so a
failed write is logged and the crawl goes on.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from application.crawling import CrawlCounts

log = logging.getLogger("tinylytics.content")

SAMPLE_EVERY = timedelta(seconds=2)
SAMPLE_PAGES = 100


@dataclass(frozen=True)
class CrawlSample:
    crawl_id: str
    counts: CrawlCounts
    started_at: datetime
    updated_at: datetime


class ProgressBoard(Protocol):
    """Where the sample of each site's running crawl is kept (one row per site)."""

    def record(self, site_id: UUID, sample: CrawlSample) -> None: ...

    def clear(self, site_id: UUID, crawl_id: str) -> None:
        """Remove the site's row if it is still this crawl's."""
        ...


class Sampler:
    """The crawl's `Progress` callback for one crawl of one site."""

    def __init__(
        self,
        board: ProgressBoard,
        site_id: UUID,
        crawl_id: str,
        now: Callable[[], datetime],
        every: timedelta = SAMPLE_EVERY,
        pages: int = SAMPLE_PAGES,
    ) -> None:
        self.board = board
        self.site_id = site_id
        self.crawl_id = crawl_id
        self.now = now
        self.every = every
        self.pages = pages
        self.started_at = now()
        self._last_at = self.started_at
        self._last_pages = 0

    def start(self) -> None:
        self._write(CrawlCounts(), self.started_at)

    def __call__(self, counts: CrawlCounts) -> None:
        at = self.now()
        if at - self._last_at < self.every and counts.pages - self._last_pages < self.pages:
            return
        self._last_at, self._last_pages = at, counts.pages
        self._write(counts, at)

    def finish(self) -> None:
        try:
            self.board.clear(self.site_id, self.crawl_id)
        except Exception:
            log.exception("the progress of crawl %s could not be cleared", self.crawl_id)

    def _write(self, counts: CrawlCounts, at: datetime) -> None:
        try:
            self.board.record(self.site_id, CrawlSample(self.crawl_id, counts, self.started_at, at))
        except Exception:
            log.exception("a progress sample of crawl %s was lost", self.crawl_id)
