"""Uptime monitoring with real parts: sites on 127.0.0.1, the clock, time travel, mail
in the outbox and webhooks to a real subscriber.

The whole story: up, a failure, its confirmation, the down mail and webhook, 24 hours
later checks every 10 minutes, the recovery, the up mail and webhook with the right
duration; and nothing twice on a replay."""

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import time_machine
from flask.testing import FlaskClient

from application.monitoring import CHECK_KIND
from domain.addresses import AddressPolicy
from domain.check_results import USER_AGENT
from domain.errors import DomainError, NotFound
from domain.monitors import monitor_id_for
from domain.uptime_rules import CONFIRM_DOWN, RECHECK_AFTER, check_interval
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.safe_http import SafeHttpClient
from infrastructure.settings import Settings
from infrastructure.uptime_check import HttpChecker, uptime_policy
from tests.conftest import World, bearer
from tests.uptime_helpers import DueQueue, FakeSite, fake_site, outbox_messages, refusing_port
from tests.webhook_helpers import Subscriber, subscriber

BASE_URL = "https://stats.example.org"
START = datetime(2026, 5, 14, 11, 50, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    # No test asks the real RDAP: nothing listens here (tests/test_uptime_domain.py
    # runs a local RDAP server).
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_BASE_URL"] = BASE_URL
    return env


@dataclass
class Story:
    c: Container
    world: World
    site: FakeSite
    sub: Subscriber
    queue: DueQueue
    traveller: Any
    owner: Any
    tracked: Any

    @property
    def monitor_id(self) -> UUID:
        return monitor_id_for(self.tracked.uuid)

    def turn(self) -> int:
        """What `serve` does in a moment: fire due jobs, project, follow, deliver;
        returns how many checks reached the site."""
        before = len(self.site.requests)
        self.c.clock.tick()
        self.c.projections.catch_up()
        self.c.webhook_dispatch.catch_up()
        self.c.uptime_alerts.catch_up()
        self.queue.run_due()
        return len(self.site.requests) - before

    def at(self, moment: datetime) -> int:
        self.traveller.move_to(moment)
        return self.turn()

    def job(self) -> Any:
        return self.c.schedule.get(CHECK_KIND, str(self.monitor_id))

    def mails(self) -> list[Any]:
        return [
            m
            for m in outbox_messages(Path(self.c.settings.data_dir))
            if "report" not in str(m["Subject"]).lower()
        ]

    def hooks(self) -> list[Any]:
        return [r.json for r in self.sub.received]


@pytest.fixture
def story(container: Container, world: World) -> Iterator[Story]:
    with (
        fake_site() as site,
        subscriber() as sub,
        time_machine.travel(START, tick=False) as traveller,
    ):
        queue = DueQueue(container.webhook_sender)
        container.webhooks.queue = queue
        owner = world.account("owner@example.com", is_subscribed=True)
        container.configuration.confirm_email(owner.uuid)
        tracked = world.site(owner, site.url(), label="Example Blog")
        container.webhooks.create_webhook(owner.uuid, sub.url(), ["monitor_down", "monitor_up"])
        yield Story(container, world, site, sub, queue, traveller, owner, tracked)


def body_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


def test_the_whole_story_up_down_confirmed_slower_checks_recovered(story: Story) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    assert s.turn() == 1  # the first check is due at once
    assert s.site.requests[0]["user-agent"] == USER_AGENT
    job = s.job()
    assert job.due_at == START + timedelta(minutes=5)
    assert job.recurrence.every == 300

    # A failure is only potential downtime: quick re-checks, no alert yet.
    s.site.status = 503
    first_failure = START + timedelta(minutes=5)
    assert s.at(first_failure) == 1
    assert s.job().due_at == first_failure + timedelta(seconds=RECHECK_AFTER)
    assert s.mails() == [] and s.hooks() == []
    for n in range(1, CONFIRM_DOWN - 1):
        s.at(first_failure + timedelta(seconds=RECHECK_AFTER * n))
        assert s.mails() == [] and s.hooks() == []
    confirmed = first_failure + timedelta(seconds=RECHECK_AFTER * (CONFIRM_DOWN - 1))
    assert s.at(confirmed) == 1

    # Confirmed: one mail to the owner, one monitor_down webhook, started at the first failure.
    [down_mail] = s.mails()
    assert down_mail["To"] == "owner@example.com"
    assert down_mail["Subject"] == "Example Blog is down"
    text = body_of(down_mail)
    assert "Service unavailable (HTTP 503)" in text
    assert "May 14, 2026 at 11:55 UTC" in text
    [down] = s.hooks()
    assert s.sub.received[0].headers["x-tinylytics-event"] == "monitor_down"
    number = s.c.reads.uptime.number_of(s.monitor_id)
    assert down == {
        "event": "monitor_down",
        "timestamp": "2026-05-14T11:56:00Z",
        "site": {
            "id": s.tracked.id,
            "name": "Example Blog",
            "url": s.site.url(),
            "dashboard_url": f"{BASE_URL}/sites/{s.tracked.uid}",
        },
        "monitor": {"id": number, "status": "down"},
        "downtime": {
            "started_at": "2026-05-14T11:55:00Z",
            "started_at_formatted": "May 14, 2026 at 11:55",
            "ended_at": None,
            "ended_at_formatted": None,
            "duration_seconds": 60,
            "duration_formatted": "1 minute",
            "error": "Service unavailable (HTTP 503): the server is overloaded or in maintenance",
        },
    }
    assert s.job().recurrence.every == 300
    assert s.job().due_at == confirmed + timedelta(minutes=5)

    # Still down a day later: checks every 10 minutes, and nothing sent again.
    day_later = first_failure + timedelta(hours=24, minutes=1)
    assert s.at(day_later) == 1
    assert s.job().recurrence.every == 600
    assert s.job().due_at == day_later + timedelta(minutes=10)
    assert len(s.mails()) == 1 and len(s.hooks()) == 1
    assert s.at(day_later + timedelta(minutes=5)) == 0  # not due yet

    # Back up: confirmed by a second good check, then one mail and one monitor_up.
    s.site.status = 200
    back = day_later + timedelta(minutes=10)
    assert s.at(back) == 1
    assert len(s.mails()) == 1 and len(s.hooks()) == 1
    recovered = back + timedelta(seconds=RECHECK_AFTER)
    assert s.at(recovered) == 1
    up_mail = s.mails()[-1]
    duration = recovered - first_failure  # 1 day, 11 minutes, 30 seconds
    assert up_mail["Subject"] == "Example Blog is up again (down for 1 day 11 minutes)"
    up_text = body_of(up_mail)
    assert "from May 14, 2026 at 11:55 to May 15, 2026 at 12:06 UTC" in up_text
    assert "Service unavailable (HTTP 503)" in up_text
    up = s.hooks()[-1]
    assert s.sub.received[-1].headers["x-tinylytics-event"] == "monitor_up"
    assert up["monitor"] == {"id": number, "status": "up"}
    assert up["downtime"] == {
        "started_at": "2026-05-14T11:55:00Z",
        "started_at_formatted": "May 14, 2026 at 11:55",
        "ended_at": "2026-05-15T12:06:30Z",
        "ended_at_formatted": "May 15, 2026 at 12:06",
        "duration_seconds": int(duration.total_seconds()),
        "duration_formatted": "1 day 11 minutes",
        "error": "Service unavailable (HTTP 503): the server is overloaded or in maintenance",
    }
    assert s.job().recurrence.every == 300

    # Nothing twice: the followers have nothing new; a rebuild sends nothing.
    assert s.c.webhook_dispatch.catch_up() == 0
    assert s.c.uptime_alerts.catch_up() == 0
    s.c.projections.rebuild("uptime")
    s.turn()
    assert len(s.mails()) == 2 and len(s.hooks()) == 2
    total, downtimes = s.c.reads.uptime.downtimes_of(s.tracked.uuid, 0, 10)
    assert total == 1 and downtimes[0].duration == int(duration.total_seconds())


def test_a_restart_replays_nothing(story: Story, settings: Settings) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 500
    for n in range(CONFIRM_DOWN):
        s.at(START + timedelta(minutes=5, seconds=RECHECK_AFTER * n))
    assert len(s.mails()) == 1 and len(s.hooks()) == 1
    again = bootstrap(settings, fast_passwords=True)
    try:
        again.webhooks.queue = s.queue
        again.projections.catch_up()
        assert again.webhook_dispatch.catch_up() == 0
        assert again.uptime_alerts.catch_up() == 0
    finally:
        again.close()
    assert len(s.mails()) == 1 and len(s.hooks()) == 1


def test_a_single_failure_is_not_downtime(story: Story) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 500
    s.at(START + timedelta(minutes=5))
    s.site.status = 200
    s.at(START + timedelta(minutes=5, seconds=RECHECK_AFTER))
    assert s.mails() == [] and s.hooks() == []
    assert s.job().due_at == START + timedelta(minutes=10, seconds=RECHECK_AFTER)
    view = s.c.reads.uptime.monitor(s.tracked.uuid)
    assert view is not None and view.status_description == "Up" and view.uptime == 100.0


def test_the_adaptive_schedule_and_the_auto_pause(story: Story) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 502
    began = START + timedelta(minutes=5)
    for n in range(CONFIRM_DOWN):
        s.at(began + timedelta(seconds=RECHECK_AFTER * n))
    for hours, every in ((12, 300), (25, 600), (49, 1800), (73, 3600), (24 * 6, 3600)):
        s.at(began + timedelta(hours=hours))
        assert s.job().recurrence.every == every, hours
    s.at(began + timedelta(days=7, minutes=1))
    assert s.job() is None  # paused itself: no more checks
    notice = s.mails()[-1]
    assert notice["Subject"] == "Uptime monitoring of Example Blog is paused after 7 days down"
    view = s.c.reads.uptime.monitor(s.tracked.uuid)
    assert view is not None and view.auto_paused and view.status_description == "Auto-paused"
    # Resumed at any time: checked at once, up, and the downtime ends.
    s.site.status = 200
    s.c.monitoring.resume(s.tracked.uuid, s.owner.uuid)
    assert s.turn() == 1
    view = s.c.reads.uptime.monitor(s.tracked.uuid)
    assert view is not None and not view.is_down and view.status_description == "Up"
    assert s.job().recurrence.every == 300


def test_check_interval_steps_exactly_as_the_guide() -> None:
    down = START
    assert check_interval(None, START) == 300
    assert check_interval(down, down + timedelta(hours=23, minutes=59)) == 300
    assert check_interval(down, down + timedelta(hours=24)) == 600
    assert check_interval(down, down + timedelta(hours=48)) == 1800
    assert check_interval(down, down + timedelta(days=3)) == 3600
    assert check_interval(down, down + timedelta(days=7)) is None


def test_pause_stops_checks_and_resume_starts_them(story: Story) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.c.monitoring.pause(s.tracked.uuid, s.owner.uuid)
    assert s.job() is None
    assert s.at(START + timedelta(hours=1)) == 0
    with pytest.raises(DomainError):
        s.c.monitoring.pause(s.tracked.uuid, s.owner.uuid)
    s.c.monitoring.resume(s.tracked.uuid, s.owner.uuid)
    assert s.turn() == 1
    s.c.monitoring.disable(s.tracked.uuid, s.owner.uuid)
    assert s.job() is None
    s.c.projections.catch_up()
    assert s.c.reads.uptime.monitor(s.tracked.uuid) is None


def test_only_subscribed_owners_with_a_confirmed_address_enable(
    container: Container, world: World
) -> None:
    free = world.account("free@example.com")
    container.configuration.confirm_email(free.uuid)
    site = world.site(free, "https://free.example.com")
    with pytest.raises(DomainError, match="paid plans"):
        container.monitoring.enable(site.uuid, free.uuid)
    paid = world.account("paid@example.com", is_subscribed=True)
    other = world.site(paid, "https://paid.example.com")
    with pytest.raises(DomainError, match="Confirm your email"):
        container.monitoring.enable(other.uuid, paid.uuid)
    with pytest.raises(NotFound):
        container.monitoring.enable(other.uuid, free.uuid)  # not the owner


def test_checks_of_one_monitor_never_overlap(story: Story) -> None:
    """A firing holds the job's lease: a second clock claiming at the same moment gets
    nothing, and the job comes back only when the first check has finished."""
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    from application.clock import LEASE

    first = [f for f in s.c.schedule.claim(START, 10, LEASE, (None,)) if f.kind == CHECK_KIND]
    assert len(first) == 1
    assert s.c.schedule.claim(START, 10, LEASE, (None,)) == []  # the other clock: nothing
    done = s.c.clock.fire(first[0])
    s.c.schedule.finish([done], {0: START + timedelta(minutes=5)})
    assert len(s.site.requests) == 1
    assert [f.kind for f in s.c.schedule.claim(START, 10, LEASE, (None,))] == []


def checks_counted(s: Story) -> int:
    points = s.c.reads.uptime.response_times(s.monitor_id, "d", START - timedelta(days=1))
    return sum(p.up + p.down for p in points)


def test_checks_on_the_clock_are_written_together_and_a_crash_loses_none(story: Story) -> None:
    """The clock's checks keep their samples back and write them in one batch before
    their firings are finished; a process that dies in between leaves the lease to run
    out, and the monitor is checked again: no check is lost or counted twice."""
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    from application.clock import LEASE

    [firing] = [f for f in s.c.schedule.claim(START, 10, LEASE, (None,)) if f.kind == CHECK_KIND]
    s.c.clock.fire(firing)
    s.c.projections.catch_up()
    assert len(s.site.requests) == 1
    view = s.c.reads.uptime.monitor(s.tracked.uuid)
    assert view is not None and view.status_description == "Pending"  # not written yet
    assert checks_counted(s) == 0
    s.c.monitoring.pending.take()  # the process dies: what was kept back is gone

    assert s.at(START + LEASE - timedelta(seconds=1)) == 0  # still leased
    again = START + LEASE + timedelta(seconds=1)
    assert s.at(again) == 1  # the lease ran out: checked again
    view = s.c.reads.uptime.monitor(s.tracked.uuid)
    assert view is not None and view.status_description == "Up"
    assert view.last_check_at == again
    assert checks_counted(s) == 1
    assert s.job().due_at == again + timedelta(minutes=5)


def test_a_batch_of_checks_writes_each_monitors_sample(container: Container, world: World) -> None:
    """Several monitors checked in one turn of the clock: one batch, every sample kept,
    the failing one re-checked soon, the others at their interval."""
    with fake_site() as good, fake_site() as bad, time_machine.travel(START, tick=False):
        bad.status = 500
        owner = world.account("many@example.com", is_subscribed=True)
        container.configuration.confirm_email(owner.uuid)
        sites = [world.site(owner, f"{good.url()}/{i}") for i in range(3)]
        sites.append(world.site(owner, bad.url()))
        for site in sites:
            container.monitoring.enable(site.uuid, owner.uuid)
        container.clock.tick()
        container.projections.catch_up()
        views = [container.reads.uptime.monitor(site.uuid) for site in sites]
        assert [v.status_description if v else None for v in views] == [
            "Up",
            "Up",
            "Up",
            "Checking (possible downtime)",
        ]
        dues = [container.schedule.get(CHECK_KIND, str(monitor_id_for(x.uuid))) for x in sites]
        assert [j.due_at if j else None for j in dues] == [START + timedelta(minutes=5)] * 3 + [
            START + timedelta(seconds=RECHECK_AFTER)
        ]


def test_the_api_reads_the_monitor(story: Story, client: FlaskClient) -> None:
    s = story
    key = bearer(s.world.key(s.owner))
    url = f"/api/v1/sites/{s.tracked.id}/uptime"
    assert client.get(url, headers=key).status_code == 404
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 504
    for n in range(CONFIRM_DOWN):
        s.at(START + timedelta(minutes=5, seconds=RECHECK_AFTER * n))
    s.site.status = 200
    s.at(START + timedelta(minutes=15))
    s.at(START + timedelta(minutes=15, seconds=RECHECK_AFTER))
    s.at(START + timedelta(hours=2))
    response = client.get(url, headers=key)
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"monitor", "downtimes", "pagination", "summary"}
    monitor = body["monitor"]
    assert monitor["id"] == s.c.reads.uptime.number_of(s.monitor_id)
    assert monitor["url"] == s.site.url()
    assert monitor["enabled"] is True and monitor["is_down"] is False
    assert monitor["status_description"] == "Up"
    assert monitor["current_check_interval"] == 300
    assert monitor["period"] == "30d"
    assert monitor["last_status_code"] == 200
    assert monitor["last_error_message"] is None
    assert monitor["last_check_at"] == "2026-05-14T13:50:00Z"
    assert monitor["next_check_at"] == "2026-05-14T13:55:00Z"
    # Down 10 min 30 s of the 2 hours monitored.
    assert monitor["uptime"] == pytest.approx(91.25, abs=0.01)
    assert monitor["auto_paused"] is False
    assert set(monitor) >= {"ssl", "domain", "created_at", "updated_at"}
    assert body["downtimes"] == [
        {
            "id": body["downtimes"][0]["id"],
            "error": "Gateway timeout (HTTP 504): a proxy or CDN waited too long for the server",
            "started_at": "2026-05-14T11:55:00Z",
            "ended_at": "2026-05-14T12:05:30Z",
            "duration": 630,
            "duration_in_words": "10 minutes",
            "partial": False,
            "ongoing": False,
        }
    ]
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_count": 1,
        "total_pages": 1,
    }
    assert body["summary"] == {
        "total_downtimes": 1,
        "ongoing_downtimes": 0,
        "recent_downtimes_30_days": 1,
    }
    assert client.get(url + "?per_page=101", headers=key).status_code == 400
    paged = client.get(url + "?page=2&per_page=1", headers=key).json
    assert paged["downtimes"] == [] and paged["pagination"]["current_page"] == 2
    assert json.loads(client.get(url, headers=key).data) == body


