"""ReadModels: the one front door of the read side.

Every question the API, the dashboard, the CLI, the widgets, exports, reports and the
process managers ask of the read models goes through the object bootstrap builds
from this class: ranges in as `DateRange`/`Window` values (domain/date_ranges.py),
plain dataclasses out. No interface opens a connection or names a table; each reader
is the read side of one concept, next to the projection that fills its tables.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import MetaData

from projections.accounts import AccountReads, AccountRow
from projections.base import for_reading
from projections.content import ContentReads, LinkCheckRows, check_rows_table
from projections.content_progress import CrawlProgressRows, progress_table
from projections.insights import InsightReads, InsightRow, InsightSettingsRow
from projections.kudos import KudoReads, KudoRow, PathKudos
from projections.mentions import MentionReads, MentionRow
from projections.reports import ReportReads
from projections.runner import ProjectionRunner
from projections.sites import SiteReads, SiteRow
from projections.traffic.grouping import GROUPABLE, EventCount, Filters, Group
from projections.traffic.journeys import Journey, Journeys
from projections.traffic.listings import EventRow, FeedReader, HitRow
from projections.traffic.reads import TrafficReads
from projections.traffic.series import Counts, Point
from projections.traffic.totals import NO_TRAFFIC, PathTotals, SiteTotals
from projections.uptime import (
    DowntimeRow,
    MonitorView,
    ResponsePoint,
    UptimeReads,
    UptimeSummary,
)
from projections.uptime_listing import STATUSES as MONITOR_STATUSES
from projections.uptime_listing import MonitorLine, MonitorListing
from projections.webhooks import DeliveryListing, WebhookListing, WebhookReads

# What the readers answer with, named here so that a caller needs this module only.
__all__ = [
    "GROUPABLE",
    "MONITOR_STATUSES",
    "AccountRow",
    "Counts",
    "DeliveryListing",
    "DowntimeRow",
    "EventCount",
    "EventRow",
    "FeedReader",
    "Filters",
    "Group",
    "HitRow",
    "InsightRow",
    "InsightSettingsRow",
    "Journey",
    "Journeys",
    "KudoRow",
    "MentionRow",
    "MonitorLine",
    "MonitorView",
    "PathKudos",
    "PathTotals",
    "Point",
    "ReadModels",
    "ResponsePoint",
    "SiteRow",
    "SiteSummary",
    "SiteTotals",
    "UptimeSummary",
    "WebhookListing",
]


@dataclass(frozen=True)
class SiteSummary:
    """A site as `GET /sites` shows it: its settings and its lifetime counters."""

    id: int
    uuid: UUID
    uid: str
    url: str
    label: str
    timezone: str
    public: bool
    active: bool
    created_at: datetime
    updated_at: datetime
    lifetime_hits: int
    lifetime_unique_hits: int
    lifetime_kudos: int


class ReadModels:
    def __init__(
        self,
        projections: ProjectionRunner,
        webhooks: WebhookReads,
        uptime: UptimeReads | None = None,
    ) -> None:
        engine, tables = for_reading(projections.engine), projections.tables
        self._projections = projections
        self.webhooks = webhooks  # made first: the webhook dispatcher reads through it too
        self.accounts = AccountReads(engine, tables["accounts"])
        self.sites = SiteReads(engine, tables["sites"])
        self.traffic = TrafficReads(engine, tables["traffic"])
        self.kudos = KudoReads(engine, tables["kudos"])
        self.mentions = MentionReads(engine, tables["mentions"])
        self.reports = ReportReads(self.traffic, self.kudos, self.sites)
        # Made first, like the webhook reads: the monitor webhooks' trigger reads it too.
        self.uptime = uptime or UptimeReads(engine, tables["uptime"])
        self.insights = InsightReads(engine, tables["insights"], self.traffic)
        # Each crawl's rows: written by content checks (their CheckRows), read here.
        self.content_checks = LinkCheckRows(projections.engine, check_rows_table(MetaData()))
        # The running crawl's sample: written by its sampler (a ProgressBoard), read here.
        self.content_progress = CrawlProgressRows(projections.engine, progress_table(MetaData()))
        self.content = ContentReads(
            engine, tables["content"], self.content_checks.table, self.content_progress
        )
        # Monitors in lists: the sites list's uptime trouble, the operator's every monitor.
        self.monitor_lists = MonitorListing(engine, tables["uptime"], tables["sites"]["sites"])

    def settle(self, *names: str) -> None:
        """Bring these read models (all, for none) up to what is recorded now: a page
        that shows what its own request just saved reads after this."""
        self._projections.catch_up(list(names) or None)

    def summaries(self, rows: Sequence[SiteRow]) -> list[SiteSummary]:
        """Sites with their lifetime hits, unique hits and kudos."""
        ids = [row.uuid for row in rows]
        traffic = self.traffic.lifetime(ids)
        kudos = self.kudos.lifetime(ids)
        found = []
        for row in rows:
            totals = traffic.get(row.uuid, NO_TRAFFIC)
            found.append(
                SiteSummary(
                    id=row.id,
                    uuid=row.uuid,
                    uid=row.uid,
                    url=row.url,
                    label=row.label,
                    timezone=row.timezone,
                    public=row.public,
                    active=row.active,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    lifetime_hits=totals.hits,
                    lifetime_unique_hits=totals.uniques,
                    lifetime_kudos=kudos.get(row.uuid, 0),
                )
            )
        return found
