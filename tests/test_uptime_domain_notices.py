"""Domain-expiry notices by mail, against a local RDAP server and a real SMTP server
(aiosmtpd): 30, 14, 7 and 1 days before the registration lapses, once each, never
again on a replay, and afresh after a renewal."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from infrastructure.bootstrap import Container
from tests.conftest import World
from tests.mail_helpers import Inbox, smtp_server
from tests.uptime_helpers import FakeSite, fake_site

EXPIRES = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def rdap() -> Iterator[FakeSite]:
    with fake_site() as server:
        server.status = 404
        yield server


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    with smtp_server(box, mode="plain", login=False) as port:
        yield box, port


@pytest.fixture
def env(env: dict[str, str], rdap: FakeSite, inbox: tuple[Inbox, int]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_RDAP_URL"] = rdap.url()
    env["TINYLYTICS_SMTP_URL"] = f"smtp://127.0.0.1:{inbox[1]}"
    return env


def registration(expires: datetime) -> tuple[int, bytes, dict[str, str]]:
    document = {
        "objectClassName": "domain",
        "ldhName": "EXAMPLE.COM",
        "events": [{"eventAction": "expiration", "eventDate": expires.isoformat()}],
    }
    return 200, json.dumps(document).encode(), {"Content-Type": "application/rdap+json"}


def test_domain_expiry_notices_once_each_by_mail(
    container: Container, world: World, rdap: FakeSite, inbox: tuple[Inbox, int]
) -> None:
    c, box = container, inbox[0]
    rdap.routes["/domain/example.com"] = registration(EXPIRES)

    def lookup_on(moment: datetime) -> list[str]:
        traveller.move_to(moment)
        c.monitoring.check_domain(c.monitoring.monitor_of(tracked.uuid))
        c.projections.catch_up()
        c.uptime_alerts.catch_up()
        return subjects()

    def subjects() -> list[str]:
        return [str(m["Subject"]) for m in box.received if "domain" in str(m["Subject"])]

    with time_machine.travel(EXPIRES - timedelta(days=45), tick=False) as traveller:
        owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(owner.uuid)
        tracked: Any = world.site(owner, "https://example.com", label="My shop")
        c.monitoring.enable(tracked.uuid, owner.uuid)
        assert lookup_on(EXPIRES - timedelta(days=45)) == []
        assert lookup_on(EXPIRES - timedelta(days=29, hours=12)) == [
            "The domain of My shop expires in 30 days"
        ]
        # The daily lookups in between send nothing more.
        for day in range(28, 14, -1):
            lookup_on(EXPIRES - timedelta(days=day, hours=12))
        assert len(subjects()) == 1
        lookup_on(EXPIRES - timedelta(days=13, hours=12))
        lookup_on(EXPIRES - timedelta(days=6, hours=12))
        lookup_on(EXPIRES - timedelta(days=5, hours=12))
        found = lookup_on(EXPIRES - timedelta(hours=12))
        assert found == [
            "The domain of My shop expires in 30 days",
            "The domain of My shop expires in 14 days",
            "The domain of My shop expires in 7 days",
            "The domain of My shop expires in 1 day",
        ]
        last = box.received[-1]
        assert last["To"] == "owner@example.com"
        body = next(
            p.get_payload(decode=True).decode()
            for p in last.walk()
            if p.get_content_type() == "text/plain"
        )
        assert "expires in 1 day, on March 1, 2027 at 12:00 UTC" in body
        assert f"/sites/{tracked.uid}" in body

        # A replay sends nothing: the followers are at the head, a rebuild moves neither.
        assert c.uptime_alerts.catch_up() == 0
        c.projections.rebuild("uptime")
        c.uptime_alerts.catch_up()
        assert len(subjects()) == 4

        # Renewed a year on: the notices start again for the new date.
        renewed = EXPIRES + timedelta(days=365)
        rdap.routes["/domain/example.com"] = registration(renewed)
        lookup_on(EXPIRES - timedelta(hours=6))
        assert c.monitoring.monitor_of(tracked.uuid).domain_notices == []
        assert lookup_on(renewed - timedelta(days=29, hours=12))[-1] == (
            "The domain of My shop expires in 30 days"
        )
        assert len(subjects()) == 5
