"""A crawl longer than the clock's lease keeps its lease: while it runs, it renews the
lease, so no other clock claims the site's job and crawls it a second time at once,
and the crawl completes. Time travels (time-machine); a local site holds the crawl
mid-way (events, no sleeps)."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from application.clock import LEASE
from application.content_checks import CHECK_KIND
from infrastructure.bootstrap import Container
from tests.conftest import World
from tests.content_helpers import WAIT, Hold, Site, held_chain

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    return env


@pytest.fixture
def held() -> Iterator[tuple[Site, Hold, Hold]]:
    with held_chain('<a href="/two">two</a> <a href="/missing">m</a>') as chain:
        yield chain


def test_a_crawl_longer_than_the_lease_keeps_it_and_completes(
    container: Container, world: World, held: tuple[Site, Hold, Hold]
) -> None:
    local, first, second = held
    c = container
    owner = world.account(is_subscribed=True)
    site = world.site(owner, local.origin)
    hosts = c.clock.hosts()

    def claimed_by_another_clock() -> list[Any]:
        return c.schedule.claim(datetime.now(UTC), 10, LEASE, hosts)

    with time_machine.travel(START, tick=False) as traveller:
        c.content.enable(site.uuid)
        crawl = threading.Thread(target=c.clock.tick)
        crawl.start()
        try:
            assert first.reached.wait(WAIT)
            traveller.shift(LEASE - timedelta(minutes=1))  # 4 minutes into the crawl
            assert claimed_by_another_clock() == []
            first.release.set()
            assert second.reached.wait(WAIT)
            # 8 minutes in: past the first lease, but the crawl renewed it when it read
            # /one (at 4 minutes), so the job is still this clock's.
            traveller.shift(timedelta(minutes=4))
            assert claimed_by_another_clock() == []
        finally:
            first.release.set()
            second.release.set()
            crawl.join(WAIT)
        assert not crawl.is_alive()
        c.projections.catch_up()
        report = c.reads.content.report(site.uuid, datetime.now(UTC))
        assert report is not None and not report.monitoring_status.is_rechecking
        assert [i.url for i in report.broken_links] == [local.url("/missing")]
        events = [type(e).__name__ for e in c.content_monitoring.events.get(_monitor(site.uuid))]
        assert events.count("CrawlStarted") == 1 and events.count("CrawlFinished") == 1
        # The finished crawl put the job back on its daily round, its lease released.
        job = c.schedule.get(CHECK_KIND, str(site.uuid))
        assert job is not None and job.due_at > datetime.now(UTC) + timedelta(hours=23)


def _monitor(site_id: Any) -> Any:
    from domain.content_monitoring import monitor_id

    return monitor_id(site_id)


def test_a_renewal_extends_only_a_lease_that_is_still_the_firings_own(
    container: Container, world: World
) -> None:
    """ "Check All" during a crawl puts the job due again (its lease goes): the running
    crawl's renewal must not take the new occurrence's lease back."""
    c = container
    owner = world.account(is_subscribed=True)
    site = world.site(owner, "https://example.com")
    hosts = c.clock.hosts()
    with time_machine.travel(START, tick=False) as traveller:
        c.content.enable(site.uuid)
        [firing] = c.schedule.claim(START, 10, LEASE, hosts)
        assert c.schedule.renew(firing, START + 2 * LEASE)
        traveller.shift(LEASE + timedelta(minutes=1))
        assert c.schedule.claim(datetime.now(UTC), 10, LEASE, hosts) == []  # renewed
        c.content.check_all(site.uuid)  # the job is put due now, its lease cleared
        assert not c.schedule.renew(firing, datetime.now(UTC) + LEASE)
        [again] = c.schedule.claim(datetime.now(UTC), 10, LEASE, hosts)
        assert again.lease != firing.lease
