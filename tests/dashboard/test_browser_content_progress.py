"""The Content tab in headless Chromium while a check runs: its progress line follows
the crawl by polling the dashboard's own JSON (no third-party request), and the page
reloads with the results when the crawl is over. The local site holds the crawl
mid-way (events); the clock's time is moved on so the sampler writes (time-machine)."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from infrastructure.bootstrap import Container
from tests.browser.conftest import sign_in_browser
from tests.conftest import World
from tests.content_helpers import WAIT, Hold, Site, held_chain


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    return env


@pytest.fixture
def held() -> Iterator[tuple[Site, Hold, Hold]]:
    with held_chain('<a href="/two">two</a> <a href="/missing">m</a>') as chain:
        yield chain


def test_the_progress_line_follows_a_running_check_then_the_results_show(
    driver: WebDriver,
    tinylytics: str,
    container: Container,
    world: World,
    held: tuple[Site, Hold, Hold],
) -> None:
    local, first, second = held
    owner = world.account("owner@example.com", is_subscribed=True)
    site = world.site(owner, local.origin, label="Local")
    uid = container.configuration.get_site(site.uuid).uid
    sign_in_browser(driver, tinylytics, "owner@example.com")
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        container.content.enable(site.uuid)
        crawl = threading.Thread(target=container.clock.tick)
        crawl.start()
        try:
            assert first.reached.wait(WAIT)
            driver.get(f"{tinylytics}/sites/{uid}/content")
            line = driver.find_element(By.ID, "content-progress")
            assert "pages crawled" in line.text and "found so far" in line.text
            traveller.shift(timedelta(seconds=5))  # the next answer is sampled
            first.release.set()
            assert second.reached.wait(WAIT)
            WebDriverWait(driver, WAIT).until(
                lambda d: "2 pages crawled" in d.find_element(By.ID, "content-progress").text
            )
            second.release.set()
            # Over: the poll sees it and the page reloads with the results (an element
            # found just before the reload is gone when its text is asked for).
            WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: "Last checked" in d.find_element(By.TAG_NAME, "main").text
            )
        finally:
            first.release.set()
            second.release.set()
            crawl.join(WAIT)
    body = driver.find_element(By.TAG_NAME, "main").text
    assert "Broken links (1)" in body and local.url("/missing") in body
    assert driver.find_elements(By.ID, "content-progress") == []
    asked = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name })"
    )
    assert all(str(url).startswith(tinylytics) for url in asked), asked
