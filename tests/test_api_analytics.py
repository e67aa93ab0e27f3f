"""GET /sites/:id/hits, /leaderboard, /user_journeys and /sites counters, as api.md documents them.

Hits are recorded with chosen timestamps (tests/analytics_helpers.py) and every
answer is checked against a hand count of the hits that were made.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

import projections.traffic.schema as traffic_schema
from application.sites import SiteChanges
from infrastructure.bootstrap import Container
from interfaces.api import leaderboard as leaderboard_api
from tests.analytics_helpers import (
    HIT_FIELDS,
    Made,
    at,
    day_start,
    group_counts,
    grouped_as_counts,
    hit_event,
    interval,
    json_of,
    record,
    select_hits,
    traffic,
    unique_ids,
)
from tests.conftest import World, bearer

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
GROUP_BYS = ("path", "country", "referrer", "browser_name", "platform_name", "source")
RAW_FILTER_KEYS = {
    "start_date", "end_date", "time_zone", "country", "path", "referrer", "grouped",
}  # fmt: skip


@pytest.fixture(params=["hourly", "raw"])
def edges(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where a grouped answer reads the partial days at the edges of a range.

    Hourly rollups are kept for the last days only (projections.traffic.schema.hourly_horizon);
    these tests use fixed, older dates, so their edges come from the raw rows. With
    "hourly" the horizon moves into the past: every hit is recent and has hourly rows.
    """
    if request.param == "hourly":
        monkeypatch.setattr(traffic_schema, "hourly_horizon", lambda: LONG_AGO)
    return str(request.param)


@pytest.fixture
def owner(world: World) -> Any:
    return world.account()


@pytest.fixture
def site(world: World, owner: Any) -> Any:
    return world.site(owner, "https://example.com", label="My Blog")


@pytest.fixture
def ro(world: World, owner: Any) -> dict[str, str]:
    return bearer(world.key(owner, "reader"))


def read(
    client: FlaskClient, headers: dict[str, str], site_id: int, what: str, **params: Any
) -> Any:
    response = client.get(f"/api/v1/sites/{site_id}/{what}", headers=headers, query_string=params)
    assert response.is_json, response.data
    return response


def ok(client: FlaskClient, headers: dict[str, str], site_id: int, what: str, **params: Any) -> Any:
    response = read(client, headers, site_id, what, **params)
    assert response.status_code == 200, response.json
    return response.json


def all_raw(client: FlaskClient, headers: dict[str, str], site_id: int, **params: Any) -> list[Any]:
    """Every hit of a listing, reading page after page."""
    found: list[Any] = []
    page = 1
    while True:
        body = ok(client, headers, site_id, "hits", page=page, per_page=1000, **params)
        found += body["hits"]
        if page >= body["pagination"]["total_pages"]:
            return found
        page += 1


# -- raw hits ------------------------------------------------------------------------------
def test_raw_hits_answer_every_documented_field(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    made = record(
        container,
        [
            hit_event(
                site.uuid,
                at("2026-02-13T14:22:00.654321"),
                "/pricing",
                url="https://example.com/pricing",
                referrer="https://google.com",
                country="US",
                browser="Safari",
                platform="macOS",
                source="google",
            ),
            hit_event(site.uuid, at("2026-02-13T00:00:00"), "/", is_mobile=True, country="PL"),
            hit_event(site.uuid, at("2026-02-12T23:59:59.999999"), "/before"),
            hit_event(site.uuid, at("2026-02-14T00:00:00"), "/after"),
        ],
    )
    body = ok(client, ro, site.id, "hits", start_date="2026-02-13", end_date="2026-02-13")
    assert set(body) == {"hits", "pagination", "filters"}
    assert body["hits"] == [
        {
            "id": made[0].id,
            "url": "https://example.com/pricing",
            "path": "/pricing",
            "referrer": "https://google.com",
            "country": "US",
            "browser_name": "Safari",
            "platform_name": "macOS",
            "is_mobile": False,
            "source": "google",
            "created_at": "2026-02-13T14:22:00Z",
        },
        {
            "id": made[1].id,
            "url": None,
            "path": "/",
            "referrer": None,
            "country": "PL",
            "browser_name": None,
            "platform_name": None,
            "is_mobile": True,
            "source": None,
            "created_at": "2026-02-13T00:00:00Z",
        },
    ]
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_count": 2,
        "total_pages": 1,
    }
    assert body["filters"] == {
        "start_date": "2026-02-13",
        "end_date": "2026-02-13",
        "time_zone": "utc",
        "country": None,
        "path": None,
        "referrer": None,
        "grouped": False,
    }


def test_hit_ids_are_the_ids_the_write_api_answered(
    client: FlaskClient, world: World, container: Container, owner: Any, site: Any, ro: dict
) -> None:
    writer = bearer(world.key(owner, "writer", "full_access"))
    created = json_of(
        client.post(
            f"/api/v1/sites/{site.id}/hits",
            headers=writer,
            json={"path": "/pricing", "country": "DE", "referrer": "https://duckduckgo.com/"},
        )
    )["hit"]
    container.projections.catch_up()
    listed = ok(client, ro, site.id, "hits")["hits"]
    assert len(listed) == 1
    assert listed[0] == {k: created[k] for k in HIT_FIELDS}


