"""A site's overview: the traffic chart and the breakdowns, for the owner and the public page.

Everything is read through the front door (`ReadModels`, projections/reads.py) from
rollups and lifetime tables: the chart and the totals from the quarter-hour counts,
breakdowns from the rollups cut to the range. The dashboard shows every period in the
site's time zone (`period_of` is where that is decided): its days are the site's
local days, exactly, however far back they are.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict

from domain.date_ranges import DateRange, Window, zone_of
from domain.sites import Site
from domain.sources import DIRECT, INTERNAL
from interfaces.container import container
from interfaces.dashboard import countries
from interfaces.dashboard.charts import Bar, bar_chart
from interfaces.dashboard.forms import RangeForm
from projections.reads import EventCount, FeedReader, Group, PathKudos, ReadModels

TOP = 10
SUBSCRIBER_DAYS = 7
PERIODS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True)
class Period:
    key: str  # 24h, 7d, 30d or custom
    label: str
    span: DateRange | Window  # local days, or the last 24 hours
    start: date  # the first local day
    end: date  # the last local day

    @property
    def hourly(self) -> bool:
        return isinstance(self.span, Window)

    @property
    def begin(self) -> datetime:
        return self.span.begin

    @property
    def finish(self) -> datetime:
        return self.span.finish

    def query(self) -> dict[str, str]:
        """The query string that selects this period again."""
        if self.key == "custom":
            return {
                "period": "custom",
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
            }
        return {"period": self.key}


def resolve_period(
    args: Mapping[str, str], zone: str, now: datetime | None = None
) -> tuple[Period, RangeForm]:
    """The period the query string asks for, in the site's zone `zone`; a custom range
    with errors falls back to the default period, and its form carries the errors to
    show beside the fields."""
    now = now or datetime.now(UTC)
    today = DateRange.last_days(1, zone, now).end
    key = args.get("period", DEFAULT_PERIOD)
    form = RangeForm(formdata=None, start=today - timedelta(days=6), end=today)
    if key == "custom":
        form = RangeForm(formdata=_multidict(args))
        if form.validate():
            start, end = form.start.data, form.end.data
            assert isinstance(start, date) and isinstance(end, date)
            label = f"{start.isoformat()} to {end.isoformat()}"
            return Period("custom", label, DateRange(start, end, zone), start, end), form
        key = DEFAULT_PERIOD
    if key == "24h":
        window = Window.last_hours(24, zone, now)
        days = window.days()
        return Period("24h", PERIODS["24h"], window, days[0], days[-1]), form
    if key not in PERIODS:
        key = DEFAULT_PERIOD
    span = DateRange.last_days(7 if key == "7d" else 30, zone, now)
    if not form.errors:
        form = RangeForm(formdata=None, start=span.start, end=span.end)
    return Period(key, PERIODS[key], span, span.start, span.end), form


def _multidict(args: Mapping[str, str]) -> MultiDict[str, str]:
    return MultiDict({k: v for k, v in args.items() if k in ("start", "end")})


def _day_label(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def chart_bars(reads: ReadModels, site: Site, period: Period) -> list[Bar]:
    """The chart's bars: each hour of the last 24 hours, or each local day of a range."""
    if isinstance(period.span, Window):
        tz = zone_of(site.timezone)
        bars = []
        for point in reads.traffic.by_hour(site.id, period.span):
            assert isinstance(point.at, datetime)
            local = point.at.astimezone(tz)
            title = f"{local.strftime('%a')} {_day_label(local.date())}, {local.strftime('%H:%M')}"
            bars.append(Bar(local.strftime("%H:%M"), title, point.hits, point.uniques))
        return bars
    return [
        Bar(
            _day_label(day),
            f"{day.strftime('%a')} {_day_label(day)} {day.year}",
            point.hits,
            point.uniques,
        )
        for point in reads.traffic.by_day(site.id, period.span)
        if isinstance(day := point.at, date)
    ]


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


def _rows(
    found: tuple[int, list[Group]], total: int, label: Any, **extra: Any
) -> tuple[list[Row], int]:
    """The top groups as table rows, and how many more there are."""
    count, groups = found
    rows = []
    for group in groups[:TOP]:
        share = round(100.0 * group.hits / total, 1) if total else 0.0
        fields = {k: f(group.value) for k, f in extra.items()}
        rows.append(Row(label(group.value), group.hits, group.uniques, share, **fields))
    return rows, max(0, count - TOP)


def _source_label(value: str | None) -> str:
    # No source (nothing said where the hit came from) is a direct visit.
    if value is None or value == DIRECT:
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
    events: list[EventCount]
    kudos: list[PathKudos]
    subscribers: list[FeedReader]
    subscriber_total: int
    show_internal: bool
    tracks_uniques: bool


def build_overview(site: Site, args: Mapping[str, str]) -> Overview:
    reads = container().reads
    period, range_form = resolve_period(args, site.timezone)
    show_internal = args.get("internal") == "1"
    span = period.span
    now = datetime.now(UTC)
    bars = chart_bars(reads, site, period)
    total = sum(b.hits for b in bars)

    def group(
        column: str, hide: tuple[str, ...] = (), known: bool = False
    ) -> tuple[int, list[Group]]:
        return reads.traffic.breakdown(
            site.id, span, column, hide_sources=hide, top=TOP, known=known
        )

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
    campaign_rows, more_campaigns = _rows(
        group("utm_campaign", known=True), total, lambda v: v or ""
    )
    country_rows, more_countries = _rows(
        group("country"), total, countries.name, flag=countries.flag
    )
    browsers, more_browsers = _rows(group("browser"), total, lambda v: v or "Unknown")
    platforms, more_platforms = _rows(group("platform"), total, lambda v: v or "Unknown")
    events = reads.traffic.events(site.id, span)
    kudos = reads.kudos.top(site.id, TOP)
    subscribers = reads.traffic.feed_readers(site.id, now - timedelta(days=SUBSCRIBER_DAYS))
    lifetime = reads.traffic.lifetime_of(site.id)
    breakdowns = [
        Breakdown("pages", "Top pages", pages, more_pages),
        Breakdown("referrers", "Referrers", refs, more_refs),
        Breakdown("sources", "Sources", sources, more_sources),
        Breakdown(
            "campaigns",
            "Campaigns",
            campaign_rows,
            more_campaigns,
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
        lifetime_hits=lifetime.hits,
        lifetime_uniques=lifetime.uniques,
        breakdowns=breakdowns,
        events=events[:TOP],
        kudos=kudos,
        subscribers=subscribers,
        subscriber_total=sum(r.subscribers for r in subscribers),
        show_internal=show_internal,
        tracks_uniques=site.tracks_uniques,
    )
