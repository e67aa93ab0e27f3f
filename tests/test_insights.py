"""Insights end to end: planted patterns in generated traffic are found as signals with
sensible scores, flat and tiny sites find none, the words come from the default writer,
and the API answers the documented shape."""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
import time_machine
from flask.testing import FlaskClient

from application.insights import Generated
from domain.insight_signals import detect_signals
from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.insight_helpers import Fields, Traffic, at
from tests.test_api_premium import _document, _validator

ZONE = "America/New_York"
TODAY = date(2026, 11, 25)  # a Wednesday


class Site:
    def __init__(
        self, container: Container, world: World, zone: str = ZONE, subscribed: bool = True
    ) -> None:
        self.c = container
        self.owner = world.account("owner@example.com", is_subscribed=subscribed)
        self.site = world.site(
            self.owner, "https://blog.example.com", label="My blog", timezone=zone
        )
        self.id = UUID(str(self.site.uuid))
        self.zone = zone

    def generate(self, traffic: Traffic, enable: bool = True) -> Generated:
        # Recorded as it came in (the hourly rollups keep the last 8 days of "now").
        with time_machine.travel(at(self.zone, traffic.today, 0, 30), tick=False):
            traffic.record(self.c, self.id)
        with time_machine.travel(at(self.zone, traffic.today, 1, 0, 5), tick=False):
            if enable:
                self.c.daily_insights.enable(self.id)
            found = self.c.daily_insights.generate(self.id)
        self.c.projections.catch_up()
        return found


def types(found: Generated) -> list[str]:
    return [s.type for s in found.signals]


def test_flat_traffic_finds_no_signal_but_still_gets_its_words(
    container: Container, world: World
) -> None:
    site = Site(container, world)
    found = site.generate(Traffic(ZONE, TODAY))
    assert found.insight_id is not None and found.signals == ()
    assert found.for_day == TODAY - timedelta(days=1) and found.writer == "default"
    (row,) = container.reads.insights.page(site.id, 0, 10)[1]
    assert row.signals == [] and "280 hits" in row.summary
    assert row.traffic_patterns and row.best_content and row.recommendations
    assert "/" in row.best_content
    assert len(row.recommendations.split(". ")) >= 2


def test_a_tiny_site_gets_no_insight_and_says_why(container: Container, world: World) -> None:
    site = Site(container, world)
    found = site.generate(Traffic(ZONE, TODAY, per_day=1))
    assert found.insight_id is None
    assert found.reason is not None and "at least 10 hits" in found.reason
    assert container.reads.insights.page(site.id, 0, 10) == (0, [])


def test_without_a_subscription_there_is_no_insight(container: Container, world: World) -> None:
    site = Site(container, world, subscribed=False)
    found = site.generate(Traffic(ZONE, TODAY))
    assert found.insight_id is None and found.reason is not None
    assert "subscription" in found.reason


def _rise(back: int, i: int, fields: Fields) -> Fields:
    return fields


def test_a_28_percent_rise(container: Container, world: World) -> None:
    site = Site(container, world)
    # 11 more hits a day in the last week, spread like the rest: 357 against 280.
    extra = [(back, 8 + (n % 15), {"path": "/", "country": "US", "platform": "macOS"})
             for back in range(1, 8) for n in range(11)]  # fmt: skip
    found = site.generate(Traffic(ZONE, TODAY, extra=extra))
    assert types(found) == ["traffic_change"]
    (change,) = found.signals
    assert change.headline == "Traffic is up 28% this week"
    assert change.payload == {
        "direction": "increase",
        "current_hits": 357,
        "previous_hits": 280,
        "absolute_change": 77,
        "change_percentage": 27.5,
    }
    assert 55 <= change.importance_score <= 70
    assert change.window_start == at(ZONE, TODAY - timedelta(days=7))


def test_a_page_breaking_out_on_one_day(container: Container, world: World) -> None:
    site = Site(container, world)
    extra = [(3, 9 + n % 12, {"path": "/blog/rails-tips", "referrer": None}) for n in range(70)]
    found = site.generate(Traffic(ZONE, TODAY, extra=extra))
    breakout = next(s for s in found.signals if s.type == "page_breakout")
    assert breakout.headline == "/blog/rails-tips is gaining traction"
    assert breakout.payload["current_hits"] == 70 and breakout.payload["previous_hits"] == 0
    assert breakout.importance_score >= 50
    # The jump in traffic is real too, but the page is the bigger news.
    assert found.signals[0].type == "page_breakout"
    (row,) = container.reads.insights.page(site.id, 0, 1)[1]
    assert "/blog/rails-tips" in row.best_content and "/blog/rails-tips" in row.recommendations