def test_defaults_are_the_last_30_days_100_per_page_page_1(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=30)
    inside = [
        hit_event(site.uuid, day_start(first)),  # the first instant of the range
        hit_event(site.uuid, day_start(today)),  # midnight today
        *(
            hit_event(site.uuid, day_start(today - timedelta(days=10)) + timedelta(seconds=i))
            for i in range(103)
        ),
    ]
    outside = [
        hit_event(site.uuid, day_start(first) - timedelta(microseconds=1)),
        hit_event(site.uuid, day_start(today + timedelta(days=1))),  # tomorrow
    ]
    made = record(container, [*inside, *outside])
    body = ok(client, ro, site.id, "hits")
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test")
    assert body["filters"] == {
        "start_date": first.isoformat(),
        "end_date": today.isoformat(),
        "time_zone": "utc",
        "country": None,
        "path": None,
        "referrer": None,
        "grouped": False,
    }
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_count": 105,
        "total_pages": 2,
    }
    expected = [h.id for h in sorted(made[:105], key=lambda h: (h.at, h.id), reverse=True)]
    assert [h["id"] for h in body["hits"]] == expected[:100]
    second = ok(client, ro, site.id, "hits", page=2)
    assert [h["id"] for h in second["hits"]] == expected[100:]
    grouped = ok(client, ro, site.id, "hits", grouped="true")
    assert sum(r["views"] for r in grouped["grouped_hits"]) == 105
    assert grouped["filters"]["start_date"] == first.isoformat()


