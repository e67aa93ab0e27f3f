"""POST /sites/:id/hits, /hits/batch, /events, /events/batch as api.md documents them."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.tracking_helpers import CHROME, raw_tracking_state, recorded

HIT_KEYS = {
    "id", "url", "path", "referrer", "country", "browser_name", "platform_name",
    "is_mobile", "source", "unique_hash", "visitor_hash", "created_at",
}  # fmt: skip
EVENT_KEYS = {
    "id", "event", "value", "url", "path", "referrer", "country", "source",
    "unique_hash", "visitor_hash", "created_at",
}  # fmt: skip


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    owner = world.account()
    site = world.site(owner, "https://example.com")
    return {
        "owner": owner,
        "site": site,
        "fa": bearer(world.key(owner, "writer", "full_access")),
        "ro": bearer(world.key(owner, "reader", "read_only")),
    }


def post(client: FlaskClient, url: str, headers: dict[str, str], body: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, headers={**headers, "Content-Type": "application/json"}, data=data)


def test_create_hit_answers_the_documented_shape(client: FlaskClient, setup: dict) -> None:
    site = setup["site"]
    body = {"path": "pricing", "ip_address": "999.999.999.999", "visitor_id": "user-123"}
    response = post(client, f"/api/v1/sites/{site.id}/hits", setup["fa"], body)
    assert response.status_code == 201, response.json
    assert response.json["status"] == "created"
    hit = response.json["hit"]
    assert set(hit) == HIT_KEYS
    assert hit["path"] == "/pricing"
    assert hit["url"] == "https://example.com/pricing"
    assert hit["country"] == "XX"
    assert hit["referrer"] is None and hit["source"] is None
    assert hit["is_mobile"] is False
    assert hit["unique_hash"] and hit["visitor_hash"]
    assert hit["created_at"].endswith("Z")
    assert isinstance(hit["id"], int)


def test_given_country_wins_and_user_agent_is_parsed(client: FlaskClient, setup: dict) -> None:
    body = {
        "path": "/a",
        "country": "PL",
        "user_agent": CHROME,
        "referrer": "https://www.google.com/",
    }
    response = post(client, f"/api/v1/sites/{setup['site'].id}/hits", setup["fa"], body)
    hit = response.json["hit"]
    assert hit["country"] == "PL"
    assert hit["browser_name"] == "Chrome"
    assert hit["platform_name"] == "macOS"
    assert hit["source"] == "google"
    assert hit["referrer"] == "https://www.google.com/"


def test_one_visitor_keeps_one_visitor_hash(client: FlaskClient, setup: dict) -> None:
    url = f"/api/v1/sites/{setup['site'].id}/hits"
    a = post(client, url, setup["fa"], {"path": "/a", "visitor_id": "v1"}).json["hit"]
    b = post(client, url, setup["fa"], {"path": "/b", "visitor_id": "v1"}).json["hit"]
    c = post(client, url, setup["fa"], {"path": "/a", "visitor_id": "v1"}).json["hit"]
    d = post(client, url, setup["fa"], {"path": "/a", "visitor_id": "v2"}).json["hit"]
    assert a["visitor_hash"] == b["visitor_hash"] == c["visitor_hash"] != d["visitor_hash"]
    assert a["unique_hash"] == c["unique_hash"] != b["unique_hash"]


def test_hashes_are_null_when_unique_tracking_is_off(
    client: FlaskClient, setup: dict, container: Container
) -> None:
    from application.sites import SiteChanges

    container.configuration.change_site(setup["site"].uuid, SiteChanges(unique_tracking=False))
    container.collection._cache.clear()
    hit = post(client, f"/api/v1/sites/{setup['site'].id}/hits", setup["fa"], {"path": "/"}).json
    assert hit["hit"]["unique_hash"] is None and hit["hit"]["visitor_hash"] is None


def test_ignored_paths_answer_202(client: FlaskClient, setup: dict, container: Container) -> None:
    from application.sites import SiteChanges

    container.configuration.change_site(
        setup["site"].uuid, SiteChanges(ignored_paths=["/admin", "/admin/*"])
    )
    container.collection._cache.clear()
    url = f"/api/v1/sites/{setup['site'].id}/hits"
    for path in ("/admin", "/admin/users", "admin"):
        response = post(client, url, setup["fa"], {"path": path})
        assert response.status_code == 202
        assert response.json == {"status": "ignored", "reason": "Path matches ignore rule"}
    assert post(client, url, setup["fa"], {"path": "/administrator"}).status_code == 201
    assert len(recorded(container)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Path can't be blank"),
        ({"path": ""}, "Path can't be blank"),
        ({"path": "   "}, "Path can't be blank"),
        ({"path": None}, "Path can't be blank"),
        ({"path": 5}, "Path must be a string"),
        ({"path": "/a", "country": "us"}, "Country must be a 2-letter uppercase code"),
        ({"path": "/a", "country": 12}, "Country must be a string"),
        ({"path": "/a", "visitor_id": ["x"]}, "Visitor id must be a string"),
        ({"path": "/" + "a" * 3000}, "Path is too long"),
    ],
)
def test_bad_fields_are_422_with_clear_errors(
    client: FlaskClient, setup: dict, container: Container, body: Any, message: str
) -> None:
    response = post(client, f"/api/v1/sites/{setup['site'].id}/hits", setup["fa"], body)
    assert response.status_code == 422
    assert response.json["status"] == "error"
    assert any(e.startswith(message) for e in response.json["errors"]), response.json
    assert recorded(container) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "Body must be valid JSON"),
        (b"\xff\xfe\x00garbage", "Body must be UTF-8 encoded JSON"),
        (b"", "Body can't be blank"),
        (b'[{"path": "/a"}]', "Body must be a single JSON object"),
        (b'"just a string"', "Body must be a single JSON object"),
        (b"[" * 100_000, "Body must be valid JSON"),
    ],
)
def test_malformed_bodies_are_422(
    client: FlaskClient, setup: dict, container: Container, data: bytes, message: str
) -> None:
    response = post(client, f"/api/v1/sites/{setup['site'].id}/hits", setup["fa"], data)
    assert response.status_code == 422
    assert response.json == {"status": "error", "errors": [message]}
    assert recorded(container) == []


def test_read_only_keys_cannot_write(client: FlaskClient, setup: dict) -> None:
    for path in ("hits", "hits/batch", "events", "events/batch"):
        response = post(client, f"/api/v1/sites/{setup['site'].id}/{path}", setup["ro"], {})
        assert response.status_code == 403
        assert "full-access" in response.json["error"]


def test_another_accounts_site_is_404(client: FlaskClient, setup: dict, world: World) -> None:
    other = world.account("other@example.com")
    theirs = world.site(other, "https://other.example")
    for path in ("hits", "hits/batch", "events", "events/batch"):
        response = post(client, f"/api/v1/sites/{theirs.id}/{path}", setup["fa"], {"path": "/"})
        assert response.status_code == 404
        assert response.json == {"error": "Site not found"}
    assert post(client, "/api/v1/sites/999999/hits", setup["fa"], {"path": "/"}).status_code == 404


def test_batch_is_partial_success(client: FlaskClient, setup: dict, container: Container) -> None:
    rows = [
        {"path": "/valid", "country": "PL"},
        {"path": "/from-ip", "ip_address": "8.8.8.8"},
        {"path": "/fallback-xx", "ip_address": "999.999.999.999"},
        {"path": ""},
        "not an object",
        {"country": "PL"},
    ]
    response = post(client, f"/api/v1/sites/{setup['site'].id}/hits/batch", setup["fa"], rows)
    assert response.status_code == 200
    body = response.json
    assert (body["created_count"], body["ignored_count"], body["error_count"]) == (3, 0, 3)
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert [r["status"] for r in body["results"]] == ["created"] * 3 + ["error"] * 3
    assert body["results"][3]["errors"] == ["Path can't be blank"]
    hits = recorded(container)
    assert [h.path for h in hits] == ["/valid", "/from-ip", "/fallback-xx"]
    assert [r["id"] for r in body["results"][:3]] == sorted(r["id"] for r in body["results"][:3])


def test_batch_rejects_non_arrays_and_oversized_bodies(
    client: FlaskClient, setup: dict, container: Container
) -> None:
    url = f"/api/v1/sites/{setup['site'].id}/hits/batch"
    not_array = post(client, url, setup["fa"], {"path": "/a"})
    assert not_array.status_code == 422
    assert not_array.json["errors"] == ["Body must be a top-level JSON array"]
    too_many = post(client, url, setup["fa"], [{"path": "/a"}] * 1001)
    assert too_many.status_code == 413
    assert "1000" in too_many.json["error"]
    too_big = post(client, url, setup["fa"], [{"path": "/" + "a" * 2000}] * 600)
    assert too_big.status_code == 413
    assert "error" in too_big.json
    assert recorded(container) == []


def test_a_full_batch_of_1000_is_one_transaction(
    client: FlaskClient, setup: dict, container: Container
) -> None:
    rows = [{"path": f"/p{i}", "country": "DE"} for i in range(1000)]
    response = post(client, f"/api/v1/sites/{setup['site'].id}/hits/batch", setup["fa"], rows)
    assert response.json["created_count"] == 1000
    ids = [r["id"] for r in response.json["results"]]
    assert ids == list(range(ids[0], ids[0] + 1000))  # one transaction: consecutive ids


def test_create_event_answers_the_documented_shape(client: FlaskClient, setup: dict) -> None:
    body = {
        "event": "signup.started",
        "value": "pricing",
        "ip_address": "8.8.8.8",
        "visitor_id": "u",
    }
    response = post(client, f"/api/v1/sites/{setup['site'].id}/events", setup["fa"], body)
    assert response.status_code == 201, response.json
    event = response.json["event"]
    assert set(event) == EVENT_KEYS
    assert event["event"] == "signup.started" and event["value"] == "pricing"
    assert event["path"] is None and event["url"] is None
    with_path = post(
        client, f"/api/v1/sites/{setup['site'].id}/events", setup["fa"],
        {"event": "a.b", "path": "x", "value": 3},
    ).json["event"]  # fmt: skip
    assert with_path["path"] == "/x" and with_path["value"] == "3"
    assert with_path["url"] == "https://example.com/x"


@pytest.mark.parametrize("name", ["signup", "signup.", ".signup", "a..b", "a b.c", "", None, 7])
def test_bad_event_names_are_422(client: FlaskClient, setup: dict, name: Any) -> None:
    response = post(
        client, f"/api/v1/sites/{setup['site'].id}/events", setup["fa"], {"event": name}
    )
    assert response.status_code == 422
    assert response.json["status"] == "error" and response.json["errors"]


def test_event_batch(client: FlaskClient, setup: dict, container: Container) -> None:
    rows = [
        {"event": "signup.started", "value": "pricing", "country": "PL"},
        {"event": "signup.completed", "ip_address": "8.8.8.8"},
        {"event": "signup.cancelled", "ip_address": "999.999.999.999"},
        {"event": "bad"},
    ]
    response = post(client, f"/api/v1/sites/{setup['site'].id}/events/batch", setup["fa"], rows)
    body = response.json
    assert (body["created_count"], body["ignored_count"], body["error_count"]) == (3, 0, 1)
    assert body["results"][3]["errors"] == [
        "Event must be 'category.action' format (2+ dot-separated segments)"
    ]
    assert [e.name for e in recorded(container)] == [
        "signup.started", "signup.completed", "signup.cancelled",
    ]  # fmt: skip


def test_no_ip_or_user_agent_is_stored(
    client: FlaskClient, setup: dict, container: Container
) -> None:
    body = {
        "path": "/a",
        "ip_address": "81.2.69.160",
        "user_agent": CHROME,
        "visitor_id": "secret-visitor",
    }
    post(client, f"/api/v1/sites/{setup['site'].id}/hits", setup["fa"], body)
    post(
        client, f"/api/v1/sites/{setup['site'].id}/events", setup["fa"],
        {**body, "event": "a.b"},
    )  # fmt: skip
    raw = raw_tracking_state(container)
    assert b"81.2.69.160" not in raw
    assert b"Macintosh" not in raw and b"AppleWebKit" not in raw
    assert b"secret-visitor" not in raw


def test_tracking_endpoints_are_in_the_openapi_document(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    for path in (
        "/sites/{id}/hits",
        "/sites/{id}/hits/batch",
        "/sites/{id}/events",
        "/sites/{id}/events/batch",
    ):
        assert "post" in document["paths"][path]
