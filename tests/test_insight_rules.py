"""The signal rules and the default writer as pure functions: api.md's example scores as
documented, thresholds hold, and the words vary from day to day but not between runs."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from domain.insight_signals import (
    DayCount,
    HourCount,
    InsightNumbers,
    Tally,
    by_host,
    detect_signals,
    qualifies,
)
from domain.insight_writing import write_default

AT = datetime(2026, 2, 14, 6, 0, tzinfo=UTC)


def numbers(current: int, previous: int) -> InsightNumbers:
    start = datetime(2026, 2, 7, tzinfo=UTC)
    per_day = current // 7
    return InsightNumbers(
        zone="UTC",
        for_day=date(2026, 2, 13),
        generated_at=AT,
        current_start=start,
        current_end=start + timedelta(days=7),
        previous_start=start - timedelta(days=7),
        current_hits=current,
        current_uniques=current,
        previous_hits=previous,
        days=[DayCount(date(2026, 2, 7) + timedelta(days=d), per_day + d) for d in range(7)],
        hours=[HourCount(AT - timedelta(hours=192 - h), 2) for h in range(192)],
        pages=[Tally("/", current // 2), Tally("/blog/rails-tips", current // 2)],
        previous_pages=[Tally("/", previous // 2), Tally("/blog/rails-tips", previous // 2)],
        referrers=[],
        previous_referrers=[],
        platforms=[],
        previous_platforms=[],
        countries=[],
        previous_countries=[],
    )


def test_the_api_md_example_scores_64() -> None:
    (signal,) = detect_signals(numbers(378, 296))
    assert signal.headline == "Traffic is up 28% this week"
    assert signal.summary == (
        "The site picked up 378 hits in the last 7 days, up from 296 the week before."
    )
    assert signal.importance_score == 64
    assert signal.payload == {
        "direction": "increase",
        "current_hits": 378,
        "previous_hits": 296,
        "absolute_change": 82,
        "change_percentage": 27.7,
    }
    assert signal.snapshot()["window"] == {
        "started_at": "2026-02-07T00:00:00Z",
        "ended_at": "2026-02-14T06:00:00Z",
    }


def test_thresholds() -> None:
    assert detect_signals(numbers(340, 296)) == []  # +14.9%
    assert detect_signals(numbers(9, 100)) == []  # too few hits to qualify
    assert [s.payload["direction"] for s in detect_signals(numbers(200, 296))] == ["decrease"]
    assert qualifies(9, True) is not None and qualifies(10, True) is None
    assert qualifies(500, False) is not None


def test_referrers_are_summed_per_host() -> None:
    found = by_host(
        [Tally("https://www.google.com/", 3), Tally("https://google.com/search?q=x", 2),
         Tally("https://news.ycombinator.com/item?id=1", 4)]
    )  # fmt: skip
    assert found == [Tally("google.com", 5), Tally("news.ycombinator.com", 4)]


def test_the_default_writer_varies_by_day_and_is_stable() -> None:
    n = numbers(300, 290)
    texts = {write_default(n, [], f"site:{day}") for day in range(20)}
    assert len({t.summary for t in texts}) >= 2
    assert write_default(n, [], "site:1") == write_default(n, [], "site:1")
    for text in texts:
        sentences = [s for s in text.recommendations.split(". ") if s]
        assert 2 <= len(sentences) <= 3
        assert "Saturday" in text.traffic_patterns or "Friday" in text.traffic_patterns
    signals = detect_signals(replace(n, current_hits=400, current_uniques=400))
    text = write_default(replace(n, current_hits=400), signals, "x")
    assert text.summary.startswith("Traffic is up 38% this week")
