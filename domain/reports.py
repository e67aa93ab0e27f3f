"""The weekly email report's rules: when it goes, which days it covers, to whom, and
the key that makes it go once per site, week and address.

reports_and_notifications.md: every Monday, for the previous 7 days: total hits (with
unique hits when the site counts them), top pages (up to 30), kudos by page when
there are any; to the owner and every address on the site's recipients list.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

REPORT_WEEKDAY = 1  # Monday, in cron's numbering
REPORT_HOUR = 6  # local time of the site: "Monday morning"
TOP_PAGES = 30
TOP_KUDOS = 30


@dataclass(frozen=True)
class ReportPeriod:
    """Seven local days, `first` to `last` included."""

    first: date
    last: date

    @property
    def week(self) -> str:
        """The ISO week of its first day, e.g. "2026-W48" (a Monday's week for a report
        sent on schedule)."""
        year, week, _ = self.first.isocalendar()
        return f"{year}-W{week:02d}"


def report_period(at: datetime, zone: str) -> ReportPeriod:
    """The 7 local days before the local day of `at`: on a Monday, last Monday to Sunday."""
    today = at.astimezone(ZoneInfo(zone)).date()
    last = today - timedelta(days=1)
    return ReportPeriod(last - timedelta(days=6), last)


def report_addresses(owner_email: str, to_owner: bool, recipients: list[str]) -> list[str]:
    """Who gets the report: the owner (unless they turned it off), then each recipient,
    each address once."""
    found: list[str] = [owner_email.lower()] if to_owner else []
    for address in recipients:
        if address.lower() not in found:
            found.append(address.lower())
    return found


def report_key(site_id: UUID, period: ReportPeriod, address: str) -> str:
    """The idempotency key of one scheduled report mail: once per site, week and address."""
    return f"report:{site_id}:{period.week}:{address.lower()}"


# What the report reads (application/reports.py `ReportReads`), as plain values.
@dataclass(frozen=True)
class PageCount:
    path: str
    hits: int
    uniques: int


@dataclass(frozen=True)
class KudosCount:
    path: str
    kudos: int


@dataclass(frozen=True)
class ReportNumbers:
    hits: int
    uniques: int
    top_pages: list[PageCount]
    kudos: list[KudosCount]


@dataclass(frozen=True)
class SiteZone:
    site_id: UUID
    timezone: str
