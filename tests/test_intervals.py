"""Cutting a range into rollup pieces: `cut_fewest` covers exactly the instants `cut` does.

Sums by dimension add the rows of every piece and take away those of `less`; the
range's answer is only right if, counted that way, every quarter of an hour of the
range is in exactly once and no other quarter is in at all.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.traffic.intervals import Pieces, cut, cut_fewest

QUARTER = timedelta(minutes=15)
START = datetime(2026, 11, 1, tzinfo=UTC)


def quarters(a: datetime, b: datetime) -> list[datetime]:
    found = []
    while a < b:
        found.append(a)
        a += QUARTER
    return found


def days(first: date, last: date) -> list[datetime]:
    begin = datetime(first.year, first.month, first.day, tzinfo=UTC)
    finish = datetime(last.year, last.month, last.day, tzinfo=UTC)
    return quarters(begin, finish)


def counted(pieces: Pieces) -> Counter[datetime]:
    found: Counter[datetime] = Counter()
    if pieces.days:
        found.update(days(*pieces.days))
    for a, b in pieces.hours + pieces.raw:
        found.update(quarters(a, b))
    for a, b in pieces.less:
        found.subtract(quarters(a, b))
    return +found  # drops the quarters counted zero times


moments = st.integers(min_value=0, max_value=4 * 24 * 20).map(lambda n: START + n * QUARTER)


@given(moments, st.integers(min_value=1, max_value=4 * 24 * 9), moments)
def test_cut_fewest_counts_each_quarter_of_the_range_once(
    begin: datetime, length: int, hourly_from: datetime
) -> None:
    finish = begin + length * QUARTER
    hourly_from = hourly_from.replace(minute=0)
    fewest = cut_fewest(begin, finish, hourly_from)
    assert counted(fewest) == Counter(quarters(begin, finish))
    assert counted(fewest) == counted(cut(begin, finish, hourly_from))
    for a, b in fewest.less + fewest.hours:
        assert a >= hourly_from and a.minute == 0 and b.minute == 0


def test_a_new_york_week_reads_ten_hours_of_combinations_not_twenty_four() -> None:
    begin = datetime(2026, 11, 25, 5, tzinfo=UTC)  # local midnight, UTC-5
    finish = begin + timedelta(days=7)
    hourly_from = begin - timedelta(days=1)
    plain, fewest = cut(begin, finish, hourly_from), cut_fewest(begin, finish, hourly_from)
    hours = sum(((b - a) for a, b in fewest.hours + fewest.less), timedelta())
    assert sum(((b - a) for a, b in plain.hours), timedelta()) == timedelta(hours=24)
    assert hours == timedelta(hours=10)
    assert fewest.days == (date(2026, 11, 25), date(2026, 12, 2))
    assert fewest.less == [(datetime(2026, 11, 25, tzinfo=UTC), begin)]


def test_an_edge_day_the_hourly_rollups_no_longer_hold_is_cut_as_before() -> None:
    begin = datetime(2026, 11, 25, 5, tzinfo=UTC)
    finish = begin + timedelta(days=7)
    hourly_from = begin  # the hours before the range are gone
    assert cut_fewest(begin, finish, hourly_from).less == []