def test_a_new_referrer(container: Container, world: World) -> None:
    site = Site(container, world)

    def hacker_news(back: int, i: int, fields: Fields) -> Fields:
        if back <= 7 and i % 8 == 0:  # 5 of each day's 40 hits
            return {**fields, "referrer": "https://news.ycombinator.com/item?id=1"}
        return fields

    found = site.generate(Traffic(ZONE, TODAY, tweak=hacker_news))
    assert types(found) == ["referrer_surge"]
    (surge,) = found.signals
    assert surge.headline == "news.ycombinator.com started sending visitors"
    assert surge.payload["status"] == "new" and surge.payload["current_hits"] == 35
    assert 40 <= surge.importance_score <= 60


def test_a_shift_to_mobile(container: Container, world: World) -> None:
    site = Site(container, world)

    def phones(back: int, i: int, fields: Fields) -> Fields:
        if back <= 7 and i % 2 == 0:
            return {**fields, "platform": "Android" if i % 4 else "iOS"}
        return fields

    found = site.generate(Traffic(ZONE, TODAY, tweak=phones))
    assert types(found) == ["audience_shift"]
    (shift,) = found.signals
    assert shift.headline == "More visitors are browsing on mobile"
    assert shift.payload["dimension"] == "device"
    # Last week's breakdowns are whole UTC days (no raw edges): 20% give or take its edges.
    assert abs(shift.payload["previous_mobile_share"] - 20.0) <= 1.0
    assert shift.payload["mobile_share"] == 60.0
    assert shift.importance_score >= 80


def test_a_shift_in_countries(container: Container, world: World) -> None:
    site = Site(container, world)

    def japan(back: int, i: int, fields: Fields) -> Fields:
        if back <= 7 and i % 3 == 0:
            return {**fields, "country": "JP"}
        return fields

    found = site.generate(Traffic(ZONE, TODAY, tweak=japan))
    assert types(found) == ["audience_shift"]
    assert found.signals[0].headline == "More visitors are coming from JP"
    assert found.signals[0].payload["country"] == "JP"


def test_an_evening_spike_in_the_last_day(container: Container, world: World) -> None:
    site = Site(container, world)
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    found = site.generate(Traffic(ZONE, TODAY, extra=extra))
    assert "live_spike" in types(found)
    spike = next(s for s in found.signals if s.type == "live_spike")
    assert spike.headline == "An unusual spike around 9 PM"
    assert spike.payload["hits"] >= 30 and spike.payload["ratio"] >= 10
    assert spike.window_start == at(ZONE, TODAY - timedelta(days=1), 21)
    assert spike.importance_score >= 60
    # 30 hits on one evening is not a weekly change of note.
    assert "traffic_change" not in types(found)


def test_signals_are_a_pure_function_of_the_numbers(container: Container, world: World) -> None:
    site = Site(container, world)
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    moment = at(ZONE, TODAY, 1)
    with time_machine.travel(moment, tick=False):
        Traffic(ZONE, TODAY, extra=extra).record(container, site.id)
    numbers = container.reads.insights.numbers(site.id, ZONE, TODAY - timedelta(days=1), moment)
    assert detect_signals(numbers) == detect_signals(numbers)
    assert numbers.current_hits == 310 and numbers.previous_hits == 280
    assert len(numbers.hours) == 8 * 24


def test_once_per_site_and_day(container: Container, world: World) -> None:
    site = Site(container, world)
    first = site.generate(Traffic(ZONE, TODAY))
    with time_machine.travel(at(ZONE, TODAY, 9), tick=False):
        again = container.daily_insights.generate(site.id)
    assert first.insight_id is not None and again.insight_id is None
    assert container.reads.insights.page(site.id, 0, 10)[0] == 1


