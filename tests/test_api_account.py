"""API v1 discovery, OpenAPI, /me, /sites and /sites/:id: shapes, statuses, auth, rate limits."""

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from application.sites import SiteChanges
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from tests.conftest import World, bearer

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ME_KEYS = {"id", "email", "is_subscribed", "created_at", "api_key"}
KEY_KEYS = {"name", "access_type", "last_used_at"}
SITE_KEYS = {
    "id",
    "uid",
    "url",
    "label",
    "lifetime_hits",
    "lifetime_unique_hits",
    "lifetime_kudos",
    "active",
    "public",
    "created_at",
    "updated_at",
}


def parse_time(value: str) -> datetime:
    assert TIME.match(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def recent(value: str) -> bool:
    moment = parse_time(value)
    now = datetime.now(UTC)
    return now - timedelta(minutes=5) <= moment <= now + timedelta(seconds=1)


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    assert set(response.json) == {"error"}
    assert isinstance(response.json["error"], str) and response.json["error"]


def assert_site_shape(site: dict[str, Any]) -> None:
    assert set(site) == SITE_KEYS
    assert type(site["id"]) is int
    for name in ("uid", "url", "label"):
        assert type(site[name]) is str
    for name in ("lifetime_hits", "lifetime_unique_hits", "lifetime_kudos"):
        assert type(site[name]) is int and site[name] == 0
    assert type(site["active"]) is bool and type(site["public"]) is bool
    assert recent(site["created_at"]) and recent(site["updated_at"])
    assert parse_time(site["created_at"]) <= parse_time(site["updated_at"])


def schema_validator(document: dict[str, Any], name: str) -> OAS31Validator:
    """A JSON Schema validator for one component of the OpenAPI document (refs resolved)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return OAS31Validator(schema)


# -- discovery and OpenAPI ---------------------------------------------------------------
def test_discovery_and_openapi_are_public_valid_and_true(client: FlaskClient, world: World) -> None:
    for path in ("/api/v1", "/api/v1/"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.json
        assert body["version"] == "v1"
        assert body["base_url"] == "http://localhost/api/v1"
        assert body["openapi_url"] == "http://localhost/api/v1/openapi.json"
        assert body["authentication"]["read_only_prefix"] == "tly-ro-"
        assert body["authentication"]["full_access_prefix"] == "tly-fa-"
        assert body["rate_limit"] == {"requests": 1000, "per": "hour"}
        listed = {(e["method"], e["path"]) for e in body["endpoints"]}
        assert {("GET", "/me"), ("GET", "/sites"), ("GET", "/sites/{id}")} <= listed
        assert {("GET", "/"), ("GET", "/openapi.json")} <= listed

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.json
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert {"/me", "/sites", "/sites/{id}"} <= set(paths)
    assert document["servers"] == [{"url": "http://localhost/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    site_op = paths["/sites/{id}"]["get"]
    assert {"200", "401", "404", "429"} <= set(site_op["responses"])
    (param,) = site_op["parameters"]
    assert (param["in"], param["name"], param["required"]) == ("path", "id", True)
    # Discovery and the document itself need no key; the rest do.
    assert paths["/openapi.json"]["get"]["security"] == []
    assert "security" not in paths["/me"]["get"]

    # The documented schemas describe the real answers (and are strict about extra keys).
    owner = world.account()
    site = world.site(owner)
    headers = bearer(world.key(owner))

    def check(path: str, route: str, status: int = 200) -> Any:
        answer = client.get(path, headers=headers)
        assert answer.status_code == status
        content = paths[route]["get"]["responses"][str(status)]["content"]
        ref = content["application/json"]["schema"]["$ref"]
        schema_validator(document, ref.rsplit("/", 1)[1]).validate(answer.json)
        return answer.json

    check("/api/v1/me", "/me")
    check("/api/v1/sites", "/sites")
    one = check(f"/api/v1/sites/{site.id}", "/sites/{id}")
    check("/api/v1/sites/12345", "/sites/{id}", 404)
    check("/api/v1/", "/")
    with pytest.raises(Exception, match="Additional properties"):
        schema_validator(document, "Site").validate({**one, "extra": 1})


# -- /me ---------------------------------------------------------------------------------
def test_me_has_exactly_the_documented_shape(
    client: FlaskClient, world: World, container: Container
) -> None:
    owner = world.account("Owner@Example.com")
    secret = world.key(owner, name="CLI integration")
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == ME_KEYS
    assert set(body["api_key"]) == KEY_KEYS
    assert body["id"] == owner.id and type(body["id"]) is int
    assert body["email"] == "owner@example.com"
    assert body["is_subscribed"] is False
    assert recent(body["created_at"])
    assert body["api_key"]["name"] == "CLI integration"
    assert body["api_key"]["access_type"] == "read_only"
    assert recent(body["api_key"]["last_used_at"])
    # Keys come out in the documented order too.
    assert list(body) == ["id", "email", "is_subscribed", "created_at", "api_key"]

    # A full-access key of a subscribed account.
    paid = world.account("paid@example.com", is_subscribed=True)
    body = client.get("/api/v1/me", headers=bearer(world.key(paid, access="full_access"))).json
    assert (body["id"], body["is_subscribed"]) == (paid.id, True)
    assert body["api_key"]["access_type"] == "full_access"

    # Plan changes show at once.
    app = container.configuration
    app.set_subscribed(owner.uuid, True)
    assert client.get("/api/v1/me", headers=bearer(secret)).json["is_subscribed"] is True
    app.set_subscribed(owner.uuid, False)
    assert client.get("/api/v1/me", headers=bearer(secret)).json["is_subscribed"] is False

    # A key used the moment it is made works before any projection has run.
    created = app.register_account("fresh@example.com", "correct horse")
    fresh = app.issue_key(created.uuid, "k", "read_only").secret
    response = client.get("/api/v1/me", headers=bearer(fresh))
    assert response.status_code == 200
    assert response.json["id"] == created.id


# -- authentication ----------------------------------------------------------------------
def test_missing_malformed_and_unknown_keys_are_401(client: FlaskClient, world: World) -> None:
    owner = world.account()
    site = world.site(owner)
    secret = world.key(owner)
    full = world.key(owner, name="writer", access="full_access")
    paths = ["/api/v1/me", "/api/v1/sites", f"/api/v1/sites/{site.id}", "/api/v1/sites/999"]
    for headers in [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": secret},
        {"Authorization": f"Token {secret}"},
        bearer("tly-ro-" + "x" * 40),
        bearer("tly-fa-" + "x" * 40),
        bearer("tly-xx-" + secret[7:]),
        bearer("tly-fa-" + secret[7:]),
        bearer(secret[:-1]),
        bearer(secret + "x"),
        bearer(secret.upper()),
        bearer(secret * 3),
        bearer("x" * 10_000),
    ]:
        for path in paths:
            response = client.get(path, headers=headers)
            assert_error(response, 401)
            assert "RateLimit-Limit" not in response.headers
    # Read-only and full-access keys both may GET; the scheme name is case-insensitive.
    for key in (secret, full):
        for path in paths[:3]:
            assert client.get(path, headers=bearer(key)).status_code == 200
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {secret}"})
    assert response.status_code == 200


def test_revoked_keys_are_401_and_other_keys_still_work(
    client: FlaskClient, world: World, container: Container
) -> None:
    owner = world.account()
    revoked = world.key(owner, name="ci")
    kept = world.key(owner, name="kept")
    assert client.get("/api/v1/me", headers=bearer(revoked)).status_code == 200
    container.configuration.revoke_key(owner.uuid, "ci")
    for path in ("/api/v1/me", "/api/v1/sites"):
        assert_error(client.get(path, headers=bearer(revoked)), 401)
        assert client.get(path, headers=bearer(kept)).status_code == 200
    # Reissuing the revoked name makes a new key; the old one stays dead.
    again = world.key(owner, name="ci")
    assert again != revoked
    assert_error(client.get("/api/v1/me", headers=bearer(revoked)), 401)
    assert client.get("/api/v1/me", headers=bearer(again)).json["api_key"]["name"] == "ci"


REALM = 'Bearer realm="Tinylytics API"'


def test_every_401_carries_a_bearer_challenge(
    app: Any, client: FlaskClient, world: World, container: Container
) -> None:
    """RFC 6750: the challenge names the scheme and realm, and says invalid_token when a
    key was sent but is unknown, malformed or revoked (no error code when none was sent)."""
    owner = world.account()
    site = world.site(owner)
    revoked = world.key(owner, name="gone")
    container.configuration.revoke_key(owner.uuid, "gone")
    invalid = f'{REALM}, error="invalid_token", error_description="Invalid API key"'
    routes = [
        (method, re.sub(r"<int:\w+>", str(site.id), re.sub(r"<(?!int:)\w+>", "x", rule.rule)))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        and rule.endpoint not in ("api.discovery", "api.openapi")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    assert len(routes) >= 12, routes
    for method, path in routes:
        for headers, challenge in [
            ({}, REALM),
            ({"Authorization": "Basic x"}, invalid),
            (bearer("tly-ro-" + "x" * 40), invalid),
            (bearer(revoked), invalid),
        ]:
            response = client.open(path, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, path)
            assert response.headers.get("WWW-Authenticate") == challenge, (method, path)
    # A 401 only: a good key's answer carries no challenge, nor do the public documents.
    good = client.get("/api/v1/me", headers=bearer(world.key(owner, name="ok")))
    assert good.status_code == 200 and "WWW-Authenticate" not in good.headers
    assert "WWW-Authenticate" not in client.get("/api/v1").headers


# -- /sites and /sites/:id ---------------------------------------------------------------
def test_sites_have_exactly_the_documented_shape(
    client: FlaskClient, world: World, container: Container
) -> None:
    owner = world.account()
    headers = bearer(world.key(owner))
    empty = client.get("/api/v1/sites", headers=headers)
    assert (empty.status_code, empty.json) == (200, {"sites": []})

    first = world.site(owner, "https://example.com", label="My Blog")
    second = world.site(owner, "shop.example.org/")
    other = world.account("other@example.com")
    world.site(other, "https://other.example.net")
    container.configuration.change_site(second.uuid, SiteChanges(public=True, archived=True))
    container.projections.catch_up()

    response = client.get("/api/v1/sites", headers=headers)
    assert response.status_code == 200
    assert set(response.json) == {"sites"}
    listed = response.json["sites"]
    for site in listed:
        assert_site_shape(site)
    assert [s["id"] for s in listed] == [first.id, second.id]  # only the owner's, by id
    one, two = listed
    assert (one["uid"], one["url"], one["label"]) == (first.uid, "https://example.com", "My Blog")
    assert (one["active"], one["public"]) == (True, False)
    assert (two["uid"], two["url"], two["label"]) == (
        second.uid,
        "https://shop.example.org",
        "shop.example.org",
    )
    assert (two["active"], two["public"]) == (False, True)
    assert parse_time(two["updated_at"]) >= parse_time(two["created_at"])

    for site in listed:
        single = client.get(f"/api/v1/sites/{site['id']}", headers=headers)
        assert single.status_code == 200
        assert single.json == site
        assert list(single.json) == list(site)


def test_other_accounts_and_unknown_sites_are_404_never_403(
    client: FlaskClient, world: World
) -> None:
    owner = world.account()
    other = world.account("other@example.com")
    theirs = world.site(other, "https://theirs.example.com")
    mine = world.site(owner)
    headers = bearer(world.key(owner))
    for number in [
        theirs.id,
        owner.id,  # an account's id is no site's id
        mine.id + 1000,
        0,
        2**62,
        2**62 + 1,
        2**63,
        99999999999999999999,
        10**40,
    ]:
        assert_error(client.get(f"/api/v1/sites/{number}", headers=headers), 404)
    assert client.get(f"/api/v1/sites/{mine.id}", headers=headers).status_code == 200
    # The other account sees its own site, never ours.
    other_headers = bearer(world.key(other))
    assert client.get(f"/api/v1/sites/{theirs.id}", headers=other_headers).status_code == 200
    assert_error(client.get(f"/api/v1/sites/{mine.id}", headers=other_headers), 404)


def test_unknown_api_path_is_404_json_and_wrong_method_405_json(
    client: FlaskClient, world: World
) -> None:
    headers = bearer(world.key(world.account()))
    for path in (
        "/api/v1/nope",
        "/api/v1/me/extra",
        "/api/v1/sites/abc",
        "/api/v1/sites/-1",
        "/api/v1/sites/1/nope",
        "/api/v2/me",
    ):
        assert_error(client.get(path, headers=headers), 404)
        assert_error(client.get(path), 404)
    for method in ("post", "put", "patch", "delete"):
        for path in ("/api/v1/me", "/api/v1/sites", "/api/v1/openapi.json"):
            response = getattr(client, method)(path, headers=headers)
            assert_error(response, 405)
            assert "GET" in response.headers["Allow"]
    # Outside the API a 404 is not JSON.
    page = client.get("/nope")
    assert page.status_code == 404
    assert page.mimetype != "application/json"


# -- rate limits -------------------------------------------------------------------------
@pytest.fixture
def limited(env: dict[str, str]) -> Iterator[tuple[FlaskClient, World]]:
    """A server with a limit of 3 requests per hour per key."""
    settings = Settings.from_env({**env, "TINYLYTICS_API_RATE_LIMIT": "3"})
    wired = bootstrap(settings, fast_passwords=True)
    app = create_app(wired)
    app.testing = True
    yield app.test_client(), World(wired)
    wired.close()


def rate_headers(response: Any) -> dict[str, int]:
    names = [
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]
    return {name: int(response.headers[name]) for name in names}


def test_rate_limit_headers_then_429_per_key(limited: tuple[FlaskClient, World]) -> None:
    client, world = limited
    owner = world.account()
    site = world.site(owner)
    first = bearer(world.key(owner, name="first"))
    second = bearer(world.key(owner, name="second", access="full_access"))
    paths = ["/api/v1/me", "/api/v1/sites", f"/api/v1/sites/{site.id}"]
    assert client.get("/api/v1").json["rate_limit"] == {"requests": 3, "per": "hour"}

    for remaining, path in zip([2, 1, 0], paths, strict=True):
        before = int(time.time())
        response = client.get(path, headers=first)
        assert response.status_code == 200
        got = rate_headers(response)
        assert got["RateLimit-Limit"] == got["X-RateLimit-Limit"] == 3
        assert got["RateLimit-Remaining"] == got["X-RateLimit-Remaining"] == remaining
        assert 0 <= got["RateLimit-Reset"] <= 3600  # seconds until the window ends
        assert before <= got["X-RateLimit-Reset"] <= before + 3601  # the epoch time it ends
        assert "Retry-After" not in response.headers

    for path in [*paths, "/api/v1/sites/99999"]:
        refused = client.get(path, headers=first)
        assert_error(refused, 429)
        got = rate_headers(refused)
        assert got["RateLimit-Remaining"] == got["X-RateLimit-Remaining"] == 0
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert int(refused.headers["Retry-After"]) >= got["RateLimit-Reset"]

    # Another key of the same account has its own allowance.
    response = client.get("/api/v1/me", headers=second)
    assert response.status_code == 200
    assert rate_headers(response)["RateLimit-Remaining"] == 2
    # Public endpoints and bad keys are not counted against anyone, and carry no headers.
    assert "RateLimit-Limit" not in client.get("/api/v1/openapi.json").headers
    assert client.get("/api/v1/me", headers=bearer("tly-ro-nope")).status_code == 401
    assert rate_headers(client.get("/api/v1/sites", headers=second))["RateLimit-Remaining"] == 1


def test_rate_limit_setting_must_be_a_positive_number(env: dict[str, str]) -> None:
    from infrastructure.settings import SettingsError

    for bad in ("0", "-1", "lots"):
        with pytest.raises(SettingsError, match="TINYLYTICS_API_RATE_LIMIT"):
            Settings.from_env({**env, "TINYLYTICS_API_RATE_LIMIT": bad})
