"""SSL certificate monitoring with certificates from a throw-away CA (trustme) on a real
HTTPS site on 127.0.0.1: valid, expired, for the wrong name, self-signed, missing an
intermediate; notices 30/14/7/1 days before expiry, once each; a renewal confirmed.

OpenSSL checks dates against the real clock (time-machine moves Python's only), so
these tests travel from the real now and make certificates relative to it."""

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import trustme
from flask.testing import FlaskClient

from domain.monitors import monitor_id_for
from infrastructure.bootstrap import Container
from infrastructure.safe_http import SafeHttpClient
from infrastructure.uptime_check import HttpChecker, uptime_policy
from tests.conftest import World, bearer
from tests.uptime_helpers import FakeSite, fake_site, outbox_messages, refusing_port


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    # No test asks the real RDAP: nothing listens here (tests/test_uptime_domain.py
    # runs a local RDAP server).
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    return env


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def trusting(container: Container, ca: trustme.CA) -> None:
    """Checks that trust the test CA as a system store would trust a public one."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = SafeHttpClient(uptime_policy(container.settings), tls=context, total_timeout=5)
    container.monitoring.checker = HttpChecker(client)


class Monitored:
    def __init__(self, c: Container, world: World, site: FakeSite) -> None:
        self.c = c
        self.site = site
        self.owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(self.owner.uuid)
        self.tracked = world.site(self.owner, site.url(), label="Secure Blog")
        c.monitoring.enable(self.tracked.uuid, self.owner.uuid)

    def check(self) -> Any:
        monitor = self.c.monitoring.monitor_of(self.tracked.uuid)
        self.c.monitoring.check(monitor)
        self.c.projections.catch_up()
        self.c.uptime_alerts.catch_up()
        view = self.c.reads.uptime.monitor(self.tracked.uuid)
        assert view is not None
        return view

    def mails(self) -> list[str]:
        return [
            str(m["Subject"])
            for m in outbox_messages(Path(self.c.settings.data_dir))
            if "SSL" in str(m["Subject"])
        ]


@pytest.fixture
def traveller() -> Iterator[Any]:
    with time_machine.travel(datetime.now(UTC), tick=False) as moving:
        yield moving


def self_signed() -> tuple[bytes, bytes]:
    other = trustme.CA()  # a CA certificate served as the site's own: signed by itself
    return other.cert_pem.bytes(), other.private_key_pem.bytes()


def without_intermediate(ca: trustme.CA) -> tuple[bytes, bytes]:
    leaf = ca.create_child_ca().issue_cert("127.0.0.1")
    return leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda ca, now: ca.issue_cert(
                "127.0.0.1", not_after=now - timedelta(days=1), not_before=now - timedelta(days=30)
            ),
            "SSL certificate has expired",
        ),
        (lambda ca, now: ca.issue_cert("wrong.example"), "SSL certificate is for another name"),
        (lambda ca, now: self_signed(), "SSL certificate is self-signed"),
        (lambda ca, now: without_intermediate(ca), "chain is incomplete"),
    ],
    ids=["expired", "wrong-name", "self-signed", "missing-intermediate"],
)
def test_certificate_problems_are_down_in_words_an_owner_understands(
    container: Container, world: World, ca: trustme.CA, traveller: Any, make: Any, words: str
) -> None:
    trusting(container, ca)
    with fake_site(make(ca, datetime.now(UTC))) as site:
        m = Monitored(container, world, site)
        view = m.check()
    assert view.last_error_message is not None and words in view.last_error_message
    assert view.last_status_code is None
    assert view.ssl is not None and view.ssl["valid"] is False
    if words.endswith("expired"):
        assert view.ssl["expired"] is True and view.ssl["days_until_expiry"] < 0


def test_a_valid_certificate_notices_once_each_and_a_renewal(
    container: Container, world: World, ca: trustme.CA, traveller: Any, client: FlaskClient
) -> None:
    trusting(container, ca)
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(days=5, hours=12)
    with fake_site(ca.issue_cert("127.0.0.1", not_after=soon)) as site:
        m = Monitored(container, world, site)
        view = m.check()
        assert view.status_description == "Up"
        assert view.ssl == {
            "expires_at": soon,
            "valid": True,
            "expiring_soon": True,
            "expired": False,
            "days_until_expiry": 5,
        }
        # Enabled 5 days before expiry: one notice (the 7-day one), not three.
        assert m.mails() == ["The SSL certificate of Secure Blog expires in 6 days"]
        m.check()
        assert len(m.mails()) == 1
        traveller.move_to(now + timedelta(days=4, hours=13))
        m.check()
        assert m.mails()[-1] == "The SSL certificate of Secure Blog expires in 1 day"
        m.check()
        assert len(m.mails()) == 2
        # Renewed: a confirmation, and the notices start again for the new expiry.
        later = now + timedelta(days=90)
        site.serve(ca.issue_cert("127.0.0.1", not_after=later))
        traveller.move_to(now + timedelta(days=4, hours=14))
        view = m.check()
        assert m.mails()[-1] == "The SSL certificate of Secure Blog was renewed"
        assert view.ssl["expires_at"] == later and view.ssl["expiring_soon"] is False
        monitor = container.monitoring.monitor_of(m.tracked.uuid)
        assert monitor.expiry_notices == []
        assert monitor.id == monitor_id_for(m.tracked.uuid)
        key = bearer(world.key(m.owner))
        body = client.get(f"/api/v1/sites/{m.tracked.id}/uptime", headers=key).json
        assert body["monitor"]["ssl"]["valid"] is True
        assert body["monitor"]["ssl"]["days_until_expiry"] == 85