def test_the_api_answers_403_without_a_subscription(
    container: Container, world: World, client: FlaskClient
) -> None:
    owner = world.account("free@example.com")
    site = world.site(owner, "https://free.example.com")
    response = client.get(f"/api/v1/sites/{site.id}/uptime", headers=bearer(world.key(owner)))
    assert response.status_code == 403
    assert response.json == {"error": "This endpoint requires an active subscription"}


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "Authentication required (HTTP 401)"),
        (403, "Access forbidden (HTTP 403)"),
        (404, "Page not found (HTTP 404)"),
        (429, "Too many requests (HTTP 429)"),
        (500, "Internal server error (HTTP 500)"),
        (502, "Bad gateway (HTTP 502)"),
        (503, "Service unavailable (HTTP 503)"),
        (504, "Gateway timeout (HTTP 504)"),
        (418, "Client error (HTTP 418)"),
    ],
)
def test_each_status_class_has_its_words(settings: Settings, status: int, words: str) -> None:
    checker = HttpChecker(SafeHttpClient(uptime_policy(settings)))
    with fake_site() as site:
        site.status = status
        result = checker.check(site.url())
    assert not result.ok and result.status_code == status
    assert result.error is not None and result.error.startswith(words)


def test_connection_failures_have_their_words(settings: Settings) -> None:
    checker = HttpChecker(SafeHttpClient(uptime_policy(settings), total_timeout=1))
    refused = checker.check(f"http://127.0.0.1:{refusing_port()}")
    assert refused.error == "Connection refused: nothing accepts connections at the site's address"
    unknown = checker.check("http://no-such-site.invalid")
    assert unknown.error == "DNS resolution failed: the domain name could not be found"
    with fake_site() as site:
        site.delay = 3
        slow = checker.check(site.url())
    assert slow.error == "Connection timed out: the server did not answer in time"
    assert not (refused.ok or unknown.ok or slow.ok)