def test_newest_first_with_ties_broken_by_id_and_pages_that_add_up(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    moment = at("2026-01-10T12:00:00")
    events = [hit_event(site.uuid, moment, f"/same-{i}") for i in range(3)]
    events += [hit_event(site.uuid, moment + timedelta(minutes=i), f"/p{i}") for i in (5, -5, 1, 9)]
    made = record(container, events)
    expected = [h.id for h in sorted(made, key=lambda h: (h.at, h.id), reverse=True)]
    seen: list[int] = []
    for page in (1, 2, 3):
        body = ok(
            client,
            ro,
            site.id,
            "hits",
            start_date="2026-01-10",
            end_date="2026-01-10",
            per_page=3,
            page=page,
        )
        assert body["pagination"] == {
            "current_page": page,
            "per_page": 3,
            "total_count": 7,
            "total_pages": 3,
        }
        assert len(body["hits"]) == (3 if page < 3 else 1)
        seen += [h["id"] for h in body["hits"]]
    assert seen == expected
    assert [h.at for h in made[:3]] == [moment] * 3  # three hits really share one instant
    assert seen[3:6] == [made[2].id, made[1].id, made[0].id]  # the later id first
    beyond = ok(
        client,
        ro,
        site.id,
        "hits",
        start_date="2026-01-10",
        end_date="2026-01-10",
        per_page=3,
        page=4,
    )
    assert beyond["hits"] == []
    assert beyond["pagination"]["total_count"] == 7


def test_country_and_path_are_exact_filters(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    base = at("2026-03-03T10:00:00")
    specs = [
        ("/a", "DE"), ("/a", "US"), ("/a/", "DE"), ("/a/b", "DE"), ("/A", "DE"),
        ("/a?x=1", "DE"), ("/b", "DE"), ("/a", "XX"),
    ]  # fmt: skip
    made = record(
        container,
        [
            hit_event(site.uuid, base + timedelta(minutes=i), path, country=country)
            for i, (path, country) in enumerate(specs)
        ],
    )
    begin, finish = interval(date(2026, 3, 3), date(2026, 3, 3))
    dates = {"start_date": "2026-03-03", "end_date": "2026-03-03"}
    for params in (
        {"country": "DE"},
        {"path": "/a"},
        {"path": "/a", "country": "DE"},
        {"path": "/a?x=1"},
        {"path": "/nothing"},
        {"country": "FR"},
    ):
        body = ok(client, ro, site.id, "hits", **dates, **params)
        expected = select_hits(made, site.uuid, begin, finish, **params)
        assert [h["id"] for h in body["hits"]] == [h.id for h in expected], params
        assert body["filters"] == {
            **dates,
            "time_zone": "utc",
            "country": params.get("country"),
            "path": params.get("path"),
            "referrer": None,
            "grouped": False,
        }
    assert len(select_hits(made, site.uuid, begin, finish, path="/a", country="DE")) == 1
    # group_by without grouped=true changes nothing: a listing, and no group_by echoed.
    listing = ok(client, ro, site.id, "hits", **dates, country="DE", group_by="country")
    assert set(listing) == {"hits", "pagination", "filters"}
    assert set(listing["filters"]) == RAW_FILTER_KEYS
    assert listing["pagination"]["total_count"] == 6


def test_referrer_is_a_case_insensitive_partial_match_with_literal_wildcards(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    referrers = [
        "https://www.Google.com/search",
        "https://google.de/",
        "https://news.ycombinator.com/item",
        None,
        "https://shop.example/50%_off",
        "https://shop.example/50xyoff",
        "https://shop.example/a\\b",
        "https://shop.example/100%25",
    ]
    base = at("2026-03-04T08:00:00")
    made = record(
        container,
        [
            hit_event(site.uuid, base + timedelta(minutes=i), referrer=r)
            for i, r in enumerate(referrers)
        ],
    )
    begin, finish = interval(date(2026, 3, 4), date(2026, 3, 4))
    expectations = {
        "GOOGLE": 2,
        "google.com": 1,
        "50%_": 1,
        "%": 2,
        "_": 1,
        "\\": 1,
        "0%2": 1,
        "XY": 1,
        "SHOP.EXAMPLE/": 4,
    }
    for needle, count in expectations.items():
        body = ok(
            client,
            ro,
            site.id,
            "hits",
            start_date="2026-03-04",
            end_date="2026-03-04",
            referrer=needle,
        )
        expected = select_hits(made, site.uuid, begin, finish, referrer=needle)
        assert len(expected) == count, needle  # the hand count agrees with this table
        assert [h["id"] for h in body["hits"]] == [h.id for h in expected], needle
        assert body["filters"]["referrer"] == needle
        grouped = ok(
            client,
            ro,
            site.id,
            "hits",
            start_date="2026-03-04",
            end_date="2026-03-04",
            referrer=needle,
            grouped="true",
            group_by="referrer",
        )
        assert grouped_as_counts(grouped["grouped_hits"], "referrer") == {
            value: (hits, 0)
            for value, (hits, _) in group_counts(made, expected, "referrer").items()
        }, needle


# -- grouped -------------------------------------------------------------------------------
@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_grouped_counts_match_a_hand_count_with_and_without_filters(
    client: FlaskClient, container: Container, site: Any, ro: dict, group_by: str, edges: str
) -> None:
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(5)]
    made = record(container, traffic(site, 7, days, 300))
    for start, end in ((days[0], days[-1]), (days[1], days[2]), (days[3], days[3])):
        begin, finish = interval(start, end)
        dates = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        for filters in (
            {},
            {"country": "DE"},
            {"path": "/blog"},
            {"referrer": "GOOGLE"},
            {"country": "US", "referrer": "news", "path": "/pricing"},
        ):
            body = ok(
                client,
                ro,
                site.id,
                "hits",
                **dates,
                grouped="true",
                group_by=group_by,
                per_page=1000,
                **filters,
            )
            selected = select_hits(made, site.uuid, begin, finish, **filters)
            expected = group_counts(made, selected, group_by)
            if group_by != "path":
                expected = {value: (hits, 0) for value, (hits, _) in expected.items()}
            rows = body["grouped_hits"]
            assert grouped_as_counts(rows, group_by) == expected, (start, end, filters)
            keys = (
                {"path", "views", "unique_views"} if group_by == "path" else {group_by, "hit_count"}
            )
            assert all(set(row) == keys for row in rows)
            counts = [row["views" if group_by == "path" else "hit_count"] for row in rows]
            assert counts == sorted(counts, reverse=True)
            assert body["pagination"]["total_count"] == len(rows)
            assert body["filters"] == {
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "time_zone": "utc",
                "country": filters.get("country"),
                "path": filters.get("path"),
                "referrer": filters.get("referrer"),
                "grouped": True,
                "group_by": group_by,
            }
            raw = ok(client, ro, site.id, "hits", **dates, **filters)
            assert sum(counts) == raw["pagination"]["total_count"] == len(selected)


def test_grouped_answers_page_like_raw_ones(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    days = [date(2026, 2, 1), date(2026, 2, 2)]
    record(container, traffic(site, 3, days, 120))
    params = {"start_date": "2026-02-01", "end_date": "2026-02-02", "grouped": "true"}
    whole = ok(client, ro, site.id, "hits", group_by="country", **params)
    assert whole["pagination"]["per_page"] == 100
    rows: list[Any] = []
    for page in (1, 2):
        body = ok(client, ro, site.id, "hits", group_by="country", per_page=2, page=page, **params)
        assert body["pagination"] == {
            "current_page": page,
            "per_page": 2,
            "total_count": 4,
            "total_pages": 2,
        }
        rows += body["grouped_hits"]
    assert rows == whole["grouped_hits"]
    default = ok(client, ro, site.id, "hits", **params)
    assert default["filters"]["group_by"] == "path"
    assert {"path", "views"} <= set(default["grouped_hits"][0])


def test_unique_views_count_once_per_path_visitor_and_utc_day(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str], edges: str
) -> None:
    s = site.uuid
    made = record(
        container,
        [
            hit_event(s, at("2026-05-01T00:00:00"), "/a", visitor="ann"),
            hit_event(s, at("2026-05-01T11:59:59"), "/a", visitor="ann"),
            hit_event(s, at("2026-05-01T12:00:00"), "/a", visitor="ann", country="DE"),
            hit_event(s, at("2026-05-01T23:59:59"), "/a", visitor="ann"),
            hit_event(s, at("2026-05-02T00:00:00"), "/a", visitor="ann"),
            hit_event(s, at("2026-05-01T09:00:00"), "/b", visitor="ann"),
            hit_event(s, at("2026-05-01T09:30:00"), "/a", visitor="bob"),
            hit_event(s, at("2026-05-02T09:30:00"), "/a", visitor="bob"),
        ],
    )
    assert len(unique_ids(made)) == 5

    def views(start: str, end: str, **filters: str) -> dict[str | None, tuple[int, int]]:
        body = ok(
            client,
            ro,
            site.id,
            "hits",
            start_date=start,
            end_date=end,
            grouped="true",
            group_by="path",
            **filters,
        )
        return grouped_as_counts(body["grouped_hits"], "path")

    assert views("2026-05-01", "2026-05-02") == {"/a": (7, 4), "/b": (1, 1)}
    assert views("2026-05-01", "2026-05-01") == {"/a": (5, 2), "/b": (1, 1)}
    assert views("2026-05-02", "2026-05-02") == {"/a": (2, 2)}
    # The unique hit is ann's first of the day, not the one from Germany.
    assert views("2026-05-01", "2026-05-01", country="DE") == {"/a": (1, 0)}


def test_unique_views_are_left_out_when_the_site_does_not_track_them(
    client: FlaskClient, world: World, container: Container, owner: Any, ro: dict[str, str]
) -> None:
    quiet = world.site(owner, "https://quiet.example")
    container.configuration.change_site(quiet.uuid, SiteChanges(unique_tracking=False))
    container.collection._cache.clear()
    container.projections.catch_up()
    record(
        container,
        [hit_event(quiet.uuid, at("2026-05-01T10:00:00"), "/x", uniques=False) for _ in range(3)],
    )
    body = ok(
        client,
        ro,
        quiet.id,
        "hits",
        start_date="2026-05-01",
        end_date="2026-05-01",
        grouped="true",
        group_by="path",
    )
    assert body["grouped_hits"] == [{"path": "/x", "views": 3}]
    by_country = ok(
        client,
        ro,
        quiet.id,
        "hits",
        start_date="2026-05-01",
        end_date="2026-05-01",
        grouped="true",
        group_by="country",
    )
    assert by_country["grouped_hits"] == [{"country": "XX", "hit_count": 3}]


# -- time zones ----------------------------------------------------------------------------
def zone_case(
    client: FlaskClient,
    container: Container,
    owner: Any,
    site: Any,
    ro: dict[str, str],
    zone: str,
    day: str,
    inside: list[str],
    outside: list[str],
) -> None:
    """Hits at `inside` fall on `day` in `zone` and those at `outside` do not."""
    container.configuration.change_account_timezone(owner.uuid, zone)
    made = record(
        container,
        [hit_event(site.uuid, at(t), f"/in/{t}", country="DE") for t in inside]
        + [hit_event(site.uuid, at(t), f"/out/{t}", country="US") for t in outside],
    )
    wanted = {h.id for h in made[: len(inside)]}
    raw = all_raw(client, ro, site.id, start_date=day, end_date=day, time_zone="user")
    assert {h["id"] for h in raw} == wanted, zone
    body = ok(
        client,
        ro,
        site.id,
        "hits",
        start_date=day,
        end_date=day,
        time_zone="user",
        grouped="true",
        group_by="path",
        per_page=1000,
    )
    assert body["filters"]["time_zone"] == "user"
    assert {r["path"]: r["views"] for r in body["grouped_hits"]} == {
        f"/in/{t}": inside.count(t) for t in inside
    }
    by_country = ok(
        client,
        ro,
        site.id,
        "hits",
        start_date=day,
        end_date=day,
        time_zone="user",
        grouped="true",
        group_by="country",
    )
    assert by_country["grouped_hits"] == [{"country": "DE", "hit_count": len(inside)}]


def test_user_time_zone_across_the_spring_dst_change_in_berlin(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict, edges: str
) -> None:
    # 2026-03-29 in Berlin lasts 23 hours: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    zone_case(
        client, container, owner, site, ro, "Europe/Berlin", "2026-03-29",
        inside=["2026-03-28T23:00:00", "2026-03-29T00:59:59", "2026-03-29T01:00:00",
                "2026-03-29T01:30:00", "2026-03-29T12:00:00", "2026-03-29T21:59:59"],
        outside=["2026-03-28T22:59:59", "2026-03-29T22:00:00", "2026-03-29T23:30:00"],
    )  # fmt: skip
    # The same hits by UTC days: another set.
    utc_day = all_raw(client, ro, site.id, start_date="2026-03-29", end_date="2026-03-29")
    assert sorted(h["created_at"] for h in utc_day) == [
        "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z",
        "2026-03-29T12:00:00Z", "2026-03-29T21:59:59Z", "2026-03-29T22:00:00Z",
        "2026-03-29T23:30:00Z",
    ]  # fmt: skip


def test_user_time_zone_across_the_autumn_dst_change_in_new_york(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict, edges: str
) -> None:
    # 2026-11-01 in New York lasts 25 hours: 04:00Z to 2026-11-02T05:00Z; 01:30 happens twice.
    zone_case(
        client, container, owner, site, ro, "America/New_York", "2026-11-01",
        inside=["2026-11-01T04:00:00", "2026-11-01T05:30:00", "2026-11-01T06:30:00",
                "2026-11-02T04:00:00", "2026-11-02T04:59:59"],
        outside=["2026-11-01T03:59:59", "2026-11-02T05:00:00", "2026-10-31T12:00:00"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "day", "inside", "outside"),
    [
        # Asia/Kolkata is UTC+5:30: 2026-02-13 is 2026-02-12T18:30Z to 2026-02-13T18:30Z.
        (
            "Asia/Kolkata",
            "2026-02-13",
            ["2026-02-12T18:30:00", "2026-02-12T18:59:59", "2026-02-12T19:00:00",
             "2026-02-13T00:00:00", "2026-02-13T17:59:59", "2026-02-13T18:00:00",
             "2026-02-13T18:29:59"],
            ["2026-02-12T18:29:59", "2026-02-12T18:00:00", "2026-02-13T18:30:00",
             "2026-02-13T18:45:00"],
        ),
        # Asia/Kathmandu is UTC+5:45: 2026-02-13 is 2026-02-12T18:15Z to 2026-02-13T18:15Z.
        (
            "Asia/Kathmandu",
            "2026-02-13",
            ["2026-02-12T18:15:00", "2026-02-12T18:59:59", "2026-02-12T19:00:00",
             "2026-02-13T18:00:00", "2026-02-13T18:14:59"],
            ["2026-02-12T18:14:59", "2026-02-12T18:00:00", "2026-02-13T18:15:00",
             "2026-02-13T18:59:59"],
        ),
        # America/St_Johns is UTC-3:30 in winter.
        (
            "America/St_Johns",
            "2026-01-20",
            ["2026-01-20T03:30:00", "2026-01-20T03:59:59", "2026-01-21T03:00:00",
             "2026-01-21T03:29:59"],
            ["2026-01-20T03:29:59", "2026-01-21T03:30:00", "2026-01-20T03:00:00"],
        ),
    ],
)  # fmt: skip
def test_user_time_zone_with_sub_hour_offsets_counts_the_edges_exactly(
    client: FlaskClient,
    container: Container,
    owner: Any,
    site: Any,
    ro: dict[str, str],
    zone: str,
    day: str,
    inside: list[str],
    outside: list[str],
    edges: str,
) -> None:
    zone_case(client, container, owner, site, ro, zone, day, inside, outside)


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
     "Pacific/Chatham", "Australia/Lord_Howe"],
)  # fmt: skip
def test_grouped_and_raw_agree_with_the_hand_count_in_any_zone(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict, zone: str,
    edges: str,
) -> None:  # fmt: skip
    container.configuration.change_account_timezone(owner.uuid, zone)
    days = [date(2026, 3, 25) + timedelta(days=i) for i in range(10)]  # across DST changes
    made = record(container, traffic(site, 11, days, 400))
    for start, end in (
        (date(2026, 3, 26), date(2026, 3, 26)),
        (date(2026, 3, 27), date(2026, 3, 30)),
        (date(2026, 3, 25), date(2026, 4, 3)),
    ):
        begin, finish = interval(start, end, zone)
        dates = {"start_date": start.isoformat(), "end_date": end.isoformat(), "time_zone": "user"}
        for filters in ({}, {"country": "PL"}, {"referrer": "t.co"}):
            selected = select_hits(made, site.uuid, begin, finish, **filters)
            raw = all_raw(client, ro, site.id, **dates, **filters)
            assert [h["id"] for h in raw] == [h.id for h in selected], (zone, start, end)
            for group_by in ("path", "country"):
                body = ok(
                    client,
                    ro,
                    site.id,
                    "hits",
                    grouped="true",
                    group_by=group_by,
                    per_page=1000,
                    **dates,
                    **filters,
                )
                expected = group_counts(made, selected, group_by)
                if group_by != "path":
                    expected = {k: (v[0], 0) for k, v in expected.items()}
                assert grouped_as_counts(body["grouped_hits"], group_by) == expected, (
                    zone, start, end, filters, group_by,
                )  # fmt: skip


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "America/New_York"])
def test_ranges_across_the_real_hourly_horizon(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict, zone: str
) -> None:
    """Recent hits have hourly rollups, older ones daily rollups and raw rows only: ranges
    whose edges fall on either side of the horizon, or on it, still count every hit once."""
    container.configuration.change_account_timezone(owner.uuid, zone)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=i) for i in range(12)]
    horizon = traffic_schema.hourly_horizon()
    near = [horizon + timedelta(seconds=s) for s in (-3601, -1, 0, 1, 1799, 3599, 3600, 7200)]
    made = record(
        container,
        sorted(
            [*traffic(site, 13, days, 400), *(hit_event(site.uuid, m, "/near") for m in near)],
            key=lambda e: e.timestamp,
        ),
    )
    for back in range(11):
        start = today - timedelta(days=back)
        for end in (start, today):
            begin, finish = interval(start, end, zone)
            dates = {"start_date": start.isoformat(), "end_date": end.isoformat()}
            selected = select_hits(made, site.uuid, begin, finish)
            body = ok(client, ro, site.id, "hits", **dates, time_zone="user", grouped="true",
                      per_page=1000)  # fmt: skip
            expected = group_counts(made, selected, "path")
            assert grouped_as_counts(body["grouped_hits"], "path") == expected, (start, end)
            raw = ok(client, ro, site.id, "hits", **dates, time_zone="user", per_page=1)
            assert raw["pagination"]["total_count"] == len(selected)


