"""Insights: the settings commands, and the daily generation on the clock.

`Insights` is the event-sourced application of the insights store ("insights"): one
`SiteInsights` aggregate per site (domain/insights.py), each insight one of its
events. `DailyInsights` is the use case the clock drives:

- each site with insights on has a job `insights.daily` (key: the site's id) due at
  01:00 every day in the site's zone; `insights.sync` (every 10 minutes) moves jobs
  whose site changed zone and removes those of sites switched off, archived or erased;
- turning insights on puts the daily job and a one-shot `insights.first` due now;
- a firing reads the aggregates of the 7 local days before the day it runs (through
  the `InsightNumbersReads` port, which reads rollups only), finds the signals, has a
  writer put them in words, and saves the insight; the aggregate refuses a second
  insight for the same day, so a re-firing (a lost lease, a second worker, a restart)
  adds nothing;
- after saving, the daily e-mail is posted when the owner asked for it, under a key per
  site, day and address (the postbox sends a key once). The `new_insight` webhook is
  the dispatcher's: it follows the insights log (application/webhook_dispatch.py).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.base import EventSourcedApplication
from application.clock import Firing, Job, JobKind, Recurrence, Schedule, daily
from application.mail import MailTemplates, Message, Postbox
from domain.date_ranges import local_day
from domain.errors import Conflict, NotFound
from domain.insight_signals import InsightNumbers, Signal, detect_signals, qualifies
from domain.insight_writing import write_default
from domain.insights import DEFAULT_WRITER, INSIGHT_HOUR, ReportText, SiteInsights, insights_id

log = logging.getLogger("tinylytics.insights")

DAILY_KIND = "insights.daily"
FIRST_KIND = "insights.first"
SYNC_KIND = "insights.sync"
SYNC_EVERY = 600  # seconds


def utcnow() -> datetime:
    return datetime.now(UTC)


class Insights(EventSourcedApplication):
    """The insights store: settings and history per site."""

    name = "Insights"

    def of_site(self, site_id: UUID) -> SiteInsights | None:
        try:
            found: Any = self.repository.get(insights_id(site_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, SiteInsights) else None

    def _load(self, site_id: UUID) -> SiteInsights:
        return self.of_site(site_id) or SiteInsights(site_id)

    def enable(self, site_id: UUID) -> None:
        insights = self._load(site_id)
        insights.enable()
        self.save(insights)

    def disable(self, site_id: UUID) -> None:
        insights = self._load(site_id)
        insights.disable()
        self.save(insights)

    def configure(self, site_id: UUID, instructions: str | None, daily_email: bool) -> None:
        insights = self._load(site_id)
        insights.configure(instructions, daily_email)
        self.save(insights)

    def record(
        self,
        site_id: UUID,
        for_day: date,
        generated_at: datetime,
        signals: list[Signal],
        text: ReportText,
        writer: str,
    ) -> int:
        """Save an insight; its integer id is the notification id of its event. Conflict
        when the day has one (here or saved by another worker at the same moment)."""
        insights = self._load(site_id)
        insights.generate(for_day, generated_at, [s.snapshot() for s in signals], text, writer)
        recordings = self.save(insights)
        return recordings[-1].notification.id


# -- ports -----------------------------------------------------------------------------
class InsightNumbersReads(Protocol):
    """What generation reads (projections/insights.py `InsightReads`), from rollups."""

    def numbers(self, site_id: UUID, zone: str, for_day: date, at: datetime) -> InsightNumbers: ...

    def week_hits(self, site_id: UUID, zone: str, for_day: date) -> int: ...

    def enabled_sites(self) -> list[UUID]: ...


class Sites(Protocol):
    """The configuration application, as far as insights need it."""

    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...

    def get_account(self, account_id: UUID) -> Any: ...


class Links(Protocol):
    def dashboard(self, site_uid: str) -> str: ...


@dataclass(frozen=True)
class WriterInput:
    """Everything a writer is given: aggregates and signals only, never a hit."""

    site_label: str
    site_url: str
    numbers: InsightNumbers
    signals: list[Signal]
    instructions: str
    seed: str  # varies the default writer's phrasing per site and day


class InsightWriter(Protocol):
    def write(self, given: WriterInput) -> tuple[ReportText, str]:
        """The words, and the name of whoever wrote them (`default`, `model:<name>`)."""
        ...


class DefaultWriter:
    """Plain English from the numbers, on this machine (domain/insight_writing.py)."""

    def write(self, given: WriterInput) -> tuple[ReportText, str]:
        return write_default(given.numbers, given.signals, given.seed), DEFAULT_WRITER


@dataclass(frozen=True)
class Generated:
    site_id: UUID
    for_day: date
    insight_id: int | None  # None: no insight (see `reason`) or the day had one already
    reason: str | None = None
    signals: tuple[Signal, ...] = ()
    writer: str | None = None


def insight_key(site_id: UUID, for_day: date, address: str) -> str:
    """The idempotency key of one daily insight e-mail: once per site, day and address."""
    return f"insight:{site_id}:{for_day.isoformat()}:{address.lower()}"


class DailyInsights:
    def __init__(
        self,
        insights: Insights,
        sites: Sites,
        reads: InsightNumbersReads,
        writer: InsightWriter,
        postbox: Postbox,
        templates: MailTemplates,
        links: Links,
        schedule: Schedule,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.insights = insights
        self.sites = sites
        self.reads = reads
        self.writer = writer
        self.postbox = postbox
        self.templates = templates
        self.links = links
        self.schedule = schedule
        self.now = now

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(DAILY_KIND, self.on_clock, "a site's insight, 01:00 in its zone"),
            JobKind(FIRST_KIND, self.on_clock, "the first insight once insights are on"),
            JobKind(SYNC_KIND, self.sync, "keep one insight job per site with insights on"),
        ]

    def initial_jobs(self) -> list[Job]:
        return [Job(SYNC_KIND, "all", self.now(), Recurrence(every=SYNC_EVERY))]

    # -- settings ----------------------------------------------------------------------
    def enable(self, site_id: UUID) -> None:
        """Turn insights on, schedule the daily run and queue a first one now."""
        site = self.sites.get_site(site_id)
        self.insights.enable(site_id)
        rule = daily(INSIGHT_HOUR, site.timezone)
        now = self.now()
        self.schedule.put(
            [
                Job(DAILY_KIND, str(site_id), rule.next_after(now), rule),
                Job(FIRST_KIND, str(site_id), now),
            ]
        )

    def disable(self, site_id: UUID) -> None:
        self.insights.disable(site_id)
        self.schedule.remove(DAILY_KIND, [str(site_id)])
        self.schedule.remove(FIRST_KIND, [str(site_id)])

    def configure(self, site_id: UUID, instructions: str | None, daily_email: bool) -> None:
        self.insights.configure(site_id, instructions, daily_email)

    def next_job_at(self, site_id: UUID) -> datetime | None:
        job = self.schedule.get(DAILY_KIND, str(site_id))
        return job.due_at if job is not None else None

    # -- the schedule ------------------------------------------------------------------
    def sync(self, _firing: Firing | None = None) -> None:
        """One `insights.daily` job per active site with insights on, in its zone."""
        now = self.now()
        wanted: dict[str, str] = {}
        for site_id in self.reads.enabled_sites():
            try:
                site = self.sites.get_site(site_id)
            except NotFound:
                continue
            if not site.is_archived:
                wanted[str(site_id)] = site.timezone
        have = self.schedule.keys(DAILY_KIND)
        put = []
        for key, zone in wanted.items():
            job = have.get(key)
            if job is None or job.recurrence is None or job.recurrence.zone != zone:
                rule = daily(INSIGHT_HOUR, zone)
                put.append(Job(DAILY_KIND, key, rule.next_after(now), rule))
        gone = [key for key in have if key not in wanted]
        self.schedule.put(put)
        self.schedule.remove(DAILY_KIND, gone)

    def on_clock(self, firing: Firing) -> None:
        try:
            self.generate(UUID(firing.key))
        except NotFound:
            self.schedule.remove(DAILY_KIND, [firing.key])  # erased meanwhile

    # -- generating --------------------------------------------------------------------
    def why_not(self, site_id: UUID, at: datetime | None = None) -> str | None:
        """Why the site gets no insight now (the Insights tab says it), or None."""
        site = self.sites.get_site(site_id)
        return self._why_not(site_id, site, self.insights.of_site(site_id), at or self.now())

    def _why_not(
        self, site_id: UUID, site: Any, state: SiteInsights | None, at: datetime
    ) -> str | None:
        if state is None or not state.enabled:
            return "Insights are off for this site."
        if site.is_archived:
            return "The site is archived."
        owner = self.sites.get_account(site.owner_id)
        for_day = local_day(at, site.timezone) - timedelta(days=1)
        week = self.reads.week_hits(site_id, site.timezone, for_day)
        return qualifies(week, bool(owner.is_subscribed))

    def generate(self, site_id: UUID, at: datetime | None = None) -> Generated:
        """The insight for the 7 local days before the day of `at` (now), once a day."""
        at = at or self.now()
        # The site and its insights read once for the checks and the run (each read is
        # a replay of the aggregate).
        site = self.sites.get_site(site_id)
        state = self.insights.of_site(site_id)
        for_day = local_day(at, site.timezone) - timedelta(days=1)
        reason = self._why_not(site_id, site, state, at)
        if reason is not None:
            log.info("no insight for site %s: %s", site_id, reason)
            return Generated(site_id, for_day, None, reason)
        assert state is not None
        if state.has_insight_for(for_day):
            return Generated(site_id, for_day, None, "There is already an insight for the day.")
        numbers = self.reads.numbers(site_id, site.timezone, for_day, at)
        signals = detect_signals(numbers)
        given = WriterInput(
            site_label=site.label,
            site_url=site.url,
            numbers=numbers,
            signals=signals,
            instructions=state.instructions,
            seed=f"{site_id}:{for_day.isoformat()}",
        )
        text, writer = self.writer.write(given)
        try:
            number = self.insights.record(site_id, for_day, at, signals, text, writer)
        except Conflict:
            # Another worker saved the day's insight at the same moment.
            return Generated(site_id, for_day, None, "There is already an insight for the day.")
        log.info("insight %d for site %s (%s, %d signals)", number, site_id, writer, len(signals))
        if state.daily_email:
            self.mail(site, for_day, text, signals)
        return Generated(site_id, for_day, number, None, tuple(signals), writer)

    def mail(self, site: Any, for_day: date, text: ReportText, signals: Sequence[Signal]) -> None:
        owner = self.sites.get_account(site.owner_id)
        address = str(owner.email).lower()
        dashboard = self.links.dashboard(site.uid) + "/insights"
        day = f"{for_day:%B} {for_day.day}, {for_day.year}"
        context = {
            "label": site.label,
            "day": day,
            "text": text,
            "signals": list(signals),
            "dashboard_url": dashboard,
        }
        body, html = self.templates.render("insight", context)
        message = Message(
            to=address,
            subject=f"Insights for {site.label}: {day}",
            text=body,
            html=html,
            links=(dashboard,),
        )
        self.postbox.post(
            message,
            insight_key(site.id, for_day, address),
            "insight",
            account_id=site.owner_id,
            site_id=site.id,
        )
