"""Visitor journeys: each visitor's pages in order, and what the journeys add up to.

A visitor is a daily visitor hash (domain/privacy.py): a journey never spans two UTC
days and cannot be followed further.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from projections.traffic.listings import VisitorHit


@dataclass(frozen=True)
class JourneyPage:
    path: str


@dataclass
class Journey:
    visitor_hash: str
    first_hit: datetime
    last_hit: datetime
    referrer: str | None
    country: str
    browser: str | None
    pages: list[JourneyPage] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def entry_page(self) -> str:
        return self.pages[0].path

    @property
    def exit_page(self) -> str:
        return self.pages[-1].path

    @property
    def session_duration(self) -> int:
        """Seconds from the first page to the last."""
        return int((self.last_hit - self.first_hit).total_seconds())

    @property
    def duration_minutes(self) -> int:
        return self.session_duration // 60


@dataclass(frozen=True)
class VisitorCounts:
    total_visitors: int
    multi_page_visitors: int
    single_page_visitors: int
    bounce_rate: float  # per cent of visitors who saw one page


@dataclass(frozen=True)
class PageVisitors:
    path: str
    visitors: int


@dataclass(frozen=True)
class JourneyPages:
    top_entry_pages: list[PageVisitors]
    top_exit_pages: list[PageVisitors]


@dataclass(frozen=True)
class Journeys:
    """Every journey of a range, newest first, and what they add up to."""

    journeys: list[Journey]
    summary: VisitorCounts
    insights: JourneyPages


def build_journeys(visits: Iterable[VisitorHit], top: int) -> Journeys:
    """Journeys from visits in visitor and time order (listings.visits)."""
    journeys: list[Journey] = []
    current: Journey | None = None
    for visit in visits:
        if current is None or current.visitor_hash != visit.visitor_hash:
            current = Journey(
                visit.visitor_hash,
                visit.created_at,
                visit.created_at,
                visit.referrer,
                visit.country,
                visit.browser,
            )
            journeys.append(current)
        current.pages.append(JourneyPage(visit.path))
        current.last_hit = visit.created_at
    journeys.sort(key=lambda j: (j.last_hit, j.visitor_hash), reverse=True)
    total = len(journeys)
    multi = sum(1 for j in journeys if j.page_count > 1)
    entries = Counter(j.entry_page for j in journeys)
    exits = Counter(j.exit_page for j in journeys)
    return Journeys(
        journeys,
        VisitorCounts(
            total_visitors=total,
            multi_page_visitors=multi,
            single_page_visitors=total - multi,
            bounce_rate=round((total - multi) * 100.0 / total, 1) if total else 0.0,
        ),
        JourneyPages(
            [PageVisitors(p, n) for p, n in entries.most_common(top)],
            [PageVisitors(p, n) for p, n in exits.most_common(top)],
        ),
    )