def test_utc_mode_ignores_the_account_time_zone(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict[str, str]
) -> None:
    container.configuration.change_account_timezone(owner.uuid, "Asia/Kolkata")
    made = record(
        container,
        [
            hit_event(site.uuid, at("2026-02-12T19:00:00")),
            hit_event(site.uuid, at("2026-02-13T19:00:00")),
        ],
    )
    day = {"start_date": "2026-02-13", "end_date": "2026-02-13"}
    assert [h["id"] for h in all_raw(client, ro, site.id, **day, time_zone="utc")] == [made[1].id]
    assert [h["id"] for h in all_raw(client, ro, site.id, **day, time_zone="user")] == [made[0].id]


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("what", "params", "needle"),
    [
        ("hits", {"start_date": "2026-13-01"}, "Start date must be a date as YYYY-MM-DD"),
        ("hits", {"end_date": "yesterday"}, "End date must be a date as YYYY-MM-DD"),
        ("hits", {"start_date": "2026-02-30"}, "Start date must be a date"),
        ("hits", {"start_date": "26-1-1"}, "Start date must be a date"),
        ("hits", {"start_date": "2026-03-02", "end_date": "2026-03-01"},
         "Start date must be on or before end date"),
        ("hits", {"start_date": "2024-01-01", "end_date": "2025-12-31"},
         "Date range is too long: at most 730 days"),
        ("hits", {"start_date": "2000-01-01"}, "Date range is too long"),
        ("hits", {"start_date": "2999-01-01"}, "Start date must be on or before end date"),
        ("hits", {"grouped": "true", "group_by": "city"}, "Group by must be one of"),
        ("hits", {"grouped": "perhaps"}, "Grouped must be true or false"),
        ("hits", {"per_page": "0"}, "Per page must be between 1 and 1000"),
        ("hits", {"per_page": "1001"}, "Per page must be between 1 and 1000"),
        ("hits", {"per_page": "abc"}, "Per page must be a number"),
        ("hits", {"per_page": "1.5"}, "Per page must be a number"),
        ("hits", {"page": "0"}, "Page must be a positive number"),
        ("hits", {"page": "-3"}, "Page must be a positive number"),
        ("hits", {"page": "x"}, "Page must be a number"),
        ("hits", {"time_zone": "mars"}, "Time zone must be 'utc' or 'user'"),
        ("hits", {"country": "DEU"}, "Country must be a 2-letter code"),
        ("user_journeys", {"per_page": "51"}, "Per page must be between 1 and 50"),
        ("user_journeys", {"per_page": "0"}, "Per page must be between 1 and 50"),
        ("user_journeys", {"start_date": "2026-13-01"}, "Start date must be a date"),
        ("user_journeys", {"time_zone": "mars"}, "Time zone must be 'utc' or 'user'"),
        ("user_journeys", {"start_date": "2024-01-01", "end_date": "2026-01-01"},
         "Date range is too long"),
        ("user_journeys", {"page": "x"}, "Page must be a number"),
        ("leaderboard", {"per_page": "1001"}, "Per page must be between 1 and 1000"),
        ("leaderboard", {"per_page": "abc"}, "Per page must be a number"),
        ("leaderboard", {"page": "0"}, "Page must be a positive number"),
    ],
)  # fmt: skip
def test_bad_parameters_are_400_naming_the_problem(
    client: FlaskClient, site: Any, ro: dict[str, str], what: str, params: dict, needle: str
) -> None:
    response = read(client, ro, site.id, what, **params)
    assert response.status_code == 400, response.json
    body = response.json
    assert set(body) == {"error", "errors"}
    assert isinstance(body["error"], str) and isinstance(body["errors"], list)
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"])
    assert any(e.startswith(needle) for e in body["errors"]), body
    assert needle in body["error"]


