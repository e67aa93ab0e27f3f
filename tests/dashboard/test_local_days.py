"""Every dated view and answer counts a site's local days, exactly, in any zone.

Sites in Asia/Kathmandu (UTC+5:45), America/St_Johns (UTC-3:30, and -2:30 from its DST
change on 2026-03-08) and Europe/Berlin (a 23-hour day on 2026-03-29) get hits at the
first and last minute of a local day and just outside it. The dashboard (overview
totals, chart and breakdowns; events; export) shows each day in the site's zone, the
API (hits raw and grouped, kudos, user journeys) in the account's with
`time_zone=user`; both are the same zone here. "old" days are older than the hourly
rollups keep (their partial UTC days come from raw rows), "recent" ones are not.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.dashboard.conftest import Browser, custom_event, hit, record, text


@dataclass(frozen=True)
class Case:
    zone: str
    day: date  # the local day the hits are around


CASES = [
    Case("Asia/Kathmandu", date(2026, 3, 10)),
    Case("America/St_Johns", date(2026, 3, 8)),  # DST starts at 02:00 local
    Case("Europe/Berlin", date(2026, 3, 29)),  # 23 hours long
]
# Local times of the day (inside) and around it (outside), each hit on its own path.
INSIDE = [(0, 0, "/first-minute"), (1, 30, "/night"), (12, 0, "/noon"), (23, 59, "/last-minute")]
OUTSIDE = [(-1, "/day-before"), (1, "/day-after")]


def local(case: Case, day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(case.zone)).astimezone(UTC)


def instants(case: Case) -> dict[str, datetime]:
    found = {path: local(case, case.day, h, m) for h, m, path in INSIDE}
    for shift, path in OUTSIDE:
        # One minute before the day starts, and the very first minute of the next.
        if shift < 0:
            found[path] = local(case, case.day, 0, 0) - timedelta(minutes=1)
        else:
            found[path] = local(case, case.day + timedelta(days=1), 0, 0)
    return found


@pytest.fixture(params=CASES, ids=[c.zone for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["old", "recent"])
def now(request: pytest.FixtureRequest, case: Case) -> datetime:
    """The time the test runs at: long after the day, or two days after it."""
    if request.param == "old":
        return local(case, case.day + timedelta(days=60), 12, 0)
    return local(case, case.day + timedelta(days=2), 12, 0)


@pytest.fixture
def zoned(
    world: World, person: Browser, container: Container, case: Case, now: datetime
) -> dict[str, Any]:
    """An account and site in the zone, hits, custom events and kudos around the day."""
    with time_machine.travel(now, tick=False):
        account = world.account("zoned@example.com", timezone=case.zone)
        site = world.site(account, "https://zoned.example", timezone=case.zone)
        site_id = UUID(str(site.uuid))
        moments = instants(case)
        items: list[Any] = []
        for path, when in moments.items():
            items.append(hit(site_id, when, path, visitor_hash=f"v{path}", unique_hash=f"u{path}"))
            items.append(custom_event(site_id, when, "zone.check", path))
        record(container, items)
    for path, when in moments.items():
        with time_machine.travel(when, tick=False):
            container.tracking.give_kudo(site_id, path, None, "api")
    with time_machine.travel(now, tick=False):
        container.projections.catch_up()
        assert person.sign_in("zoned@example.com").status_code == 302
        key = world.key(account, "reader")
    return {"site": site, "key": bearer(key), "moments": moments}


INSIDE_PATHS = sorted(path for _h, _m, path in INSIDE)


def test_the_dashboard_shows_the_sites_local_day(
    zoned: dict[str, Any], person: Browser, case: Case, now: datetime
) -> None:
    site, day = zoned["site"], case.day.isoformat()
    with time_machine.travel(now, tick=False):
        one_day = person.get(f"/sites/{site.uid}?period=custom&start={day}&end={day}")
        shown = text(one_day)
        assert f"{len(INSIDE)} Hits, {day} to {day}" in shown
        pages = shown.split("Top pages", 1)[1].split("Referrers", 1)[0]
        assert sorted(re.findall(r"/[a-z-]+", pages)) == INSIDE_PATHS
        # A week around it: the chart's bars are the local days.
        start, end = case.day - timedelta(days=3), case.day + timedelta(days=3)
        week = person.get(
            f"/sites/{site.uid}?period=custom&start={start.isoformat()}&end={end.isoformat()}"
        )
        bars = dict(
            re.findall(
                r"<tr><td>\w{3} (\d+ \w{3} \d{4})</td><td class=\"num\">(\d+)</td>",
                week.get_data(as_text=True),
            )
        )

        def label(d: date) -> str:
            return f"{d.day} {d.strftime('%b')} {d.year}"

        assert bars[label(case.day)] == str(len(INSIDE))
        assert bars[label(case.day - timedelta(days=1))] == "1"
        assert bars[label(case.day + timedelta(days=1))] == "1"
        assert sum(int(n) for n in bars.values()) == len(INSIDE) + len(OUTSIDE)
        # The events tab counts the same day's events.
        events = text(person.get(f"/sites/{site.uid}/events?period=custom&start={day}&end={day}"))
        counts = events.split("Events and values", 1)[1].split("Latest events", 1)[0]
        assert "zone.check /noon 1" in counts
        counted = re.findall(r"zone\.check (/[a-z-]+) 1", counts)
        assert sorted(set(counted)) == INSIDE_PATHS
        # The export holds the day's hits and nothing else.
        export = person.get(f"/sites/{site.uid}/export?start={day}&end={day}")
        rows = list(csv.DictReader(io.StringIO(export.get_data().decode("utf-8-sig"))))
        assert sorted(r["path"] for r in rows) == INSIDE_PATHS


def test_the_api_answers_for_the_accounts_local_day(
    zoned: dict[str, Any], client: FlaskClient, case: Case, now: datetime
) -> None:
    site, key, day = zoned["site"], zoned["key"], case.day.isoformat()
    dated = f"start_date={day}&end_date={day}&time_zone=user"
    with time_machine.travel(now, tick=False):
        raw = client.get(f"/api/v1/sites/{site.id}/hits?{dated}", headers=key).get_json()
        assert sorted(h["path"] for h in raw["hits"]) == INSIDE_PATHS
        assert raw["filters"]["start_date"] == day and raw["filters"]["time_zone"] == "user"
        grouped = client.get(
            f"/api/v1/sites/{site.id}/hits?{dated}&grouped=true&group_by=path", headers=key
        ).get_json()
        assert sorted(g["path"] for g in grouped["grouped_hits"]) == INSIDE_PATHS
        assert all(g["views"] == 1 for g in grouped["grouped_hits"])
        for group_by in ("country", "source", "referrer"):
            found = client.get(
                f"/api/v1/sites/{site.id}/hits?{dated}&grouped=true&group_by={group_by}",
                headers=key,
            ).get_json()
            assert sum(g["hit_count"] for g in found["grouped_hits"]) == len(INSIDE), group_by
        kudos = client.get(f"/api/v1/sites/{site.id}/kudos?{dated}", headers=key).get_json()
        assert sorted(k["path"] for k in kudos["kudos"]) == INSIDE_PATHS
        journeys = client.get(
            f"/api/v1/sites/{site.id}/user_journeys?{dated}", headers=key
        ).get_json()
        assert journeys["summary"]["total_visitors"] == len(INSIDE)
        # In UTC the same dates name other instants: the answer differs where the zone does.
        utc_day = client.get(
            f"/api/v1/sites/{site.id}/hits?start_date={day}&end_date={day}", headers=key
        ).get_json()
        in_utc = {path for path, when in zoned["moments"].items() if when.date() == case.day}
        assert {h["path"] for h in utc_day["hits"]} == in_utc
