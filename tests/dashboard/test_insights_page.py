"""The Insights tab: subscribed owners turn insights on (a first insight is generated at
once when the site qualifies), see the newest insight with its signals as cards and the
ones before it, save their settings and turn insights off; others are told why not."""

from datetime import date
from typing import Any
from uuid import UUID

import time_machine

from infrastructure.bootstrap import Container
from tests.conftest import World, noon_tomorrow
from tests.dashboard.conftest import Browser, text
from tests.insight_helpers import Traffic


def subscribed_owner(world: World, person: Browser) -> Any:
    account = world.account("owner@example.com", is_subscribed=True)
    site = world.site(account, "https://blog.example.com", label="My blog")
    assert person.sign_in("owner@example.com").status_code == 302
    return site


def test_an_owner_without_a_subscription_is_told_why(
    world: World, person: Browser, container: Container
) -> None:
    account = world.account("owner@example.com")
    site = world.site(account, "https://blog.example.com", label="My blog")
    assert person.sign_in("owner@example.com").status_code == 302
    page = text(person.get(f"/sites/{site.uid}/insights"))
    assert "need an active subscription" in page and "Enable Insights" not in page
    person.submit(f"/sites/{site.uid}/insights/enable", {}, page=f"/sites/{site.uid}/insights")
    assert container.reads.insights.settings(UUID(str(site.uuid))).enabled is False


def test_enable_see_the_insight_save_settings_and_disable(
    world: World, person: Browser, container: Container
) -> None:
    # At noon, whatever the hour the suite runs: the planted spike (the day before at
    # 9 PM) is in the 24 hours before the first insight only until 10 PM.
    at = noon_tomorrow()
    with time_machine.travel(at, tick=True):
        see_the_insight_save_settings_and_disable(world, person, container, at.date())


def see_the_insight_save_settings_and_disable(
    world: World, person: Browser, container: Container, today: date
) -> None:
    site = subscribed_owner(world, person)
    site_id = UUID(str(site.uuid))
    extra = [(1, 21, {"path": "/blog/b"}) for _ in range(30)]
    Traffic("UTC", today, extra=extra).record(container, site_id)
    url = f"/sites/{site.uid}/insights"
    assert "Enable Insights" in text(person.get(url))
    response = person.submit(f"{url}/enable", {}, page=url)
    assert response.status_code == 302
    container.clock.tick()  # the first insight, queued by enabling
    container.projections.catch_up()
    page = text(person.get(url))
    (row,) = container.reads.insights.page(site_id, 0, 5)[1]
    assert row.summary in page and "Signals" in page
    assert "An unusual spike around 9 PM" in page and "importance" in page
    assert "Traffic patterns" in page and "Recommendations" in page
    assert "Next insight:" in page and "Insights Settings" in page

    saved = person.submit(url, {"instructions": "Make it casual", "daily_email": "y"})
    assert saved.status_code == 302
    settings = container.reads.insights.settings(site_id)
    assert settings.instructions == "Make it casual" and settings.daily_email is True
    too_long = person.submit(url, {"instructions": "x" * 1001})
    assert too_long.status_code == 200 and "At most 1000 characters" in text(too_long)
    assert container.reads.insights.settings(site_id).instructions == "Make it casual"

    person.submit(f"{url}/disable", {}, page=url)  # not confirmed: still on
    assert container.reads.insights.settings(site_id).enabled is True
    person.submit(f"{url}/disable", {"confirm": "y"}, page=url)
    assert container.reads.insights.settings(site_id).enabled is False
    assert container.daily_insights.next_job_at(site_id) is None
    assert "Enable Insights" in text(person.get(url))


def test_a_tiny_site_says_why_it_has_no_insight(
    world: World, person: Browser, container: Container
) -> None:
    site = subscribed_owner(world, person)
    url = f"/sites/{site.uid}/insights"
    person.submit(f"{url}/enable", {}, page=url)
    container.clock.tick()
    page = text(person.get(url))
    assert "No insight today" in page and "at least 10 hits in the past 7 days" in page


def test_another_owners_insights_are_404(
    world: World, person: Browser, other: Browser, container: Container
) -> None:
    site = subscribed_owner(world, person)
    world.account("other@example.com", is_subscribed=True)
    assert other.sign_in("other@example.com").status_code == 302
    assert other.get(f"/sites/{site.uid}/insights").status_code == 404
