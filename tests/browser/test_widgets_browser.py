"""The page widgets in a real browser: kudos, hit counter, countries, uptime, webring.

The embed script loads the widgets script (assets/widgets.js) when a widget
parameter is present; the widgets ask the live server for their data in one request
to /widgets/<uid>.json, which these tests record (see `asked`). Pages live on
http://localhost:<port>, Tinylytics on http://127.0.0.1:<port> (conftest.py).
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask, Response, request
from flask.testing import FlaskClient
from PIL import Image

from infrastructure.bootstrap import Container
from tests.browser.conftest import WAIT_SECONDS, Harness
from tests.conftest import bearer
from tests.tracking_helpers import CHROME

WIDGET_VIEW = "widgets.widget_data"
HEART = "%E2%9D%A4%EF%B8%8F"  # ❤️, as a src query carries it
TWO_BUTTONS = (
    '<button id="a" class="tinylytics_kudos" data-path="/a"></button>'
    '<button id="b" class="tinylytics_kudos" data-path="/b"></button>'
)
TEXT = "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)"
STATE = (
    "var e = document.getElementById(arguments[0]);"
    "return [e.textContent, e.classList.contains('did_select'), e.disabled]"
)


@pytest.fixture
def asked(app: Flask) -> list[list[tuple[str, str]]]:
    """The query of every request to /widgets/<uid>.json, in arrival order."""
    queries: list[list[tuple[str, str]]] = []
    real = app.view_functions[WIDGET_VIEW]

    def recording(**values: Any) -> Any:
        queries.append(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        return real(**values)

    app.view_functions[WIDGET_VIEW] = recording
    return queries


@pytest.fixture
def fake_data(app: Flask) -> Callable[[Callable[[], Response]], None]:
    """Replace /widgets/<uid>.json with `answer`, for answers the server never gives."""

    def use(answer: Callable[[], Response]) -> None:
        app.view_functions[WIDGET_VIEW] = lambda **values: answer()

    return use


@pytest.fixture
def tiny(tiny: Harness, asked: list) -> Iterator[Harness]:
    """The harness, with the browser sending a person's user agent: headless Chromium
    names itself, and the collector gives no kudos to automation."""
    driver = tiny.driver
    original = driver.execute_script("return navigator.userAgent")
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": CHROME})
    yield tiny
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": original})


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


def texts(tiny: Harness, selector: str) -> list[str]:
    return list(tiny.driver.execute_script(TEXT, selector))


def state(tiny: Harness, element_id: str) -> tuple[str, bool, bool]:
    text, given, disabled = tiny.driver.execute_script(STATE, element_id)
    return text, given, disabled


def wait_text(tiny: Harness, selector: str, expected: list[str]) -> None:
    wait_for(lambda: texts(tiny, selector) == expected, f"{selector} to read {expected}")


def click(tiny: Harness, element_id: str) -> None:
    # A script click: a disabled button ignores it, as it ignores a visitor's.
    tiny.driver.execute_script("document.getElementById(arguments[0]).click()", element_id)


def storage(tiny: Harness) -> dict[str, str]:
    return dict(
        tiny.driver.execute_script(
            "var all = {}; for (var i = 0; i < localStorage.length; i++) {"
            " var k = localStorage.key(i); all[k] = localStorage.getItem(k) } return all"
        )
    )


def scripts_loaded(tiny: Harness) -> list[str]:
    """The paths of the Tinylytics scripts this page loaded."""
    names = "return performance.getEntriesByType('resource').map(e => e.name)"
    prefix = tiny.base + f"/embed/{tiny.uid}"
    return [n[len(prefix) :] for n in tiny.driver.execute_script(names) if n.startswith(prefix)]


def settle(tiny: Harness) -> None:
    """Let stray requests arrive, and check that the page never threw."""
    time.sleep(0.3)
    assert tiny.page_errors() == []


# ---- kudos ---------------------------------------------------------------------------


@pytest.mark.parametrize("minified", [False, True], ids=["js", "min"])
def test_kudos_count_give_once_and_stay_given(
    tiny: Harness, asked: list, container: Container, minified: bool
) -> None:
    url = tiny.page("/index", "kudos", minified=minified, body=TWO_BUTTONS)
    tiny.open(url)
    wait_text(tiny, ".tinylytics_kudos", ["👋 0", "👋 0"])
    assert asked == [[("kudos", ""), ("path", "/a"), ("path", "/b")]]  # one request
    form = ["/min.js?kudos", "/widgets/min.js"] if minified else [".js?kudos", "/widgets.js"]
    assert scripts_loaded(tiny) == form
    assert tiny.sent.expect(1)[0]["k"] == "hit"

    click(tiny, "a")
    wait_for(lambda: state(tiny, "a") == ("👋 1", True, True), "/a to be given")
    assert state(tiny, "b") == ("👋 0", False, False)  # only its own count
    kudo = tiny.sent.expect(2)[1]
    assert kudo == {"k": "kudo", "u": url, "p": "/a"}
    post = tiny.sent.requests()[1]
    assert post.status == 200 and post.cookie is None
    assert post.content_type == "text/plain;charset=UTF-8"
    kudos = container.tracking.recorder.select_notifications(start=1, limit=100)
    assert any("Kudo" in n.topic for n in kudos)
    saved = wait_for(lambda: storage(tiny), "the kudo uid to be kept")
    assert list(saved) == [f"tinylytics_kudo:{tiny.uid}:/a"]
    assert saved[f"tinylytics_kudo:{tiny.uid}:/a"].startswith("v_")
    click(tiny, "a")  # disabled: nothing more
    assert len(tiny.sent.expect(2)) == 2

    container.projections.catch_up()
    tiny.open(url)  # a reload: still given, and the count past the browser's cache
    wait_for(lambda: state(tiny, "a") == ("👋 1", True, True), "/a to show given")
    assert state(tiny, "b") == ("👋 0", False, False)
    click(tiny, "a")
    assert len(tiny.sent.expect(3)) == 3  # the reload's hit, and no kudo
    assert len(asked) == 2
    assert tiny.driver.get_cookies() == []

    # The visitor cleared their storage: the server still knows today's kudo (409),
    # which leaves the button given with the same uid, and the count as it was.
    tiny.driver.execute_script("localStorage.clear()")
    tiny.open(url)
    wait_text(tiny, ".tinylytics_kudos", ["👋 1", "👋 0"])
    assert state(tiny, "a") == ("👋 1", False, False)
    click(tiny, "a")
    wait_for(lambda: state(tiny, "a") == ("👋 1", True, True), "/a to be given again")
    # The reload's hit and the kudo are in flight together: either may be recorded first.
    assert sorted(p["k"] for p in tiny.sent.expect(5)[3:]) == ["hit", "kudo"]
    [again] = [r for r in tiny.sent.requests()[3:] if r.payload["k"] == "kudo"]
    assert again.payload == kudo
    assert again.status == 409
    assert wait_for(lambda: storage(tiny), "the uid to be kept again") == saved


def test_the_emoji_parameter(tiny: Harness, asked: list) -> None:
    button = '<button class="tinylytics_kudos"></button>'
    for params, shown in [
        (f"kudos={HEART}", "❤️ 0"),
        ("kudos=%F0%9F%87%A9%F0%9F%87%AA", "🇩🇪 0"),  # a flag: two code points, one grapheme
        ("kudos=custom", "0"),
        # Any short text and emoji is a label (issue 19), written as text: markup shows
        # as itself and never becomes an element.
        ("kudos=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "<img src=x onerror=alert(1)> 0"),
        ("kudos=" + HEART * 3, "❤️❤️❤️ 0"),
        ("kudos=heart", "heart 0"),
        ("kudos=" + "x" * 40, "👋 0"),  # too long: the default
    ]:
        tiny.open(tiny.page("/e", params, body=button))
        wait_text(tiny, ".tinylytics_kudos", [shown])
        assert tiny.driver.execute_script("return document.querySelector('img')") is None
    # The same question each time (the browser answers the repeats from its cache).
    assert asked and all(dict(query) == {"kudos": "", "path": "/e"} for query in asked)
    settle(tiny)


def test_private_and_invalid_buttons(tiny: Harness, asked: list) -> None:
    body = (
        '<button id="pub" class="tinylytics_kudos" data-path="/pub"></button>'
        '<button id="extra" class="tinylytics_kudos tinylytics_kudos_private"'
        ' data-path="/extra"></button>'
        '<button id="own" class="tinylytics_kudos_private" data-path="/own"></button>'
        '<button id="bad" class="tinylytics_kudos" data-path="no-slash">mine</button>'
    )
    url = tiny.page("/private", "kudos", body=body)
    tiny.open(url)
    wait_text(tiny, "button", ["👋 0", "👋", "👋", "mine"])
    assert asked == [[("kudos", ""), ("path", "/pub")]]  # private and invalid not asked
    click(tiny, "bad")  # left alone: no kudo
    click(tiny, "own")
    wait_for(lambda: state(tiny, "own") == ("👋", True, True), "the private kudo")
    assert tiny.sent.expect(2)[1] == {"k": "kudo", "u": url, "p": "/own"}
    assert state(tiny, "extra") == ("👋", False, False)
    assert state(tiny, "bad") == ("mine", False, False)
    assert list(storage(tiny)) == [f"tinylytics_kudo:{tiny.uid}:/own"]

    tiny.open(tiny.page("/custom", "kudos=custom", body=body))  # custom: content untouched
    wait_text(tiny, "button", ["0", "", "", "mine"])
    assert state(tiny, "own") == ("", True, True)


def test_ignored_visits_show_counts_but_send_no_kudos(tiny: Harness, asked: list) -> None:
    # ?ignore: and no .tinylytics_hits on the page, so hits are not asked for.
    tiny.open(tiny.page("/quiet", "ignore&hits&kudos", body=TWO_BUTTONS))
    wait_text(tiny, ".tinylytics_kudos", ["👋 0", "👋 0"])
    click(tiny, "a")
    assert tiny.sent.expect(0) == []
    assert state(tiny, "a") == ("👋 0", False, False)
    assert asked == [[("kudos", ""), ("path", "/a"), ("path", "/b")]]

    url = tiny.page("/flagged", "kudos", body=TWO_BUTTONS)
    tiny.open(url)
    tiny.driver.execute_script("localStorage.setItem('tinylytics_ignore', 'true')")
    tiny.open(url)
    wait_text(tiny, ".tinylytics_kudos", ["👋 0", "👋 0"])
    click(tiny, "b")
    assert [p["k"] for p in tiny.sent.expect(1)] == ["hit"]  # the load before the flag
    assert state(tiny, "b") == ("👋 0", False, False)
    assert list(storage(tiny)) == ["tinylytics_ignore"]


# ---- hit counter, countries, uptime: every widget in one request ---------------------


def seed_hits(client: FlaskClient, container: Container, uid: str) -> None:
    owner = container.configuration.find_account("owner@example.com")
    key = bearer(container.configuration.issue_key(owner.id, "w", "full_access").secret)
    container.projections.catch_up()
    sites = client.get("/api/v1/sites", headers=key).get_json()["sites"]
    number = next(site["id"] for site in sites if site["uid"] == uid)
    rows = [{"path": "/a", "country": c} for c in ("US", "DE", "XX", "DE")] * 250
    response = client.post(
        f"/api/v1/sites/{number}/hits/batch",
        data=json.dumps(rows),
        headers={**key, "Content-Type": "application/json"},
    )
    assert response.status_code < 300, response.json
    container.projections.catch_up()


def test_every_widget_in_one_request(
    tiny: Harness, asked: list, client: FlaskClient, container: Container
) -> None:
    seed_hits(client, container, tiny.uid)
    body = (
        '<p class="tinylytics_hits"></p><span class="tinylytics_hits">old</span>'
        '<p class="tinylytics_countries"></p><p class="tinylytics_uptime"></p>'
        '<a class="tinylytics_webring" href="">🕸️💍</a>' + TWO_BUTTONS
    )
    params = f"hits=unique&kudos={HEART}&countries&uptime&webring=avatars"
    tiny.open(tiny.page("/all", params, body=body))
    thousand = tiny.driver.execute_script("return (1000).toLocaleString()")  # "1,000" in en
    wait_text(tiny, ".tinylytics_hits", [thousand, thousand])  # free: plain hits
    wait_text(tiny, ".tinylytics_countries", ["🇩🇪🇺🇸"])
    wait_text(tiny, ".tinylytics_kudos", ["❤️ 0", "❤️ 0"])
    flags = "return [...document.querySelectorAll('.tinylytics_countries span')].map(s => s.title)"
    assert tiny.driver.execute_script(flags) == ["DE", "US"]
    assert texts(tiny, ".tinylytics_uptime") == [""]  # null for now: left empty
    assert tiny.driver.execute_script("return document.links[0].getAttribute('href')") == ""
    assert asked == [
        [
            ("hits", "unique"),
            ("kudos", ""),
            ("path", "/a"),
            ("path", "/b"),
            ("countries", ""),
            ("uptime", ""),
            ("webring", "avatars"),
        ]
    ]
    settle(tiny)

    owner = container.configuration.find_account("owner@example.com")
    container.configuration.set_subscribed(owner.id, True)
    container.projections.catch_up()
    unique = client.get(f"/widgets/{tiny.uid}.json?hits=unique").get_json()["unique_hits"]
    assert unique != 1000  # so that the page shows which one it was given
    asked.clear()  # that was this test asking
    tiny.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    tiny.open(tiny.page("/unique", "hits=unique", body=body))
    shown = tiny.driver.execute_script("return arguments[0].toLocaleString()", unique)
    wait_text(tiny, ".tinylytics_hits", [shown, shown])
    assert asked == [[("hits", "unique")]]

    tiny.open(tiny.page("/plain", "spa&events", body=body))  # no widget parameter
    assert tiny.sent.expect(3)[2]["k"] == "hit"
    assert scripts_loaded(tiny) == [".js?spa&events"]  # and no widgets script
    assert len(asked) == 1


def test_uptime_grades(tiny: Harness, fake_data: Callable) -> None:
    grades = [
        (100, "💯 100%"),
        (99.95, "🔥 99.95%"),
        (99.999, "🔥 99.99%"),  # never rounded up to 100
        (99.2, "✅ 99.2%"),
        (97, "⚠️ 97%"),
        (42.5, "🚨 42.5%"),
    ]
    answers = iter(grades)
    fake_data(lambda: _answer(json.dumps({"uptime": next(answers)[0]})))
    url = tiny.page("/up", "uptime", body='<b class="tinylytics_uptime"></b>')
    for _, shown in grades:
        tiny.open(url)
        wait_text(tiny, ".tinylytics_uptime", [shown.replace(".", decimal_point(tiny))])
        settle(tiny)


def decimal_point(tiny: Harness) -> str:
    return str(tiny.driver.execute_script("return (1.5).toLocaleString()[1]"))


# ---- webring -------------------------------------------------------------------------


def test_webring_link_and_avatar(
    tiny: Harness, asked: list, container: Container, tmp_path: Path
) -> None:
    link = '<a id="ring" class="tinylytics_webring" href="">🕸️💍</a>'
    tiny.open(tiny.page("/alone", "webring", body=link))  # no member yet: left alone
    wait_for(lambda: asked, "the webring request")
    settle(tiny)
    assert tiny.driver.execute_script("return document.links[0].getAttribute('href')") == ""

    image = tmp_path / "friend.png"
    Image.new("RGB", (300, 300), (20, 120, 200)).save(image)
    digest = container.avatars.add(image)
    container.configuration.add_webring_member("https://friend.example", "Friend", digest)
    avatar = '<img class="tinylytics_webring_avatar" style="display:none">'
    body = (
        '<a id="ring" class="tinylytics_webring" href="">' + avatar + "🕸️💍</a>"
        '<div id="beside">' + avatar + '<a class="tinylytics_webring" href="">🕸️💍</a></div>'
    )
    tiny.open(tiny.page("/ring", "webring=avatars", body=body))
    links = "return [...document.links].map(a => [a.href, a.title])"
    wait_for(lambda: tiny.driver.execute_script(links)[0][0] != tiny.pages.origin + "/ring", "href")
    assert tiny.driver.execute_script(links) == [["https://friend.example/", "Friend"]] * 2
    shown = (
        "return [...document.querySelectorAll('img')].map(i =>"
        " [i.complete && i.naturalWidth, getComputedStyle(i).display, i.alt,"
        " i.getAttribute('srcset')])"
    )
    images = wait_for(
        lambda: (
            all(img[1] != "none" for img in tiny.driver.execute_script(shown))
            and tiny.driver.execute_script(shown)
        ),
        "the avatars to load and show",
    )
    assert [img[0] for img in images] == [100, 100]
    assert all(img[2] == "Friend" and img[3].endswith(f"/{digest}-200.png 2x") for img in images)
    settle(tiny)


# ---- failures never reach the page ---------------------------------------------------


def _answer(body: str, status: int = 200, cors: bool = True) -> Response:
    response = Response(body, status=status, content_type="application/json")
    if cors:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


EVERYTHING = (
    '<p class="tinylytics_hits">-</p><p class="tinylytics_countries">-</p>'
    '<p class="tinylytics_uptime">-</p><a class="tinylytics_webring" href="">ring</a>'
    '<button id="k" class="tinylytics_kudos"></button>'
)
ALL_PARAMS = "hits&kudos&countries&uptime&webring=avatars"


def test_failures_never_reach_the_page(tiny: Harness, fake_data: Callable) -> None:
    def check() -> None:
        wait_text(tiny, ".tinylytics_kudos", ["👋"])  # mounted; the counts never came
        settle(tiny)
        assert texts(tiny, "p") == ["-", "-", "-"]
        assert tiny.driver.execute_script("return document.links[0].getAttribute('href')") == ""

    # An unknown site: the real endpoint answers 404.
    script = tiny.base + f"/embed/{tiny.uid}/widgets.js"
    call = f"tinylyticsWidgets('{tiny.base}', 'nosuchsite', {{hits: '', kudos: ''}})"
    body = EVERYTHING + f'<script src="{script}" onload="{call}"></script>'
    tiny.open(tiny.pages.add("/unknown", tiny.html(body)))
    check()

    url = tiny.page("/failing", ALL_PARAMS, body=EVERYTHING)
    for answer in [
        _answer("boom", 500, cors=False),  # fetch rejects
        _answer('{"hits": 3,'),  # malformed JSON
        _answer(
            '{"hits": "<b>x</b>", "kudos": [1], "countries": {"a": 1}, "uptime": "up",'
            ' "webring": {"url": "javascript:alert(1)"}}'
        ),  # the wrong shapes
        _answer("[]"),
    ]:
        fake_data(lambda answer=answer: answer)
        tiny.open(url)
        check()


def test_a_failing_kudo_leaves_the_button_to_try_again(tiny: Harness) -> None:
    tiny.sent.fail = True  # the collector answers 500 without CORS headers: fetch rejects
    tiny.open(tiny.page("/k", "kudos", body='<button id="k" class="tinylytics_kudos"></button>'))
    wait_text(tiny, ".tinylytics_kudos", ["👋 0"])
    click(tiny, "k")
    assert [p["k"] for p in tiny.sent.expect(2)] == ["hit", "kudo"]
    wait_for(lambda: state(tiny, "k") == ("👋 0", False, False), "the button to be enabled")
    assert storage(tiny) == {}