def test_every_problem_is_listed_at_once(client: FlaskClient, site: Any, ro: dict) -> None:
    response = read(client, ro, site.id, "hits", start_date="x", per_page="0", time_zone="mars")
    assert response.status_code == 400
    errors = response.json["errors"]
    for needle in ("Start date must be", "Per page must be", "Time zone must be"):
        assert any(e.startswith(needle) for e in errors), errors


def test_the_longest_range_is_730_days(client: FlaskClient, site: Any, ro: dict) -> None:
    # 2024-01-01 .. 2025-12-30 is 730 days, both ends included.
    body = ok(client, ro, site.id, "hits", start_date="2024-01-01", end_date="2025-12-30")
    assert body["filters"]["start_date"] == "2024-01-01"
    ok(client, ro, site.id, "user_journeys", start_date="2024-01-01", end_date="2025-12-30")


def test_other_accounts_and_unknown_sites_are_404_and_no_key_is_401(
    client: FlaskClient, world: World, site: Any, ro: dict[str, str]
) -> None:
    stranger = world.account("stranger@example.com")
    theirs = world.site(stranger, "https://theirs.example")
    for what in ("hits", "leaderboard", "user_journeys"):
        for site_id in (theirs.id, 999_999, 10**30):
            response = read(client, ro, site_id, what)
            assert response.status_code == 404, (what, site_id, response.json)
            assert set(response.json) == {"error"}
        anonymous = client.get(f"/api/v1/sites/{site.id}/{what}")
        assert anonymous.status_code == 401
        assert set(json_of(anonymous)) == {"error"}


