"""The kudos endpoints as api.md documents them."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from application.sites import SiteChanges
from infrastructure.bootstrap import Container
from tests.conftest import World, bearer


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    owner = world.account(confirmed=True)  # kudos need a confirmed owner
    site = world.site(owner, "https://example.com")
    return {
        "site": site,
        "fa": bearer(world.key(owner, "writer", "full_access")),
        "ro": bearer(world.key(owner, "reader", "read_only")),
    }


def post(client: FlaskClient, url: str, headers: dict[str, str], body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(url, headers={**headers, "Content-Type": "application/json"}, data=data)


def test_create_list_and_delete(client: FlaskClient, setup: dict, container: Container) -> None:
    url = f"/api/v1/sites/{setup['site'].id}/kudos"
    created = post(client, url, setup["fa"], {"path": "pricing", "custom_uid": "pricing-kudo-1"})
    assert created.status_code == 201
    kudo = created.json["kudo"]
    assert created.json["status"] == "created"
    assert set(kudo) == {"id", "uid", "path", "created_at"}
    assert (kudo["uid"], kudo["path"]) == ("pricing-kudo-1", "/pricing")
    generated = post(client, url, setup["fa"], {"path": "/about"}).json["kudo"]
    assert generated["uid"] and generated["uid"] != "pricing-kudo-1"
    container.projections.catch_up()

    listed = client.get(url, headers=setup["ro"]).json
    assert [k["uid"] for k in listed["kudos"]] == [generated["uid"], "pricing-kudo-1"]
    assert listed["kudos"][1] == kudo
    assert listed["pagination"]["total_count"] == 2
    assert set(listed["filters"]) == {"start_date", "end_date", "time_zone", "path", "uid"}
    only = client.get(url + "?path=/pricing", headers=setup["ro"]).json["kudos"]
    assert [k["uid"] for k in only] == ["pricing-kudo-1"]
    by_uid = client.get(url + f"?uid={generated['uid']}", headers=setup["ro"]).json["kudos"]
    assert [k["path"] for k in by_uid] == ["/about"]
    sites = client.get("/api/v1/sites", headers=setup["ro"]).json["sites"]
    assert sites[0]["lifetime_kudos"] == 2

    deleted = client.delete(url + "/pricing-kudo-1", headers=setup["fa"])
    assert deleted.status_code == 200
    assert deleted.json == {"status": "deleted", "uid": "pricing-kudo-1"}
    again = client.delete(url + "/pricing-kudo-1", headers=setup["fa"])
    assert again.status_code == 404 and again.json == {"error": "Kudo not found"}
    assert client.delete(url + "/never", headers=setup["fa"]).json == {"error": "Kudo not found"}
    container.projections.catch_up()
    assert [k["uid"] for k in client.get(url, headers=setup["ro"]).json["kudos"]] == [
        generated["uid"]
    ]
    assert client.get("/api/v1/sites", headers=setup["ro"]).json["sites"][0]["lifetime_kudos"] == 1


def test_a_taken_uid_is_422_and_a_deleted_one_can_be_used_again(
    client: FlaskClient, setup: dict
) -> None:
    url = f"/api/v1/sites/{setup['site'].id}/kudos"
    assert post(client, url, setup["fa"], {"path": "/a", "custom_uid": "x"}).status_code == 201
    taken = post(client, url, setup["fa"], {"path": "/b", "custom_uid": "x"})
    assert taken.status_code == 422
    assert taken.json["status"] == "error" and "already exists" in taken.json["errors"][0]
    client.delete(url + "/x", headers=setup["fa"])
    assert post(client, url, setup["fa"], {"path": "/b", "custom_uid": "x"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Path can't be blank"),
        ({"path": ""}, "Path can't be blank"),
        ({"path": 3}, "Path must be a string"),
        ({"path": "/a", "custom_uid": 5}, "Custom uid must be a string"),
        ({"path": "/a", "custom_uid": "a/b"}, "Custom uid may not contain"),
        ({"path": "/a", "custom_uid": "u" * 101}, "Custom uid is too long"),
        ({"path": "/a", "custom_uid": " "}, "Custom uid can't be blank"),
    ],
)
def test_bad_bodies_are_422(client: FlaskClient, setup: dict, body: Any, message: str) -> None:
    response = post(client, f"/api/v1/sites/{setup['site'].id}/kudos", setup["fa"], body)
    assert response.status_code == 422
    assert response.json["errors"][0].startswith(message), response.json


def test_ignored_paths_and_access(client: FlaskClient, setup: dict, container: Container) -> None:
    container.configuration.change_site(
        setup["site"].uuid, SiteChanges(ignored_paths=["/drafts/*"])
    )
    container.collection._cache.clear()
    url = f"/api/v1/sites/{setup['site'].id}/kudos"
    ignored = post(client, url, setup["fa"], {"path": "/drafts/x"})
    assert ignored.status_code == 202
    assert ignored.json == {"status": "ignored", "reason": "Path matches ignore rule"}
    assert post(client, url, setup["ro"], {"path": "/a"}).status_code == 403
    assert client.delete(url + "/x", headers=setup["ro"]).status_code == 403
    assert client.get(url, headers={"Authorization": "Bearer tly-ro-nope"}).status_code == 401


def test_an_archived_site_refuses_a_kudo_as_it_refuses_a_hit(
    client: FlaskClient, setup: dict, container: Container
) -> None:
    """The API kudo path applies the rules the browser path applies (archived site,
    ignored paths) through the same service; it answers what POST /hits answers."""
    site = setup["site"]
    container.configuration.change_site(site.uuid, SiteChanges(archived=True))
    container.collection._cache.clear()
    hit = post(client, f"/api/v1/sites/{site.id}/hits", setup["fa"], {"path": "/a"})
    kudo = post(client, f"/api/v1/sites/{site.id}/kudos", setup["fa"], {"path": "/a"})
    assert hit.status_code == 202
    assert hit.json == {"status": "ignored", "reason": "Site is archived"}
    assert (kudo.status_code, kudo.json) == (hit.status_code, hit.json)
    container.projections.catch_up()
    container.configuration.change_site(site.uuid, SiteChanges(archived=False))
    container.collection._cache.clear()
    container.projections.catch_up()
    listed = client.get(f"/api/v1/sites/{site.id}/kudos", headers=setup["ro"]).json
    assert listed["kudos"] == []


def test_another_accounts_kudos_are_404(client: FlaskClient, setup: dict, world: World) -> None:
    other = world.account("other@example.com")
    theirs = world.site(other, "https://other.example")
    assert client.get(f"/api/v1/sites/{theirs.id}/kudos", headers=setup["ro"]).status_code == 404
    response = post(client, f"/api/v1/sites/{theirs.id}/kudos", setup["fa"], {"path": "/"})
    assert response.status_code == 404


def test_bad_query_is_400(client: FlaskClient, setup: dict) -> None:
    url = f"/api/v1/sites/{setup['site'].id}/kudos"
    for query in ("start_date=nope", "per_page=1001", "page=0", "time_zone=mars"):
        response = client.get(f"{url}?{query}", headers=setup["ro"])
        assert response.status_code == 400, query
        assert response.json["error"]
