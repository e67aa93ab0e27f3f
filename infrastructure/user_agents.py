"""User-agent parsing with ua-parser 1.0, its Rust accelerator and the crawler-user-agents list.

ua-parser 1.0 picks its fastest resolver by whether `ua_parser_rs` is importable
(`ua_parser.BestAvailableResolver`); here the Rust resolver is built explicitly so
its absence is a logged fact rather than a silent ~50x slowdown. The same Rust
regex-set engine also runs the ~1,500 crawler patterns: Python's `re` walks an
alternation that wide branch by branch (about 1 ms per user agent), the Rust set
prefilters on literals (about 2 µs). Results are cached per user-agent string
because real traffic repeats a few thousand of them.

Decisions: iPads and Android tablets are not `is_mobile` (the flag means a phone-sized
screen) and their platform is `iOS`/`Android` (iPadOS 13+ Safari sends a Mac user
agent, so an `iPadOS` bucket would hold only a misleading minority). Feed readers and
mail image proxies (Feedly, GoogleImageProxy) are bots here, as the crawler list
says; the pixel asks `domain.feed_readers` before it drops bots.
"""

import functools
import json
import logging
import re
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from ua_parser import BasicResolver, Domain, PartialResult, load_builtins, load_lazy_builtins

from application.enrichment import UserAgentInfo

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 4096
# Real user agents are under 500 characters; a longer one is cut before parsing so a
# hostile header cannot cost more than a normal one.
MAX_USER_AGENT = 1000

_EMPTY = UserAgentInfo(browser=None, platform=None, is_mobile=False, is_bot=True)

_BROWSERS: dict[str, str | None] = {
    "Other": None,
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Frame": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Firefox Beta": "Firefox",
    "Firefox Alpha": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Opera Touch": "Opera",
    "Opera GX": "Opera",
    "Opera Neon": "Opera",
    "Opera Coast": "Opera",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "IE Large Screen": "Internet Explorer",
    "DuckDuckGo Mobile": "DuckDuckGo",
    "Amazon Silk": "Silk",
    "QQ Browser Mobile": "QQ Browser",
    "QQ Browser Mini": "QQ Browser",
}

_PLATFORMS: dict[str, str | None] = {
    "Other": None,
    "Mac OS X": "macOS",
    "Mac OS": "macOS",
    "ATV OS X": "tvOS",
    "WatchOS": "watchOS",
    "Windows Mobile": "Windows Phone",
    "Symbian^3": "Symbian OS",
    "Symbian^3 Anna": "Symbian OS",
    "Symbian^3 Belle": "Symbian OS",
    "Chromecast Android": "Android",
}

# ua-parser names Linux distributions one by one; the dashboard wants one "Linux".
_LINUX = frozenset(
    {
        "Ubuntu",
        "Kubuntu",
        "Xubuntu",
        "Lubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "SUSE",
        "openSUSE",
        "Gentoo",
        "Slackware",
        "Mandriva",
        "Mageia",
        "Mint",
        "Linux Mint",
        "Arch Linux",
        "Manjaro",
        "PCLinuxOS",
        "elementary OS",
        "Chromecast Linux",
    }
)

# Phone systems; Android and iOS are decided per device below, since both run tablets.
_PHONE_PLATFORMS = frozenset(
    {
        "Windows Phone",
        "KaiOS",
        "BlackBerry OS",
        "Symbian OS",
        "Firefox OS",
        "Nokia Series 40",
        "Nokia Series 30 Plus",
        "Brew MP",
    }
)
_PHONE_DEVICES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})
_TABLET_DEVICE = re.compile(r"iPad|Tablet|Kindle", re.IGNORECASE)
# Google's rule for Android: phones say "Mobile", tablets and TVs do not.
_MOBILE_TOKEN = re.compile(r"\bMobile\b")

# Headless and automation browsers. Each word is one no person's browser sends.
_AUTOMATION = re.compile(
    r"\b(?:Headless\w*|PhantomJS|SlimerJS|Lighthouse|Puppeteer|Playwright|Selenium|WebDriver"
    r"|Cypress|jsdom|HtmlUnit|Nightmare)\b",
    re.IGNORECASE,
)


def crawler_patterns() -> list[str]:
    """The patterns of the crawler-user-agents list, in its order."""
    text = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text()
    return [str(entry["pattern"]) for entry in json.loads(text)]


