"""Date ranges: local days in a time zone, and the UTC instants that bound them.

Every reader asks for its data by a `DateRange` (whole local days, API answers, the
dashboard's periods, reports, insights) or by a `Window` (instants, the dashboard's
last 24 hours): this module is the one place where a request's dates become instants.
A day in a zone does not always last 24 hours (a DST change), does not always start on
a UTC hour (Asia/Kathmandu is UTC+5:45, America/St_Johns UTC-3:30), and the bounds are
found by asking the zone, never by adding offsets by hand.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import DomainError

# The days a range may hold. Nothing was tracked before 1970; a year is kept free at the
# far end, where the instants of a day in any zone (and the rollups' edges, which step
# past the last day) still exist as Python dates (9999-12-31 + 1 day does not).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
MAX_DAYS = 730  # api.md: "Date range limit for analytics endpoints: max 730 days"


@lru_cache(maxsize=512)
def zone_of(name: str) -> ZoneInfo:
    """The tz database's zone for an IANA name; DomainError for one it does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(f"Unknown timezone {name!r}") from None


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment needs its time zone (naive datetimes are ambiguous)")
    return moment.astimezone(UTC)


def start_of_day(day: date, zone: str) -> datetime:
    """The UTC instant at which a local day starts (00:00, or the first moment after a gap)."""
    return datetime.combine(day, time(0), tzinfo=zone_of(zone)).astimezone(UTC)


def local_day(moment: datetime, zone: str) -> date:
    """The local day a moment falls on in a zone."""
    return _as_utc(moment).astimezone(zone_of(zone)).date()


@dataclass(frozen=True)
class Window:
    """The instants [begin, finish) in UTC, and the zone its days and hours are shown in."""

    begin: datetime
    finish: datetime
    zone: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "begin", _as_utc(self.begin))
        object.__setattr__(self, "finish", _as_utc(self.finish))
        if self.finish < self.begin:
            raise DomainError("A window must not end before it begins")
        zone_of(self.zone)

    @classmethod
    def last_hours(cls, hours: int, zone: str, now: datetime) -> "Window":
        """The last `hours` whole UTC hours up to the end of the current one."""
        finish = _as_utc(now).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return cls(finish - timedelta(hours=hours), finish, zone)

    def days(self) -> list[date]:
        """The local days the window touches, in order."""
        if self.finish == self.begin:
            return []
        first = local_day(self.begin, self.zone)
        last = local_day(self.finish - timedelta(microseconds=1), self.zone)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class DateRange:
    """Whole local days from `start` to `end` (both included) in the zone `zone`."""

    start: date
    end: date
    zone: str = "UTC"

    def __post_init__(self) -> None:
        zone_of(self.zone)
        for label, day in (("Start date", self.start), ("End date", self.end)):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise DomainError(
                    f"{label} must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
                )
        if self.start > self.end:
            raise DomainError("Start date must be on or before end date")

    @classmethod
    def last_days(cls, days: int, zone: str, now: datetime) -> "DateRange":
        """The last `days` local days, today included."""
        today = local_day(now, zone)
        return cls(max(FIRST_DAY, today - timedelta(days=days - 1)), today, zone)

    @classmethod
    def asked(
        cls,
        start: date | None,
        end: date | None,
        zone: str,
        now: datetime,
        default_days: int,
        max_days: int = MAX_DAYS,
    ) -> "DateRange":
        """The range a request names, its missing ends filled in: the end defaults to
        today in the zone and the start to `default_days` before the end. DomainError,
        with the sentence to show, for a range the readers cannot serve."""
        end = end or local_day(now, zone)
        if start is None:
            start = max(FIRST_DAY, end - timedelta(days=default_days))
        found = cls(start, end, zone)
        if found.length > max_days:
            raise DomainError(f"Date range is too long: at most {max_days} days")
        return found

    @property
    def length(self) -> int:
        """How many days the range holds."""
        return (self.end - self.start).days + 1

    @property
    def begin(self) -> datetime:
        """The first instant of the first day, in UTC (included)."""
        return start_of_day(self.start, self.zone)

    @property
    def finish(self) -> datetime:
        """The first instant after the last day, in UTC (excluded)."""
        return start_of_day(self.end + timedelta(days=1), self.zone)

    @property
    def window(self) -> Window:
        return Window(self.begin, self.finish, self.zone)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.length)]

    def day_window(self, day: date) -> Window:
        """The instants of one local day of the range."""
        following = day + timedelta(days=1)
        return Window(start_of_day(day, self.zone), start_of_day(following, self.zone), self.zone)

    def previous(self) -> "DateRange":
        """The range of the same length just before this one (comparisons: this week
        against the last)."""
        before = self.start - timedelta(days=1)
        return DateRange(before - timedelta(days=self.length - 1), before, self.zone)
