"""The insights read side: generated insights and settings per site (a projection of the
insights store), and the aggregates an insight is made from (read from the traffic
rollups through TrafficReads, never from raw hits).

`InsightReads` is `reads.insights` on the front door: `numbers` answers the
application's `InsightNumbersReads` port (application/insights.py), `page` and
`settings` the API and the dashboard.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    select,
)

from application.erasure import ErasureScope
from domain.date_ranges import DateRange, Window
from domain.insight_signals import DayCount, HourCount, InsightNumbers, Tally, by_host
from domain.insights import SiteInsights
from projections.base import Projection, Tables, event_type, set_columns, utc
from projections.traffic import grouping, series
from projections.traffic.grouping import Top
from projections.traffic.reads import TrafficReads
from projections.traffic.schema import hourly_horizon

# Values kept per dimension and week: the signals look at the leaders only.
TOP_VALUES = 50
# Referrers are whole URLs; the leaders among them are summed per host.
REFERRER_VALUES = 500
HIDDEN_SOURCES = ("internal",)  # the site's own pages linking to each other
# What an insight breaks each week down by (the platforms all: a handful).
BREAKDOWNS = [
    Top("path", TOP_VALUES, known=True),
    Top("referrer", REFERRER_VALUES, hide_sources=HIDDEN_SOURCES),
    Top("platform", None, known=True),
    Top("country", TOP_VALUES, known=True),
]


class InsightsProjection(Projection):
    name = "insights"
    source = "insights"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        insights = Table(
            "insights" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("for_day", Date, nullable=False),
            Column("generated_at", DateTime(timezone=True), nullable=False),
            Column("summary", Text, nullable=False),
            Column("signals", JSON, nullable=False),
            Column("traffic_patterns", Text, nullable=True),
            Column("best_content", Text, nullable=True),
            Column("recommendations", Text, nullable=True),
            Column("writer", String(200), nullable=False),
            Index(f"ix_insights{suffix}_site", "site_uuid", "for_day"),
        )
        settings = Table(
            "insight_settings" + suffix,
            metadata,
            Column("uuid", Uuid, primary_key=True),  # the aggregate's id
            Column("site_uuid", Uuid, nullable=False),
            Column("enabled", Boolean, nullable=False),
            Column("daily_email", Boolean, nullable=False),
            Column("instructions", Text, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_insight_settings{suffix}_site", "site_uuid", unique=True),
        )
        return {"insights": insights, "settings": settings}

    def _started(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["settings"]
            .insert()
            .values(
                uuid=e.originator_id,
                site_uuid=e.site_id,
                enabled=False,
                daily_email=False,
                instructions="",
                updated_at=e.timestamp,
            )
        )

    def _generated(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        site = conn.execute(
            select(t["settings"].c.site_uuid).where(t["settings"].c.uuid == e.originator_id)
        ).scalar_one()
        conn.execute(
            t["insights"]
            .insert()
            .values(
                id=nid,
                site_uuid=site,
                for_day=date.fromisoformat(e.for_day),
                generated_at=e.generated_at,
                summary=e.summary,
                signals=list(e.signals),
                traffic_patterns=e.traffic_patterns,
                best_content=e.best_content,
                recommendations=e.recommendations,
                writer=e.writer,
            )
        )

    handlers = {
        event_type(SiteInsights, "Started"): _started,
        event_type(SiteInsights, "Enabled"): set_columns("settings", enabled=lambda e: True),
        event_type(SiteInsights, "Disabled"): set_columns("settings", enabled=lambda e: False),
        event_type(SiteInsights, "Configured"): set_columns(
            "settings",
            instructions=lambda e: e.instructions,
            daily_email=lambda e: e.daily_email,
        ),
        event_type(SiteInsights, "Generated"): _generated,
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        if scope.site_ids:
            for table in (tables["insights"], tables["settings"]):
                conn.execute(delete(table).where(table.c.site_uuid.in_(scope.site_ids)))


@dataclass(frozen=True)
class InsightRow:
    """An insight as the API and the dashboard show it."""

    id: int
    site_uuid: UUID
    insights_for_date: date
    formatted_insights_date: str
    generated_at: datetime
    summary: str
    signals: list[dict[str, Any]]
    traffic_patterns: str | None
    best_content: str | None
    recommendations: str | None
    writer: str


@dataclass(frozen=True)
class InsightSettingsRow:
    site_uuid: UUID
    enabled: bool
    daily_email: bool
    instructions: str


OFF = InsightSettingsRow(UUID(int=0), False, False, "")


def formatted_day(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _signal(stored: dict[str, Any]) -> dict[str, Any]:
    found = dict(stored)
    found["detected_at"] = datetime.fromisoformat(stored["detected_at"])
    window = stored["window"]
    found["window"] = {
        "started_at": datetime.fromisoformat(window["started_at"]),
        "ended_at": datetime.fromisoformat(window["ended_at"]),
    }
    return found


def _insight(row: Any) -> InsightRow:
    return InsightRow(
        id=row.id,
        site_uuid=row.site_uuid,
        insights_for_date=row.for_day,
        formatted_insights_date=formatted_day(row.for_day),
        generated_at=utc(row.generated_at),
        summary=row.summary,
        signals=[_signal(s) for s in row.signals],
        traffic_patterns=row.traffic_patterns,
        best_content=row.best_content,
        recommendations=row.recommendations,
        writer=row.writer,
    )


def _utc_midnight(moment: datetime) -> datetime:
    """The UTC midnight nearest to a moment."""
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor + timedelta(days=1) if moment - floor >= timedelta(hours=12) else floor


def rollup_span(span: DateRange) -> DateRange | Window:
    """The span breakdowns read: the local days themselves while their edges are whole
    hours still in the hourly rollups; otherwise (older, or a zone whose offset is not a
    whole hour) the whole UTC days nearest to them (at most 12 hours off at each end),
    so that no edge is ever read from raw hits."""
    whole_hours = span.begin.minute == 0 and span.finish.minute == 0
    if whole_hours and span.begin >= hourly_horizon():
        return span
    return Window(_utc_midnight(span.begin), _utc_midnight(span.finish), span.zone)


def _tallies(groups: list[Any]) -> list[Tally]:
    return [Tally(g.value, g.hits) for g in groups if g.value]


class InsightReads:
    def __init__(self, engine: Engine, tables: Tables, traffic: TrafficReads) -> None:
        self.engine = engine
        self.insights = tables["insights"]
        self.settings_table = tables["settings"]
        self.traffic = traffic

    # -- what an insight is made from --------------------------------------------------
    def numbers(self, site_id: UUID, zone: str, for_day: date, at: datetime) -> InsightNumbers:
        """The aggregates of the 7 local days ending `for_day`, the 7 before, and the
        hours of the 8 days before `at`: quarter-hour totals and single-dimension
        rollups (projections/traffic), a few hundred rows whatever the hits.

        Four statements on one connection: the week before's total, the quarters of
        the week and the last 8 days (the week's total is the sum of its days), and
        each week's four breakdowns in one (grouping.tops)."""
        week = DateRange(for_day - timedelta(days=6), for_day, zone)
        before = DateRange(for_day - timedelta(days=13), for_day - timedelta(days=7), zone)
        hour = at.replace(minute=0, second=0, microsecond=0)
        hours = Window(hour - timedelta(days=8), hour, zone)
        t = self.traffic.tables
        with self.engine.connect() as conn:
            previous = series.totals(conn, t, site_id, before.begin, before.finish)
            days, by_hour = series.days_and_hours(conn, t, site_id, week, hours)

            def breakdowns(span: DateRange) -> dict[str, list[Tally]]:
                found = rollup_span(span)
                sums = grouping.tops(conn, t, site_id, found.begin, found.finish, BREAKDOWNS)
                tallies = {column: _tallies(groups) for column, groups in sums.items()}
                tallies["referrer"] = by_host(tallies["referrer"])[:TOP_VALUES]
                return tallies

            now, then = breakdowns(week), breakdowns(before)
        return InsightNumbers(
            zone=zone,
            for_day=for_day,
            generated_at=at,
            current_start=week.begin,
            current_end=week.finish,
            previous_start=before.begin,
            current_hits=sum(p.hits for p in days),
            current_uniques=sum(p.uniques for p in days),
            previous_hits=previous.hits,
            days=[DayCount(p.at, p.hits) for p in days],
            hours=[HourCount(p.at, p.hits) for p in by_hour],  # type: ignore[arg-type]
            pages=now["path"],
            previous_pages=then["path"],
            referrers=now["referrer"],
            previous_referrers=then["referrer"],
            platforms=now["platform"],
            previous_platforms=then["platform"],
            countries=now["country"],
            previous_countries=then["country"],
        )

    def week_hits(self, site_id: UUID, zone: str, for_day: date) -> int:
        week = DateRange(for_day - timedelta(days=6), for_day, zone)
        return self.traffic.totals(site_id, week).hits

    # -- what was generated ------------------------------------------------------------
    def page(self, site_id: UUID, offset: int, limit: int) -> tuple[int, list[InsightRow]]:
        """A site's insights, newest first, and how many there are."""
        table = self.insights
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(table).where(table.c.site_uuid == site_id)
            ).scalar_one()
            rows = conn.execute(
                select(table)
                .where(table.c.site_uuid == site_id)
                .order_by(table.c.for_day.desc(), table.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return int(total), [_insight(r) for r in rows]

    def latest(self, site_id: UUID) -> InsightRow | None:
        _total, rows = self.page(site_id, 0, 1)
        return rows[0] if rows else None

    def settings(self, site_id: UUID) -> InsightSettingsRow:
        table = self.settings_table
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.site_uuid == site_id)).first()
        if row is None:
            return OFF
        return InsightSettingsRow(row.site_uuid, row.enabled, row.daily_email, row.instructions)

    def enabled_sites(self) -> list[UUID]:
        table = self.settings_table
        with self.engine.connect() as conn:
            return list(conn.execute(select(table.c.site_uuid).where(table.c.enabled)).scalars())
