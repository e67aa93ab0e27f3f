"""Signals: the meaningful changes an insight is built on, found by pure rules.

Everything here works on `InsightNumbers`, the aggregates the read side hands over
(projections/insights.py reads them from the traffic rollups, never from raw hits):
the same numbers always give the same signals. Thresholds and scores are written
down in docs/decisions/0014-insights.md; each rule also has a floor of hits below
which it says nothing, so tiny and flat sites find no signals.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

TRAFFIC_CHANGE = "traffic_change"
PAGE_BREAKOUT = "page_breakout"
REFERRER_SURGE = "referrer_surge"
AUDIENCE_SHIFT = "audience_shift"
LIVE_SPIKE = "live_spike"
SIGNAL_TYPES = (TRAFFIC_CHANGE, PAGE_BREAKOUT, REFERRER_SURGE, AUDIENCE_SHIFT, LIVE_SPIKE)

# Qualifying (insights_guide.md): at least this many hits in the past 7 days.
MIN_WEEK_HITS = 10

# traffic_change: both weeks at least this busy, a change of at least this much.
CHANGE_MIN_HITS = 10
CHANGE_MIN_PERCENT = 15.0
CHANGE_MIN_ABSOLUTE = 10
# page_breakout: a page's share of the week rose by this many points, at least doubling.
BREAKOUT_MIN_HITS = 10
BREAKOUT_MIN_POINTS = 10.0
# referrer_surge: a referrer new this week, or at least doubled (plus a margin).
SURGE_MIN_HITS = 5
SURGE_MIN_SHARE = 5.0  # percent of the week's hits
# audience_shift: enough hits with a known platform / country, a move of this many points.
SHIFT_MIN_HITS = 20
SHIFT_MIN_POINTS = 15.0
# live_spike: an hour of the last day this far above the week's hourly mean.
SPIKE_MIN_HITS = 10
SPIKE_MIN_RATIO = 4.0
SPIKE_MIN_Z = 4.0
SPIKE_FLOOR_MEAN = 0.5  # hits an hour: a quiet site's baseline is never taken as zero
MAX_PER_TYPE = 2

# Platforms whose visitors browse on phones and tablets: the rollups keep the platform,
# not the hit's is_mobile flag, so "mobile" here means iOS and Android devices.
MOBILE_PLATFORMS = frozenset({"iOS", "Android", "iPadOS"})
UNKNOWN_COUNTRY = "XX"


@dataclass(frozen=True)
class Tally:
    """One value of a dimension and its hits over a week."""

    value: str
    hits: int


@dataclass(frozen=True)
class HourCount:
    """Hits in the hour starting at `at` (UTC)."""

    at: datetime
    hits: int


@dataclass(frozen=True)
class DayCount:
    """Hits on a local day of the site's zone."""

    day: date
    hits: int


@dataclass(frozen=True)
class InsightNumbers:
    """The aggregates one insight is made from: the 7 local days ending `for_day`
    (the "current" week), the 7 before them, and the hours of the last 8 days."""

    zone: str
    for_day: date
    generated_at: datetime
    current_start: datetime  # UTC instant the current week starts
    current_end: datetime
    previous_start: datetime
    current_hits: int
    current_uniques: int
    previous_hits: int
    days: list[DayCount]  # the current week's local days
    hours: list[HourCount]  # the 8 days before `generated_at`, hour by hour
    pages: list[Tally]
    previous_pages: list[Tally]
    referrers: list[Tally]
    previous_referrers: list[Tally]
    platforms: list[Tally]
    previous_platforms: list[Tally]
    countries: list[Tally]
    previous_countries: list[Tally]