# -- leaderboard ---------------------------------------------------------------------------
def test_leaderboard_ranks_lifetime_paths_with_percentages(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    old = at("2024-06-01T10:00:00")  # all-time: years-old hits count too
    events = []
    for path, hits, visitors in (
        ("/blog/hello-world", 5, 2),
        ("/Blog", 3, 3),
        ("/pricing", 2, 1),
        ("/", 1, 1),
    ):
        for i in range(hits):
            events.append(
                hit_event(site.uuid, old + timedelta(minutes=i), path, visitor=f"v{i % visitors}")
            )
    made = record(container, sorted(events, key=lambda e: e.timestamp))
    assert len(unique_ids(made)) == 7
    leaderboard_api.forget_cached()
    body = ok(client, ro, site.id, "leaderboard")
    assert set(body) == {"leaderboard", "site", "pagination", "cache_info", "filters"}
    assert body["leaderboard"] == [
        {"path": "/blog/hello-world", "total_hits": 5, "unique_hits": 2, "percentage": 45.5},
        {"path": "/Blog", "total_hits": 3, "unique_hits": 3, "percentage": 27.3},
        {"path": "/pricing", "total_hits": 2, "unique_hits": 1, "percentage": 18.2},
        {"path": "/", "total_hits": 1, "unique_hits": 1, "percentage": 9.1},
    ]
    assert body["site"] == {
        "id": site.id,
        "uid": container.configuration.get_site(site.uuid).uid,
        "url": "https://example.com",
        "label": "My Blog",
    }
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_count": 4,
        "total_pages": 1,
    }
    assert body["filters"] == {"path": None}
    cached_at = datetime.fromisoformat(body["cache_info"]["cached_at"].replace("Z", "+00:00"))
    expires_at = datetime.fromisoformat(body["cache_info"]["expires_at"].replace("Z", "+00:00"))
    assert body["cache_info"]["cached_at"].endswith("Z")
    assert abs(datetime.now(UTC) - cached_at) < timedelta(minutes=1)
    assert expires_at - cached_at == timedelta(seconds=leaderboard_api.CACHE_SECONDS)

    blog = ok(client, ro, site.id, "leaderboard", path="BLOG")
    assert [r["path"] for r in blog["leaderboard"]] == ["/blog/hello-world", "/Blog"]
    assert blog["leaderboard"][0]["percentage"] == 45.5  # still of all the site's hits
    assert blog["pagination"]["total_count"] == 2
    assert blog["filters"] == {"path": "BLOG"}
    second = ok(client, ro, site.id, "leaderboard", per_page=3, page=2)
    assert [r["path"] for r in second["leaderboard"]] == ["/"]
    assert second["pagination"] == {
        "current_page": 2,
        "per_page": 3,
        "total_count": 4,
        "total_pages": 2,
    }
    assert ok(client, ro, site.id, "leaderboard", path="%")["leaderboard"] == []


