"""The Uptime tab: enable, status and uptime, downtime history, pause and resume,
through the pages as a person uses them, against a real site on 127.0.0.1."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from application.monitoring import CHECK_KIND
from domain.monitors import monitor_id_for
from domain.uptime_rules import CONFIRM_DOWN, RECHECK_AFTER
from tests.conftest import World
from tests.dashboard.conftest import Browser, text
from tests.uptime_helpers import fake_site, refusing_port

START = datetime(2026, 5, 14, 11, 50, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    # No test asks the real RDAP: nothing listens here (tests/test_uptime_domain.py
    # runs a local RDAP server).
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    return env


def test_enable_see_a_downtime_pause_and_resume(person: Browser, world: World) -> None:
    c = person.container
    with fake_site() as site, time_machine.travel(START, tick=False) as traveller:
        account = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(account.uuid)
        tracked = world.site(account, site.url(), label="My blog")
        person.sign_in("owner@example.com")
        page = f"/sites/{tracked.uid}/uptime"
        assert "Uptime monitoring is off" in text(person.get(page))
        done = person.submit(f"{page}/enable", {}, page=page)
        assert done.status_code == 302 and done.location == page
        traveller.move_to(START + timedelta(minutes=1))
        c.clock.tick()
        c.projections.catch_up()
        shown = text(person.get(page))
        assert "Up" in shown and "100.00%" in shown and "No downtime recorded" in shown
        site.status = 500
        for n in range(CONFIRM_DOWN):
            traveller.move_to(START + timedelta(minutes=6, seconds=RECHECK_AFTER * n))
            c.clock.tick()
        c.projections.catch_up()
        shown = text(person.get(page))
        assert "Down since 2026-05-14 11:56 UTC" in shown
        assert "Internal server error (HTTP 500)" in shown
        assert "ongoing" in shown
        person.submit(f"{page}/pause", {}, page=page)
        assert c.schedule.get(CHECK_KIND, str(monitor_id_for(tracked.uuid))) is None
        shown = text(person.get(page))
        assert "Paused" in shown and "Resume" in shown
        person.submit(f"{page}/resume", {}, page=page)
        assert c.schedule.get(CHECK_KIND, str(monitor_id_for(tracked.uuid))) is not None


def test_a_free_account_is_offered_no_enable_and_cannot_post_one(
    person: Browser, world: World
) -> None:
    account = world.account("free@example.com")
    tracked: Any = world.site(account, "https://free.example.com")
    person.sign_in("free@example.com")
    page = f"/sites/{tracked.uid}/uptime"
    shown = text(person.get(page))
    assert "available on paid plans" in shown
    response = person.submit(f"{page}/enable", {}, page=page, follow_redirects=True)
    assert "available on paid plans" in text(response)
    assert person.container.reads.uptime.monitor(tracked.uuid) is None
    assert person.get(f"{page}/explode").status_code in (404, 405)


def test_test_down_and_test_up_send_sample_alerts_to_the_owner(
    person: Browser, world: World
) -> None:
    c = person.container
    account = world.account("owner@example.com", is_subscribed=True)
    c.configuration.confirm_email(account.uuid)
    tracked: Any = world.site(account, "https://blog.example.com", label="My blog")
    c.monitoring.enable(tracked.uuid, account.uuid)
    c.projections.catch_up()
    person.sign_in("owner@example.com")
    # The buttons sit in the Edit tab's Uptime email preferences (reports_and_notifications.md).
    edit = f"/sites/{tracked.uid}/edit"
    shown = person.get(edit).get_data(as_text=True)
    assert "Uptime Monitoring Email Preferences" in shown
    assert "Test Down" in shown and "Test Up" in shown
    assert "Test Down" not in person.get(f"/sites/{tracked.uid}/uptime").get_data(as_text=True)
    page = f"/sites/{tracked.uid}/uptime"
    done = person.submit(f"{page}/test-down", {}, page=edit)
    assert done.status_code == 302 and done.location == f"{edit}#uptime-mail"
    person.submit(f"{page}/test-up", {}, page=edit)
    subjects = [str(m["Subject"]) for m in person.outbox() if "[Test]" in str(m["Subject"])]
    assert subjects == [
        "[Test] My blog is down",
        "[Test] My blog is up again (down for 10 minutes)",
    ] or (
        sorted(subjects)
        == sorted(["[Test] My blog is down", "[Test] My blog is up again (down for 10 minutes)"])
    )
    assert all(
        m["To"] == "owner@example.com" for m in person.outbox() if "[Test]" in str(m["Subject"])
    )
