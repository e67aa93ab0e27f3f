"""The embed script in a real browser: what it sends, and when it sends nothing.

Pages live on http://localhost:<port>, the script and the collector on
http://127.0.0.1:<port> (see conftest.py for the harness).
"""

import time
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.browser.conftest import Harness

BOTH = pytest.mark.parametrize("minified", [False, True], ids=["js", "min"])

SIGNUP = (
    '<button id="signup" data-tinylytics-event="signup->click"'
    ' data-tinylytics-event-value="pro plan"><span id="inner">Sign up</span></button>'
)
DOWNLOAD = '<button id="download" data-tinylytics-event="file.download">PDF</button>'


def hit(url: str, referrer: str | None = None) -> dict[str, Any]:
    return {"k": "hit", "u": url, "r": referrer}


def event(url: str, name: str, value: str | None) -> dict[str, Any]:
    return {"k": "event", "u": url, "r": None, "e": name, "v": value}


def click(tiny: Harness, element_id: str) -> None:
    tiny.driver.find_element(By.ID, element_id).click()


def wait_for_path(tiny: Harness, path: str) -> None:
    deadline = time.monotonic() + 5
    while tiny.driver.execute_script("return location.pathname") != path:
        assert time.monotonic() < deadline, f"never reached {path}"
        time.sleep(0.02)


@BOTH
def test_a_page_load_sends_one_hit_with_url_and_referrer(tiny: Harness, minified: bool) -> None:
    start = tiny.page("/start", minified=minified, body='<a id="go" href="/article?id=7">go</a>')
    article = tiny.page("/article", minified=minified)
    tiny.open(start)
    assert tiny.sent.expect(1) == [hit(start)]
    click(tiny, "go")
    assert tiny.sent.expect(2)[1:] == [hit(article + "?id=7", referrer=start)]
    for post in tiny.sent.requests():
        assert post.uid == tiny.uid
        assert post.content_type == "text/plain;charset=UTF-8"  # a CORS simple request
        assert post.fetch_mode == "cors"  # fetch, not a beacon
        assert post.origin == tiny.pages.origin
        assert post.cookie is None
        assert post.status == 204  # the collector (or the stand-in) took it


def test_the_ignore_parameter_sends_neither_hits_nor_events(tiny: Harness) -> None:
    tiny.open(tiny.page("/quiet", "ignore&events&spa", body=SIGNUP))
    click(tiny, "signup")
    tiny.driver.execute_script("history.pushState({}, '', '/elsewhere')")
    assert tiny.sent.expect(0) == []


def test_spa_counts_each_new_path_once(tiny: Harness) -> None:
    one = tiny.page("/spa/one", "spa")
    origin = tiny.pages.origin
    run = tiny.driver.execute_script
    tiny.open(one)
    assert tiny.sent.expect(1) == [hit(one)]
    run("history.replaceState({}, '', '/spa/one?tab=2')")  # same path: no hit
    run("history.pushState({}, '', '/spa/two')")  # new path: a hit
    run("history.pushState({}, '', '/spa/two')")  # same path again: no hit
    run("history.replaceState({}, '', '/spa/two?sort=new#top')")  # still the same path
    assert tiny.sent.expect(2)[1:] == [hit(origin + "/spa/two", referrer=origin + "/spa/one?tab=2")]
    run("history.back()")  # popstate to /spa/two: the same path, no hit
    assert len(tiny.sent.expect(2)) == 2
    run("history.back()")  # popstate to /spa/one: a hit
    wait_for_path(tiny, "/spa/one")
    assert tiny.sent.expect(3)[2:] == [hit(one + "?tab=2", referrer=origin + "/spa/two")]


@BOTH
def test_events_are_sent_once_per_500_ms_per_element(tiny: Harness, minified: bool) -> None:
    url = tiny.page("/buttons", "events", minified=minified, body=SIGNUP + DOWNLOAD)
    tiny.open(url)
    tiny.sent.expect(1)  # the page hit
    clicked = time.monotonic()
    click(tiny, "inner")  # inside the element: closest() finds it
    click(tiny, "download")  # another element is not debounced; no value is null
    assert tiny.sent.expect(3)[1:] == [
        event(url, "signup.click", "pro plan"),
        event(url, "file.download", None),
    ]
    time.sleep(max(0.0, 0.6 - (time.monotonic() - clicked)))
    ActionChains(tiny.driver).double_click(tiny.driver.find_element(By.ID, "signup")).perform()
    assert tiny.sent.expect(4)[3:] == [event(url, "signup.click", "pro plan")]


def test_beacon_sends_events_with_send_beacon(tiny: Harness) -> None:
    url = tiny.page("/beacon", "events&beacon", body=SIGNUP)
    tiny.open(url)
    click(tiny, "signup")
    assert tiny.sent.expect(2) == [hit(url), event(url, "signup.click", "pro plan")]
    modes = [post.fetch_mode for post in tiny.sent.requests()]
    assert modes == ["cors", "no-cors"]  # the hit by fetch, the event by sendBeacon


