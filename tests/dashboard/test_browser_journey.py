"""From sign-up to the first hit, in headless Chromium: sign up, confirm from the outbox,
create a site, embed its code on a page of another origin, see the hit and a kudo in
the overview, export the CSV, delete the account.

Screenshots of the overview and embed tabs go to test-output/screenshots/.
"""

import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from domain.errors import NotFound
from infrastructure.bootstrap import Container
from tests.browser.conftest import Harness, Pages, Sent
from tests.dashboard.conftest import plain_text

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
EMAIL = "journey@example.com"
PASSWORD = "a long enough password"


def wait_for(condition: Any, seconds: float = 8.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def screenshot(driver: WebDriver, name: str, width: int = 1280) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height), 600) + 120, 5000))
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    return path


def fill(driver: WebDriver, field_id: str, value: str) -> None:
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


def submit(driver: WebDriver, form_selector: str = "main form.stack") -> None:
    driver.find_element(By.CSS_SELECTOR, f"{form_selector} button[type=submit]").click()


def confirmation_link(container: Container) -> str:
    folder = container.settings.data_dir / "outbox"
    mails = wait_for(lambda: sorted(folder.glob("*.eml")))
    body = plain_text(message_from_bytes(mails[-1].read_bytes()))
    return next(word for word in body.split() if "/auth/confirm/" in word)


@pytest.fixture
def person(driver: WebDriver) -> Iterator[WebDriver]:
    """The browser as a person's: headless Chromium names itself HeadlessChrome, which
    the collector rightly counts as a bot; a person's Chrome does not."""
    agent = str(driver.execute_script("return navigator.userAgent"))
    driver.execute_cdp_cmd(
        "Network.setUserAgentOverride", {"userAgent": agent.replace("HeadlessChrome", "Chrome")}
    )
    driver.set_window_size(1280, 900)
    yield driver
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": agent})


def test_from_sign_up_to_the_first_hit(
    person: WebDriver, tinylytics: str, pages: Pages, sent: Sent, container: Container
) -> None:
    driver = person
    # Sign up.
    driver.get(tinylytics + "/")
    driver.find_element(By.LINK_TEXT, "Create an account").click()
    fill(driver, "email", EMAIL)
    fill(driver, "password", PASSWORD)
    Select(driver.find_element(By.ID, "timezone")).select_by_value("UTC")
    submit(driver)
    wait_for(lambda: driver.current_url.endswith("/sites"))
    assert "Please confirm your email address" in driver.page_source

    # Confirm through the link in the outbox.
    link = confirmation_link(container)
    assert link.startswith(tinylytics)
    driver.get(link)
    wait_for(lambda: "is confirmed" in driver.page_source)
    assert container.configuration.find_account(EMAIL).email_confirmed

    # A new site for the test pages' origin.
    driver.find_element(By.LINK_TEXT, "New site").click()
    fill(driver, "url", pages.origin)
    fill(driver, "label", "Test pages")
    submit(driver)
    wait_for(lambda: "/embed" in driver.current_url)
    uid = driver.current_url.rstrip("/").split("/")[-2]
    driver.get(f"{tinylytics}/sites/{uid}/embed?kudos=y")
    snippet = driver.find_element(By.ID, "embed-snippet").get_attribute("value")
    assert snippet == f'<script src="{tinylytics}/embed/{uid}.js?kudos" defer></script>'
    screenshot(driver, "embed.png")
    # The builder's script rewrites the snippet as options change; the copy button shows.
    assert driver.find_element(By.CSS_SELECTOR, "[data-copy=embed-snippet]").is_displayed()
    driver.find_element(By.ID, "spa").click()
    live = driver.find_element(By.ID, "embed-snippet").get_attribute("value")
    assert live == f'<script src="{tinylytics}/embed/{uid}.js?spa&kudos" defer></script>'
    driver.find_element(By.ID, "spa").click()

    # The embed code on a page of another origin: one hit, then a kudo from its button.
    page = pages.add(
        "/article",
        Harness.html('<h1>An article</h1><button class="tinylytics_kudos"></button>' + snippet),
    )
    driver.get(page)
    wait_for(lambda: len(sent.requests()) >= 1)
    assert sent.requests()[0].payload["k"] == "hit"
    button = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".tinylytics_kudos"))[0]
    wait_for(lambda: button.text.strip())  # the widget filled it in
    button.click()
    wait_for(lambda: "did_select" in (button.get_attribute("class") or ""))
    assert any(r.payload.get("k") == "kudo" for r in sent.requests())
    wait_for(lambda: container.projections.catch_up() >= 0 and _has_hit(container, uid))

    # The overview shows the hit and the kudo.
    driver.get(f"{tinylytics}/sites/{uid}?period=24h")
    overview = driver.find_element(By.TAG_NAME, "main").text
    assert "/article" in overview
    pages_table = driver.find_element(By.ID, "b-pages").find_element(By.XPATH, "..").text
    assert "/article\n1" in pages_table or "/article 1" in pages_table
    kudos_table = driver.find_element(By.ID, "b-kudos").find_element(By.XPATH, "..").text
    assert "/article" in kudos_table
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar-hits")
    screenshot(driver, "overview.png")
    # A phone-width look at the same page.
    screenshot(driver, "overview-phone.png", width=390)
    driver.set_window_size(1280, 900)

    # The CSV export, fetched by the signed-in browser.
    csv_text = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done, e => done('error ' + e));",
        f"{tinylytics}/sites/{uid}/export?start=2000-01-01&end=2099-12-31".replace(
            "2000-01-01", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        ).replace("2099-12-31", time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))),
    )
    lines = csv_text.strip().split("\r\n")
    assert lines[0].lstrip("\ufeff").startswith("id,created_at_utc,path,url,referrer")
    assert len(lines) == 2 and ",/article," in lines[1]

    # Delete the account.
    driver.get(f"{tinylytics}/account")
    driver.find_element(By.LINK_TEXT, "Delete account…").click()
    fill(driver, "email", EMAIL)
    fill(driver, "current_password", PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_for(lambda: "all its data are deleted" in driver.page_source)
    with pytest.raises(NotFound):
        container.configuration.find_account(EMAIL)
    driver.get(f"{tinylytics}/sites")
    assert "/auth/sign_in" in driver.current_url


def _has_hit(container: Container, uid: str) -> bool:
    site = container.configuration.site_by_uid(uid)
    table = container.projections.tables["traffic"]["sites"]
    with container.engine.connect() as conn:
        row = conn.execute(table.select().where(table.c.site_uuid == site.id)).first()
    kudos = container.projections.tables["kudos"]["counts"]
    with container.engine.connect() as conn:
        kudo = conn.execute(kudos.select().where(kudos.c.site_uuid == site.id)).first()
    return row is not None and row.hits >= 1 and kudo is not None
