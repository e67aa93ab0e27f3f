"""Progress of a running content check: a sample row the crawl updates every few
seconds (not an event), shown on the Content tab and its small JSON endpoint while the
crawl runs, while the API's `monitoring_status` stays as documented.

The local site holds the crawl mid-way: two pages answer only when the test releases
them (events, no sleeps), so the test reads the progress of a crawl that is running.
Time is frozen (time-machine), so the samples written are exactly the throttle's.
"""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.content_helpers import WAIT, Hold, Site, held_chain
from tests.dashboard.conftest import Browser, text

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    return env


@pytest.fixture
def held() -> Iterator[tuple[Site, Hold, Hold]]:
    with held_chain('<a href="http://[oops/">bad</a> <a href="/two">two</a>') as chain:
        yield chain


def test_a_running_check_shows_its_progress(
    world: World, person: Browser, container: Container, held: tuple[Site, Hold, Hold]
) -> None:
    local, first, second = held
    c = container
    account = world.account("owner@example.com", is_subscribed=True)
    site = world.site(account, local.origin, label="Local")
    secret = world.key(account)
    number = person.get("/api/v1/sites", headers=bearer(secret)).json["sites"][0]["id"]
    tab = f"/sites/{site.uid}/content"
    progress_url = f"{tab}/progress"

    def api_status() -> dict[str, Any]:
        c.projections.catch_up()  # the projection runner of a server does this itself
        answer = person.get(f"/api/v1/sites/{number}/content", headers=bearer(secret))
        assert answer.status_code == 200
        return dict(answer.json["monitoring_status"])

    with time_machine.travel(START, tick=False) as traveller:
        # Signed in at START: a session cookie signed later than the clock reads is refused.
        person.sign_in("owner@example.com")
        c.content.enable(site.uuid)
        c.projections.catch_up()
        queued = person.get(progress_url)
        assert queued.status_code == 200
        assert queued.json == {"running": False, "progress": None}
        crawl = threading.Thread(target=c.clock.tick)
        crawl.start()
        try:
            assert first.reached.wait(WAIT)
            # "/" is read, but the sample is written at most every few seconds: the row
            # still holds the one written when the crawl started.
            sample = person.get(progress_url).json
            assert sample["running"] is True
            assert sample["progress"] == {
                "pages_crawled": 0,
                "links_checked": 0,
                "issues_found": 0,
                "updated_at": "2026-12-02T09:00:00Z",
            }
            status = api_status()
            assert status["is_initial_check"] is True and status["is_rechecking"] is False
            assert set(status) == {
                "enabled",
                "root_path",
                "last_check_at",
                "is_initial_check",
                "is_rechecking",
                "has_issues",
                "emails_paused",
                "emails_paused_until",
            }
            body = text(person.get(tab))
            assert "The initial check is running" in body and "0 pages crawled" in body
            traveller.shift(timedelta(seconds=5))
            first.release.set()
            assert second.reached.wait(WAIT)
            # "/one" was read after the clock moved on: a new sample, written before the
            # crawl asked for "/two" (one invalid link found on it).
            sample = person.get(progress_url).json
            assert sample["progress"] == {
                "pages_crawled": 2,
                "links_checked": 3,
                "issues_found": 1,
                "updated_at": "2026-12-02T09:00:05Z",
            }
            body = text(person.get(tab))
            assert "2 pages crawled · 3 links checked · 1 issue found so far" in body
        finally:
            first.release.set()
            second.release.set()
            crawl.join(WAIT)
        assert not crawl.is_alive()
        c.projections.catch_up()
        done = person.get(progress_url).json
        assert done == {"running": False, "progress": None}
        status = api_status()
        assert status["is_initial_check"] is False and status["is_rechecking"] is False
        body = text(person.get(tab))
        assert "so far" not in body and "Broken links (1)" in body

        # A recheck: the API says is_rechecking while it runs, the tab shows progress.
        for hold in (first, second):
            hold.reached.clear()
            hold.release.clear()
        traveller.shift(timedelta(days=1, seconds=1))
        crawl = threading.Thread(target=c.clock.tick)
        crawl.start()
        try:
            assert first.reached.wait(WAIT)
            status = api_status()
            assert status["is_initial_check"] is False and status["is_rechecking"] is True
            body = text(person.get(tab))
            assert "A check is running" in body and "0 pages crawled" in body
        finally:
            first.release.set()
            second.release.set()
            crawl.join(WAIT)
        assert not crawl.is_alive()


def test_the_progress_endpoint_is_the_owners_only(
    world: World, person: Browser, other: Browser, container: Container
) -> None:
    account = world.account("owner@example.com", is_subscribed=True)
    site = world.site(account, "https://example.com")
    world.account("other@example.com", is_subscribed=True)
    other.sign_in("other@example.com")
    assert other.get(f"/sites/{site.uid}/content/progress").status_code == 404
    assert person.get(f"/sites/{site.uid}/content/progress").status_code in (302, 401)
