"""The widget data endpoint and browser kudos through the collector."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from application.sites import SiteChanges
from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.tracking_helpers import CHROME, GOOGLEBOT, IPHONE


@pytest.fixture
def site(world: World) -> Any:
    owner = world.account(confirmed=True)
    created = world.site(owner, "https://example.com")
    return {"site": created, "key": bearer(world.key(owner, "w", "full_access"))}


def kudo(client: FlaskClient, uid: str, path: str | None, ua: str = CHROME) -> Any:
    payload: dict[str, Any] = {"k": "kudo", "u": "https://example.com/post"}
    if path is not None:
        payload["p"] = path
    return client.post(
        f"/collect/{uid}",
        data=json.dumps(payload),
        headers={"Content-Type": "text/plain", "Origin": "https://example.com", "User-Agent": ua},
    )


def test_one_request_serves_every_widget(
    client: FlaskClient, site: dict, container: Container
) -> None:
    uid = site["site"].uid
    rows = [{"path": "/a", "country": c} for c in ("DE", "US", "XX", "DE")]
    client.post(
        f"/api/v1/sites/{site['site'].id}/hits/batch",
        data=json.dumps(rows),
        headers={**site["key"], "Content-Type": "application/json"},
    )
    assert kudo(client, uid, "/a").status_code == 200
    container.projections.catch_up()
    response = client.get(f"/widgets/{uid}.json?hits&kudos&countries&uptime&path=/a&path=/b")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response.headers["Cache-Control"]
    assert response.json == {
        "hits": 4,
        "kudos": {"/a": 1, "/b": 0},
        "countries": ["DE", "US"],
        "uptime": None,
    }
    assert client.get(f"/widgets/{uid}.json?hits").json == {"hits": 4}


def test_unique_hits_only_for_subscribed_owners(
    client: FlaskClient, site: dict, container: Container, world: World
) -> None:
    uid = site["site"].uid
    assert "unique_hits" not in client.get(f"/widgets/{uid}.json?hits=unique").json
    owner = container.configuration.find_account("owner@example.com")
    container.configuration.set_subscribed(owner.id, True)
    assert client.get(f"/widgets/{uid}.json?hits=unique").json == {"hits": 0, "unique_hits": 0}


def test_bad_widget_requests(client: FlaskClient, site: dict) -> None:
    assert client.get("/widgets/nosuchsite.json?hits").status_code == 404
    bad = client.get(f"/widgets/{site['site'].uid}.json?kudos&path=no-slash")
    assert bad.status_code == 400 and "start with '/'" in bad.json["error"]


def test_browser_kudos_once_per_visitor_page_and_day(
    client: FlaskClient, site: dict, container: Container
) -> None:
    uid = site["site"].uid
    first = kudo(client, uid, "/post")
    assert first.status_code == 200 and first.json["uid"].startswith("v_")
    again = kudo(client, uid, "/post")
    assert again.status_code == 409 and again.json["uid"] == first.json["uid"]
    other_page = kudo(client, uid, "/other")
    assert other_page.status_code == 200
    other_visitor = kudo(client, uid, "/post", ua=IPHONE)
    assert other_visitor.status_code == 200
    page_itself = kudo(client, uid, None)  # no data-path: the page's own path
    assert page_itself.status_code == 409  # same visitor, /post again
    assert kudo(client, uid, "relative").status_code == 400
    assert kudo(client, uid, "/bot", ua=GOOGLEBOT).status_code == 202
    container.projections.catch_up()
    counts = client.get(f"/widgets/{uid}.json?kudos&path=/post&path=/other").json["kudos"]
    assert counts == {"/post": 2, "/other": 1}


def test_browser_kudos_respect_ignored_paths(
    client: FlaskClient, site: dict, container: Container
) -> None:
    container.configuration.change_site(site["site"].uuid, SiteChanges(ignored_paths=["/x/*"]))
    container.collection._cache.clear()
    response = kudo(client, site["site"].uid, "/x/y")
    assert response.status_code == 202
