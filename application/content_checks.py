"""Content checks on the clock and on demand, and the alert mail after a crawl.

- Enabling (a subscribed owner) puts the site's `content.check` job due at once (the
  initial check), then every CHECK_EVERY seconds (daily). "Check All Content" moves it
  to now; "Check specific URL" puts a one-shot `content.url` job.
- A firing crawls (the `Crawler` port), replaces the site's check rows (`CheckRows`:
  one row per URL, samples are rows) and records the findings on the site's
  `ContentMonitor` (issue found / fixed are events). Only a complete crawl may fix
  what it no longer sees (domain/content_monitoring.py). A crawl cut short by a
  shutdown asks to run again in a few minutes; one cut short by a crash (the lease
  runs out) is fired again by the clock, from the start.
- After a crawl with new issues that are not ignored: one e-mail to the owner (unless
  alerts are off or paused), kept once under a key that names the crawl.
"""

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.clock import Firing, Job, JobKind, LeaseKeeper, Recurrence, Schedule
from application.content_monitoring import ContentMonitoring
from application.crawl_progress import ProgressBoard, Sampler
from application.crawling import CrawlCounts, Crawler, CrawlPlan, CrawlReport, LinkCheck
from application.mail import MailTemplates, Message, Postbox
from domain.content_monitoring import ContentMonitor, Finding
from domain.errors import DomainError, NotFound
from domain.links import BROKEN_LINK, MIXED_CONTENT, NotAUrl, normalize

log = logging.getLogger("tinylytics.content")

CHECK_KIND = "content.check"
URL_KIND = "content.url"
CHECK_EVERY = 24 * 3600  # seconds: each site is crawled daily
RETRY_INTERRUPTED = timedelta(minutes=5)
MIXED_MESSAGE = "Insecure resource (http://) loaded on a secure page (https://)"


def utcnow() -> datetime:
    return datetime.now(UTC)


class CheckRows(Protocol):
    """Where each crawl's checked URLs are kept (one row per site and URL)."""

    def replace(self, site_id: UUID, checks: Sequence[LinkCheck], everything: bool) -> None:
        """`everything`: these are all of the site's rows now (a complete crawl);
        otherwise they replace only the rows of the same URLs."""
        ...


class AlertLinks(Protocol):
    def content(self, site_uid: str) -> str:
        """The absolute URL of the site's Content tab."""
        ...


def findings(report: CrawlReport) -> list[Finding]:
    """What a crawl's rows mean: broken links, and mixed content."""
    found = []
    for check in report.checks:
        if check.broken:
            found.append(
                Finding(
                    check.url,
                    BROKEN_LINK,
                    check.status_code,
                    check.error_message,
                    check.checked_at,
                )
            )
        if check.mixed:
            found.append(
                Finding(
                    check.url, MIXED_CONTENT, check.status_code, MIXED_MESSAGE, check.checked_at
                )
            )
    return found


