"""Generated traffic with planted patterns, for the insights tests.

A flat site has the same 40 hits every day (hours 8 to 22, the same pages, referrers,
platforms and countries in the same proportions); a pattern is planted in the last
7 local days before `today` by changing some of those hits or adding more.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from infrastructure.bootstrap import Container
from tests.dashboard.conftest import hit, record

PATHS = ["/"] * 16 + ["/about"] * 8 + ["/blog/a"] * 8 + ["/blog/b"] * 8
REFERRERS: list[str | None] = [None] * 30 + ["https://www.google.com/"] * 10
PLATFORMS = ["macOS"] * 20 + ["Windows"] * 12 + ["iOS"] * 8
COUNTRIES = ["US"] * 20 + ["DE"] * 12 + ["GB"] * 8
HOURS = list(range(8, 23))  # 15 hours: 2 or 3 hits an hour


def at(zone: str, day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZoneInfo(zone))


Fields = dict[str, Any]


@dataclass
class Traffic:
    """Two weeks of flat traffic before `today` in `zone`, with changes planted."""

    zone: str
    today: date
    # (days before today: 1..7 is the current week, i, fields) -> fields
    tweak: Callable[[int, int, Fields], Fields] | None = None
    # extra hits: (days before today, local hour, fields)
    extra: list[tuple[int, int, Fields]] = field(default_factory=list)
    per_day: int = 40

    def hits(self, site: UUID) -> list[Any]:
        found = []
        for back in range(1, 15):
            day = self.today - timedelta(days=back)
            for i in range(self.per_day):
                k = i % 40
                fields: Fields = {
                    "path": PATHS[(k * 7) % 40],
                    "referrer": REFERRERS[(k * 11) % 40],
                    "platform": PLATFORMS[(k * 13) % 40],
                    "country": COUNTRIES[(k * 17) % 40],
                }
                if self.tweak is not None:
                    fields = self.tweak(back, i, fields)
                hour = HOURS[i % len(HOURS)]
                found.append(self._hit(site, day, hour, i, back, fields))
        for n, (back, hour, fields) in enumerate(self.extra):
            day = self.today - timedelta(days=back)
            found.append(self._hit(site, day, hour, 1000 + n, back, fields))
        return found

    def _hit(self, site: UUID, day: date, hour: int, i: int, back: int, fields: Fields) -> Any:
        values = dict(fields)
        path = values.pop("path", "/")
        if values.get("referrer") and "source" not in values:
            values["source"] = values["referrer"].split("/")[2].removeprefix("www.")
        moment = at(self.zone, day, hour, (i * 7) % 60, i % 60).astimezone(UTC)
        values.setdefault("unique_hash", f"u{back}-{i}")
        return hit(site, moment, path, **values)

    def record(self, container: Container, site: UUID) -> None:
        record(container, self.hits(site))
