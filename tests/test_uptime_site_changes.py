"""A site's changes reach its monitor, against real sites on 127.0.0.1: a new URL is
the one checked from then on, and unarchiving a site restarts its checks."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from application.monitoring import CHECK_KIND
from application.sites import SiteChanges
from domain.monitors import monitor_id_for
from infrastructure.bootstrap import Container
from tests.conftest import World
from tests.uptime_helpers import fake_site, refusing_port

START = datetime(2026, 5, 14, 11, 50, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    return env


@pytest.fixture
def traveller() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as moving:
        yield moving


def turn(c: Container) -> None:
    """What `serve` does in a moment: fire due jobs, project, follow."""
    c.clock.tick()
    c.projections.catch_up()
    c.monitor_site_changes.catch_up()


def test_a_changed_url_is_the_one_checked(
    container: Container, world: World, traveller: Any
) -> None:
    c = container
    with fake_site() as old, fake_site() as new:
        owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(owner.uuid)
        tracked = world.site(owner, old.url(), label="Moving blog")
        c.monitoring.enable(tracked.uuid, owner.uuid)
        turn(c)
        assert len(old.requests) == 1
        c.configuration.change_site(tracked.uuid, SiteChanges(url=new.url()))
        turn(c)
        assert c.monitoring.monitor_of(tracked.uuid).url == new.url()
        c.projections.catch_up()  # the monitor's Enabled(url), recorded by the follower
        view = c.reads.uptime.monitor(tracked.uuid)
        assert view is not None and view.url == new.url()
        # The new address is checked at once (the clock's next turn), and from then on;
        # the old one no more.
        turn(c)
        assert len(new.requests) == 1
        traveller.move_to(START + timedelta(minutes=6))
        turn(c)
        assert len(new.requests) == 2 and len(old.requests) == 1
        # Read twice (a restart before the follower's position moved): nothing new.
        before = c.monitoring.recorder.max_notification_id()
        assert c.monitor_site_changes.catch_up() == 0
        assert c.monitoring.recorder.max_notification_id() == before


def test_unarchiving_a_site_restarts_its_checks(
    container: Container, world: World, traveller: Any
) -> None:
    c = container
    with fake_site() as site:
        owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(owner.uuid)
        tracked = world.site(owner, site.url(), label="Resting blog")
        c.monitoring.enable(tracked.uuid, owner.uuid)
        turn(c)
        key = str(monitor_id_for(tracked.uuid))
        c.configuration.change_site(tracked.uuid, SiteChanges(archived=True))
        traveller.move_to(START + timedelta(minutes=6))
        turn(c)  # the due check finds the site archived and stops
        assert c.schedule.get(CHECK_KIND, key) is None and len(site.requests) == 1
        traveller.move_to(START + timedelta(hours=2))
        c.configuration.change_site(tracked.uuid, SiteChanges(archived=False))
        turn(c)
        assert c.schedule.get(CHECK_KIND, key) is not None
        turn(c)
        assert len(site.requests) == 2