def test_the_api_answers_the_documented_shape(
    container: Container, world: World, client: FlaskClient
) -> None:
    site = Site(container, world)
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    site.generate(Traffic(ZONE, TODAY, extra=extra))
    headers = bearer(world.key(site.owner))
    response = client.get(f"/api/v1/sites/{site.site.id}/insights", headers=headers)
    assert response.status_code == 200, response.json
    body: Any = response.json
    _validator(_document(client), "/sites/{id}/insights", 200).validate(body)
    (insight,) = body["insights"]
    assert insight["insights_for_date"] == "2026-11-24"
    assert insight["formatted_insights_date"] == "November 24, 2026"
    assert insight["generated_at"] == "2026-11-25T06:00:05Z"
    assert set(insight) == {
        "id", "insights_for_date", "formatted_insights_date", "generated_at", "summary",
        "signals", "traffic_patterns", "best_content", "recommendations",
    }  # fmt: skip
    (signal,) = [s for s in insight["signals"] if s["type"] == "live_spike"]
    assert set(signal) == {
        "type", "headline", "summary", "importance_score", "detected_at", "window",
        "payload_excerpt",
    }  # fmt: skip
    assert signal["window"] == {
        "started_at": "2026-11-25T02:00:00Z",
        "ended_at": "2026-11-25T03:00:00Z",
    }
    assert body["pagination"] == {
        "current_page": 1, "per_page": 50, "total_count": 1, "total_pages": 1,
    }  # fmt: skip
    assert body["site"] == {
        "id": site.site.id,
        "uid": site.site.uid,
        "url": "https://blog.example.com",
        "label": "My blog",
        "insights_enabled": True,
        "daily_insight_reports_active": False,
        "next_insight_job_scheduled_at": "2026-11-26T06:00:00Z",
    }
    # per_page is at most 50.
    too_many = client.get(f"/api/v1/sites/{site.site.id}/insights?per_page=51", headers=headers)
    assert too_many.status_code == 400


@pytest.mark.parametrize("page", [2])
def test_pagination_pages_through_history(
    container: Container, world: World, client: FlaskClient, page: int
) -> None:
    site = Site(container, world)
    site.generate(Traffic(ZONE, TODAY))
    for later in (1, 2):
        with time_machine.travel(at(ZONE, TODAY + timedelta(days=later), 1, 0, 5), tick=False):
            assert container.daily_insights.generate(site.id).insight_id is not None
    container.projections.catch_up()
    headers = bearer(world.key(site.owner))
    url = f"/api/v1/sites/{site.site.id}/insights?per_page=2&page={page}"
    body: Any = client.get(url, headers=headers).json
    assert body["pagination"] == {
        "current_page": 2, "per_page": 2, "total_count": 3, "total_pages": 2,
    }  # fmt: skip
    assert [i["insights_for_date"] for i in body["insights"]] == ["2026-11-24"]


def test_generation_reads_rollups_never_raw_hits(container: Container, world: World) -> None:
    from sqlalchemy import event

    site = Site(container, world, zone="Asia/Tokyo")  # edges off UTC midnight, both weeks
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with time_machine.travel(at("Asia/Tokyo", TODAY, 0, 30), tick=False):
        Traffic("Asia/Tokyo", TODAY).record(container, site.id)
    event.listen(container.engine, "before_cursor_execute", seen)
    try:
        with time_machine.travel(at("Asia/Tokyo", TODAY, 1, 0, 5), tick=False):
            container.daily_insights.enable(site.id)
            found = container.daily_insights.generate(site.id)
    finally:
        event.remove(container.engine, "before_cursor_execute", seen)
    assert found.insight_id is not None
    reads = [s for s in statements if "traffic_" in s]
    assert reads and not [s for s in reads if "traffic_hits" in s or "traffic_events" in s]


def test_a_zone_at_a_quarter_hour_reads_no_raw_hits_either(
    container: Container, world: World
) -> None:
    from sqlalchemy import event

    zone = "Asia/Kathmandu"  # UTC+5:45
    site = Site(container, world, zone=zone)
    with time_machine.travel(at(zone, TODAY, 0, 30), tick=False):
        Traffic(zone, TODAY).record(container, site.id)
    statements: list[str] = []
    event.listen(container.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with time_machine.travel(at(zone, TODAY, 1, 0, 5), tick=False):
        container.daily_insights.enable(site.id)
        found = container.daily_insights.generate(site.id)
    assert found.insight_id is not None and found.signals == ()
    assert not [s for s in statements if "traffic_hits" in s or "traffic_events" in s]