def test_redirects_are_followed_a_few_times_each_target_guarded(settings: Settings) -> None:
    checker = HttpChecker(SafeHttpClient(uptime_policy(settings)))
    with fake_site() as target, fake_site() as site:
        site.status, site.location = 301, target.url() + "/home"
        followed = checker.check(site.url())
        assert followed.ok and followed.status_code == 200 and len(target.requests) == 1
        site.location = site.url() + "/again"  # a loop
        looping = checker.check(site.url())
        assert not looping.ok and looping.error == "Too many redirects (more than 5)"
        assert len(site.requests) == 1 + 6
        # A redirect to a refused address is refused, like the first URL.
        loopback = (ipaddress.ip_network("127.0.0.1/32"),)
        guarded = HttpChecker(SafeHttpClient(AddressPolicy(allowed_networks=loopback)))
        site.location = "http://10.0.0.1/"
        refused = guarded.check(site.url())
        assert not refused.ok and refused.error is not None
        assert "10.0.0.1 is a private network address" in refused.error


def test_private_and_loopback_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    strict = Settings.from_env({"TINYLYTICS_DATA_DIR": str(tmp_path)})
    checker = HttpChecker(SafeHttpClient(uptime_policy(strict)))
    with fake_site() as site:
        result = checker.check(site.url())
        assert not result.ok and result.error is not None and "loopback" in result.error
        assert site.requests == []
        assert checker.check("http://localhost:1/").error == (
            "Site URL is not allowed: localhost is a loopback address (localhost)"
        )


