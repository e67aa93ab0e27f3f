"""A site setting changed elsewhere (the CLI, another web process) reaches a running
server at once (issue 19, item 14): each process follows the configuration store's
notification log and drops its cached site settings when the log has moved, rather
than waiting out a cache of a few seconds."""

import json
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from application.sites import SiteChanges
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from tests.conftest import World
from tests.tracking_helpers import CHROME, recorded

SCRIPT = {"Content-Type": "text/plain", "User-Agent": CHROME, "Origin": "https://example.com"}


@pytest.fixture
def other(settings: Settings) -> Iterator[Container]:
    """A second process on the same stores: the CLI, or another web worker."""
    wired = bootstrap(settings, fast_passwords=True)
    yield wired
    wired.close()


def test_a_change_made_elsewhere_applies_to_the_next_hit(
    container: Container, other: Container, world: World, client: FlaskClient
) -> None:
    site = world.site(world.account(), "https://example.com")

    def collect(path: str) -> None:
        body = {"k": "hit", "u": f"https://example.com{path}"}
        assert client.post(f"/collect/{site.uid}", data=json.dumps(body), headers=SCRIPT)

    collect("/private/1")  # the server has the site's settings cached now
    other.configuration.change_site(site.uuid, SiteChanges(ignored_paths=["/private/*"]))
    changed = time.monotonic()
    # Well within a second (the cache it replaces kept settings for 5 s).
    while container.collection.site(site.uid).ignored_paths != ("/private/*",):
        assert time.monotonic() - changed < 0.5, "the change has not reached the server"
        time.sleep(0.01)
    collect("/private/2")
    collect("/public")
    paths = [e.path for e in recorded(container) if type(e).__qualname__ == "Hit.Recorded"]
    assert paths == ["/private/1", "/public"]
