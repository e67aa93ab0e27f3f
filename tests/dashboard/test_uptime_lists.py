"""Monitors in lists, against real sites on 127.0.0.1 (one over HTTPS with a certificate
from a throw-away CA): the sites list shows each site's uptime trouble, and the
operator's `tinylytics monitors list` shows every monitor."""

import html
import json
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from click.testing import CliRunner, Result

from domain.uptime_rules import CONFIRM_DOWN
from infrastructure.bootstrap import Container
from infrastructure.safe_http import SafeHttpClient
from infrastructure.uptime_check import HttpChecker, uptime_policy
from interfaces.cli import main
from tests.conftest import World
from tests.dashboard.conftest import Browser
from tests.uptime_helpers import FakeSite, fake_site, refusing_port


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_UPTIME_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    # No test asks the real RDAP: nothing listens here.
    env["TINYLYTICS_RDAP_URL"] = f"http://127.0.0.1:{refusing_port()}"
    return env


@dataclass
class Fleet:
    """One owner's sites: healthy, down, paused, a certificate expiring in 5 days, and
    one without monitoring."""

    owner: Any
    sites: dict[str, Any]
    urls: dict[str, str]


def check(c: Container, tracked: Any, times: int = 1) -> None:
    for _ in range(times):
        c.monitoring.check(c.monitoring.monitor_of(tracked.uuid))


@pytest.fixture
def fleet(container: Container, world: World) -> Any:
    c = container
    ca = trustme.CA()
    # OpenSSL checks dates against the real clock: the certificate is made from now.
    soon = ca.issue_cert("127.0.0.1", not_after=datetime.now(UTC) + timedelta(days=5, hours=12))  # type: ignore[call-arg]
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = SafeHttpClient(uptime_policy(c.settings), tls=context, total_timeout=5)
    c.monitoring.checker = HttpChecker(client)
    with (
        fake_site() as healthy,
        fake_site() as broken,
        fake_site() as resting,
        fake_site(soon) as secure,
        fake_site() as other,
    ):
        broken.status = 500
        owner = world.account("owner@example.com", is_subscribed=True)
        c.configuration.confirm_email(owner.uuid)
        servers: dict[str, FakeSite] = {
            "Healthy": healthy,
            "Broken": broken,
            "Resting": resting,
            "Secure": secure,
        }
        sites = {label: world.site(owner, s.url(), label=label) for label, s in servers.items()}
        sites["Unmonitored"] = world.site(owner, other.url(), label="Unmonitored")
        for label in servers:
            c.monitoring.enable(sites[label].uuid, owner.uuid)
        check(c, sites["Healthy"])
        check(c, sites["Broken"], CONFIRM_DOWN)
        check(c, sites["Resting"])
        c.monitoring.pause(sites["Resting"].uuid, owner.uuid)
        check(c, sites["Secure"])
        c.projections.catch_up()
        yield Fleet(owner, sites, {label: s.url() for label, s in servers.items()})


def cards(page: str) -> dict[str, str]:
    """Each site's card in the sites list, as text, by the site's label."""
    found = {}
    for card in page.split('<li class="card">')[1:]:
        words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))).strip()
        found[words.split(" ")[0]] = words
    return found


def test_the_sites_list_shows_uptime_trouble(person: Browser, fleet: Fleet) -> None:
    person.sign_in("owner@example.com")
    listed = cards(person.get("/sites").get_data(as_text=True))
    assert set(listed) == {"Healthy", "Broken", "Resting", "Secure", "Unmonitored"}
    assert "Down" in listed["Broken"]
    assert "Monitoring paused" in listed["Resting"]
    assert "SSL expires in 5 days" in listed["Secure"]
    for calm in ("Healthy", "Unmonitored"):
        assert "Down" not in listed[calm] and "SSL" not in listed[calm]
        assert "paused" not in listed[calm]
    assert "Down" not in listed["Secure"] and "Down" not in listed["Resting"]


def test_the_sites_list_reads_uptime_in_one_query(
    person: Browser, fleet: Fleet, container: Container
) -> None:
    from sqlalchemy import event

    person.sign_in("owner@example.com")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", seen)
    try:
        assert person.get("/sites").status_code == 200
    finally:
        event.remove(container.engine, "before_cursor_execute", seen)
    uptime = [s for s in statements if "uptime_" in s]
    assert len(uptime) == 1, uptime


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_the_operator_lists_every_monitor(env: dict[str, str], fleet: Fleet) -> None:
    result = cli(env, "monitors", "list", "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    listed = json.loads(result.stdout)["monitors"]
    by_site = {m["site"]: m for m in listed}
    assert set(by_site) == {"Healthy", "Broken", "Resting", "Secure"}
    assert listed[0]["site"] == "Broken"  # down first
    broken = by_site["Broken"]
    assert broken["status"] == "down" and broken["url"] == fleet.urls["Broken"]
    assert broken["site_id"] == fleet.sites["Broken"].id
    assert broken["last_check_at"] is not None and broken["since"] is not None
    assert broken["interval_seconds"] == 300 and broken["next_check_at"] is not None
    assert "HTTP 500" in broken["last_error"]
    assert by_site["Resting"]["status"] == "paused"
    assert by_site["Resting"]["next_check_at"] is None
    assert by_site["Healthy"]["status"] == "up" and by_site["Healthy"]["ssl_days_left"] is None
    assert by_site["Secure"]["status"] == "up" and by_site["Secure"]["ssl_days_left"] == 5

    down = json.loads(cli(env, "monitors", "list", "--json", "--status", "down").stdout)
    assert [m["site"] for m in down["monitors"]] == ["Broken"]
    text = cli(env, "monitors", "list").stdout
    assert "Broken" in text and "down" in text and "Secure" in text
    refused = cli(env, "monitors", "list", "--status", "sideways")
    assert refused.exit_code != 0 and "sideways" in refused.stderr + refused.stdout


def test_trouble_on_another_page_is_summed_up_on_the_first(
    person: Browser, fleet: Fleet, container: Container
) -> None:
    for n in range(47):  # sorted before the fleet's: Secure and Unmonitored go to page 2
        container.configuration.register_site(
            fleet.owner.uuid, f"https://aa{n}.example.com", label=f"Aa {n:02d}"
        )
    container.projections.catch_up()
    person.sign_in("owner@example.com")
    first = person.get("/sites").get_data(as_text=True)
    assert "Secure" not in cards(first) and "Page 1 of 2" in first
    summary = html.unescape(
        first.split('class="card uptime-trouble-summary"')[1].split("</div>")[0]
    )
    assert "3 sites need a look" in summary
    assert "Broken</a>: Down" in summary and "Secure</a>: SSL expires in 5 days" in summary
    second = cards(person.get("/sites?page=2").get_data(as_text=True))
    assert set(second) == {"Secure", "Unmonitored"}