def test_the_ignore_flag_stops_and_restarts_sending(tiny: Harness) -> None:
    url = tiny.page("/p", "events", body=SIGNUP)
    tiny.open(url + "?tiny_ignore=true")
    assert "ignored" in tiny.accept_alert()
    assert tiny.driver.execute_script("return localStorage.tinylytics_ignore") == "true"
    tiny.open(url)
    click(tiny, "signup")
    assert tiny.sent.expect(0) == []  # neither that load, nor this one, nor the event
    tiny.open(url + "?tiny_ignore=false")
    assert "counted again" in tiny.accept_alert()
    assert tiny.sent.expect(1) == [hit(url + "?tiny_ignore=false")]
    tiny.open(url + "?ti=true")
    assert "ignored" in tiny.accept_alert()
    tiny.open(url)
    assert len(tiny.sent.expect(1)) == 1
    assert tiny.driver.get_cookies() == []


@pytest.mark.parametrize(
    ("hide_current_script", "minified"),
    [(False, False), (True, True)],
    ids=["currentScript", "fallback-min"],
)
def test_a_script_inserted_by_code_works(
    tiny: Harness, hide_current_script: bool, minified: bool
) -> None:
    # The documented "alternative JavaScript approach"; with currentScript hidden the
    # script must find itself among the page's script elements.
    hide = "Object.defineProperty(document,'currentScript',{get:function(){return null}});"
    url = tiny.page(
        "/inserted",
        body=SIGNUP,
        script=(hide if hide_current_script else "")
        + 'let script = document.createElement("script");'
        + 'script.type = "text/javascript"; script.defer = true;'
        + f'script.src = "{tiny.src("events", minified)}";'
        + "document.body.appendChild(script);",
    )
    tiny.open(url)
    assert tiny.sent.expect(1) == [hit(url)]
    click(tiny, "signup")
    assert tiny.sent.expect(2)[1:] == [event(url, "signup.click", "pro plan")]
    assert {post.uid for post in tiny.sent.requests()} == {tiny.uid}


def test_no_cookie_is_ever_set_and_widget_parameters_are_harmless(tiny: Harness) -> None:
    params = "hits=unique&kudos=%E2%9D%A4%EF%B8%8F&countries&uptime&webring=avatars"
    url = tiny.page("/all", f"{params}&spa&events&beacon", body=SIGNUP)
    tiny.open(url)
    tiny.driver.execute_script("history.pushState({}, '', '/all/next')")
    click(tiny, "signup")
    assert [p["k"] for p in tiny.sent.expect(3)] == ["hit", "hit", "event"]
    assert all(post.cookie is None for post in tiny.sent.requests())
    assert tiny.driver.get_cookies() == []
    assert tiny.cookies_on(tiny.base + "/healthz") == []
    assert tiny.cookies_on(tiny.src()) == []


def test_collector_errors_never_reach_the_page(tiny: Harness) -> None:
    tiny.sent.fail = True  # 500 without CORS headers: fetch rejects
    url = tiny.page("/failing", "events", body=SIGNUP)
    tiny.open(url)
    click(tiny, "signup")
    assert len(tiny.sent.expect(2)) == 2  # posted anyway; expect() checks page errors
    console = tiny.driver.get_log("browser")
    assert not [line for line in console if "Uncaught" in line["message"]]


def test_a_prerendered_page_counts_only_once_shown(tiny: Harness) -> None:
    # /next is prerendered (speculation rules); it asks for /ready on DOMContentLoaded,
    # which comes after the deferred script has run, still unseen.
    ready = "<script>addEventListener('DOMContentLoaded',function(){fetch('/ready')})</script>"
    following = tiny.page("/next", body=ready)
    rules = '{"prerender":[{"source":"list","urls":["/next"]}]}'
    body = f'<a id="go" href="/next">next</a><script type="speculationrules">{rules}</script>'
    start = tiny.pages.add("/start", tiny.html(body))
    tiny.open(start)
    deadline = time.monotonic() + 5
    while "/ready" not in tiny.pages.requested and time.monotonic() < deadline:
        time.sleep(0.02)
    if "/ready" not in tiny.pages.requested:
        pytest.skip("this Chromium did not prerender the page")
    assert tiny.sent.expect(0) == []  # prerendered, run, and not counted
    click(tiny, "go")
    wait_for_path(tiny, "/next")
    activation = "return performance.getEntriesByType('navigation')[0].activationStart"
    assert tiny.driver.execute_script(activation) > 0  # it was the prerendered page
    assert tiny.sent.expect(1) == [hit(following, referrer=start)]
