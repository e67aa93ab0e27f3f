"""The default writer: an insight's words from its signals and aggregates, on this machine.

No network and no model: sentences are chosen from the numbers, and where several
phrasings fit, one is picked by a hash of the site and the day, so two days (or two
sites) with similar numbers do not read alike, yet the same input always gives the
same text (tests can hold it to its words).
"""

import hashlib
from collections import defaultdict
from datetime import UTC
from zoneinfo import ZoneInfo

from domain.insight_signals import (
    AUDIENCE_SHIFT,
    LIVE_SPIKE,
    PAGE_BREAKOUT,
    REFERRER_SURGE,
    TRAFFIC_CHANGE,
    InsightNumbers,
    Signal,
    share,
)
from domain.insights import ReportText

WEEKEND = (5, 6)


class _Voice:
    """Picks one phrasing of several, the same each time for the same seed."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.turn = 0

    def pick(self, *options: str) -> str:
        self.turn += 1
        digest = hashlib.sha256(f"{self.seed}:{self.turn}".encode()).digest()
        return options[digest[0] % len(options)]


def _hour_label(hour: int) -> str:
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{hour % 12} {'AM' if hour < 12 else 'PM'}"


def _part_of_day(hour: int) -> str:
    if 5 <= hour < 12:
        return "mornings"
    if 12 <= hour < 17:
        return "afternoons"
    if 17 <= hour < 22:
        return "evenings"
    return "late nights"


def _first(signals: list[Signal], kind: str) -> Signal | None:
    return next((s for s in signals if s.type == kind), None)


def summary(n: InsightNumbers, signals: list[Signal], voice: _Voice) -> str:
    if not signals:
        return voice.pick(
            f"A steady week: {n.current_hits:,} hits, much like the week before, "
            "with no single change standing out.",
            f"Traffic held steady at {n.current_hits:,} hits this week; nothing moved "
            "enough to call out.",
            f"Nothing unusual this week: {n.current_hits:,} hits and the usual pages and sources.",
        )
    lead, rest = signals[0], signals[1:]
    sentence = lead.headline.rstrip(".") + "."
    if rest:
        also = rest[0].headline[0].lower() + rest[0].headline[1:].rstrip(".")
        sentence += voice.pick(
            f" Also worth a look: {also}.",
            f" Meanwhile, {also}.",
            f" On top of that, {also}.",
        )
    return sentence


def traffic_patterns(n: InsightNumbers, signals: list[Signal], voice: _Voice) -> str:
    days = [d for d in n.days if d.hits > 0]
    if not days:
        return "There was too little traffic this week to see a pattern."
    ranked = sorted(days, key=lambda d: (-d.hits, d.day))
    busiest = [f"{d.day:%A}" for d in ranked[:2]]
    zone = ZoneInfo(n.zone)
    by_hour: dict[int, int] = defaultdict(int)
    for hour in n.hours[-24 * 7 :]:
        by_hour[hour.at.astimezone(UTC).astimezone(zone).hour] += hour.hits
    peak = max(sorted(by_hour), key=lambda h: by_hour[h]) if by_hour else 12
    if len(busiest) == 2:
        opening = voice.pick(
            f"{busiest[0]} and {busiest[1]} were the busiest days",
            f"Most visits landed on {busiest[0]} and {busiest[1]}",
            f"{busiest[0]} led the week, followed by {busiest[1]}",
        )
    else:
        opening = f"{busiest[0]} was the only day with real traffic"
    hour_part = voice.pick(
        f", and activity peaked around {_hour_label(peak)} ({n.zone} time)",
        f", with {_part_of_day(peak)} the strongest time of day (peaking around "
        f"{_hour_label(peak)}, {n.zone})",
    )
    text = opening + hour_part + "."
    weekdays = [d.hits for d in n.days if d.day.weekday() not in WEEKEND]
    weekend = [d.hits for d in n.days if d.day.weekday() in WEEKEND]
    if weekdays and weekend:
        weekday_mean = sum(weekdays) / len(weekdays)
        weekend_mean = sum(weekend) / len(weekend)
        if weekend_mean and weekday_mean >= 1.3 * weekend_mean:
            rise = 100 * (weekday_mean / weekend_mean - 1)
            text += f" Weekdays averaged {rise:.0f}% more hits than the weekend."
        elif weekday_mean and weekend_mean >= 1.3 * weekday_mean:
            rise = 100 * (weekend_mean / weekday_mean - 1)
            text += f" Weekends were {rise:.0f}% busier than weekdays."
    spike = _first(signals, LIVE_SPIKE)
    if spike is not None:
        text += " " + spike.summary
    return text


def best_content(n: InsightNumbers, signals: list[Signal], voice: _Voice) -> str:
    if not n.pages:
        return "No single page stood out this week."
    top = n.pages[0]
    top_share = share(top.hits, n.current_hits)
    mean = n.current_hits / max(1, len(n.pages))
    text = voice.pick(
        f"{top.value} was the most visited page, with {top.hits:,} hits "
        f"({top_share:.0f}% of the week)",
        f"Your top page was {top.value}: {top.hits:,} hits, {top_share:.0f}% of all traffic",
    )
    if len(n.pages) > 1 and top.hits >= 2 * mean:
        text += f", about {top.hits / mean:.1f} times the average page"
    text += "."
    breakout = _first(signals, PAGE_BREAKOUT)
    if breakout is not None and breakout.payload.get("path") != top.value:
        text += " " + breakout.summary
    elif breakout is not None:
        text += voice.pick(
            " It is also this week's breakout, well above its usual share.",
            " Its share of traffic jumped compared with last week.",
        )
    elif len(n.pages) > 1:
        second = n.pages[1]
        text += f" {second.value} came next with {second.hits:,} hits."
    return text


def recommendations(n: InsightNumbers, signals: list[Signal], voice: _Voice) -> str:
    found: list[str] = []
    breakout = _first(signals, PAGE_BREAKOUT)
    if breakout is not None:
        path = breakout.payload.get("path")
        found.append(
            voice.pick(
                f"Build on {path} while it is fresh: a follow-up post or links to it from "
                "related pages can keep the momentum going.",
                f"Link {path} from your home page and related posts so new visitors find more "
                "of what brought them.",
            )
        )
    surge = _first(signals, REFERRER_SURGE)
    if surge is not None:
        found.append(
            f"See what {surge.payload.get('referrer')} is saying about you and join the "
            "conversation; it is now one of your main sources of visitors."
        )
    shift = _first(signals, AUDIENCE_SHIFT)
    if shift is not None and shift.payload.get("dimension") == "device":
        found.append(
            "Check your most visited pages on a phone: a larger share of visitors now "
            "reads on small screens."
        )
    elif shift is not None:
        found.append(
            f"More readers come from {shift.payload.get('country')}: consider when they are "
            "awake when you publish or share new posts."
        )
    change = _first(signals, TRAFFIC_CHANGE)
    if change is not None and change.payload.get("direction") == "decrease":
        found.append(
            "Traffic fell this week: a new post or sharing an older favourite again can "
            "bring readers back."
        )
    days = sorted((d for d in n.days if d.hits > 0), key=lambda d: (-d.hits, d.day))
    if days and len(found) < 3:
        found.append(
            voice.pick(
                f"Publish or share new content on {days[0].day:%A}s, when most of your "
                "visitors are around.",
                f"Time your next post for a {days[0].day:%A}, your busiest day this week.",
            )
        )
    if n.pages and len(found) < 3:
        found.append(
            f"Give {n.pages[0].value} a clear next step (a related post or a sign-up) so "
            "its visitors keep reading."
        )
    if len(found) < 2:
        found.append("Keep publishing regularly; a steady rhythm makes changes easier to spot.")
    return " ".join(found[:3])


def write_default(n: InsightNumbers, signals: list[Signal], seed: str) -> ReportText:
    voice = _Voice(seed)
    return ReportText(
        summary=summary(n, signals, voice),
        traffic_patterns=traffic_patterns(n, signals, voice),
        best_content=best_content(n, signals, voice),
        recommendations=recommendations(n, signals, voice),
    )
