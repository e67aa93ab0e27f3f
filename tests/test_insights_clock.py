"""Insights on the clock: 01:00 in the site's zone (across DST changes), once per site and
day through restarts, a clock killed mid-firing and a repeated 01:00; the daily e-mail
when asked for; the `new_insight` webhook through the dispatcher."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import time_machine

from application.clock import LEASE, Clock
from application.insights import DAILY_KIND, FIRST_KIND
from domain.date_ranges import local_day
from infrastructure.bootstrap import Container
from tests.conftest import World, noon_tomorrow
from tests.dashboard.conftest import plain_text
from tests.insight_helpers import Traffic, at
from tests.test_reports import outbox
from tests.test_webhooks import Hooks, env, hooks  # noqa: F401  (fixtures)


def insight_mails(container: Container) -> list[Any]:
    return [m for m in outbox(container) if str(m["Subject"]).startswith("Insights for")]


def days_of(container: Container, site_id: UUID) -> list[str]:
    container.projections.catch_up()
    _total, rows = container.reads.insights.page(site_id, 0, 50)
    return [r.insights_for_date.isoformat() for r in rows]


def setup_site(container: Container, world: World, zone: str) -> UUID:
    owner = world.account("owner@example.com", is_subscribed=True)
    site = world.site(owner, "https://blog.example.com", label="My blog", timezone=zone)
    return UUID(str(site.uuid))


@pytest.mark.parametrize(
    ("zone", "day", "due_utc", "again_utc"),
    [
        # Summer time starts at 02:00: 01:00 is there, an hour nearer midnight in UTC.
        ("Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 29, 0, tzinfo=UTC), None),
        # London jumps from 01:00 to 02:00: 01:00 never happens; the run is at 02:00 BST.
        ("Europe/London", date(2026, 3, 29), datetime(2026, 3, 29, 1, tzinfo=UTC), None),
        # New York goes back from 02:00 to 01:00: 01:00 comes twice, the insight once.
        (
            "America/New_York",
            date(2026, 11, 1),
            datetime(2026, 11, 1, 5, tzinfo=UTC),
            datetime(2026, 11, 1, 6, tzinfo=UTC),
        ),
    ],
)
def test_the_daily_run_is_at_one_in_the_morning_local_across_dst(
    container: Container,
    world: World,
    zone: str,
    day: date,
    due_utc: datetime,
    again_utc: datetime | None,
) -> None:
    with time_machine.travel(at(zone, day - timedelta(days=1), 12), tick=False) as traveller:
        site_id = setup_site(container, world, zone)
        Traffic(zone, day).record(container, site_id)
        container.daily_insights.enable(site_id)
        # Enabling queues a first insight at once: yesterday's.
        assert container.clock.tick() >= 1
        assert container.schedule.get(FIRST_KIND, str(site_id)) is None
        assert days_of(container, site_id) == [(day - timedelta(days=2)).isoformat()]
        job = container.schedule.get(DAILY_KIND, str(site_id))
        assert job is not None and job.due_at == due_utc
        traveller.move_to(due_utc - timedelta(seconds=1))
        container.clock.tick()
        assert len(days_of(container, site_id)) == 1
        traveller.move_to(due_utc + timedelta(seconds=1))
        container.clock.tick()
        assert days_of(container, site_id) == [
            (day - timedelta(days=1)).isoformat(),
            (day - timedelta(days=2)).isoformat(),
        ]
        job = container.schedule.get(DAILY_KIND, str(site_id))
        assert job is not None
        if again_utc is not None:
            assert job.due_at == again_utc  # the second 01:00 of the night
            traveller.move_to(again_utc + timedelta(seconds=1))
            container.clock.tick()
            assert len(days_of(container, site_id)) == 2
            job = container.schedule.get(DAILY_KIND, str(site_id))
            assert job is not None
        following = job.due_at.astimezone(UTC)
        assert local_day(following, zone) == day + timedelta(days=1)
        assert following.astimezone(at(zone, day).tzinfo).hour == 1  # type: ignore[arg-type]


def test_once_per_site_and_day_through_a_killed_clock_and_a_restart(
    container: Container, world: World
) -> None:
    zone, day = "Asia/Kathmandu", date(2026, 11, 30)
    with time_machine.travel(at(zone, day - timedelta(days=1), 12), tick=False) as traveller:
        site_id = setup_site(container, world, zone)
        Traffic(zone, day).record(container, site_id)
        container.daily_insights.enable(site_id)
        container.daily_insights.configure(site_id, "", daily_email=True)
        container.clock.tick()
        assert len(insight_mails(container)) == 1
        traveller.move_to(at(zone, day, 1, 0, 1))
        # A clock claims the run, generates, and dies before it records the firing.
        (firing,) = [
            f
            for f in container.schedule.claim(datetime.now(UTC), 10, LEASE, (None,))
            if f.kind == DAILY_KIND
        ]
        container.daily_insights.on_clock(firing)
        assert len(days_of(container, site_id)) == 2
        assert len(insight_mails(container)) == 2
        # Another worker fires it again once the lease runs out: nothing new.
        other = Clock(container.schedule, container.clock.kinds.values(), host="other")
        traveller.shift(LEASE + timedelta(seconds=1))
        assert other.tick() >= 1
        assert len(days_of(container, site_id)) == 2
        assert len(insight_mails(container)) == 2
        job = container.schedule.get(DAILY_KIND, str(site_id))
        assert job is not None and job.due_at == at(zone, day + timedelta(days=1), 1)


def test_the_daily_email_says_what_the_insight_says(container: Container, world: World) -> None:
    zone, day = "Europe/Berlin", date(2026, 11, 25)
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    with time_machine.travel(at(zone, day, 0, 30), tick=False) as traveller:
        site_id = setup_site(container, world, zone)
        Traffic(zone, day, extra=extra).record(container, site_id)
        container.daily_insights.enable(site_id)
        container.daily_insights.configure(site_id, None, daily_email=False)
        traveller.move_to(at(zone, day, 1, 0, 1))
        container.clock.tick()
        assert insight_mails(container) == []  # the e-mail is off
        container.daily_insights.configure(site_id, None, daily_email=True)
        traveller.move_to(at(zone, day + timedelta(days=1), 1, 0, 1))
        container.clock.tick()
    (mail,) = insight_mails(container)
    container.projections.catch_up()
    assert mail["To"] == "owner@example.com"
    assert mail["Subject"] == "Insights for My blog: November 25, 2026"
    (row, _older) = container.reads.insights.page(site_id, 0, 2)[1]
    body = plain_text(mail)
    assert row.summary in body and row.recommendations in body
    assert "/sites/" in body and "/insights" in body


def test_turning_insights_off_removes_the_job(container: Container, world: World) -> None:
    site_id = setup_site(container, world, "UTC")
    container.daily_insights.enable(site_id)
    assert container.daily_insights.next_job_at(site_id) is not None
    container.daily_insights.disable(site_id)
    assert container.daily_insights.next_job_at(site_id) is None
    assert container.schedule.get(FIRST_KIND, str(site_id)) is None
    container.daily_insights.sync()
    assert container.daily_insights.next_job_at(site_id) is None


def test_a_new_insight_webhook_arrives_with_the_insight(hooks: Hooks) -> None:  # noqa: F811
    # Not across midnight: the second run of the day would be the next day's first.
    with time_machine.travel(noon_tomorrow(), tick=True):
        a_new_insight_webhook_arrives_with_the_insight(hooks)


def a_new_insight_webhook_arrives_with_the_insight(h: Hooks) -> None:
    h.create("new_insight")
    site_id = UUID(str(h.site.uuid))
    now = datetime.now(UTC)
    today = local_day(now, "UTC")
    with time_machine.travel(now - timedelta(minutes=1), tick=False):
        Traffic("UTC", today).record(h.c, site_id)
    h.c.daily_insights.enable(site_id)
    found = h.c.daily_insights.generate(site_id)
    assert found.insight_id is not None
    (received,) = h.deliver()
    assert received.headers["x-tinylytics-event"] == "new_insight"
    payload = received.json
    assert payload["event"] == "new_insight"
    assert payload["site"]["name"] == "Example Blog"
    insight = payload["insight"]
    (row,) = h.c.reads.insights.page(site_id, 0, 1)[1]
    assert insight["id"] == row.id == found.insight_id
    assert insight["summary"] == row.summary
    assert insight["traffic_patterns"] == row.traffic_patterns
    assert insight["best_content"] == row.best_content
    assert insight["recommendations"] == row.recommendations
    assert insight["formatted_insights_date"] == row.formatted_insights_date
    assert insight["generated_at"] == row.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Replays and a second run of the day send nothing more.
    assert h.c.daily_insights.generate(site_id).insight_id is None
    assert len(h.deliver()) == 1


def test_erasing_the_account_leaves_no_insight_behind(
    container: Container, world: World, settings: Any
) -> None:
    from domain.insights import insights_id
    from tests.test_erasure import traces

    zone, day = "UTC", date(2026, 11, 25)
    extra = [(3, 9 + n % 12, {"path": "/very-private-breakout"}) for n in range(70)]
    with time_machine.travel(at(zone, day, 0, 30), tick=False) as traveller:
        site_id = setup_site(container, world, zone)
        Traffic(zone, day, extra=extra).record(container, site_id)
        container.daily_insights.enable(site_id)
        container.daily_insights.configure(site_id, "secret-instructions-xyz", daily_email=False)
        traveller.move_to(at(zone, day, 1, 0, 1))
        container.clock.tick()
        assert days_of(container, site_id) == ["2026-11-24"]
        owner = container.configuration.find_account("owner@example.com")
        needles = [
            "very-private-breakout",
            "secret-instructions-xyz",
            insights_id(site_id).hex,
            str(insights_id(site_id)),
        ]
        found = traces(settings, needles)  # the needles are there to be found
        assert any("insight" in table for table, n in found if n == "secret-instructions-xyz")
        assert any("insight" in table for table, n in found if n == "very-private-breakout")
        container.erasure.delete_account(owner.id)
    assert traces(settings, needles) == []
    assert container.schedule.get(DAILY_KIND, str(site_id)) is None
