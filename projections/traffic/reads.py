"""TrafficReads: every question asked of the traffic read models, as ReadModels hands it out.

Ranges come in as `DateRange` (local days in a zone) or `Window` (instants), answers
leave as plain dataclasses; no caller sees a connection or a table. Each method
holds one connection for as long as it reads.
"""

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine

from domain.date_ranges import DateRange, Window
from projections.base import Tables
from projections.traffic import grouping, journeys, listings, series, totals
from projections.traffic.blocks import Seals
from projections.traffic.grouping import GROUPABLE, NO_FILTERS, EventCount, Filters, Group
from projections.traffic.journeys import Journeys
from projections.traffic.listings import EventRow, FeedReader, HitRow
from projections.traffic.series import Counts, Point
from projections.traffic.totals import PathTotals, SiteTotals

Span = DateRange | Window


class TrafficReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.tables = tables
        self._seals = Seals()

    # -- sums over a range ---------------------------------------------------------------
    def grouped(
        self,
        site: UUID,
        span: Span,
        group_by: str,
        filters: Filters,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[int, list[Group]]:
        """Hits and unique hits per value of an API `group_by`, most first: how many values
        there are, and a page of them (all without a limit)."""
        with self.engine.connect() as conn:
            return grouping.sums_by(
                conn,
                self.tables,
                site,
                span.begin,
                span.finish,
                GROUPABLE[group_by],
                filters,
                limit=limit,
                offset=offset,
                seals=self._seals,
            )

    def breakdown(
        self,
        site: UUID,
        span: Span,
        column: str,
        filters: Filters = NO_FILTERS,
        hide_sources: tuple[str, ...] = (),
        top: int | None = None,
        known: bool = False,
    ) -> tuple[int, list[Group]]:
        """Hits and unique hits per value of a rollup column (`path`, `referrer`, `source`,
        `country`, `browser`, `platform`, `utm_campaign`), most first: how many values
        there are, and the `top` ones (all without a number); with `known`, hits without
        a value are left out."""
        with self.engine.connect() as conn:
            return grouping.sums_by(
                conn,
                self.tables,
                site,
                span.begin,
                span.finish,
                column,
                filters,
                hide_sources,
                limit=top,
                known=known,
                seals=self._seals,
            )

    def events(self, site: UUID, span: Span) -> list[EventCount]:
        """Custom events per name and value, most first."""
        with self.engine.connect() as conn:
            return grouping.event_counts(conn, self.tables, site, span.begin, span.finish)

    def totals(self, site: UUID, span: Span) -> Counts:
        """Hits and unique hits in the range."""
        with self.engine.connect() as conn:
            return series.totals(conn, self.tables, site, span.begin, span.finish)

    # -- charts --------------------------------------------------------------------------
    def by_day(self, site: UUID, span: DateRange) -> list[Point]:
        """Hits and unique hits on each local day of the range."""
        with self.engine.connect() as conn:
            return series.by_day(conn, self.tables, site, span)

    def by_hour(self, site: UUID, window: Window) -> list[Point]:
        """Hits and unique hits in each hour of the window."""
        with self.engine.connect() as conn:
            return series.by_hour(conn, self.tables, site, window)

    # -- rows ----------------------------------------------------------------------------
    def hits_page(
        self, site: UUID, span: Span, filters: Filters, limit: int, offset: int
    ) -> tuple[int, list[HitRow]]:
        """A page of hits, newest first, and how many match in all."""
        with self.engine.connect() as conn:
            return listings.hits_page(
                conn, self.tables, site, span.begin, span.finish, filters, limit, offset
            )

    def events_page(self, site: UUID, span: Span, limit: int, offset: int) -> list[EventRow]:
        """A page of custom events, newest first."""
        with self.engine.connect() as conn:
            return listings.events_page(
                conn, self.tables, site, span.begin, span.finish, limit, offset
            )

    def journeys(self, site: UUID, span: Span, top: int = 10) -> Journeys:
        """Every visitor's journey in the range, newest first, with a summary."""
        with self.engine.connect() as conn:
            visits = listings.visits(conn, self.tables, site, span.begin, span.finish)
        return journeys.build_journeys(visits, top)

    def feed_readers(self, site: UUID, since: datetime) -> list[FeedReader]:
        """Feed readers' latest subscriber counts reported since a moment, most first."""
        with self.engine.connect() as conn:
            return listings.feed_readers(conn, self.tables, site, since)

    def export_hits(self, site: UUID, span: Span | None = None) -> Iterator[HitRow]:
        """Every hit of a site (in a range), oldest first, streamed."""
        begin, finish = (span.begin, span.finish) if span is not None else (None, None)
        return listings.stream_hits(self.engine, self.tables, site, begin, finish)

    def export_events(self, site: UUID, span: Span | None = None) -> Iterator[EventRow]:
        """Every custom event of a site (in a range), oldest first, streamed."""
        begin, finish = (span.begin, span.finish) if span is not None else (None, None)
        return listings.stream_events(self.engine, self.tables, site, begin, finish)

    # -- lifetime ------------------------------------------------------------------------
    def lifetime(self, sites: list[UUID]) -> dict[UUID, SiteTotals]:
        """Each site's lifetime counters (absent: no traffic yet)."""
        with self.engine.connect() as conn:
            return totals.site_totals(conn, self.tables, sites)

    def lifetime_of(self, site: UUID) -> SiteTotals:
        return self.lifetime([site]).get(site, totals.NO_TRAFFIC)

    def leaderboard(self, site: UUID) -> list[PathTotals]:
        """Every path with its lifetime hits, most first."""
        with self.engine.connect() as conn:
            return totals.leaderboard(conn, self.tables, site)

    def lifetime_of_paths(self, site: UUID, paths: list[str]) -> dict[str, PathTotals]:
        """Each of these paths' lifetime hits and unique hits (absent: never hit)."""
        with self.engine.connect() as conn:
            return totals.path_totals(conn, self.tables, site, paths)

    def countries_visited(self, site: UUID) -> list[str]:
        with self.engine.connect() as conn:
            return totals.countries_visited(conn, self.tables, site)
