"""Dates at and past the ends of the calendar on every API endpoint that takes dates: a
400 naming the problem, never a 500; and the first and last dates that are served do
answer, in the farthest time zones. (The dashboard: tests/dashboard/test_far_dates.py.)"""

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import World, bearer

DATED_ENDPOINTS = ["hits", "hits?grouped=true", "hits?grouped=true&group_by=country", "kudos"]
DATED_ENDPOINTS += ["user_journeys"]
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago"]  # UTC+14 and UTC-11


def _get(client: FlaskClient, key: dict[str, str], site: Any, what: str, **params: str) -> Any:
    path, _, query = what.partition("?")
    extra = dict(pair.split("=") for pair in query.split("&")) if query else {}
    return client.get(
        f"/api/v1/sites/{site.id}/{path}", headers=key, query_string={**extra, **params}
    )


@pytest.fixture(params=ZONES)
def reader(request: pytest.FixtureRequest, world: World) -> tuple[dict[str, str], Any]:
    owner = world.account(timezone=request.param)
    return bearer(world.key(owner)), world.site(owner)


@pytest.mark.parametrize("what", DATED_ENDPOINTS)
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"end_date": "9999-12-31"}, "End date must be between 1970-01-01 and 9998-12-31"),
        ({"start_date": "9999-12-31"}, "Start date must be between 1970-01-01 and 9998-12-31"),
        ({"start_date": "0001-01-01"}, "Start date must be between 1970-01-01 and 9998-12-31"),
        ({"end_date": "0001-01-01"}, "End date must be between 1970-01-01 and 9998-12-31"),
        ({"end_date": "0001-01-15"}, "End date must be between"),
        (
            {"start_date": "0001-01-01", "end_date": "0001-01-01"},
            "Start date must be between",
        ),
        (
            {"start_date": "9999-12-30", "end_date": "9999-12-31"},
            "End date must be between",
        ),
        ({"start_date": "1969-12-31", "end_date": "1970-01-01"}, "Start date must be between"),
        ({"end_date": "99999-01-01"}, "End date must be a date"),
    ],
)
@pytest.mark.parametrize("time_zone", ["utc", "user"])
def test_dates_the_api_cannot_serve_are_400(
    client: FlaskClient,
    reader: tuple[dict[str, str], Any],
    what: str,
    params: dict[str, str],
    needle: str,
    time_zone: str,
) -> None:
    key, site = reader
    response = _get(client, key, site, what, time_zone=time_zone, **params)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    body = response.json
    assert set(body) == {"error", "errors"}
    assert any(e.startswith(needle) for e in body["errors"]), body
    assert body["error"].startswith("Invalid parameters: ")


@pytest.mark.parametrize("what", DATED_ENDPOINTS)
@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "9998-12-31", "end_date": "9998-12-31"},
        {"start_date": "9997-01-01", "end_date": "9998-12-31"},
        {"end_date": "9998-12-31"},
        {"start_date": "1970-01-01", "end_date": "1970-01-01"},
        {"end_date": "1970-01-05"},  # the default start, 30 days before, is not served
    ],
)
@pytest.mark.parametrize("time_zone", ["utc", "user"])
def test_the_first_and_last_dates_served_answer(
    client: FlaskClient,
    reader: tuple[dict[str, str], Any],
    what: str,
    params: dict[str, str],
    time_zone: str,
) -> None:
    key, site = reader
    response = _get(client, key, site, what, time_zone=time_zone, **params)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    filters = response.json["filters"]
    assert "1970-01-01" <= filters["start_date"] <= filters["end_date"] <= "9998-12-31"
