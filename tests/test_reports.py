"""The weekly report on the clock: Monday morning in the site's zone, for the previous 7
local days, to the owner and each recipient, once per site and week (a restart or a
clock killed mid-firing sends nothing twice), and the unsubscribe link turns it off."""

import re
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask.testing import FlaskClient

from application.clock import LEASE, Clock
from application.reports import REPORT_KIND, SYNC_KIND
from application.sites import SiteChanges
from infrastructure.bootstrap import Container
from infrastructure.geo_refresh import GEO_KIND, GeoRefresh
from tests.conftest import World
from tests.dashboard.conftest import hit, plain_text, record
from tests.test_geo import write_mmdb


def at(zone: str, day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZoneInfo(zone))


def outbox(container: Container) -> list[Any]:
    folder = Path(container.settings.data_dir) / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [message_from_bytes(f.read_bytes()) for f in files]


def reports(container: Container) -> list[Any]:
    return [m for m in outbox(container) if str(m["Subject"]).startswith("Weekly report")]


def html_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no HTML part")


def start_clock_jobs(container: Container) -> None:
    """What a clock puts when it starts: the report sync (and retention)."""
    container.schedule.put(container.initial_jobs(), replace=False)


class Week:
    """A site in a zone, with hits and kudos around the 7 local days before `monday`."""

    def __init__(self, container: Container, world: World, zone: str, monday: date) -> None:
        self.c = container
        self.zone = zone
        self.monday = monday
        self.first = monday - timedelta(days=7)
        self.last = monday - timedelta(days=1)
        self.owner = world.account("owner@example.com", confirmed=True)
        self.site = world.site(
            self.owner, "https://blog.example.com", label="My blog", timezone=zone
        )
        self.site_id = UUID(str(self.site.uuid))
        container.configuration.change_site(
            self.site_id, SiteChanges(report_recipients=["team@example.com"])
        )

    def traffic(self, traveller: Any) -> None:
        z, first, last = self.zone, self.first, self.last
        inside = [
            (at(z, first, 0, 0, 30), "/first-minute", "v1"),
            (at(z, last, 23, 59, 30), "/last-minute", "v2"),
            *[(at(z, first + timedelta(days=d), 12), "/popular", f"p{d}") for d in range(7)],
            (at(z, first + timedelta(days=3), 13), "/popular", "p3"),  # not unique: same visitor
        ]
        outside = [
            (at(z, first - timedelta(days=1), 23, 59, 30), "/before", "o1"),
            (at(z, self.monday, 0, 0, 30), "/after", "o2"),
        ]
        items = []
        for moment, path, visitor in inside + outside:
            day = moment.astimezone(UTC).date().isoformat()
            items.append(
                hit(self.site_id, moment.astimezone(UTC), path, unique_hash=f"{path}{visitor}{day}")
            )
        record(self.c, items)
        traveller.move_to(at(z, first + timedelta(days=2), 10))
        self.c.tracking.give_kudo(self.site_id, "/popular", None, "script")
        self.c.tracking.give_kudo(self.site_id, "/popular", None, "script")
        self.c.tracking.give_kudo(self.site_id, "/first-minute", None, "script")
        self.c.projections.catch_up()

    # 10 hits inside the week: first and last minute, 8 on /popular (7 unique).
    HITS, UNIQUES = 10, 9


@pytest.mark.parametrize(
    ("zone", "monday"),
    [
        ("Asia/Kathmandu", date(2026, 11, 30)),  # UTC+5:45
        ("America/St_Johns", date(2026, 11, 30)),  # UTC-3:30
        ("Europe/Berlin", date(2026, 3, 30)),  # the week of the change to summer time
        ("America/St_Johns", date(2026, 11, 2)),  # the week of the change back (1 November)
    ],
)
def test_the_report_arrives_on_monday_morning_for_the_previous_seven_local_days(
    container: Container, world: World, zone: str, monday: date
) -> None:
    with time_machine.travel(at(zone, monday - timedelta(days=9), 12), tick=False) as traveller:
        week = Week(container, world, zone, monday)
        week.traffic(traveller)
        traveller.move_to(at(zone, week.last, 12))
        start_clock_jobs(container)
        assert container.clock.tick() >= 1  # the sync adds the site's report job
        job = container.schedule.get(REPORT_KIND, str(week.site_id))
        assert job is not None and job.due_at == at(zone, monday, 6)
        traveller.move_to(at(zone, monday, 5, 59, 59))
        container.clock.tick()
        assert reports(container) == []
        traveller.move_to(at(zone, monday, 6, 0, 1))
        container.clock.tick()
        sent = reports(container)
    assert sorted(m["To"] for m in sent) == ["owner@example.com", "team@example.com"]
    mail = sent[0]
    body = plain_text(mail)
    assert f"Total hits: {Week.HITS}" in body
    assert f"Unique hits: {Week.UNIQUES}" in body
    assert re.search(r"\b8\s+/popular\n", body)
    assert "/first-minute" in body and "/last-minute" in body
    assert "/before" not in body and "/after" not in body
    assert "Kudos by page" in body and re.search(r"\b2\s+/popular\n", body)
    first, last = week.first, week.last
    assert f"{first:%B} {first.day}, {first.year} to {last:%B} {last.day}, {last.year}" in body
    assert "My blog" in mail["Subject"]
    assert "<b>" not in body and "/popular" in html_of(mail)
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith("<http") and "/reports/unsubscribe/" in unsubscribe
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"] and mail["Date"]