class CrawlerMatcher:
    """All crawler patterns as one matcher: a Rust regex set when available, else one `re`.

    A pattern the Rust engine cannot compile (look-around, back-references) goes to a
    small `re` alternation instead of pulling the whole list back to Python.
    """

    def __init__(self, patterns: Sequence[str], accelerated: bool = True) -> None:
        self.accelerated = False
        self._rust: Any = None
        leftovers = list(patterns)
        if accelerated:
            try:
                import ua_parser_rs
            except ImportError:
                pass
            else:
                self._rust, leftovers = _rust_set(ua_parser_rs, patterns)
                self.accelerated = True
        self._python = re.compile("|".join(f"(?:{p})" for p in leftovers)) if leftovers else None

    def matches(self, user_agent: str) -> bool:
        if self._rust is not None and self._rust.extract(user_agent) is not None:
            return True
        return self._python is not None and self._python.search(user_agent) is not None


def _rust_set(rs: Any, patterns: Sequence[str]) -> tuple[Any, list[str]]:
    """A ua-parser-rs extractor over the patterns, and the patterns it could not take."""

    def rows(chosen: Sequence[str]) -> list[tuple[str, str, None, None, None, None]]:
        return [(p, "crawler", None, None, None, None) for p in chosen]

    try:
        return rs.UserAgentExtractor(rows(patterns)), []
    except Exception:
        # Only on the rare path: find the offenders one by one.
        accepted, rejected = [], []
        for pattern in patterns:
            try:
                rs.UserAgentExtractor(rows([pattern]))
                accepted.append(pattern)
            except Exception:
                rejected.append(pattern)
        log.info("%d crawler patterns run on Python's re engine", len(rejected))
        return rs.UserAgentExtractor(rows(accepted)), rejected


@functools.cache
def _resolver(accelerated: bool) -> tuple[Callable[[str, Domain], PartialResult], bool]:
    if accelerated:
        try:
            from ua_parser.regex import Resolver as RustResolver
        except ImportError:
            log.warning(
                "ua-parser-rs is not installed: user agents are parsed in pure Python, "
                "about fifty times slower"
            )
        else:
            return RustResolver(load_lazy_builtins()), True
    return BasicResolver(load_builtins()), False


@functools.cache
def _crawler_matcher(accelerated: bool) -> "CrawlerMatcher":
    # Compiling the parser and the crawler list takes a quarter of a second; once per
    # process is enough (both are read-only and safe to share between threads).
    return CrawlerMatcher(crawler_patterns(), accelerated=accelerated)


class UaParserAdapter:
    """`UserAgentParser` on ua-parser 1.0; `accelerated=False` exists for benchmarks."""

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE, accelerated: bool = True) -> None:
        self._resolve, self.accelerated = _resolver(accelerated)
        self._crawlers = _crawler_matcher(self.accelerated)
        # Per instance, so tests and benchmarks can clear one cache without touching another.
        self._cached = functools.lru_cache(maxsize=cache_size)(self._parse_uncached)

    def parse(self, user_agent: str | None) -> UserAgentInfo:
        text = (user_agent or "").strip()
        if not text:
            return _EMPTY
        return self._cached(text[:MAX_USER_AGENT])

    def cache_clear(self) -> None:
        self._cached.cache_clear()

    def cache_info(self) -> "functools._CacheInfo":
        return self._cached.cache_info()

    def _parse_uncached(self, text: str) -> UserAgentInfo:
        result = self._resolve(text, Domain.ALL)
        browser = _browser_name(result.user_agent.family if result.user_agent else None)
        platform = _platform_name(result.os.family if result.os else None)
        device = result.device.family if result.device else ""
        is_bot = (
            device == "Spider"
            or _AUTOMATION.search(text) is not None
            or self._crawlers.matches(text)
        )
        return UserAgentInfo(
            browser=browser,
            platform=platform,
            is_mobile=_is_phone(text, browser, platform, device),
            is_bot=is_bot,
        )


def _browser_name(family: str | None) -> str | None:
    if not family:
        return None
    return _BROWSERS.get(family, family)


def _platform_name(family: str | None) -> str | None:
    if not family:
        return None
    if family in _LINUX:
        return "Linux"
    return _PLATFORMS.get(family, family)


def _is_phone(text: str, browser: str | None, platform: str | None, device: str) -> bool:
    if _TABLET_DEVICE.search(device):
        return False
    if device in _PHONE_DEVICES or platform in _PHONE_PLATFORMS:
        return True
    if platform == "iOS":
        return True
    if platform == "Android":
        return browser == "Opera Mini" or _MOBILE_TOKEN.search(text) is not None
    return False