@dataclass(frozen=True)
class Signal:
    type: str
    headline: str
    summary: str
    importance_score: int
    detected_at: datetime
    window_start: datetime
    window_end: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """The stored snapshot, in the API's signal shape (times as ISO strings)."""
        return {
            "type": self.type,
            "headline": self.headline,
            "summary": self.summary,
            "importance_score": self.importance_score,
            "detected_at": iso(self.detected_at),
            "window": {"started_at": iso(self.window_start), "ended_at": iso(self.window_end)},
            "payload_excerpt": dict(self.payload),
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def referrer_host(referrer: str) -> str:
    """A referrer URL's host without `www.` (the URL itself when it has none)."""
    host = urlsplit(referrer if "//" in referrer else "//" + referrer).hostname or referrer
    return host.removeprefix("www.")


def by_host(referrers: list[Tally]) -> list[Tally]:
    """Referrer URLs summed per host, most first."""
    hosts: dict[str, int] = {}
    for tally in referrers:
        host = referrer_host(tally.value)
        hosts[host] = hosts.get(host, 0) + tally.hits
    return [Tally(h, n) for h, n in sorted(hosts.items(), key=lambda item: (-item[1], item[0]))]


def qualifies(week_hits: int, subscribed: bool) -> str | None:
    """Why a site gets no insight today, or None when it does."""
    if not subscribed:
        return "Insights need an active subscription (they are paused during expired trials)."
    if week_hits < MIN_WEEK_HITS:
        return (
            f"Insights need at least {MIN_WEEK_HITS} hits in the past 7 days "
            f"(this site had {week_hits})."
        )
    return None


def score(value: float) -> int:
    return max(0, min(100, round(value)))


def share(part: int, whole: int) -> float:
    """A percentage, 0 for an empty whole."""
    return 100.0 * part / whole if whole else 0.0


def _counts(tallies: list[Tally]) -> dict[str, int]:
    return {t.value: t.hits for t in tallies}


def _pct(value: float) -> str:
    return f"{abs(value):.0f}%"


def _hits(n: int) -> str:
    return f"{n:,} hit" + ("" if n == 1 else "s")


def traffic_change(n: InsightNumbers) -> list[Signal]:
    current, previous = n.current_hits, n.previous_hits
    if min(current, previous) < CHANGE_MIN_HITS:
        return []
    change = current - previous
    percent = round(100.0 * change / previous, 1)
    if abs(percent) < CHANGE_MIN_PERCENT or abs(change) < CHANGE_MIN_ABSOLUTE:
        return []
    up = change > 0
    headline = f"Traffic is {'up' if up else 'down'} {_pct(percent)} this week"
    summary = (
        f"The site picked up {_hits(current)} in the last 7 days, "
        f"{'up' if up else 'down'} from {previous:,} the week before."
    )
    payload = {
        "direction": "increase" if up else "decrease",
        "current_hits": current,
        "previous_hits": previous,
        "absolute_change": change,
        "change_percentage": percent,
    }
    return [
        Signal(
            TRAFFIC_CHANGE,
            headline,
            summary,
            score(20 + 1.6 * abs(percent)),
            n.generated_at,
            n.current_start,
            n.generated_at,
            payload,
        )
    ]


def page_breakout(n: InsightNumbers) -> list[Signal]:
    before = _counts(n.previous_pages)
    found = []
    for page in n.pages:
        was = before.get(page.value, 0)
        now_share = share(page.hits, n.current_hits)
        was_share = share(was, n.previous_hits)
        rise = now_share - was_share
        if page.hits < BREAKOUT_MIN_HITS or rise < BREAKOUT_MIN_POINTS or page.hits < 2 * was:
            continue
        found.append(
            Signal(
                PAGE_BREAKOUT,
                f"{page.value} is gaining traction",
                f"{page.value} drew {_hits(page.hits)} this week, {now_share:.0f}% of all "
                f"traffic, up from {was_share:.0f}% the week before.",
                score(30 + 2.0 * rise),
                n.generated_at,
                n.current_start,
                n.generated_at,
                {
                    "path": page.value,
                    "current_hits": page.hits,
                    "previous_hits": was,
                    "current_share": round(now_share, 1),
                    "previous_share": round(was_share, 1),
                },
            )
        )
    found.sort(key=lambda s: -s.importance_score)
    return found[:MAX_PER_TYPE]


def referrer_surge(n: InsightNumbers) -> list[Signal]:
    before = _counts(n.previous_referrers)
    found = []
    for ref in n.referrers:
        was = before.get(ref.value, 0)
        now_share = share(ref.hits, n.current_hits)
        if ref.hits < SURGE_MIN_HITS or now_share < SURGE_MIN_SHARE:
            continue
        if was == 0:
            headline = f"{ref.value} started sending visitors"
            summary = (
                f"{ref.value} sent {_hits(ref.hits)} this week ({now_share:.0f}% of traffic) "
                "after sending none the week before."
            )
            value = 35 + 1.2 * now_share
            status = "new"
        elif ref.hits >= 2 * was + SURGE_MIN_HITS:
            headline = f"{ref.value} is sending more visitors"
            summary = (
                f"{ref.value} sent {_hits(ref.hits)} this week, up from {was:,} "
                f"the week before ({ref.hits / was:.1f} times as many)."
            )
            value = 25 + 1.0 * now_share + 5 * math.log2(ref.hits / was)
            status = "growing"
        else:
            continue
        found.append(
            Signal(
                REFERRER_SURGE,
                headline,
                summary,
                score(value),
                n.generated_at,
                n.current_start,
                n.generated_at,
                {
                    "referrer": ref.value,
                    "status": status,
                    "current_hits": ref.hits,
                    "previous_hits": was,
                    "current_share": round(now_share, 1),
                },
            )
        )
    found.sort(key=lambda s: -s.importance_score)
    return found[:MAX_PER_TYPE]


def _mobile(tallies: list[Tally]) -> tuple[int, int]:
    known = sum(t.hits for t in tallies)
    mobile = sum(t.hits for t in tallies if t.value in MOBILE_PLATFORMS)
    return mobile, known


def audience_shift(n: InsightNumbers) -> list[Signal]:
    found = []
    mobile, known = _mobile(n.platforms)
    was_mobile, was_known = _mobile(n.previous_platforms)
    if min(known, was_known) >= SHIFT_MIN_HITS:
        now_share, was_share = share(mobile, known), share(was_mobile, was_known)
        moved = now_share - was_share
        if abs(moved) >= SHIFT_MIN_POINTS:
            more = "mobile" if moved > 0 else "desktop"
            found.append(
                Signal(
                    AUDIENCE_SHIFT,
                    f"More visitors are browsing on {more}",
                    f"{now_share:.0f}% of this week's visits came from phones and tablets, "
                    f"against {was_share:.0f}% the week before.",
                    score(30 + 1.5 * abs(moved)),
                    n.generated_at,
                    n.current_start,
                    n.generated_at,
                    {
                        "dimension": "device",
                        "mobile_share": round(now_share, 1),
                        "previous_mobile_share": round(was_share, 1),
                        "change_points": round(moved, 1),
                    },
                )
            )
    now = {k: v for k, v in _counts(n.countries).items() if k != UNKNOWN_COUNTRY}
    was = {k: v for k, v in _counts(n.previous_countries).items() if k != UNKNOWN_COUNTRY}
    now_total, was_total = sum(now.values()), sum(was.values())
    if min(now_total, was_total) >= SHIFT_MIN_HITS:
        moves = [
            (share(now.get(c, 0), now_total) - share(was.get(c, 0), was_total), c)
            for c in sorted(set(now) | set(was))
        ]
        moved, country = max(moves, key=lambda m: (m[0], m[1]))
        if moved >= SHIFT_MIN_POINTS:
            now_share = share(now.get(country, 0), now_total)
            was_share = share(was.get(country, 0), was_total)
            found.append(
                Signal(
                    AUDIENCE_SHIFT,
                    f"More visitors are coming from {country}",
                    f"{country} sent {now_share:.0f}% of this week's visits, "
                    f"against {was_share:.0f}% the week before.",
                    score(25 + 1.5 * moved),
                    n.generated_at,
                    n.current_start,
                    n.generated_at,
                    {
                        "dimension": "country",
                        "country": country,
                        "share": round(now_share, 1),
                        "previous_share": round(was_share, 1),
                        "change_points": round(moved, 1),
                    },
                )
            )
    return found


def live_spike(n: InsightNumbers) -> list[Signal]:
    if len(n.hours) <= 24:
        return []
    baseline, last_day = n.hours[:-24], n.hours[-24:]
    mean = max(SPIKE_FLOOR_MEAN, sum(h.hits for h in baseline) / len(baseline))
    best: tuple[float, HourCount] | None = None
    for hour in last_day:
        ratio = hour.hits / mean
        z = (hour.hits - mean) / math.sqrt(mean + 1)
        unusual = hour.hits >= SPIKE_MIN_HITS and ratio >= SPIKE_MIN_RATIO and z >= SPIKE_MIN_Z
        if unusual and (best is None or ratio > best[0]):
            best = (ratio, hour)
    if best is None:
        return []
    ratio, hour = best
    local = hour.at.astimezone(ZoneInfo(n.zone))
    label = local.strftime("%I %p").lstrip("0")
    return [
        Signal(
            LIVE_SPIKE,
            f"An unusual spike around {label}",
            f"The hour from {label} on {local:%A} brought {_hits(hour.hits)}, about "
            f"{ratio:.0f} times the usual {mean:.1f} an hour.",
            score(30 + 10 * math.log2(ratio)),
            n.generated_at,
            hour.at,
            hour.at + timedelta(hours=1),
            {
                "hour_started_at": iso(hour.at),
                "hits": hour.hits,
                "usual_hits_per_hour": round(mean, 1),
                "ratio": round(ratio, 1),
            },
        )
    ]


RULES = (traffic_change, page_breakout, referrer_surge, audience_shift, live_spike)


def detect_signals(numbers: InsightNumbers) -> list[Signal]:
    """Every signal the numbers hold, most important first (ties: the rules' order)."""
    if numbers.current_hits < MIN_WEEK_HITS:
        return []
    found = [signal for rule in RULES for signal in rule(numbers)]
    order = {t: i for i, t in enumerate(SIGNAL_TYPES)}
    found.sort(key=lambda s: (-s.importance_score, order[s.type]))
    return found
