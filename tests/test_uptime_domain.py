"""Domain expiry through RDAP, against a local RDAP server: the bootstrap redirect,
a name one label up, a changed date as an event, and an unreachable RDAP that says so."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from application.monitoring import DOMAIN_KIND
from domain.monitors import monitor_id_for
from infrastructure.bootstrap import Container
from infrastructure.rdap import RdapLookup
from infrastructure.settings import Settings
from infrastructure.uptime_check import uptime_policy
from tests.conftest import World, bearer
from tests.uptime_helpers import FakeSite, fake_site, refusing_port

NOW = datetime(2026, 2, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def rdap() -> Iterator[FakeSite]:
    with fake_site() as server:
        server.status = 404
        yield server


@pytest.fixture
def env(env: dict[str, str], rdap: FakeSite) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_RDAP_URL"] = rdap.url() + "/bootstrap"
    return env


def answer(name: str, expires: str) -> tuple[int, bytes, dict[str, str]]:
    document = {
        "objectClassName": "domain",
        "ldhName": name.upper(),
        "events": [
            {"eventAction": "registration", "eventDate": "2015-06-01T12:00:00Z"},
            {"eventAction": "expiration", "eventDate": expires},
            {"eventAction": "last update of RDAP database", "eventDate": "2026-02-13T00:00:00Z"},
        ],
    }
    return 200, json.dumps(document).encode(), {"Content-Type": "application/rdap+json"}


def test_the_bootstrap_redirect_and_a_name_one_label_up(rdap: FakeSite, settings: Settings) -> None:
    # The bootstrap sends the name to the registry's server; the registry knows only
    # the registered name, not the blog's host.
    rdap.routes["/bootstrap/domain/example.co.uk"] = (
        302,
        b"",
        {"Location": rdap.url() + "/registry/domain/example.co.uk"},
    )
    rdap.routes["/registry/domain/example.co.uk"] = answer("example.co.uk", "2027-06-01T00:00:00Z")
    with time_machine.travel(NOW, tick=False):
        found = RdapLookup(uptime_policy(settings), settings.rdap_url).expiry(
            "https://www.blog.example.co.uk/path"
        )
    assert found.expires_at == datetime(2027, 6, 1, tzinfo=UTC)
    assert found.source == "rdap" and found.tested_at == NOW
    assert rdap.paths == [
        "/bootstrap/domain/blog.example.co.uk",
        "/bootstrap/domain/example.co.uk",
        "/registry/domain/example.co.uk",
    ]


def test_the_api_shows_the_domain_and_a_change_is_an_event(
    container: Container, world: World, rdap: FakeSite, client: FlaskClient
) -> None:
    rdap.routes["/bootstrap/domain/example.com"] = answer("example.com", "2027-06-01T00:00:00Z")
    with time_machine.travel(NOW, tick=False) as traveller:
        owner = world.account("owner@example.com", is_subscribed=True)
        container.configuration.confirm_email(owner.uuid)
        tracked: Any = world.site(owner, "https://example.com")
        container.monitoring.enable(tracked.uuid, owner.uuid)
        # Only the domain job is run: the site itself is never fetched here.
        monitor = container.monitoring.monitor_of(tracked.uuid)
        container.monitoring.check_domain(monitor)
        container.projections.catch_up()
        key = bearer(world.key(owner))
        body = client.get(f"/api/v1/sites/{tracked.id}/uptime", headers=key).json
        assert body["monitor"]["domain"] == {
            "tested_at": "2026-02-14T00:00:00Z",
            "expires_at": "2027-06-01T00:00:00Z",
            "remaining_days": 472,
            "source": "rdap",
            "expired": False,
            "expiring_soon": False,
            "days_until_expiry": 472,
        }
        changes = [
            n.topic
            for n in container.monitoring.recorder.select_notifications(start=1, limit=100)
            if n.topic.endswith("DomainExpiryChanged")
        ]
        assert len(changes) == 1
        job = container.schedule.get(DOMAIN_KIND, str(monitor_id_for(tracked.uuid)))
        assert job is not None and job.recurrence is not None and job.recurrence.every == 86400
        # The same date the next day: no new event.
        traveller.move_to(NOW + timedelta(days=1))
        container.monitoring.check_domain(monitor)
        again = [
            n
            for n in container.monitoring.recorder.select_notifications(start=1, limit=100)
            if n.topic.endswith("DomainExpiryChanged")
        ]
        assert len(again) == 1


def test_an_unreachable_rdap_says_so_instead_of_guessing(tmp_path: Any) -> None:
    settings = Settings.from_env(
        {
            "TINYLYTICS_DATA_DIR": str(tmp_path),
            "TINYLYTICS_UPTIME_ALLOWED_NETWORKS": "127.0.0.1/32",
        }
    )
    lookup = RdapLookup(uptime_policy(settings), f"http://127.0.0.1:{refusing_port()}")
    found = lookup.expiry("https://example.com")
    assert found.expires_at is None and found.source == "unavailable"
    assert found.error is not None and "refused" in found.error.lower()
