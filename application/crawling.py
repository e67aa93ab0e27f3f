"""The crawler port: what content monitoring asks of a crawl, and what comes back.

The adapter (infrastructure/crawler.py) fetches pages and checks links; the use cases
(application/content_monitoring.py) turn what it found into issues. Each checked URL
is a `LinkCheck` row, never an event (ARCHITECTURE.md decision 6).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.links import Role


@dataclass(frozen=True)
class CrawlPlan:
    """Where a crawl starts and how far it may go."""

    site_url: str  # the site's URL (scheme and host: what "same site" means)
    root: str = "/"  # only pages under this path are followed
    start: str | None = None  # a single URL to check ("Check specific URL"); None: the root
    follow: bool = True  # False: check the start URL (and, if a page, what is on it) only


@dataclass(frozen=True)
class LinkCheck:
    """One distinct URL, checked once in a crawl."""

    url: str
    role: Role  # PAGE when crawled; otherwise how the first page that used it used it
    status_code: int | None
    error_message: str | None  # a sentence a person understands; None when it answered
    checked_at: datetime
    mixed: bool = False  # loaded as a resource over http:// on an https:// page
    found_on: tuple[str, ...] = ()  # the first few pages that reference it

    @property
    def broken(self) -> bool:
        return (
            self.error_message is not None or self.status_code is None or (self.status_code >= 400)
        )


@dataclass(frozen=True)
class CrawlReport:
    checks: list[LinkCheck]
    pages: int
    started_at: datetime
    finished_at: datetime
    # False when the crawl stopped early (page cap, time limit, shutdown): what it did
    # not reach is unknown, so nothing it did not see may be called fixed.
    complete: bool = True
    stopped_because: str | None = None
    skipped: int = 0  # references with other schemes (mailto:, tel:, javascript:, …)
    disallowed: int = 0  # URLs of the site its robots.txt disallows: neither crawled nor checked
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CrawlCounts:
    """How far a running crawl is: a sample, not an event."""

    pages: int = 0  # pages fetched
    checked: int = 0  # distinct URLs checked (pages included), and references no browser can follow
    issues: int = 0  # broken links and mixed content found so far


Progress = Callable[[CrawlCounts], None]  # called by the crawl after each batch of answers


class Crawler(Protocol):
    def crawl(self, plan: CrawlPlan, progress: Progress | None = None) -> CrawlReport: ...
