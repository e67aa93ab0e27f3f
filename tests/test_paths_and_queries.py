"""A hit's path is the URL's path, never its query (issue 19, item 11; decision 16):
`/post?id=3` and `/post?id=4` are one page in grouped hits, the leaderboard and exact
`path=` filters, and `?email=` is never stored. The `url` keeps only the query
parameters the site's owner allows; tracking parameters are stripped even then."""

import json
from typing import Any

from flask.testing import FlaskClient

from application.sites import SiteChanges
from domain.errors import DomainError
from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.tracking_helpers import CHROME, raw_tracking_state, recorded

SCRIPT = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": "https://example.com"}


def hits(container: Container) -> list[Any]:
    return [e for e in recorded(container) if type(e).__qualname__ == "Hit.Recorded"]


def test_paths_carry_no_query_and_urls_only_allowed_params(
    container: Container, world: World, client: FlaskClient
) -> None:
    owner = world.account("owner@example.com", is_subscribed=True)
    site = world.site(owner, "https://example.com")
    key = {**bearer(world.key(owner, "w", "full_access")), "Content-Type": "application/json"}
    page = "https://example.com/post?id=3&email=someone%40example.org&utm_source=newsletter#top"
    body = {"k": "hit", "u": page}
    assert client.post(f"/collect/{site.uid}", data=json.dumps(body), headers=SCRIPT).status_code
    client.get(
        f"/pixel/{site.uid}.gif?path=/post%3Fid%3D4%26email%3Dx%40example.org",
        headers={"User-Agent": CHROME},
    )
    answer = client.post(
        f"/api/v1/sites/{site.id}/hits",
        data=json.dumps({"path": "/post?id=5&email=y@example.org"}),
        headers=key,
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["hit"]["path"] == "/post"
    script, pixel, api = hits(container)
    assert [h.path for h in (script, pixel, api)] == ["/post"] * 3
    assert script.url == "https://example.com/post"  # nothing allowed: no query at all
    assert script.source == "newsletter"  # the campaign is still read from the URL
    assert api.url == "https://example.com/post"
    assert b"example.org" not in raw_tracking_state(container).replace(b"example.com", b"")

    # One page: grouped, filtered by its exact path, on the leaderboard.
    container.projections.catch_up()
    grouped = client.get(f"/api/v1/sites/{site.id}/hits?grouped=true", headers=key).json
    assert [(g["path"], g["views"]) for g in grouped["grouped_hits"]] == [("/post", 3)]
    exact = client.get(f"/api/v1/sites/{site.id}/hits?path=/post", headers=key).json
    assert exact["pagination"]["total_count"] == 3

    # The owner allows `id`: the url keeps it (and nothing else); the path does not.
    container.configuration.change_site(site.uuid, SiteChanges(allowed_query_params=["id"]))
    container.collection._cache.clear()
    assert client.post(f"/collect/{site.uid}", data=json.dumps(body), headers=SCRIPT).status_code
    allowed = hits(container)[-1]
    assert allowed.path == "/post" and allowed.url == "https://example.com/post?id=3"
    # A tracking parameter is never kept, even when allowed.
    container.configuration.change_site(
        site.uuid, SiteChanges(allowed_query_params=["id", "utm_source"])
    )
    container.collection._cache.clear()
    assert client.post(f"/collect/{site.uid}", data=json.dumps(body), headers=SCRIPT).status_code
    assert hits(container)[-1].url == "https://example.com/post?id=3"


def test_ignored_paths_match_whatever_the_query(
    container: Container, world: World, client: FlaskClient
) -> None:
    owner = world.account("owner@example.com")
    site = world.site(owner, "https://example.com")
    container.configuration.change_site(site.uuid, SiteChanges(ignored_paths=["/private"]))
    body = {"k": "hit", "u": "https://example.com/private?x=1"}
    client.post(f"/collect/{site.uid}", data=json.dumps(body), headers=SCRIPT)
    assert hits(container) == []


def test_allowed_query_params_are_checked() -> None:
    from domain.page_address import normalize_query_params

    assert normalize_query_params([" id ", "page", "id", ""]) == ["id", "page"]
    for bad in (["a b"], ["x" * 101], ["&"], [str(n) for n in range(51)]):
        try:
            normalize_query_params(bad)
        except DomainError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_the_cli_sets_the_allowed_query_params(env: dict[str, str]) -> None:
    from infrastructure.bootstrap import bootstrap
    from infrastructure.settings import Settings
    from tests.test_cli import fails, ok

    wired = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        owner = World(wired).account("owner@example.com")
        site = World(wired).site(owner, "https://example.com")
        number = str(site.id)
        ok(env, "sites", "update", "--id", number, "--allow-query-param", "id",
           "--allow-query-param", "page")  # fmt: skip
        assert wired.configuration.get_site(site.uuid).allowed_query_params == ["id", "page"]
        fails(env, "sites", "update", "--id", number, "--allow-query-param", "a b",
              message="is not a parameter name")  # fmt: skip
        assert wired.configuration.get_site(site.uuid).allowed_query_params == ["id", "page"]
        ok(env, "sites", "update", "--id", number, "--clear-query-params")
        assert wired.configuration.get_site(site.uuid).allowed_query_params == []
    finally:
        wired.close()
