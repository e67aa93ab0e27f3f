"""IPinfo is asked only for API hit payloads (issue 19, item 10): privacy.md and
privacy_compliance.md promise that only an `ip_address` sent to `POST /hits` (or the
batch) that the local database cannot resolve may go to IPinfo. A real HTTP server on
127.0.0.1 stands in for IPinfo (`TINYLYTICS_IPINFO_URL`); every path that sees a
visitor's address is exercised and the stand-in must hear only the API's."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.test_geo import MAXMIND_STYLE, FakeIpinfo, write_mmdb
from tests.tracking_helpers import CHROME

VISITOR = "8.8.8.8"  # a public address the local database does not know
LOCAL = "81.2.69.10"  # one it does (GB)


@pytest.fixture
def ipinfo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIpinfo]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = FakeIpinfo()
    yield server
    server.close()


@pytest.fixture
def env(env: dict[str, str], ipinfo: FakeIpinfo, tmp_path: Path) -> dict[str, str]:
    env["TINYLYTICS_IPINFO_TOKEN"] = "test-token"
    env["TINYLYTICS_IPINFO_URL"] = ipinfo.url
    env["TINYLYTICS_GEOIP_DB"] = str(write_mmdb(tmp_path / "local.mmdb", MAXMIND_STYLE))
    return env


def test_only_api_hit_payloads_reach_ipinfo(
    container: Container, world: World, client: FlaskClient, ipinfo: FakeIpinfo
) -> None:
    owner = world.account("owner@example.com", is_subscribed=True)
    site = world.site(owner, "https://example.com")
    key = {**bearer(world.key(owner, "writer", "full_access")), "Content-Type": "application/json"}
    browser = {"REMOTE_ADDR": VISITOR}
    script = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": "https://example.com"}

    def collect(body: dict[str, Any]) -> None:
        response = client.post(
            f"/collect/{site.uid}", data=json.dumps(body), headers=script, environ_base=browser
        )
        assert response.status_code < 300

    # Every way a browser or a feed reader reaches the server, from a public address.
    collect({"k": "hit", "u": "https://example.com/page"})
    collect({"k": "event", "u": "https://example.com/page", "e": "signup.started"})
    collect({"k": "kudo", "u": "https://example.com/page"})
    client.get(
        f"/pixel/{site.uid}.gif?path=/pixel", headers={"User-Agent": CHROME}, environ_base=browser
    )
    client.get(f"/widgets/{site.uid}.json?hits&kudos", environ_base=browser)
    client.get(f"/embed/{site.uid}.js", environ_base=browser)
    # The API, but not a hit: a custom event with an address, a hit without one, and a
    # hit whose address the local database resolves.
    events = client.post(
        f"/api/v1/sites/{site.id}/events",
        data=json.dumps({"event": "a.b", "ip_address": VISITOR}),
        headers=key,
        environ_base=browser,
    )
    assert events.status_code == 201, events.json
    plain = client.post(
        f"/api/v1/sites/{site.id}/hits", data=json.dumps({"path": "/no-ip"}), headers=key,
        environ_base=browser,
    )  # fmt: skip
    assert plain.status_code == 201 and plain.json["hit"]["country"] == "XX"
    local = client.post(
        f"/api/v1/sites/{site.id}/hits",
        data=json.dumps({"path": "/local", "ip_address": LOCAL}),
        headers=key,
    )
    assert local.status_code == 201 and local.json["hit"]["country"] == "GB"
    assert ipinfo.requests == []

    # An API hit with an address the local database cannot resolve: IPinfo, once.
    sent = client.post(
        f"/api/v1/sites/{site.id}/hits",
        data=json.dumps({"path": "/remote", "ip_address": VISITOR}),
        headers=key,
    )
    assert sent.status_code == 201 and sent.json["hit"]["country"] == "US"
    assert [path for path, _query in ipinfo.requests] == [f"/lite/{VISITOR}"]
    batch = client.post(
        f"/api/v1/sites/{site.id}/hits/batch",
        data=json.dumps([{"path": "/b", "ip_address": "8.8.4.4"}]),
        headers=key,
    )
    assert batch.json["created_count"] == 1
    assert [path for path, _query in ipinfo.requests] == [f"/lite/{VISITOR}", "/lite/8.8.4.4"]