class ContentChecks:
    def __init__(
        self,
        monitoring: ContentMonitoring,
        crawler: Crawler,
        rows: CheckRows,
        schedule: Schedule,
        postbox: Postbox,
        templates: MailTemplates,
        links: AlertLinks,
        now: Callable[[], datetime] = utcnow,
        progress: ProgressBoard | None = None,
    ) -> None:
        self.monitoring = monitoring
        self.crawler = crawler
        self.rows = rows
        self.schedule = schedule
        self.postbox = postbox
        self.templates = templates
        self.links = links
        self.now = now
        self.progress = progress

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(CHECK_KIND, self.on_clock, "crawl a site for broken links and mixed content"),
            JobKind(URL_KIND, self.on_url, "check one URL of a site (on demand)"),
        ]

    # -- what the owner asks for -------------------------------------------------------
    def enable(
        self, site_id: UUID, root_path: str | None = None, owner_id: UUID | None = None
    ) -> ContentMonitor:
        """Turn monitoring on (or change its root) and queue the initial check at once."""
        monitor = self.monitoring.enable(site_id, root_path, owner_id)
        self._due(site_id, self.now())
        return monitor

    def disable(self, site_id: UUID, owner_id: UUID | None = None) -> None:
        self.monitoring.disable(site_id, owner_id)
        self.schedule.remove(CHECK_KIND, [str(site_id)])

    def check_all(self, site_id: UUID, owner_id: UUID | None = None) -> None:
        self.monitoring.enabled(site_id, owner_id)
        self._due(site_id, self.now())

    def check_url(self, site_id: UUID, url: object, owner_id: UUID | None = None) -> str:
        """Queue a check of one URL (a page of the site and what is on it, or a link)."""
        self.monitoring.enabled(site_id, owner_id)
        site = self.monitoring.sites.get_site(site_id)
        if not isinstance(url, str) or not url.strip():
            raise DomainError("URL can't be blank")
        try:
            target = normalize(url, site.url)
        except NotAUrl as error:
            raise DomainError(f"URL is not valid: {error}") from None
        if target is None:
            raise DomainError("URL must start with http:// or https:// (or be a path)")
        self.schedule.put([Job(URL_KIND, f"{site_id} {target}", self.now())])
        return target

    def _due(self, site_id: UUID, at: datetime) -> None:
        self.schedule.put([Job(CHECK_KIND, str(site_id), at, Recurrence(every=CHECK_EVERY))])

    # -- on the clock ------------------------------------------------------------------
    def on_clock(self, firing: Firing) -> datetime | None:
        # A big site's crawl outlasts the clock's lease: it renews it as it goes.
        keeper = LeaseKeeper(self.schedule, firing, self.now)
        try:
            report = self.run_check(UUID(firing.key), keep_alive=keeper.keep)
        except NotFound:
            self.schedule.remove(CHECK_KIND, [firing.key])  # the site was erased
            return None
        if report is not None and "interrupted" in (report.stopped_because or ""):
            return self.now() + RETRY_INTERRUPTED  # a shutdown: crawl again soon
        return None

    def on_url(self, firing: Firing) -> None:
        site, _, url = firing.key.partition(" ")
        keeper = LeaseKeeper(self.schedule, firing, self.now)
        with contextlib.suppress(NotFound):
            self.run_check(UUID(site), url, keep_alive=keeper.keep)

    def run_check(
        self,
        site_id: UUID,
        url: str | None = None,
        keep_alive: Callable[[], None] | None = None,
    ) -> CrawlReport | None:
        """Crawl the site (or check one URL), keep the rows, record the issues, alert
        once. None when monitoring is off or the plan lapsed: nothing is crawled."""
        try:
            monitor = self.monitoring.enabled(site_id)
        except DomainError as off:
            if isinstance(off, NotFound):
                raise
            return None
        site = self.monitoring.sites.get_site(site_id)
        crawl_id = uuid4().hex
        self.monitoring.start_crawl(site_id, crawl_id, url or "all")
        plan = CrawlPlan(site.url, monitor.root_path, start=url, follow=url is None)
        sampler = None
        if self.progress is not None:
            sampler = Sampler(self.progress, site_id, crawl_id, self.now)
            sampler.start()

        def progress(counts: CrawlCounts) -> None:
            if sampler is not None:
                sampler(counts)
            if keep_alive is not None:
                keep_alive()

        try:
            report = self.crawler.crawl(plan, progress)
            # Only a complete crawl of the whole site stands for all of it.
            everything = url is None and report.complete
            self.rows.replace(site_id, report.checks, everything=everything)
            recorded = self.monitoring.finish_crawl(
                site_id,
                crawl_id,
                findings(report),
                [c.url for c in report.checks if not c.broken],
                complete=everything,
                at=report.finished_at,
                checked=len(report.checks),
            )
        finally:
            if sampler is not None:
                sampler.finish()
        if recorded is None:
            return report  # turned off while crawling
        monitor, new = recorded
        log.info(
            "content check of site %s: %d URLs, %d pages, %d new issue(s)%s",
            site_id,
            len(report.checks),
            report.pages,
            len(new),
            "" if report.complete else f" (stopped: {report.stopped_because})",
        )
        if new and monitor.mails_alerts(self.now()):
            owner = self.monitoring.sites.get_account(site.owner_id)
            self.alert(site, site_id, owner.email, new, crawl_id)
        return report

    def alert(
        self, site: Any, site_id: UUID, address: str, new: Sequence[Finding], crawl_id: str
    ) -> None:
        broken = [f for f in new if f.issue_type == BROKEN_LINK]
        mixed = [f for f in new if f.issue_type == MIXED_CONTENT]
        link = self.links.content(site.uid)
        text, html = self.templates.render(
            "content_alert",
            {"site": site, "broken": broken, "mixed": mixed, "content_url": link},
        )
        count = len(new)
        message = Message(
            to=address,
            subject=f"{count} new content issue{'s' if count != 1 else ''} on {site.label}",
            text=text,
            html=html,
            links=(link,),
        )
        self.postbox.post(
            message,
            f"content-alert:{site_id}:{crawl_id}",
            "content_alert",
            account_id=site.owner_id,
            site_id=site_id,
        )
