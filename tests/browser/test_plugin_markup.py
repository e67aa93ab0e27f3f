"""The exact markup the WordPress and Micro.blog plugins emit (issue 19, items 6-8), in
a real browser: `?publicstats` with `<a class="tinylytics_public_stats">`, per-page
`.tinylytics_hits[data-path]` counters (one request for all of them), and a kudos
label of text and emoji (`?kudos=👏 Thanks`), written as text."""

import json

from flask.testing import FlaskClient

from application.sites import SiteChanges
from infrastructure.bootstrap import Container
from tests.browser import test_widgets_browser
from tests.browser.conftest import Harness
from tests.browser.test_widgets_browser import settle, texts, wait_for, wait_text
from tests.conftest import bearer

# The widget tests' fixtures: the harness with a person's user agent, the data asked.
tiny = test_widgets_browser.tiny
asked = test_widgets_browser.asked
CLAP_THANKS = "%F0%9F%91%8F%20Thanks"  # "👏 Thanks", as the plugins' src carries it
PLUGIN_MARKUP = (
    '<a class="tinylytics_public_stats" href="#" target="_blank">Public stats</a>'
    '<article><span class="tinylytics_hits" data-path="/posts/one"></span>'
    '<button class="tinylytics_kudos" data-path="/posts/one"></button></article>'
    '<article><span class="tinylytics_hits" data-path="/posts/two"></span></article>'
    '<footer><span id="total" class="tinylytics_hits"></span></footer>'
)
HREF = "return document.querySelector('a.tinylytics_public_stats').getAttribute('href')"


def seed(client: FlaskClient, container: Container, uid: str) -> None:
    owner = container.configuration.find_account("owner@example.com")
    key = bearer(container.configuration.issue_key(owner.id, "w", "full_access").secret)
    container.projections.catch_up()
    sites = client.get("/api/v1/sites", headers=key).get_json()["sites"]
    number = next(s["id"] for s in sites if s["uid"] == uid)
    rows = [{"path": "/posts/one"}] * 3 + [{"path": "/posts/two"}] * 2 + [{"path": "/"}]
    response = client.post(
        f"/api/v1/sites/{number}/hits/batch",
        data=json.dumps(rows),
        headers={**key, "Content-Type": "application/json"},
    )
    assert response.status_code < 300, response.json
    container.projections.catch_up()


def filled(tiny: Harness) -> None:
    """Each post's counter its own hits; the footer's the site's (the pages' own views
    count there too, once the projections have them)."""
    wait_for(
        lambda: (
            texts(tiny, ".tinylytics_hits")[:2] == ["3", "2"]
            and texts(tiny, ".tinylytics_hits")[2] in ("6", "7", "8")
        ),
        "the counters",
    )


def test_the_plugins_markup_is_filled(
    tiny: Harness, asked: list, client: FlaskClient, container: Container
) -> None:
    seed(client, container, tiny.uid)
    site = container.configuration.site_by_uid(tiny.uid)
    params = f"hits&kudos={CLAP_THANKS}&publicstats"

    # Public stats off: the link is left as it is.
    tiny.open(tiny.page("/posts", params, body=PLUGIN_MARKUP))
    filled(tiny)
    wait_text(tiny, ".tinylytics_kudos", ["👏 Thanks 0"])
    assert tiny.driver.execute_script(HREF) == "#"
    assert len(asked) == 1  # every counter, the kudos and the link: one request
    settle(tiny)

    container.configuration.change_site(site.id, SiteChanges(public=True))
    container.projections.catch_up()
    container.collection._cache.clear()
    tiny.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    tiny.open(tiny.page("/posts-public", params, body=PLUGIN_MARKUP))
    wait_for(lambda: tiny.driver.execute_script(HREF) != "#", "the public stats link")
    assert tiny.driver.execute_script(HREF) == f"{tiny.base}/public/{tiny.uid}"
    filled(tiny)
    assert texts(tiny, ".tinylytics_kudos") == ["👏 Thanks 0"]
    assert len(asked) == 2
    settle(tiny)


def test_a_kudos_label_is_text_never_markup(tiny: Harness, asked: list) -> None:
    button = '<button class="tinylytics_kudos"></button>'
    for params, shown in [
        (f"kudos={CLAP_THANKS}", "👏 Thanks 0"),
        ("kudos=%E2%9D%A4%EF%B8%8F%E2%9D%A4%EF%B8%8F", "❤️❤️ 0"),
        ("kudos=Like", "Like 0"),
        ("kudos=%3Cb%3Ehi%3C%2Fb%3E", "<b>hi</b> 0"),  # shown as text, escaped
        ("kudos=" + "x" * 60, "👋 0"),  # too long: the default
    ]:
        tiny.open(tiny.page("/label", params, body=button))
        wait_text(tiny, ".tinylytics_kudos", [shown])
        assert tiny.driver.execute_script("return document.querySelector('b')") is None
    settle(tiny)
