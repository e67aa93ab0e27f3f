import dataclasses
import json
from importlib import resources

import pytest
import ua_parser
import ua_parser.regex

from application.enrichment import UserAgentInfo
from infrastructure.user_agents import CrawlerMatcher, UaParserAdapter, crawler_patterns

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

# user agent → (browser, platform, is_mobile, is_bot)
CASES: dict[str, tuple[str | None, str | None, bool, bool]] = {
    CHROME_WINDOWS: ("Chrome", "Windows", False, False),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": ("Chrome", "macOS", False, False),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:127.0) Gecko/20100101 Firefox/127.0": (
        "Firefox",
        "macOS",
        False,
        False,
    ),
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0": (
        "Firefox",
        "Linux",
        False,
        False,
    ),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15": ("Safari", "macOS", False, False),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68": ("Edge", "Windows", False, False),
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36 OPR/111.0.0.0": ("Opera", "Linux", False, False),
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": ("Chrome", "Chrome OS", False, False),
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko": (
        "Internet Explorer",
        "Windows",
        False,
        False,
    ),
    # Phones.
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": ("Safari", "iOS", True, False),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1": (
        "Chrome",
        "iOS",
        True,
        False,
    ),
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36": ("Chrome", "Android", True, False),
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36": (
        "Samsung Internet",
        "Android",
        True,
        False,
    ),
    "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0": (
        "Firefox",
        "Android",
        True,
        False,
    ),
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.0.0": ("Edge", "Android", True, False),
    "Opera/9.80 (Android; Opera Mini/7.5.33361/31.1448; U; en) Presto/2.8.119 Version/11.1010": (
        "Opera Mini",
        "Android",
        True,
        False,
    ),
    # Tablets are not mobile (a decision: the flag means a phone-sized screen).
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1": ("Safari", "iOS", False, False),
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": ("Chrome", "Android", False, False),
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Silk/126.1.1 like Chrome/126.0.0.0 Safari/537.36": ("Silk", "Android", False, False),
    # Crawlers.
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": (
        "Googlebot",
        None,
        False,
        True,
    ),
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": (
        "bingbot",
        None,
        False,
        True,
    ),
    "curl/8.5.0": ("curl", None, False, True),
    "python-requests/2.32.3": ("Python Requests", None, False, True),
    # Automation.
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36": ("HeadlessChrome", "Linux", False, True),
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1": ("PhantomJS", "Linux", False, True),
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse": (
        "Chrome",
        "Android",
        True,
        True,
    ),
    # Feed fetchers are bots to the parser; the pixel asks domain.feed_readers first.
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1234 subscribers)": (None, None, False, True),
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)": (
        "GmailImageProxy",
        "Windows",
        False,
        True,
    ),
}

# Phrases a normal browser or app must not be flagged for.
BROWSERS = [ua for ua, expected in CASES.items() if not expected[3]] + [
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Vivaldi/6.7",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
]


@pytest.fixture(scope="module")
def parser() -> UaParserAdapter:
    return UaParserAdapter()


@pytest.mark.parametrize(("user_agent", "expected"), list(CASES.items()))
def test_real_user_agents(
    parser: UaParserAdapter, user_agent: str, expected: tuple[str | None, str | None, bool, bool]
) -> None:
    assert parser.parse(user_agent) == UserAgentInfo(*expected)


@pytest.mark.parametrize("user_agent", [None, "", "   \t"])
def test_an_empty_user_agent_is_a_bot(parser: UaParserAdapter, user_agent: str | None) -> None:
    assert parser.parse(user_agent) == UserAgentInfo(None, None, False, True)


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_normal_browsers_are_not_bots(parser: UaParserAdapter, user_agent: str) -> None:
    assert not parser.parse(user_agent).is_bot


@pytest.mark.parametrize(
    "marker",
    ["Puppeteer", "Playwright/1.44", "Selenium", "WebDriver", "Cypress/13.6.0", "jsdom/22.1.0"],
)
def test_automation_markers_are_bots(parser: UaParserAdapter, marker: str) -> None:
    assert parser.parse(f"{CHROME_WINDOWS} {marker}").is_bot


def test_the_rust_accelerator_is_what_ua_parser_picks_and_what_we_use(
    parser: UaParserAdapter,
) -> None:
    # ua-parser 1.0 chooses its resolver by whether ua_parser_rs imports.
    assert ua_parser.BestAvailableResolver is ua_parser.regex.Resolver
    assert parser.accelerated
    assert isinstance(parser._resolve, ua_parser.regex.Resolver)
    assert parser._crawlers.accelerated


def test_results_are_cached(parser: UaParserAdapter) -> None:
    ua = CHROME_WINDOWS + " cache-test"
    first = parser.parse(ua)
    hits = parser.cache_info().hits
    assert parser.parse(ua) is first
    assert parser.cache_info().hits == hits + 1


def test_the_cache_is_bounded() -> None:
    small = UaParserAdapter(cache_size=8)
    for n in range(50):
        small.parse(f"{CHROME_WINDOWS} n{n}")
    assert small.cache_info().currsize == 8


def test_the_raw_user_agent_is_never_returned(parser: UaParserAdapter) -> None:
    ua = CHROME_WINDOWS + " secret-marker"
    info = parser.parse(ua)
    assert [f.name for f in dataclasses.fields(info)] == [
        "browser",
        "platform",
        "is_mobile",
        "is_bot",
    ]
    assert "secret-marker" not in repr(info)


def test_a_huge_user_agent_is_parsed_from_its_start(parser: UaParserAdapter) -> None:
    info = parser.parse(CHROME_WINDOWS + " " + "x" * 200_000)
    assert (info.browser, info.is_bot) == ("Chrome", False)


def test_without_the_accelerator_the_answers_are_the_same(parser: UaParserAdapter) -> None:
    slow = UaParserAdapter(accelerated=False)
    assert not slow.accelerated
    for ua in CASES:
        assert slow.parse(ua) == parser.parse(ua), ua


def _crawler_instances() -> list[str]:
    text = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text()
    return [ua for entry in json.loads(text) for ua in entry.get("instances", [])]


def test_every_example_in_the_crawler_list_is_a_bot_on_both_engines() -> None:
    patterns = crawler_patterns()
    assert len(patterns) > 1000
    rust = CrawlerMatcher(patterns)
    python = CrawlerMatcher(patterns, accelerated=False)
    assert rust.accelerated and not python.accelerated
    instances = _crawler_instances()
    assert all(rust.matches(ua) for ua in instances)
    # Python's engine takes ~1 ms per user agent: a sample shows the engines agree.
    assert all(python.matches(ua) for ua in instances[::10])
    for ua in BROWSERS:
        assert not rust.matches(ua) and not python.matches(ua), ua


def test_patterns_the_rust_engine_rejects_still_match_via_python() -> None:
    matcher = CrawlerMatcher(["Googlebot", r"Sneaky(?=Bot)", r"(a)\1x"])
    assert matcher.accelerated
    assert matcher.matches("Googlebot/2.1")
    assert matcher.matches("SneakyBot/1.0")
    assert matcher.matches("aax")
    assert not matcher.matches("SneakyCat/1.0")
