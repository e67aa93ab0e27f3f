"""Real-browser harness: headless Chromium (selenium) runs the embed script on test
pages served from one origin (`http://localhost:<port>`) against a live Tinylytics
server on another (`http://127.0.0.1:<port>`), and the tests read what the browser
sent to `POST /collect/<uid>`.

Chromium and chromedriver are found at /usr/bin (or $TINYLYTICS_CHROMIUM and
$TINYLYTICS_CHROMEDRIVER). When they are missing the tests skip, except on CI
(`CI=true`), where they fail.
"""

import contextlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from tests.conftest import World

CHROMIUM = os.environ.get("TINYLYTICS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TINYLYTICS_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUIET_SECONDS = 0.3  # how long to wait for requests that should not come
WAIT_SECONDS = 5.0  # how long to wait for requests that should

# Every test page records its own uncaught errors and unhandled rejections, so a
# test can check that the script never threw into the page.
ERROR_TRAP = (
    "<script>window.__errors=[];"
    "addEventListener('error',function(e){__errors.push(String(e.message))});"
    "addEventListener('unhandledrejection',function(e){__errors.push(String(e.reason))});"
    "</script>"
)


# ---- the browser ------------------------------------------------------------------


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        reason = (
            "real-browser tests need Chromium and chromedriver "
            f"(apt-get install chromium chromium-driver); not found: {', '.join(missing)}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    _require_browser()
    profile = tempfile.mkdtemp(prefix="tinylytics-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROME_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.unhandled_prompt_behavior = "ignore"  # the tests accept alerts themselves
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _dismiss_alert(driver: WebDriver) -> None:
    with contextlib.suppress(NoAlertPresentException):
        driver.switch_to.alert.accept()


@pytest.fixture
def driver(browser: WebDriver) -> Iterator[WebDriver]:
    """The shared browser, left on a blank page with no alert, data or cache after a test."""
    yield browser
    _dismiss_alert(browser)
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})
    browser.get_log("browser")  # drop this test's console lines


def sign_in_browser(
    driver: WebDriver, base: str, email: str, password: str = "correct horse"
) -> None:
    """Sign in through the form and wait for the redirect to the sites list: the click
    returns before the POST's answer arrives on a busy machine."""
    driver.get(f"{base}/auth/sign_in")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    try:
        WebDriverWait(driver, 4 * WAIT_SECONDS).until(
            lambda d: urlsplit(d.current_url).path == "/sites"
        )
    except TimeoutException:
        main = driver.find_element(By.TAG_NAME, "main").text
        raise AssertionError(f"not signed in: at {driver.current_url}: {main!r}") from None


# ---- what the browser sent ---------------------------------------------------------


@dataclass
class Received:
    """One POST to /collect/<uid>, as it arrived."""

    uid: str
    payload: dict[str, Any]
    content_type: str | None
    fetch_mode: str | None  # Sec-Fetch-Mode: "cors" for fetch, "no-cors" for sendBeacon
    origin: str | None
    cookie: str | None
    status: int | None  # what the collector answered (None: it raised)


@dataclass
class Sent:
    """Everything posted to /collect/<uid> during one test, in arrival order."""

    received: list[Received] = field(default_factory=list)
    fail: bool = False  # answer 500 (no CORS headers) instead, to test error swallowing
    lock: threading.Lock = field(default_factory=threading.Lock)
    page_errors: Callable[[], list[str]] = lambda: []

    def record(self, uid: str, body: bytes, status: int | None, headers: Any) -> None:
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            payload = {"unparsed": body.decode("utf-8", "replace")}
        with self.lock:
            self.received.append(
                Received(
                    uid=uid,
                    payload=payload,
                    content_type=headers.get("Content-Type"),
                    fetch_mode=headers.get("Sec-Fetch-Mode"),
                    origin=headers.get("Origin"),
                    cookie=headers.get("Cookie"),
                    status=status,
                )
            )

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def expect(self, count: int) -> list[dict[str, Any]]:
        """Wait until `count` posts have arrived since the test began, and a moment
        more for any stray one; the payloads of all of them, in order. (Counts are
        totals: a post can arrive before the call that triggered it returns.) The
        page must not have thrown meanwhile."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.requests()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(QUIET_SECONDS)
        assert self.page_errors() == []
        return [r.payload for r in self.requests()]


def _install_recorder(app: Flask, sent: Sent) -> None:
    # Every post to /collect/<uid> is recorded as it arrived, then handed to the real
    # collector (a WSGI application mounted in front of Flask), so these tests check
    # what the browser sent. To check what was stored as well, read it from
    # `container` in a test. With `sent.fail` the post is answered 500 instead.
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not (path.startswith("/collect/") and environ.get("REQUEST_METHOD") == "POST"):
            return inner(environ, start_response)
        uid = path[len("/collect/") :]
        headers = EnvironHeaders(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if sent.fail:
            sent.record(uid, body, 500, headers)
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")])
            return [b"boom"]
        status: list[int] = []

        def capture(line: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            status.append(int(line.split()[0]))
            return start_response(line, headers, *exc_info)

        try:
            return list(inner(environ, capture))
        finally:
            sent.record(uid, body, status[0] if status else None, headers)

    app.wsgi_app = recording  # type: ignore[method-assign]


@pytest.fixture
def sent(app: Flask) -> Sent:
    recorder = Sent()
    _install_recorder(app, recorder)
    return recorder


# ---- the two origins ---------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _serve(wsgi_app: Any) -> Iterator[BaseWSGIServer]:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def tinylytics(app: Flask, sent: Sent) -> Iterator[str]:
    """The live Tinylytics server (the script origin); its base URL."""
    for server in _serve(app):
        yield f"http://127.0.0.1:{server.server_port}"


class Pages:
    """Test pages on their own origin, http://localhost:<port>, by path."""

    def __init__(self) -> None:
        self.html: dict[str, str] = {}
        self.origin = ""
        self.requested: list[str] = []  # every path asked for, in order

    def add(self, path: str, html: str) -> str:
        self.html[path] = html
        return self.origin + path

    @WsgiRequest.application
    def wsgi(self, req: WsgiRequest) -> WsgiResponse:
        self.requested.append(req.path)
        html = self.html.get(req.path)
        if html is None:
            return WsgiResponse("not found", status=404)
        return WsgiResponse(html, content_type="text/html; charset=utf-8")


@pytest.fixture
def pages() -> Iterator[Pages]:
    site = Pages()
    for server in _serve(site.wsgi):
        site.origin = f"http://localhost:{server.server_port}"
        yield site


# ---- the whole setup, as the tests use it --------------------------------------------


@dataclass
class Harness:
    driver: WebDriver
    pages: Pages
    sent: Sent
    base: str  # the Tinylytics server
    uid: str  # a site whose URL is the pages' origin

    def src(self, params: str = "", minified: bool = False) -> str:
        path = f"/embed/{self.uid}/min.js" if minified else f"/embed/{self.uid}.js"
        return self.base + path + (f"?{params}" if params else "")

    def page(
        self, path: str, params: str = "", minified: bool = False, body: str = "", script: str = ""
    ) -> str:
        """A page at `path` with the embed script tag (or, given `script`, that inline
        script instead); its URL."""
        tag = script and f"<script>{script}</script>"
        tag = tag or f'<script src="{self.src(params, minified)}" defer></script>'
        return self.pages.add(path, self.html(body + tag))

    @staticmethod
    def html(body: str) -> str:
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>test</title>'
            f"{ERROR_TRAP}</head><body>{body}</body></html>"
        )

    def open(self, url: str) -> None:
        self.driver.get(url)

    def accept_alert(self) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                alert = self.driver.switch_to.alert
                text = alert.text
                alert.accept()
                return text
            except NoAlertPresentException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def page_errors(self) -> list[str]:
        try:
            return list(self.driver.execute_script("return window.__errors || []"))
        except WebDriverException:
            return []

    def cookies_on(self, url: str) -> list[dict[str, Any]]:
        self.driver.get(url)
        return list(self.driver.get_cookies())


@pytest.fixture
def tiny(
    driver: WebDriver, pages: Pages, sent: Sent, tinylytics: str, world: World
) -> Iterator[Harness]:
    owner = world.account(confirmed=True)  # kudos need a confirmed owner
    site = world.site(owner, url=pages.origin)
    assert urlsplit(pages.origin).hostname != urlsplit(tinylytics).hostname
    harness = Harness(driver=driver, pages=pages, sent=sent, base=tinylytics, uid=str(site.uid))
    sent.page_errors = harness.page_errors
    yield harness
    _dismiss_alert(driver)
    # Ports are reused: leave no localStorage (the ignore flag) behind for a later test.
    for origin in (pages.origin, tinylytics):
        driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
        )