def test_leaderboard_is_cached_until_dropped(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    record(container, [hit_event(site.uuid, at("2026-01-01T10:00:00"), "/a")])
    leaderboard_api.forget_cached()
    first = ok(client, ro, site.id, "leaderboard")
    assert [(r["path"], r["total_hits"]) for r in first["leaderboard"]] == [("/a", 1)]
    record(container, [hit_event(site.uuid, at("2026-01-01T11:00:00"), "/b") for _ in range(2)])
    cached = ok(client, ro, site.id, "leaderboard")
    assert cached["leaderboard"] == first["leaderboard"]
    assert cached["cache_info"] == first["cache_info"]
    leaderboard_api.forget_cached(site.uuid)
    fresh = ok(client, ro, site.id, "leaderboard")
    assert [(r["path"], r["total_hits"], r["percentage"]) for r in fresh["leaderboard"]] == [
        ("/b", 2, 66.7),
        ("/a", 1, 33.3),
    ]


def test_empty_leaderboard(client: FlaskClient, site: Any, ro: dict[str, str]) -> None:
    leaderboard_api.forget_cached()
    body = ok(client, ro, site.id, "leaderboard")
    assert body["leaderboard"] == []
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_count": 0,
        "total_pages": 0,
    }


# -- user journeys -------------------------------------------------------------------------
def test_user_journeys_follow_each_visitor_in_order(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    s = site.uuid
    t0 = at("2026-01-15T10:00:00")
    made = record(
        container,
        [
            hit_event(
                s,
                t0,
                "/",
                visitor="ann",
                referrer="https://google.com",
                country="DE",
                browser="Firefox",
            ),
            hit_event(s, t0 + timedelta(minutes=2), "/blog", visitor="ann", country="FR"),
            hit_event(s, t0 + timedelta(minutes=5), "/blog/hello-world", visitor="ann"),
            hit_event(s, t0 + timedelta(minutes=12, seconds=59), "/pricing", visitor="ann"),
            hit_event(
                s, t0 + timedelta(hours=1), "/", visitor="bob", country="US", browser="Chrome"
            ),
            hit_event(s, t0 + timedelta(hours=2), "/blog", visitor="cy", country="PL"),
            hit_event(s, t0 + timedelta(hours=2, seconds=30), "/pricing", visitor="cy"),
            hit_event(s, t0 + timedelta(hours=3), "/lonely", uniques=False),  # no visitor hash
            hit_event(s, at("2026-01-16T10:00:00"), "/next-day", visitor="ann"),
        ],
    )
    params = {"start_date": "2026-01-15", "end_date": "2026-01-15"}
    body = ok(client, ro, site.id, "user_journeys", **params)
    assert set(body) == {"user_journeys", "summary", "insights", "pagination", "filters"}
    journeys = body["user_journeys"]
    # The visitor seen last comes first.
    assert [j["visitor_hash"] for j in journeys] == [
        made[5].visitor_hash, made[4].visitor_hash, made[0].visitor_hash,
    ]  # fmt: skip
    cy, bob, ann = journeys
    assert ann == {
        "visitor_hash": made[0].visitor_hash,
        "page_count": 4,
        "first_hit": "2026-01-15T10:00:00Z",
        "last_hit": "2026-01-15T10:12:59Z",
        "duration_minutes": 12,
        "pages": [{"path": p} for p in ("/", "/blog", "/blog/hello-world", "/pricing")],
        "entry_page": "/",
        "exit_page": "/pricing",
        "session_duration": 779,
        "referrer": "https://google.com",
        "country": "DE",
        "browser": "Firefox",
    }
    assert bob["pages"] == [{"path": "/"}] and bob["page_count"] == 1
    assert bob["entry_page"] == bob["exit_page"] == "/"
    assert bob["session_duration"] == 0 and bob["duration_minutes"] == 0
    assert (bob["referrer"], bob["country"], bob["browser"]) == (None, "US", "Chrome")
    assert cy["session_duration"] == 30 and cy["duration_minutes"] == 0
    assert (cy["entry_page"], cy["exit_page"]) == ("/blog", "/pricing")
    assert body["summary"] == {
        "total_visitors": 3,
        "multi_page_visitors": 2,
        "single_page_visitors": 1,
        "bounce_rate": 33.3,
    }
    assert body["insights"] == {
        "top_entry_pages": [{"path": "/", "visitors": 2}, {"path": "/blog", "visitors": 1}],
        "top_exit_pages": [{"path": "/pricing", "visitors": 2}, {"path": "/", "visitors": 1}],
    }
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 50,
        "total_count": 3,
        "total_pages": 1,
    }
    assert body["filters"] == {**params, "time_zone": "utc"}

    first = ok(client, ro, site.id, "user_journeys", per_page=2, **params)
    second = ok(client, ro, site.id, "user_journeys", per_page=2, page=2, **params)
    assert first["user_journeys"] + second["user_journeys"] == journeys
    assert second["pagination"] == {
        "current_page": 2,
        "per_page": 2,
        "total_count": 3,
        "total_pages": 2,
    }
    assert second["summary"] == body["summary"] and second["insights"] == body["insights"]
    assert (
        ok(client, ro, site.id, "user_journeys", per_page=50, **params)["pagination"]["per_page"]
        == 50
    )

    both_days = ok(
        client, ro, site.id, "user_journeys", start_date="2026-01-15", end_date="2026-01-16"
    )
    # A visitor hash is per UTC day: ann's next day is a visit of its own.
    assert both_days["summary"]["total_visitors"] == 4
    assert both_days["user_journeys"][0]["pages"] == [{"path": "/next-day"}]