def test_once_per_site_and_week_through_restarts_and_a_clock_killed_mid_firing(
    container: Container, world: World
) -> None:
    zone, monday = "Asia/Kathmandu", date(2026, 11, 30)
    with time_machine.travel(at(zone, monday - timedelta(days=9), 12), tick=False) as traveller:
        week = Week(container, world, zone, monday)
        week.traffic(traveller)
        traveller.move_to(at(zone, week.last, 12))
        start_clock_jobs(container)
        container.clock.tick()
        traveller.move_to(at(zone, monday, 6, 0, 1))
        # A clock claims the report, sends it, and is killed before it records the firing.
        (firing,) = [
            f
            for f in container.schedule.claim(datetime.now(UTC), 10, LEASE, (None,))
            if f.kind == REPORT_KIND
        ]
        container.reports.on_clock(firing)
        assert len(reports(container)) == 2
        # Another clock (a restart) fires it again once the lease runs out: no new mail.
        other = Clock(container.schedule, container.clock.kinds.values(), host="other")
        traveller.shift(LEASE + timedelta(seconds=1))
        assert other.tick() >= 1
        assert len(reports(container)) == 2
        # And nothing more this week, however often the sync runs or a clock restarts.
        for _ in range(3):
            traveller.shift(timedelta(hours=20))
            other.tick()
        assert len(reports(container)) == 2
        job = container.schedule.get(REPORT_KIND, str(week.site_id))
        assert job is not None and job.due_at == at(zone, monday + timedelta(days=7), 6)


def test_a_report_missed_while_everything_was_down_goes_once(
    container: Container, world: World
) -> None:
    zone, monday = "America/St_Johns", date(2026, 11, 30)
    with time_machine.travel(at(zone, monday - timedelta(days=9), 12), tick=False) as traveller:
        week = Week(container, world, zone, monday)
        start_clock_jobs(container)
        container.clock.tick()
        # Down from Sunday until the Thursday of the week after: two Mondays missed.
        traveller.move_to(at(zone, monday + timedelta(days=10), 9))
        container.clock.tick()
        container.clock.tick()
        sent = reports(container)
        assert sorted(m["To"] for m in sent) == ["owner@example.com", "team@example.com"]
        # It covers the 7 days before the day it went (the latest full week of data).
        last = monday + timedelta(days=9)
        assert f"to {last:%B} {last.day}, {last.year}" in plain_text(sent[0])
        job = container.schedule.get(REPORT_KIND, str(week.site_id))
        assert job is not None and job.due_at == at(zone, monday + timedelta(days=14), 6)


def _one_click(client: FlaskClient, header: str) -> Any:
    parts = urlsplit(header.strip("<>"))
    return client.post(parts.path, data={"List-Unsubscribe": "One-Click"})


