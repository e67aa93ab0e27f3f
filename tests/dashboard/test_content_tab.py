"""The Content tab: enable (subscribed owners), the status and the issues of a real
crawl of a local site, Ignore / Un-ignore, Check All, Check specific URL, pause and
alerts; the free plan sees the pitch only, anyone else's site is 404."""

from collections.abc import Iterator
from typing import Any

import pytest

from application.content_checks import CHECK_KIND
from infrastructure.bootstrap import Container
from tests.conftest import World
from tests.content_helpers import Answer, Site, page, serving
from tests.dashboard.conftest import Browser, text


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    return env


@pytest.fixture
def local_site() -> Iterator[Site]:
    routes: dict[str, Any] = {
        "/": page('<a href="/missing">m</a> <img src="/logo.png">'),
        "/logo.png": Answer(200, b"x", {"Content-Type": "image/png"}),
    }
    with serving(routes) as site:
        yield site


def tick(c: Container) -> None:
    c.clock.tick()
    c.projections.catch_up()


def test_the_content_tab_end_to_end(
    world: World, person: Browser, other: Browser, container: Container, local_site: Site
) -> None:
    account = world.account("owner@example.com", is_subscribed=True)
    site = world.site(account, local_site.origin, label="Local")
    assert person.sign_in("owner@example.com").status_code == 302
    tab = f"/sites/{site.uid}/content"
    first = person.get(tab)
    assert first.status_code == 200 and "Enable Content Checking" in text(first)
    enabled = person.submit(f"{tab}/enable", {"root_path": ""}, page=tab)
    assert enabled.status_code == 302
    assert "the initial check is queued" in text(person.get(tab))
    assert container.schedule.get(CHECK_KIND, str(site.uuid)) is not None
    tick(container)
    body = text(person.get(tab))
    assert "Broken links (1)" in body and local_site.url("/missing") in body
    assert "404 Not Found" in body and "Mixed content (0)" in body
    assert "All good (2)" in body
    ignored = person.submit(
        f"{tab}/ignore", {"key": f"broken_link {local_site.url('/missing')}"}, page=tab
    )
    assert ignored.status_code == 302
    body = text(person.get(tab))
    assert "Broken links (0)" in body and "Ignored (1)" in body and "Un-ignore" in body
    person.submit(f"{tab}/unignore", {"key": f"broken_link {local_site.url('/missing')}"}, page=tab)
    assert "Broken links (1)" in text(person.get(tab))
    # Fixed on the site, then Check specific URL: gone from the list.
    local_site.routes["/missing"] = page("here now")
    person.submit(f"{tab}/check-url", {"url": "/missing"}, page=tab)
    tick(container)
    assert "Broken links (0)" in text(person.get(tab))
    bad = person.submit(f"{tab}/check-url", {"url": "javascript:alert(1)"}, page=tab)
    assert "URL must start with http" in text(person.get(bad.location))
    person.submit(f"{tab}/check", {}, page=tab)
    tick(container)
    person.submit(f"{tab}/pause", {"until": "2999-01-01"}, page=tab)
    assert "paused until 2999-01-01" in text(person.get(tab))
    person.submit(f"{tab}/alerts/off", {}, page=tab)
    assert "E-mail alerts for new issues are off" in text(person.get(tab))
    # Someone else's site: 404; no form works for them either.
    world.account("other@example.com", is_subscribed=True)
    assert other.sign_in("other@example.com").status_code == 302
    assert other.get(tab).status_code == 404
    person.submit(f"{tab}/disable", {}, page=tab)
    assert "Enable Content Checking" in text(person.get(tab))


def test_the_free_plan_sees_what_it_is_but_cannot_enable_it(
    world: World, person: Browser, container: Container
) -> None:
    account = world.account("owner@example.com")
    site = world.site(account, "https://example.com")
    person.sign_in("owner@example.com")
    tab = f"/sites/{site.uid}/content"
    page_text = text(person.get(tab))
    assert "premium feature" in page_text and "Enable Content Checking" not in page_text
    token_page = f"/sites/{site.uid}/edit"
    refused = person.submit(f"{tab}/enable", {"root_path": "/"}, page=token_page)
    assert refused.status_code == 302
    assert "for subscribed accounts" in text(person.get(refused.location))
    assert container.schedule.get(CHECK_KIND, str(site.uuid)) is None