def test_erasing_the_account_leaves_nothing_of_its_monitor(story: Story) -> None:
    s = story
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 500
    for n in range(CONFIRM_DOWN):
        s.at(START + timedelta(minutes=5, seconds=RECHECK_AFTER * n))
    assert s.c.reads.uptime.downtimes_of(s.tracked.uuid, 0, 10)[0] == 1
    s.c.erasure.delete_account(s.owner.uuid)
    assert s.job() is None
    with pytest.raises(NotFound):
        s.c.monitoring.monitor_of(s.tracked.uuid)
    left = s.c.monitoring.recorder.select_notifications(start=1, limit=100)
    assert {(n.topic, n.state) for n in left} <= {("tinylytics:erased", b"")}
    assert s.c.reads.uptime.monitor(s.tracked.uuid) is None
    assert s.c.reads.uptime.downtimes_of(s.tracked.uuid, 0, 10) == (0, [])
    assert s.c.reads.uptime.response_times(s.monitor_id, "m", START) == []


def test_the_widget_shows_the_30_day_uptime_and_null_when_off(
    story: Story, client: FlaskClient
) -> None:
    s = story
    url = f"/widgets/{s.tracked.uid}.json?uptime"
    assert client.get(url).json == {"uptime": None}
    s.c.monitoring.enable(s.tracked.uuid, s.owner.uuid)
    s.turn()
    s.site.status = 503
    for n in range(CONFIRM_DOWN):
        s.at(START + timedelta(minutes=5, seconds=RECHECK_AFTER * n))
    s.site.status = 200
    s.at(START + timedelta(minutes=15))
    s.at(START + timedelta(minutes=15, seconds=RECHECK_AFTER))
    s.traveller.move_to(START + timedelta(hours=2))
    assert client.get(url).json == {"uptime": 91.25}
    s.c.monitoring.disable(s.tracked.uuid, s.owner.uuid)
    s.c.projections.catch_up()
    assert client.get(url).json == {"uptime": None}
