"""The collector (POST /collect/<uid>) and the pixel (GET /pixel/<uid>.gif)."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from application.sites import SiteChanges
from domain.hits import Hit, Visit
from infrastructure.bootstrap import Container
from interfaces.collect.pixel import GIF
from tests.conftest import World
from tests.tracking_helpers import CHROME, GOOGLEBOT, IPHONE, raw_tracking_state, recorded


@pytest.fixture
def site(world: World) -> Any:
    return world.site(world.account(confirmed=True), "https://example.com")


def send(
    client: FlaskClient,
    uid: str,
    payload: Any,
    origin: str | None = "https://example.com",
    **headers: str,
) -> Any:
    all_headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": CHROME, **headers}
    if origin:
        all_headers["Origin"] = origin
    body = payload if isinstance(payload, bytes) else json.dumps(payload)
    return client.post(f"/collect/{uid}", data=body, headers=all_headers)


def hit(
    url: str = "https://example.com/post?utm_source=newsletter&utm_campaign=launch&id=3",
    referrer: str | None = None,
) -> dict[str, Any]:
    return {"k": "hit", "u": url, "r": referrer}


def test_a_page_view_is_committed_before_the_204(
    client: FlaskClient, site: Any, container: Container
) -> None:
    response = send(client, site.uid, hit(referrer="https://news.ycombinator.com/item?id=1"))
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://example.com"
    assert "Set-Cookie" not in response.headers
    [stored] = recorded(container)
    assert stored.path == "/post"  # the page, never its query (decision 16)
    assert stored.url == "https://example.com/post"  # no query parameter allowed
    assert stored.source == "newsletter"  # utm_source wins over the referrer
    assert stored.utm_campaign == "launch"
    assert stored.browser == "Chrome" and stored.channel == "script"
    assert stored.referrer == "https://news.ycombinator.com/item?id=1"


def test_the_referrer_names_the_source(
    client: FlaskClient, site: Any, container: Container
) -> None:
    send(client, site.uid, hit("https://example.com/a", "https://news.ycombinator.com/item?id=1"))
    send(client, site.uid, hit("https://example.com/b", "https://example.com/a"))
    send(client, site.uid, hit("https://example.com/c", None))
    # Nothing says where the last came from: no source (api.md's null), shown as Direct.
    assert [h.source for h in recorded(container)] == ["hackernews", "internal", None]


def test_www_twin_is_accepted_other_domains_are_not(
    client: FlaskClient, site: Any, container: Container
) -> None:
    assert (
        send(
            client, site.uid, hit("https://www.example.com/"), "https://www.example.com"
        ).status_code
        == 204
    )
    refused = send(client, site.uid, hit("https://evil.example/"), "https://evil.example")
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    # A page URL from elsewhere with a matching Origin is refused too.
    assert (
        send(client, site.uid, hit("https://evil.example/"), "https://example.com").status_code
        == 403
    )
    assert len(recorded(container)) == 1


def test_any_domain_when_the_owner_allows_it(
    client: FlaskClient, site: Any, container: Container
) -> None:
    container.configuration.change_site(site.uuid, SiteChanges(any_domain=True))
    container.collection._cache.clear()
    assert (
        send(client, site.uid, hit("https://mirror.example/"), "https://mirror.example").status_code
        == 204
    )
    assert len(recorded(container)) == 1


def test_unknown_site_is_404(client: FlaskClient, site: Any) -> None:
    response = send(client, "nosuchsite", hit())
    assert response.status_code == 404
    assert response.json == {"error": "Site not found"}


def test_preflight_is_answered(client: FlaskClient, site: Any) -> None:
    response = client.options(f"/collect/{site.uid}", headers={"Origin": "https://example.com"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://example.com"


def test_prefetch_and_bots_are_not_counted(
    client: FlaskClient, site: Any, container: Container
) -> None:
    assert send(client, site.uid, hit(), **{"Sec-Purpose": "prefetch;prerender"}).status_code == 204
    assert send(client, site.uid, hit(), **{"User-Agent": GOOGLEBOT}).status_code == 204
    assert send(client, site.uid, hit(), **{"User-Agent": ""}).status_code == 204
    assert recorded(container) == []
    assert container.drops.totals(site.uuid).get("bot") == 2


def test_ignored_paths_are_silently_skipped(
    client: FlaskClient, site: Any, container: Container
) -> None:
    container.configuration.change_site(site.uuid, SiteChanges(ignored_paths=["/admin/*"]))
    container.collection._cache.clear()
    assert send(client, site.uid, hit("https://example.com/admin/x")).status_code == 204
    assert recorded(container) == []


def test_25_hits_a_minute_per_visitor(client: FlaskClient, site: Any, container: Container) -> None:
    for _ in range(30):
        assert send(client, site.uid, hit()).status_code == 204
    assert len(recorded(container)) == 25
    # Another visitor (another user agent) is not affected.
    send(client, site.uid, hit(), **{"User-Agent": IPHONE})
    assert len(recorded(container)) == 26
    assert container.drops.totals(site.uuid).get("rate_limited") == 5


def test_events_from_the_script(client: FlaskClient, site: Any, container: Container) -> None:
    payload = {
        "k": "event",
        "u": "https://example.com/pricing",
        "r": None,
        "e": "signup->click",
        "v": "pro",
    }
    assert send(client, site.uid, payload).status_code == 204
    [event] = recorded(container)
    assert (event.name, event.value, event.path) == ("signup.click", "pro", "/pricing")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"k": "hit"}).encode(),
        json.dumps({"k": "hit", "u": "javascript:alert(1)"}).encode(),
        json.dumps({"k": "other", "u": "https://example.com/"}).encode(),
        json.dumps({"k": "event", "u": "https://example.com/", "e": "nodot"}).encode(),
        json.dumps({"k": "hit", "u": "https://example.com/", "r": 5}).encode(),
    ],
)
def test_bad_bodies_are_400_and_nothing_is_kept(
    client: FlaskClient, site: Any, container: Container, body: bytes
) -> None:
    response = send(client, site.uid, body)
    assert response.status_code == 400
    assert "error" in response.json
    assert recorded(container) == []


def test_oversized_body_is_413(client: FlaskClient, site: Any) -> None:
    response = send(client, site.uid, hit("https://example.com/" + "a" * 20_000))
    assert response.status_code == 413


def test_no_ip_or_user_agent_reaches_the_store(
    client: FlaskClient, site: Any, container: Container
) -> None:
    client.environ_base["REMOTE_ADDR"] = "81.2.69.160"
    send(client, site.uid, hit())
    raw = raw_tracking_state(container)
    assert b"81.2.69.160" not in raw and b"AppleWebKit" not in raw


def test_pixel_always_answers_the_gif(client: FlaskClient, site: Any, container: Container) -> None:
    for url in (
        f"/pixel/{site.uid}.gif?path=/post",
        "/pixel/unknown.gif?path=/x",
        f"/pixel/{site.uid}.gif",
    ):
        response = client.get(url, headers={"User-Agent": CHROME})
        assert response.status_code == 200
        assert response.data == GIF and response.mimetype == "image/gif"
        assert "no-store" in response.headers["Cache-Control"]
        assert "Set-Cookie" not in response.headers
    assert [h.path for h in recorded(container)] == ["/post", "/"]
    assert all(h.channel == "pixel" for h in recorded(container))


def test_pixel_names_the_feed_reader_and_keeps_subscribers(
    client: FlaskClient, site: Any, container: Container
) -> None:
    feedly = (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1234 subscribers; "
        "like FeedFetcher-Google)"
    )
    client.get(f"/pixel/{site.uid}.gif?path=post-slug", headers={"User-Agent": feedly})
    [stored] = recorded(container)
    assert stored.path == "/post-slug"
    assert stored.source == "feedly"
    assert stored.subscribers == 1234


def test_a_count_no_feed_has_keeps_the_hit_without_it_new_or_stored_before(
    client: FlaskClient, site: Any, container: Container
) -> None:
    feedly = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers)"
    huge = "99999999999999999999999"
    client.get(f"/pixel/{site.uid}.gif?path=/new", headers={"User-Agent": feedly.format(huge)})
    [new] = recorded(container)
    assert (new.path, new.source, new.subscribers) == ("/new", "feedly", None)
    # Stored before the bound: past 64 bits (orjson reads it as a float), past BIGINT,
    # past PostgreSQL's INTEGER. One of them stopped the traffic projection on SQLite.
    site_id = container.configuration.get_site(site.uuid).id
    for path, count in [("/a", 10**23), ("/b", 2**63), ("/c", 3_000_000_000), ("/d", 77)]:
        visit = Visit(
            path=path, url=None, referrer=None, country="XX", browser="Feedly", platform=None,
            is_mobile=False, source="feedly", utm_campaign=None, utm_medium=None,
            unique_hash=path, visitor_hash=path, channel="pixel",
        )  # fmt: skip
        old = Hit.record(site_id, visit)
        object.__setattr__(old, "subscribers", count)
        container.tracking.recorder.insert_events([container.tracking.mapper.to_stored_event(old)])
    container.projections.catch_up()
    assert all(s.lag == 0 and s.quarantined == 0 for s in container.projections.status())
    rows = sorted(container.reads.traffic.export_hits(site.uuid), key=lambda r: r.path)
    assert [(r.path, r.subscribers) for r in rows] == [
        ("/a", None), ("/b", None), ("/c", None), ("/d", 77), ("/new", None),
    ]  # fmt: skip
    readers = container.reads.traffic.feed_readers(site.uuid, datetime(2000, 1, 1, tzinfo=UTC))
    assert [(r.source, r.subscribers) for r in readers] == [("feedly", 77)]


def test_pixel_drops_bots_and_ignored_paths(
    client: FlaskClient, site: Any, container: Container
) -> None:
    container.configuration.change_site(site.uuid, SiteChanges(ignored_paths=["/draft"]))
    container.collection._cache.clear()
    assert (
        client.get(f"/pixel/{site.uid}.gif?path=/x", headers={"User-Agent": GOOGLEBOT}).data == GIF
    )
    assert (
        client.get(f"/pixel/{site.uid}.gif?path=/draft", headers={"User-Agent": CHROME}).data == GIF
    )
    assert recorded(container) == []


def test_forwarded_for_is_believed_only_from_trusted_proxies(env: dict[str, str]) -> None:
    from flask import Flask

    from infrastructure.settings import Settings
    from interfaces.collect.client import client_ip

    app = Flask("t")
    plain = Settings.from_env(env)
    proxied = Settings.from_env({**env, "TINYLYTICS_TRUSTED_PROXIES": "10.0.0.0/8"})
    headers = {"X-Forwarded-For": "203.0.113.9, 10.0.0.7"}
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        from flask import request

        assert client_ip(request, plain) == "10.0.0.1"
        assert client_ip(request, proxied) == "203.0.113.9"
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": "198.51.100.1"}):
        from flask import request

        assert client_ip(request, proxied) == "198.51.100.1"


def test_a_browser_kudo_once_per_visitor_and_page_under_the_sites_rules(
    client: FlaskClient, site: Any, container: Container
) -> None:
    """The browser's kudo path: one per visitor, page and day; ignored paths, bots and an
    archived site give none (the same service as the API's, application/collection.py)."""
    kudo = {"k": "kudo", "u": "https://example.com/post", "p": "/post"}
    first = send(client, site.uid, kudo)
    assert first.status_code == 200
    uid = first.json["uid"]
    assert first.json == {"status": "created", "uid": uid, "path": "/post"}
    again = send(client, site.uid, kudo)
    assert again.status_code == 409
    assert again.json == {"error": "You already gave this page a kudo today", "uid": uid}
    assert send(client, site.uid, kudo, **{"User-Agent": IPHONE}).status_code == 200
    bot = send(client, site.uid, kudo, **{"User-Agent": GOOGLEBOT})
    assert (bot.status_code, bot.json) == (202, {"status": "ignored", "reason": "Bot user agent"})
    container.configuration.change_site(site.uuid, SiteChanges(ignored_paths=["/drafts/*"]))
    container.collection._cache.clear()
    ignored = send(client, site.uid, {**kudo, "p": "/drafts/x"})
    assert ignored.status_code == 202
    assert ignored.json == {"status": "ignored", "reason": "Path matches ignore rule"}
    container.configuration.change_site(site.uuid, SiteChanges(archived=True))
    container.collection._cache.clear()
    archived = send(client, site.uid, {**kudo, "p": "/other"})
    assert (archived.status_code, archived.json) == (
        202,
        {"status": "ignored", "reason": "Site is archived"},
    )
