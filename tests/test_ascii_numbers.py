"""Whole numbers in URLs are ASCII digits only: Python's int() and the regex `\\d` also take
twelve written in Arabic-Indic or fullwidth digits, which would name site 12 under
another spelling. Site ids in API paths are 404 then, and page numbers 400."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import World, bearer

# Digits 0-9 of scripts that str.isdigit() and int() accept.
SCRIPTS = {"arabic-indic": 0x660, "fullwidth": 0xFF10, "devanagari": 0x966, "bengali": 0x9E6}


def spelled(number: int, script: str) -> str:
    return "".join(chr(SCRIPTS[script] + int(d)) for d in str(number))


READS = ["", "/hits", "/kudos", "/user_journeys", "/leaderboard"]
WRITES = [
    ("post", "/hits", {"path": "/"}),
    ("post", "/hits/batch", [{"path": "/"}]),
    ("post", "/events", {"name": "a.b", "path": "/"}),
    ("post", "/events/batch", [{"name": "a.b", "path": "/"}]),
    ("post", "/kudos", {"path": "/"}),
    ("delete", "/kudos/some-uid", None),
]


@pytest.fixture
def owned(world: World) -> tuple[Any, dict[str, str], dict[str, str]]:
    owner = world.account()
    site = world.site(owner)
    return site, bearer(world.key(owner, "r")), bearer(world.key(owner, "w", "full_access"))


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("tail", READS)
def test_a_site_id_in_other_digits_is_not_found(
    client: FlaskClient, owned: tuple[Any, dict, dict], script: str, tail: str
) -> None:
    site, reader, _ = owned
    assert client.get(f"/api/v1/sites/{site.id}{tail}", headers=reader).status_code == 200
    response = client.get(f"/api/v1/sites/{spelled(site.id, script)}{tail}", headers=reader)
    assert response.status_code == 404, response.json
    assert response.json == {"error": "Not found"}


@pytest.mark.parametrize(("method", "tail", "body"), WRITES)
def test_nothing_is_written_through_a_site_id_in_other_digits(
    client: FlaskClient,
    container: Any,
    owned: tuple[Any, dict, dict],
    method: str,
    tail: str,
    body: Any,
) -> None:
    site, reader, writer = owned
    for script in SCRIPTS:
        url = f"/api/v1/sites/{spelled(site.id, script)}{tail}"
        response = getattr(client, method)(url, headers=writer, json=body)
        assert response.status_code == 404, (script, response.json)
    container.projections.catch_up()
    counts = client.get(f"/api/v1/sites/{site.id}", headers=reader).json
    assert counts["lifetime_hits"] == 0 and counts["lifetime_kudos"] == 0


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(
    ("tail", "name", "message"),
    [
        ("/hits", "page", "Page must be a number"),
        ("/hits", "per_page", "Per page must be a number"),
        ("/kudos", "page", "Page must be a number"),
        ("/user_journeys", "per_page", "Per page must be a number"),
        ("/leaderboard", "page", "Page must be a number"),
    ],
)
def test_page_numbers_in_other_digits_are_400(
    client: FlaskClient,
    owned: tuple[Any, dict, dict],
    script: str,
    tail: str,
    name: str,
    message: str,
) -> None:
    site, reader, _ = owned
    url = f"/api/v1/sites/{site.id}{tail}"
    assert client.get(url, headers=reader, query_string={name: "2"}).status_code == 200
    response = client.get(url, headers=reader, query_string={name: spelled(2, script)})
    assert response.status_code == 400, response.json
    assert message in response.json["errors"]


@pytest.mark.parametrize("value", [" 2", "2 ", "+2", "2_0", "\uff12", "2.0", "0x2"])
def test_page_numbers_are_plain_digits(
    client: FlaskClient, owned: tuple[Any, dict, dict], value: str
) -> None:
    site, reader, _ = owned
    response = client.get(
        f"/api/v1/sites/{site.id}/hits", headers=reader, query_string={"page": value}
    )
    assert response.status_code == 400, response.json
    assert "Page must be a number" in response.json["errors"]
