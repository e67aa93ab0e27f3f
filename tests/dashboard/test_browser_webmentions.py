"""The Webmention story in headless Chromium: a like on a local page is sent, verified
by the clock's job, becomes a kudo on the target path, and the owner sees it in the
Community and Kudos tabs; a hostile mention beside it never runs anything and the
pages ask no third party for anything."""

import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from infrastructure.bootstrap import Container
from tests.browser.conftest import Pages, Sent, sign_in_browser
from tests.conftest import World
from tests.test_webmentions import hostile
from tests.webmention_helpers import like_of

TARGET = "https://blog.example.com/posts/hello"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # The local pages are on http://localhost:<port>.
    env["TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS"] = "127.0.0.1/32,localhost"
    env["TINYLYTICS_WEBMENTION_TIMEOUT"] = "5"
    return env


def send(base: str, uid: str, source: str) -> str:
    """A sender's POST to the live server; the status URL it was given."""
    body = urlencode({"source": source, "target": TARGET}).encode()
    request = urllib.request.Request(f"{base}/webmention/{uid}", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        return str(answer.headers["Location"])


def no_alert(driver: WebDriver) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018
    except NoAlertPresentException:
        return True
    return False


def test_a_like_on_a_local_page_becomes_a_kudo_in_the_community_and_kudos_tabs(
    driver: WebDriver,
    tinylytics: str,
    pages: Pages,
    sent: Sent,
    container: Container,
    world: World,
) -> None:
    owner = world.account("owner@example.com", confirmed=True)
    site = world.site(owner, "https://blog.example.com", label="My blog")
    uid = container.configuration.get_site(site.uuid).uid
    page = "<!doctype html><html><head><meta charset='utf-8'></head><body>{}</body></html>"
    like = pages.add("/notes/1", page.format(like_of(TARGET, author="Ada", text="Loved it")))
    bad = pages.add("/notes/2", page.format(hostile(TARGET)))
    status = send(tinylytics, uid, like)
    send(tinylytics, uid, bad)
    assert container.clock.tick() == 2  # the verification jobs, as the clock fires them
    container.projections.catch_up()
    assert pages.requested == ["/notes/1", "/notes/2"]

    driver.get(status)
    assert driver.find_element(By.ID, "status").get_attribute("data-status") == "verified"
    assert "it is a like" in driver.find_element(By.ID, "status").text

    sign_in_browser(driver, tinylytics, "owner@example.com")

    driver.get(f"{tinylytics}/sites/{uid}/community")
    mentions = driver.find_elements(By.CSS_SELECTOR, "#mentions li.mention")
    assert [m.get_attribute("data-kind") for m in mentions] == ["like", "like"]
    feed = driver.find_element(By.ID, "mentions").text
    assert "Ada" in feed and "Loved it" in feed and like in feed
    # The payloads, shown as text (mf2py leaves a <script>'s own text out of values).
    assert "<img src=x onerror=alert(1)>" in feed and "<script>alert(3)</script>" in feed
    assert driver.execute_script("return window.__pwned") is None
    assert no_alert(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "#mentions img, #mentions iframe") == []
    asked = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name })"
    )
    assert all(str(url).startswith(tinylytics) for url in asked), asked

    driver.get(f"{tinylytics}/sites/{uid}/kudos?source=external")
    table = driver.find_element(By.ID, "external-kudos").text
    assert "/posts/hello" in table and like in table and "(Ada)" in table
    assert no_alert(driver) and driver.execute_script("return window.__pwned") is None
    driver.get(f"{tinylytics}/sites/{uid}/kudos")
    top = driver.find_element(By.ID, "kudos-pages").find_element(By.XPATH, "..").text
    assert "/posts/hello" in top and "2" in top  # two likes: two external kudos
    everything: Any = container.reads.kudos.lifetime([site.uuid])
    assert everything == {site.uuid: 2}
