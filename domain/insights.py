"""A site's insights: its settings and every insight generated for it, as one aggregate.

One `SiteInsights` per site, its id derived from the site's, so finding it needs no
index and two workers generating for the same site race on the same aggregate: the
event store's version check lets one of them save. An insight is an event
(`Generated`) of this aggregate, so the history is kept, and `generate` refuses a
second insight for a day that has one: once per site and day, whoever fires.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict, DomainError

MAX_INSTRUCTIONS = 1000
DEFAULT_WRITER = "default"
INSIGHT_HOUR = 1  # 01:00 in the site's zone (insights_guide.md)


def insights_id(site_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"tinylytics:insights:{site_id}")


@dataclass(frozen=True)
class ReportText:
    """The words of an insight, whoever wrote them."""

    summary: str
    traffic_patterns: str
    best_content: str
    recommendations: str


def clean_instructions(text: str | None) -> str:
    value = (text or "").strip()
    if len(value) > MAX_INSTRUCTIONS:
        raise DomainError(f"Custom instructions are at most {MAX_INSTRUCTIONS} characters")
    return value


class SiteInsights(Aggregate):
    @staticmethod
    def create_id(site_id: UUID) -> UUID:
        return insights_id(site_id)

    @event("Started")
    def __init__(self, site_id: UUID) -> None:
        self.site_id = site_id
        self.enabled = False
        self.daily_email = False
        self.instructions = ""
        self.days: list[str] = []  # ISO days that have an insight

    # -- settings ----------------------------------------------------------------------
    def enable(self) -> None:
        if not self.enabled:
            self._enabled()

    @event("Enabled")
    def _enabled(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        if self.enabled:
            self._disabled()

    @event("Disabled")
    def _disabled(self) -> None:
        self.enabled = False

    def configure(self, instructions: str | None, daily_email: bool) -> None:
        cleaned = clean_instructions(instructions)
        if cleaned != self.instructions or daily_email != self.daily_email:
            self._configured(cleaned, bool(daily_email))

    @event("Configured")
    def _configured(self, instructions: str, daily_email: bool) -> None:
        self.instructions = instructions
        self.daily_email = daily_email

    # -- insights ----------------------------------------------------------------------
    def has_insight_for(self, day: date) -> bool:
        return day.isoformat() in self.days

    def generate(
        self,
        for_day: date,
        generated_at: datetime,
        signals: list[dict[str, Any]],
        text: ReportText,
        writer: str,
    ) -> None:
        if self.has_insight_for(for_day):
            raise Conflict(f"There is already an insight for {for_day.isoformat()}")
        self._generated(
            for_day.isoformat(),
            generated_at,
            signals,
            text.summary,
            text.traffic_patterns,
            text.best_content,
            text.recommendations,
            writer,
        )

    @event("Generated")
    def _generated(
        self,
        for_day: str,
        generated_at: datetime,
        signals: list[dict[str, Any]],
        summary: str,
        traffic_patterns: str,
        best_content: str,
        recommendations: str,
        writer: str,
    ) -> None:
        self.days.append(for_day)
