"""A site's content monitoring: its settings and the issues its crawls found.

One aggregate per site (its id derived from the site's). The changes that matter are
events: enabled and disabled, a crawl started and finished, an issue found, an issue
fixed, an issue ignored or un-ignored, e-mails paused or resumed, alerts switched.
Each checked URL of a crawl is a row (application/crawling.py `LinkCheck`), never an
event (ARCHITECTURE.md decision 6).

What "fixed" means (docs/decisions/0013-content-monitoring.md): an open issue is
fixed when a complete crawl no longer finds it; a crawl that stopped early (or a
check of one URL) fixes only broken links whose URL it checked and found answering.
Half a crawl never reports what it did not see as fixed.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.links import BROKEN_LINK, ISSUE_TYPES, MIXED_CONTENT, root_path

MAX_ROOT_PATH = 512


@dataclass(frozen=True)
class Finding:
    """An issue as one crawl saw it."""

    url: str
    issue_type: str  # BROKEN_LINK or MIXED_CONTENT
    status_code: int | None
    error_message: str | None
    checked_at: datetime

    @property
    def key(self) -> str:
        return issue_key(self.url, self.issue_type)


def issue_key(url: str, issue_type: str) -> str:
    if issue_type not in ISSUE_TYPES:
        raise DomainError(f"Unknown issue type: {issue_type!r}")
    return f"{issue_type} {url}"


def validate_root_path(text: str | None) -> str:
    if text is not None and not isinstance(text, str):
        raise DomainError("Root path must be a string")
    path = root_path(text)
    if len(path) > MAX_ROOT_PATH:
        raise DomainError(f"Root path is too long (at most {MAX_ROOT_PATH} characters)")
    if any(c in path for c in "?#") or any(ord(c) < 33 for c in path):
        raise DomainError("Root path must be a plain path such as /blog")
    return path


class ContentMonitor(Aggregate):
    @staticmethod
    def create_id(site_id: UUID, **_kwargs: object) -> UUID:
        return monitor_id(site_id)

    @event("Registered")
    def __init__(self, site_id: UUID, root_path: str, at: datetime) -> None:
        self.site_id = site_id
        self.enabled = True
        self.root_path = root_path
        self.enabled_at = at
        self.alerts_on = True
        self.emails_paused_until: datetime | None = None
        self.issues: dict[str, dict[str, object]] = {}
        self.ignored: dict[str, dict[str, object]] = {}
        self.last_check_at: datetime | None = None
        self.crawl_running: str | None = None  # the running crawl's id
        self.crawls_finished = 0

    # -- settings ----------------------------------------------------------------------
    def enable(self, root: str, at: datetime) -> None:
        if not self.enabled or root != self.root_path:
            self._enabled(root_path=root, at=at)

    @event("Enabled")
    def _enabled(self, root_path: str, at: datetime) -> None:
        self.enabled = True
        self.root_path = root_path
        self.enabled_at = at

    def disable(self) -> None:
        if self.enabled:
            self._disabled()

    @event("Disabled")
    def _disabled(self) -> None:
        self.enabled = False
        self.crawl_running = None

    def pause_emails(self, until: datetime, now: datetime) -> None:
        if until <= now:
            raise DomainError("Pause e-mails until a moment in the future")
        self._paused(until=until)

    @event("EmailsPaused")
    def _paused(self, until: datetime) -> None:
        self.emails_paused_until = until

    def resume_emails(self) -> None:
        if self.emails_paused_until is not None:
            self._resumed()

    @event("EmailsResumed")
    def _resumed(self) -> None:
        self.emails_paused_until = None

    def switch_alerts(self, on: bool) -> None:
        if bool(on) != self.alerts_on:
            self._alerts(on=bool(on))

    @event("AlertsSwitched")
    def _alerts(self, on: bool) -> None:
        self.alerts_on = on

    def emails_paused(self, now: datetime) -> bool:
        return self.emails_paused_until is not None and now < self.emails_paused_until

    def mails_alerts(self, now: datetime) -> bool:
        return self.alerts_on and not self.emails_paused(now)

    # -- issues ------------------------------------------------------------------------
    def ignore(self, key: str) -> None:
        if key in self.ignored:
            return
        found = self.issues.get(key)
        if found is None:
            raise DomainError("No such issue")
        self._ignored(key=key, issue=dict(found))

    @event("Ignored")
    def _ignored(self, key: str, issue: dict[str, object]) -> None:
        self.ignored[key] = issue

    def unignore(self, key: str) -> None:
        if key not in self.ignored:
            raise DomainError("That issue is not ignored")
        self._unignored(key=key)

    @event("Unignored")
    def _unignored(self, key: str) -> None:
        del self.ignored[key]

    # -- crawls ------------------------------------------------------------------------
    @property
    def is_initial_check(self) -> bool:
        return self.enabled and self.crawls_finished == 0

    def start_crawl(self, crawl_id: str, scope: str) -> None:
        if not self.enabled:
            raise DomainError("Content monitoring is not enabled for this site")
        self._crawl_started(crawl_id=crawl_id, scope=scope)

    @event("CrawlStarted")
    def _crawl_started(self, crawl_id: str, scope: str) -> None:
        self.crawl_running = crawl_id

    def finish_crawl(
        self,
        crawl_id: str,
        findings: Sequence[Finding],
        answered: Collection[str],
        complete: bool,
        at: datetime,
        checked: int,
    ) -> list[Finding]:
        """Record what a crawl found; returns the new issues that are not ignored.

        `answered`: URLs this crawl checked and found answering (not broken);
        `complete`: the crawl saw the whole site under the root.
        """
        seen = {f.key: f for f in findings}
        new = []
        for key, finding in seen.items():
            if key not in self.issues:
                self._found(
                    key=key,
                    url=finding.url,
                    issue_type=finding.issue_type,
                    status_code=finding.status_code,
                    error_message=finding.error_message,
                    checked_at=finding.checked_at,
                )
                if key not in self.ignored:
                    new.append(finding)
        for key, issue in list(self.issues.items()):
            if key in seen:
                continue
            url, kind = str(issue["url"]), str(issue["issue_type"])
            if complete or (kind == BROKEN_LINK and url in answered):
                self._fixed(key=key, url=url, issue_type=kind, at=at)
        self._crawl_finished(crawl_id=crawl_id, complete=complete, at=at, checked=checked)
        return new

    @event("IssueFound")
    def _found(
        self,
        key: str,
        url: str,
        issue_type: str,
        status_code: int | None,
        error_message: str | None,
        checked_at: datetime,
    ) -> None:
        self.issues[key] = {
            "url": url,
            "issue_type": issue_type,
            "status_code": status_code,
            "error_message": error_message,
            "checked_at": checked_at,
        }

    @event("IssueFixed")
    def _fixed(self, key: str, url: str, issue_type: str, at: datetime) -> None:
        del self.issues[key]

    @event("CrawlFinished")
    def _crawl_finished(self, crawl_id: str, complete: bool, at: datetime, checked: int) -> None:
        if self.crawl_running == crawl_id:
            self.crawl_running = None
        self.last_check_at = at
        self.crawls_finished += 1


def monitor_id(site_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"tinylytics:content-monitor:{site_id}")


__all__ = ["BROKEN_LINK", "MIXED_CONTENT", "ContentMonitor", "Finding", "issue_key"]
