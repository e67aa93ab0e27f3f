"""A site's overview: the traffic chart and the breakdowns, for the owner and the public page.

Everything is read from the rollups and lifetime tables (projections/traffic_queries.py):
the 24-hour chart from `traffic_hourly`, longer ones from `traffic_daily`, breakdowns
from the same rollups cut to the range. Raw rows are read only where nothing else
holds the answer, and only over a few days: campaigns and the feed subscriber estimate.

Daily bars are days in the site's time zone. The hourly rollups (last 8 days) give
exact local days; older days come from the UTC daily rollups, so in a zone far from
UTC the bars of older days are UTC days.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from werkzeug.datastructures import MultiDict

from domain.sites import Site
from domain.sources import DIRECT, INTERNAL
from interfaces.container import container
from interfaces.dashboard import countries
from interfaces.dashboard.charts import Bar, bar_chart
from interfaces.dashboard.forms import RangeForm
from projections.base import Tables
from projections.traffic import hourly_horizon
from projections.traffic_queries import (
    Counts,
    Group,
    breakdown,
    campaigns,
    daily_series,
    event_breakdown,
    feed_subscribers,
    hourly_series,
    site_totals,
    top_kudos,
)

TOP = 10
CAMPAIGN_DAYS = 7
SUBSCRIBER_DAYS = 7
PERIODS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True)
class Period:
    key: str  # 24h, 7d, 30d or custom
    label: str
    begin: datetime  # UTC, included
    finish: datetime  # UTC, excluded
    start: date  # the first local day
    end: date  # the last local day
    hourly: bool

    def query(self) -> dict[str, str]:
        """The query string that selects this period again."""
        if self.key == "custom":
            return {
                "period": "custom",
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
            }
        return {"period": self.key}


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def local_interval(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    finish = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return begin, finish


def resolve_period(
    args: Mapping[str, str], zone: str, now: datetime | None = None
) -> tuple[Period, RangeForm]:
    """The period the query string asks for; a custom range with errors falls back to the
    default period, and its form carries the errors to show beside the fields."""
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(zone)).date()
    key = args.get("period", DEFAULT_PERIOD)
    form = RangeForm(formdata=None, start=today - timedelta(days=6), end=today)
    if key == "custom":
        form = RangeForm(formdata=_multidict(args))
        if form.validate():
            start, end = form.start.data, form.end.data
            assert isinstance(start, date) and isinstance(end, date)
            begin, finish = local_interval(start, end, zone)
            label = f"{start.isoformat()} to {end.isoformat()}"
            return Period("custom", label, begin, finish, start, end, False), form
        key = DEFAULT_PERIOD
    if key == "24h":
        finish = _floor_hour(now) + timedelta(hours=1)
        begin = finish - timedelta(hours=24)
        tz = ZoneInfo(zone)
        return (
            Period(
                "24h",
                PERIODS["24h"],
                begin,
                finish,
                begin.astimezone(tz).date(),
                (finish - timedelta(microseconds=1)).astimezone(tz).date(),
                True,
            ),
            form,
        )
    if key not in PERIODS:
        key = DEFAULT_PERIOD
    days = 7 if key == "7d" else 30
    start = today - timedelta(days=days - 1)
    begin, finish = local_interval(start, today, zone)
    if not form.errors:
        form = RangeForm(formdata=None, start=start, end=today)
    return Period(key, PERIODS[key], begin, finish, start, today, False), form


def _multidict(args: Mapping[str, str]) -> MultiDict[str, str]:
    return MultiDict({k: v for k, v in args.items() if k in ("start", "end")})


def _day_label(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def chart_bars(conn: Connection, t: Tables, site: Site, period: Period) -> list[Bar]:
    tz = ZoneInfo(site.timezone)
    if period.hourly:
        series = hourly_series(conn, t, site.id, period.begin, period.finish)
        bars = []
        moment = period.begin
        while moment < period.finish:
            hits, uniques = series.get(moment, (0, 0))
            local = moment.astimezone(tz)
            title = f"{local.strftime('%a')} {_day_label(local.date())}, {local.strftime('%H:00')}"
            bars.append(Bar(local.strftime("%H:00"), title, hits, uniques))
            moment += timedelta(hours=1)
        return bars
    days = [period.start + timedelta(days=i) for i in range((period.end - period.start).days + 1)]
    horizon = hourly_horizon()
    recent_days = {d for d in days if local_interval(d, d, site.timezone)[0] >= horizon}
    by_local: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    if recent_days:
        first = local_interval(min(recent_days), min(recent_days), site.timezone)[0]
        for hour, (hits, uniques) in hourly_series(conn, t, site.id, first, period.finish).items():
            entry = by_local[hour.astimezone(tz).date()]
            entry[0] += hits
            entry[1] += uniques
    older: dict[date, Counts] = {}
    if len(recent_days) < len(days):
        older = daily_series(conn, t, site.id, days[0], days[-1])
    bars = []
    for day in days:
        hits, uniques = (
            (by_local[day][0], by_local[day][1]) if day in recent_days else older.get(day, (0, 0))
        )
        bars.append(
            Bar(
                _day_label(day), f"{day.strftime('%a')} {_day_label(day)} {day.year}", hits, uniques
            )
        )
    return bars


@dataclass
class Row:
    label: str
    hits: int
    uniques: int
    share: float  # of the period's hits, 0..100
    href: str | None = None
    flag: str | None = None
    mono: bool = False


@dataclass
class Breakdown:
    key: str
    title: str
    rows: list[Row]
    more: int = 0
    empty: str = "Nothing in this period yet."
    note: str | None = None
    columns: tuple[str, str] = ("Hits", "Unique")


def _rows(groups: list[Group], total: int, label: Any, **extra: Any) -> tuple[list[Row], int]:
    rows = []
    for group in groups[:TOP]:
        share = round(100.0 * group.hits / total, 1) if total else 0.0
        fields = {k: f(group.value) for k, f in extra.items()}
        rows.append(Row(label(group.value), group.hits, group.uniques, share, **fields))
    return rows, max(0, len(groups) - TOP)


def _source_label(value: str | None) -> str:
    if value is None:
        return "Unknown"
    if value == DIRECT:
        return "Direct"
    if value == INTERNAL:
        return "Internal"
    return value


def _referrer_label(value: str | None) -> str:
    if value is None:
        return "Direct (none)"
    return value.removeprefix("https://").removeprefix("http://").removesuffix("/") or value


def _safe_link(url: str | None) -> str | None:
    if url and url.startswith(("http://", "https://")):
        return url
    return None


@dataclass
class Overview:
    period: Period
    range_form: RangeForm
    chart: Any
    bars: list[Bar]
    hits: int
    uniques: int
    lifetime_hits: int
    lifetime_uniques: int
    breakdowns: list[Breakdown]
    events: list[tuple[str, str | None, int]]
    kudos: list[tuple[str, int]]
    subscribers: list[tuple[str, int, datetime]]
    subscriber_total: int
    show_internal: bool
    tracks_uniques: bool


def build_overview(site: Site, args: Mapping[str, str]) -> Overview:
    c = container()
    tables = c.projections.tables
    t = tables["traffic"]
    period, range_form = resolve_period(args, site.timezone)
    show_internal = args.get("internal") == "1"
    begin, finish = period.begin, period.finish
    now = datetime.now(UTC)
    with c.engine.connect() as conn:
        bars = chart_bars(conn, t, site, period)
        total = sum(b.hits for b in bars)

        def group(column: str, hide: tuple[str, ...] = ()) -> list[Group]:
            return breakdown(conn, t, site.id, begin, finish, column, hide)

        pages, more_pages = _rows(
            group("path"),
            total,
            lambda v: v or "/",
            href=lambda v: _safe_link(site.url + (v or "/")),
            mono=lambda v: True,
        )
        refs, more_refs = _rows(
            group("referrer", () if show_internal else (INTERNAL,)),
            total,
            _referrer_label,
            href=_safe_link,
            mono=lambda v: v is not None,
        )
        sources, more_sources = _rows(group("source"), total, _source_label)
        country_rows, more_countries = _rows(
            group("country"), total, countries.name, flag=countries.flag
        )
        browsers, more_browsers = _rows(group("browser"), total, lambda v: v or "Unknown")
        platforms, more_platforms = _rows(group("platform"), total, lambda v: v or "Unknown")
        campaign_from = max(begin, finish - timedelta(days=CAMPAIGN_DAYS))
        campaign_rows, _ = _rows(
            campaigns(conn, t, site.id, campaign_from, finish, TOP), total, lambda v: v or ""
        )
        last = finish - timedelta(microseconds=1)
        events = event_breakdown(conn, t, site.id, begin.date(), last.date())
        kudos = top_kudos(conn, tables["kudos"], site.id, TOP)
        subscribers = feed_subscribers(conn, t, site.id, now - timedelta(days=SUBSCRIBER_DAYS))
        lifetime = site_totals(conn, t, [site.id]).get(site.id)
    campaign_note = (
        f"utm_campaign of the last {CAMPAIGN_DAYS} days of the period"
        if finish - begin > timedelta(days=CAMPAIGN_DAYS)
        else None
    )
    breakdowns = [
        Breakdown("pages", "Top pages", pages, more_pages),
        Breakdown("referrers", "Referrers", refs, more_refs),
        Breakdown("sources", "Sources", sources, more_sources),
        Breakdown(
            "campaigns",
            "Campaigns",
            campaign_rows,
            note=campaign_note,
            empty="No utm_campaign links in this period.",
        ),
        Breakdown("countries", "Countries", country_rows, more_countries),
        Breakdown("browsers", "Browsers", browsers, more_browsers),
        Breakdown("platforms", "Platforms", platforms, more_platforms),
    ]
    return Overview(
        period=period,
        range_form=range_form,
        chart=bar_chart(bars, f"Hits, {period.label.lower()}", site.tracks_uniques),
        bars=bars,
        hits=total,
        uniques=sum(b.uniques for b in bars),
        lifetime_hits=int(lifetime.hits) if lifetime is not None else 0,
        lifetime_uniques=int(lifetime.uniques) if lifetime is not None else 0,
        breakdowns=breakdowns,
        events=events[:TOP],
        kudos=kudos,
        subscribers=subscribers,
        subscriber_total=sum(n for _, n, _ in subscribers),
        show_internal=show_internal,
        tracks_uniques=site.tracks_uniques,
    )
