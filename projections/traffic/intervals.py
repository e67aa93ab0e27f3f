"""A UTC interval cut into the pieces the rollups hold: whole days, whole hours, minutes.

A range of local days in a zone is an interval of instants (domain/date_ranges.py)
that rarely starts on a UTC midnight. `cut` splits it into whole UTC days (read from
the daily rollups), whole hours at its edges (the hourly rollups, which keep the last
HOURLY_DAYS days) and what is left over: the minutes of a zone whose offset is not a
whole hour, and edge hours older than the hourly rollups, read from raw rows of at
most two partial days.

`cut_fewest` is `cut` for the sums by dimension: an edge of more than half its UTC
day, in whole hours the hourly rollups still hold, is read as that whole day less the
hours it leaves out. An hour's rows are combinations of every dimension (thousands an
hour on a busy site) and a day's single-dimension rows about as many as one such hour,
so the week of a site in New York (edges of 19 and 5 hours) reads 10 hours of
combinations instead of 24, one in Berlin 2 instead of 24.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

_EPOCH = date(1970, 1, 1)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def _floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)


@dataclass(frozen=True)
class Pieces:
    days: tuple[date, date] | None  # [first, last) UTC days
    hours: list[tuple[datetime, datetime]]
    raw: list[tuple[datetime, datetime]]
    # Whole hours to take away from `days` (cut_fewest): inside them, never in `hours`.
    less: list[tuple[datetime, datetime]] = field(default_factory=list)


def cut(begin: datetime, finish: datetime, hourly_from: datetime) -> Pieces:
    """Cut [begin, finish) into whole UTC days, whole hours and leftover minutes.

    Hours before `hourly_from` (older than the hourly rollups keep) count as leftover.
    """
    days: tuple[date, date] | None = None
    edges: list[tuple[datetime, datetime]] = []
    first_day, last_day = _ceil_day(begin), _floor_day(finish)
    if first_day < last_day:
        days = (first_day.date(), last_day.date())
        edges = [(begin, first_day), (last_day, finish)]
    else:
        edges = [(begin, finish)]
    hours: list[tuple[datetime, datetime]] = []
    raw: list[tuple[datetime, datetime]] = []
    for a, b in edges:
        _edge(a, b, hourly_from, hours, raw)
    return Pieces(days, hours, [(a, b) for a, b in raw if a < b])


def _edge(
    a: datetime,
    b: datetime,
    hourly_from: datetime,
    hours: list[tuple[datetime, datetime]],
    raw: list[tuple[datetime, datetime]],
) -> None:
    """[a, b) as whole hours of the hourly rollups and leftover minutes."""
    if a >= b:
        return
    ha, hb = _ceil_hour(max(a, hourly_from)), _floor_hour(b)
    if ha < hb and ha >= hourly_from:
        hours.append((ha, hb))
        raw += [(a, ha), (hb, b)]
    else:
        raw.append((a, b))


_DAY = timedelta(days=1)
_HALF_DAY = timedelta(hours=12)


def _whole_hour(moment: datetime) -> bool:
    return moment == _floor_hour(moment)


def cut_fewest(begin: datetime, finish: datetime, hourly_from: datetime) -> Pieces:
    """As `cut`, but an edge longer than half a day, of whole hours, is its whole UTC
    day (in `days`) less the hours of that day outside the range (in `less`), when the
    hourly rollups hold those hours. The sums are the same; the rows read are fewer."""
    first_day, last_day = _ceil_day(begin), _floor_day(finish)
    if first_day >= last_day:
        return cut(begin, finish, hourly_from)
    start, end = first_day, last_day
    hours: list[tuple[datetime, datetime]] = []
    raw: list[tuple[datetime, datetime]] = []
    less: list[tuple[datetime, datetime]] = []
    lead_day = first_day - _DAY
    if first_day - begin > _HALF_DAY and _whole_hour(begin) and lead_day >= hourly_from:
        start = lead_day
        less.append((lead_day, begin))
    else:
        _edge(begin, first_day, hourly_from, hours, raw)
    if finish - last_day > _HALF_DAY and _whole_hour(finish) and finish >= hourly_from:
        end = last_day + _DAY
        less.append((finish, end))
    else:
        _edge(last_day, finish, hourly_from, hours, raw)
    return Pieces((start.date(), end.date()), hours, [(a, b) for a, b in raw if a < b], less)


@dataclass(frozen=True)
class Blocks:
    days: list[tuple[date, date]]  # [first, last) runs of single days
    blocks: dict[int, list[date]]  # span -> the first days of the blocks of that span


def in_blocks(first: date, last: date, spans: tuple[int, ...], sealed: date | None) -> Blocks:
    """[first, last) as the fewest aligned blocks (a block of `span` days starts on a day
    whose number since 1970 is a multiple of it) that end by `sealed` (the closed ones,
    projections/traffic/blocks.py; none for None) and single days: the blocks grow
    while the range allows, then shrink towards its end or the seal."""
    start, end = (first - _EPOCH).days, (last - _EPOCH).days
    closed = start if sealed is None else min(end, (sealed - _EPOCH).days)
    runs: list[tuple[date, date]] = []
    blocks: dict[int, list[date]] = {}
    at = start
    while at < end:
        span = next((s for s in reversed(spans) if at % s == 0 and at + s <= closed), 1)
        if span == 1:
            day = _EPOCH + timedelta(days=at)
            if runs and runs[-1][1] == day:
                runs[-1] = (runs[-1][0], day + timedelta(days=1))
            else:
                runs.append((day, day + timedelta(days=1)))
        else:
            blocks.setdefault(span, []).append(_EPOCH + timedelta(days=at))
        at += span
    return Blocks(runs, blocks)