def test_the_unsubscribe_link_turns_the_report_off_for_that_address(
    container: Container, world: World, client: FlaskClient
) -> None:
    zone, monday = "UTC", date(2026, 11, 30)
    with time_machine.travel(at(zone, monday - timedelta(days=2), 12), tick=False) as traveller:
        week = Week(container, world, zone, monday)
        start_clock_jobs(container)
        container.clock.tick()
        traveller.move_to(at(zone, monday, 6, 1))
        container.clock.tick()
        by_address = {m["To"]: m for m in reports(container)}
        team_link = by_address["team@example.com"]["List-Unsubscribe"]
        # Opening the link (a mail scanner does) changes nothing; it shows a button.
        page = client.get(urlsplit(team_link.strip("<>")).path)
        assert page.status_code == 200 and "Stop these reports" in page.get_data(as_text=True)
        assert container.configuration.get_site(week.site_id).report_recipients == [
            "team@example.com"
        ]
        # The RFC 8058 one-click POST, as a mail client sends it (no CSRF token).
        done = _one_click(client, team_link)
        assert done.status_code == 200
        assert "gets no more reports" in done.get_data(as_text=True)
        assert _one_click(client, team_link).status_code == 200  # twice is harmless
        site = container.configuration.get_site(week.site_id)
        assert site.report_recipients == [] and site.reports_to_owner
        container.projections.catch_up()
        traveller.move_to(at(zone, monday + timedelta(days=7), 6, 1))
        container.clock.tick()
        assert [m["To"] for m in reports(container)][2:] == ["owner@example.com"]
        # The owner's own link turns the owner's report off; then nobody gets one.
        _one_click(client, by_address["owner@example.com"]["List-Unsubscribe"])
        assert not container.configuration.get_site(week.site_id).reports_to_owner
        traveller.move_to(at(zone, monday + timedelta(days=14), 6, 1))
        container.clock.tick()
        assert len(reports(container)) == 3
    # A forged or damaged token is not found.
    assert client.post("/reports/unsubscribe/forged", data={}).status_code == 404
    tampered = urlsplit(team_link.strip("<>")).path[:-2] + "xx"
    assert client.post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_report_jobs_and_mail_follow_zone_changes_archiving_and_erasure(
    container: Container, world: World
) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
        owner = world.account("owner@example.com", confirmed=True)
        site = world.site(owner, timezone="UTC")
        key = str(site.uuid)
        start_clock_jobs(container)
        container.clock.tick()
        assert container.schedule.get(REPORT_KIND, key).due_at == datetime(  # type: ignore[union-attr]
            2026, 11, 30, 6, tzinfo=UTC
        )
        container.configuration.change_site(site.uuid, SiteChanges(timezone="Asia/Tokyo"))
        container.projections.catch_up()
        container.reports.sync()
        job = container.schedule.get(REPORT_KIND, key)
        assert job is not None and job.due_at == at("Asia/Tokyo", date(2026, 11, 30), 6)
        container.configuration.change_site(site.uuid, SiteChanges(archived=True))
        container.projections.catch_up()
        container.reports.sync()
        assert container.schedule.get(REPORT_KIND, key) is None
        container.configuration.change_site(site.uuid, SiteChanges(archived=False))
        container.projections.catch_up()
        container.reports.sync()
        assert container.schedule.get(REPORT_KIND, key) is not None
        container.reports.send(site.uuid, manual=True)
        assert [p.message.to for p in container.mail_store.recent()] == ["owner@example.com"]
        container.erasure.delete_account(owner.uuid)
        assert container.schedule.get(REPORT_KIND, key) is None
        assert container.mail_store.recent() == []  # kept mail goes with the account
        assert container.schedule.get(SYNC_KIND, "all") is not None


def test_the_country_database_is_refreshed_on_the_clock(
    container: Container, tmp_path: Path
) -> None:
    target = tmp_path / "geo" / "geo-whois-asn-country.mmdb"
    fetched: list[Path] = []

    def fetch(workdir: Path) -> Path:
        fetched.append(workdir)
        return write_mmdb(workdir / "new.mmdb", {"8.8.8.0/24": {"country_code": "US"}})

    start = datetime(2026, 11, 30, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        geo = GeoRefresh(target, "this-host", fetch=fetch)
        clock = Clock(container.schedule, [geo.job_kind()], host="this-host")
        container.schedule.put([geo.initial_job()], replace=False)
        assert clock.tick(local_only=True) == 1
        assert target.is_file() and len(fetched) == 1
        # Monthly: nothing before 30 days, then fetched again.
        traveller.shift(timedelta(days=29))
        assert clock.tick(local_only=True) == 0
        traveller.shift(timedelta(days=1, seconds=1))
        assert clock.tick(local_only=True) == 1
        assert len(fetched) == 2
        # Another host's clock never fetches this host's file.
        other = Clock(container.schedule, [geo.job_kind()], host="elsewhere")
        traveller.shift(timedelta(days=31))
        assert other.tick() == 0
        job = container.schedule.get(GEO_KIND, "this-host")
        assert job is not None and job.host == "this-host"