def test_user_journeys_in_the_account_time_zone(
    client: FlaskClient, container: Container, owner: Any, site: Any, ro: dict[str, str]
) -> None:
    container.configuration.change_account_timezone(owner.uuid, "Asia/Kolkata")
    record(
        container,
        [
            hit_event(site.uuid, at("2026-02-12T18:29:59"), "/before", visitor="ann"),
            hit_event(site.uuid, at("2026-02-12T18:30:00"), "/first", visitor="ann"),
            hit_event(site.uuid, at("2026-02-13T18:29:59"), "/last", visitor="bob"),
            hit_event(site.uuid, at("2026-02-13T18:30:00"), "/after", visitor="bob"),
        ],
    )
    body = ok(
        client,
        ro,
        site.id,
        "user_journeys",
        start_date="2026-02-13",
        end_date="2026-02-13",
        time_zone="user",
    )
    assert sorted(p["path"] for j in body["user_journeys"] for p in j["pages"]) == [
        "/first", "/last",
    ]  # fmt: skip
    assert body["filters"]["time_zone"] == "user"


def test_no_journeys_means_zero_not_a_division_by_zero(
    client: FlaskClient, site: Any, ro: dict[str, str]
) -> None:
    body = ok(client, ro, site.id, "user_journeys")
    assert body["user_journeys"] == []
    assert body["summary"] == {
        "total_visitors": 0,
        "multi_page_visitors": 0,
        "single_page_visitors": 0,
        "bounce_rate": 0.0,
    }
    assert body["insights"] == {"top_entry_pages": [], "top_exit_pages": []}


# -- /sites counters -----------------------------------------------------------------------
def test_sites_show_lifetime_counters_from_the_projection(
    client: FlaskClient, world: World, container: Container, owner: Any, site: Any, ro: dict
) -> None:
    empty = world.site(owner, "https://empty.example")
    stranger = world.account("stranger@example.com")
    theirs = world.site(stranger, "https://theirs.example")
    s = site.uuid
    record(
        container,
        [
            hit_event(s, at("2023-05-01T10:00:00"), "/a", visitor="ann"),
            hit_event(s, at("2023-05-01T11:00:00"), "/a", visitor="ann"),
            hit_event(s, at("2026-01-01T10:00:00"), "/a", visitor="ann"),
            hit_event(s, at("2026-01-01T10:00:00"), "/b", visitor="ann"),
            hit_event(s, at("2026-01-02T10:00:00"), "/b", uniques=False),
            hit_event(theirs.uuid, at("2026-01-01T10:00:00"), "/x", visitor="zed"),
        ],
    )
    expected = {
        site.id: (5, 3),
        empty.id: (0, 0),
    }
    listed = client.get("/api/v1/sites", headers=ro)
    assert listed.status_code == 200
    counters = {
        s["id"]: (s["lifetime_hits"], s["lifetime_unique_hits"]) for s in json_of(listed)["sites"]
    }
    assert counters == expected
    for site_id, (hits, uniques) in expected.items():
        one = json_of(client.get(f"/api/v1/sites/{site_id}", headers=ro))
        assert (one["lifetime_hits"], one["lifetime_unique_hits"]) == (hits, uniques)
    record(container, [hit_event(empty.uuid, at("2026-01-03T10:00:00"), "/", visitor="new")])
    one = json_of(client.get(f"/api/v1/sites/{empty.id}", headers=ro))
    assert (one["lifetime_hits"], one["lifetime_unique_hits"]) == (1, 1)
    listed_again = json_of(client.get("/api/v1/sites", headers=ro))["sites"]
    assert {s["id"]: s["lifetime_hits"] for s in listed_again} == {site.id: 5, empty.id: 1}


def test_made_hits_are_what_the_listing_shows(
    client: FlaskClient, container: Container, site: Any, ro: dict[str, str]
) -> None:
    """The helper's hand model itself: a listing of everything equals `Made.as_api`."""
    made: list[Made] = record(container, traffic(site, 5, [date(2026, 4, 1)], 40))
    listed = all_raw(client, ro, site.id, start_date="2026-04-01", end_date="2026-04-01")
    assert listed == [h.as_api() for h in sorted(made, key=lambda h: (h.at, h.id), reverse=True)]
