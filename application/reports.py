"""The weekly email report: built from the rollups, posted once per site, week and address.

Each active site has a job `report.weekly` (key: the site's id) due every Monday at
06:00 in the site's zone; `report.sync` (every few minutes, and at a clock's first
turn) adds the jobs of new sites, moves those whose site changed zone and removes
those of sites archived or erased. A firing reports on the 7 local days before the
day it runs, so a report fired late (the server was down on Monday) still covers
last week, and fires once. Each mail's idempotency key names the site, the ISO week
and the address: a clock that fires again after losing its lease posts nothing new.
"Send Report Now" sends the same report at once, under a key of its own.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.clock import Firing, Job, JobKind, Recurrence, Schedule, weekly
from application.mail import Attempted, MailTemplates, Message, Postbox
from domain.date_ranges import DateRange
from domain.errors import NotFound
from domain.reports import (
    REPORT_HOUR,
    REPORT_WEEKDAY,
    TOP_KUDOS,
    TOP_PAGES,
    ReportNumbers,
    ReportPeriod,
    SiteZone,
    report_addresses,
    report_key,
    report_period,
)

log = logging.getLogger("tinylytics.reports")

REPORT_KIND = "report.weekly"
SYNC_KIND = "report.sync"
SYNC_EVERY = 600  # seconds


class ReportReads(Protocol):
    """What the report reads from the read models (projections/reports.py)."""

    def report_numbers(self, site_id: UUID, span: DateRange, top: int) -> ReportNumbers:
        """Totals, top pages and kudos by page over the site's local days, from rollups."""
        ...

    def active_sites(self) -> list[SiteZone]: ...


class Sites(Protocol):
    """The configuration application, as far as reports need it."""

    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...

    def get_account(self, account_id: UUID) -> Any: ...


class ReportLinks(Protocol):
    def dashboard(self, site_uid: str) -> str: ...

    def unsubscribe(self, site_id: UUID, address: str) -> str:
        """An absolute, signed URL that turns the report off for this address."""
        ...


@dataclass(frozen=True)
class Report:
    site_id: UUID
    site_uid: str
    label: str
    url: str
    period: ReportPeriod
    numbers: ReportNumbers
    unique_tracking: bool


def utcnow() -> datetime:
    return datetime.now(UTC)


def report_recurrence(zone: str) -> Recurrence:
    return weekly(REPORT_WEEKDAY, REPORT_HOUR, zone)


class WeeklyReports:
    def __init__(
        self,
        sites: Sites,
        reads: ReportReads,
        postbox: Postbox,
        templates: MailTemplates,
        links: ReportLinks,
        schedule: Schedule,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sites = sites
        self.reads = reads
        self.postbox = postbox
        self.templates = templates
        self.links = links
        self.schedule = schedule
        self.now = now

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(REPORT_KIND, self.on_clock, "a site's Monday report"),
            JobKind(SYNC_KIND, self.sync, "keep one report job per active site"),
        ]

    def initial_jobs(self) -> list[Job]:
        """Jobs every install has: the sync, due at once the first time."""
        return [Job(SYNC_KIND, "all", self.now(), Recurrence(every=SYNC_EVERY))]

    # -- the schedule ------------------------------------------------------------------
    def sync(self, _firing: Firing | None = None) -> None:
        """One `report.weekly` job per active site, due next Monday in the site's zone."""
        now = self.now()
        wanted = {str(s.site_id): s.timezone for s in self.reads.active_sites()}
        have = self.schedule.keys(REPORT_KIND)
        put = []
        for key, zone in wanted.items():
            job = have.get(key)
            if job is None or job.recurrence is None or job.recurrence.zone != zone:
                rule = report_recurrence(zone)
                put.append(Job(REPORT_KIND, key, rule.next_after(now), rule))
        gone = [key for key in have if key not in wanted]
        self.schedule.put(put)
        self.schedule.remove(REPORT_KIND, gone)
        if put or gone:
            log.info("report jobs: %d added or moved, %d removed", len(put), len(gone))

    def on_clock(self, firing: Firing) -> None:
        try:
            self.send(UUID(firing.key))
        except NotFound:
            self.schedule.remove(REPORT_KIND, [firing.key])  # erased meanwhile

    # -- building and sending ----------------------------------------------------------
    def build(self, site_id: UUID, at: datetime | None = None) -> Report:
        site = self.sites.get_site(site_id)
        period = report_period(at or self.now(), site.timezone)
        span = DateRange(period.first, period.last, site.timezone)
        numbers = self.reads.report_numbers(site_id, span, TOP_PAGES)
        return Report(
            site_id=site_id,
            site_uid=site.uid,
            label=site.label,
            url=site.url,
            period=period,
            numbers=ReportNumbers(
                numbers.hits, numbers.uniques, numbers.top_pages, numbers.kudos[:TOP_KUDOS]
            ),
            unique_tracking=site.tracks_uniques,
        )

    def addresses(self, site_id: UUID) -> list[str]:
        site = self.sites.get_site(site_id)
        owner = self.sites.get_account(site.owner_id)
        return report_addresses(owner.email, site.reports_to_owner, list(site.report_recipients))

    def send(self, site_id: UUID, manual: bool = False) -> list[Attempted]:
        """Post the report to every address; on schedule once per week and address,
        by hand ("Send Report Now") each time it is asked for."""
        site = self.sites.get_site(site_id)
        if site.is_archived and not manual:
            return []
        addresses = self.addresses(site_id)
        if not addresses:
            return []
        report = self.build(site_id)
        posted = []
        batch = uuid4().hex[:12]
        for address in addresses:
            key = report_key(site_id, report.period, address)
            if manual:
                key = f"{key}:now:{batch}"
            message = self.message(report, address)
            posted.append(
                self.postbox.post(message, key, "report", account_id=site.owner_id, site_id=site_id)
            )
        log.info(
            "weekly report of site %s for %s posted to %d address(es)",
            site_id,
            report.period.week,
            len(posted),
        )
        return posted

    def message(self, report: Report, address: str) -> Message:
        unsubscribe = self.links.unsubscribe(report.site_id, address)
        dashboard = self.links.dashboard(report.site_uid)
        period = report.period
        context = {
            "report": report,
            "numbers": report.numbers,
            "first": f"{period.first:%B} {period.first.day}, {period.first.year}",
            "last": f"{period.last:%B} {period.last.day}, {period.last.year}",
            "dashboard_url": dashboard,
            "unsubscribe_url": unsubscribe,
        }
        text, html = self.templates.render("report", context)
        return Message(
            to=address,
            subject=f"Weekly report for {report.label}: {_short(period.first)} to "
            f"{_short(period.last)}, {period.last.year}",
            text=text,
            html=html,
            links=(dashboard, unsubscribe),
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"
