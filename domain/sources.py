"""Traffic sources: where a visit came from, named the same way whatever link brought it.

`https://www.google.co.uk/`, `android-app://com.google.android.googlequicksearchbox/` and
`?utm_source=google` all count as `google`, so the dashboard's source table has one row
per place that sends traffic rather than one per URL that place happens to use.
"""

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.bounded_cache import memoized

MAX_LENGTH = 100
DIRECT = "direct"
INTERNAL = "internal"

# URL parameters that name a source, strongest first.
SOURCE_PARAMS = ("utm_source", "source", "ref")

# Host (or any parent domain of it) → canonical source. The longest matching suffix
# wins, so `mail.google.com` is Gmail while `www.google.com` is Google.
_HOSTS: dict[str, str] = {
    # Search engines and answer engines.
    "bing.com": "bing",
    "cn.bing.com": "bing",
    "duckduckgo.com": "duckduckgo",
    "html.duckduckgo.com": "duckduckgo",
    "lite.duckduckgo.com": "duckduckgo",
    "search.yahoo.com": "yahoo",
    "ya.ru": "yandex",
    "baidu.com": "baidu",
    "ecosia.org": "ecosia",
    "search.brave.com": "brave",
    "kagi.com": "kagi",
    "startpage.com": "startpage",
    "qwant.com": "qwant",
    "lite.qwant.com": "qwant",
    "perplexity.ai": "perplexity",
    "chatgpt.com": "chatgpt",
    "chat.openai.com": "chatgpt",
    "claude.ai": "claude",
    "gemini.google.com": "gemini",
    "bard.google.com": "gemini",
    "copilot.microsoft.com": "copilot",
    "you.com": "you",
    "phind.com": "phind",
    "search.naver.com": "naver",
    "naver.com": "naver",
    "seznam.cz": "seznam",
    "sogou.com": "sogou",
    "so.com": "so",
    "ask.com": "ask",
    "aol.com": "aol",
    "search.aol.com": "aol",
    "mojeek.com": "mojeek",
    "search.marginalia.nu": "marginalia",
    "metager.org": "metager",
    "metager.de": "metager",
    "swisscows.com": "swisscows",
    "presearch.com": "presearch",
    "yep.com": "yep",
    # Social networks and communities.
    "twitter.com": "twitter",
    "mobile.twitter.com": "twitter",
    "x.com": "twitter",
    "t.co": "twitter",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "fb.me": "facebook",
    "instagram.com": "instagram",
    "linkedin.com": "linkedin",
    "lnkd.in": "linkedin",
    "reddit.com": "reddit",
    "redd.it": "reddit",
    "bsky.app": "bluesky",
    "threads.net": "threads",
    "threads.com": "threads",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "pinterest.com": "pinterest",
    "pin.it": "pinterest",
    "tiktok.com": "tiktok",
    "tumblr.com": "tumblr",
    "t.umblr.com": "tumblr",
    "news.ycombinator.com": "hackernews",
    "hn.algolia.com": "hackernews",
    "lobste.rs": "lobsters",
    "producthunt.com": "producthunt",
    "github.com": "github",
    "gitlab.com": "gitlab",
    "stackoverflow.com": "stackoverflow",
    "wikipedia.org": "wikipedia",
    "medium.com": "medium",
    "discord.com": "discord",
    "discordapp.com": "discord",
    "slack.com": "slack",
    "t.me": "telegram",
    "web.telegram.org": "telegram",
    "whatsapp.com": "whatsapp",
    "wa.me": "whatsapp",
    "vk.com": "vk",
    "weibo.com": "weibo",
    "quora.com": "quora",
    "indiehackers.com": "indiehackers",
    "tildes.net": "tildes",
    "lemmy.world": "lemmy",
    "snapchat.com": "snapchat",
    "twitch.tv": "twitch",
    # Newsletters.
    "substack.com": "substack",
    "buttondown.email": "buttondown",
    "buttondown.com": "buttondown",
    "mailchi.mp": "mailchimp",
    "mailchimp.com": "mailchimp",
    "list-manage.com": "mailchimp",
    "campaign-archive.com": "mailchimp",
    "convertkit.com": "convertkit",
    "convertkit-mail.com": "convertkit",
    "convertkit-mail2.com": "convertkit",
    "ck.page": "convertkit",
    "kit.com": "convertkit",
    "beehiiv.com": "beehiiv",
    "ghost.io": "ghost",
    "getrevue.co": "revue",
    "mailerlite.com": "mailerlite",
    "sendfox.com": "sendfox",
    "emailoctopus.com": "emailoctopus",
    # Webmail.
    "mail.google.com": "gmail",
    "inbox.google.com": "gmail",
    "outlook.live.com": "outlook",
    "outlook.office.com": "outlook",
    "outlook.office365.com": "outlook",
    "outlook.com": "outlook",
    "mail.yahoo.com": "yahoomail",
    "mail.proton.me": "protonmail",
    "mail.protonmail.com": "protonmail",
    "fastmail.com": "fastmail",
    "mail.aol.com": "aolmail",
    "icloud.com": "icloud",
    "hey.com": "hey",
    "mail.zoho.com": "zohomail",
    "mail.yandex.ru": "yandexmail",
    "mail.yandex.com": "yandexmail",
    # Feed readers.
    "feedly.com": "feedly",
    "inoreader.com": "inoreader",
    "innoreader.com": "inoreader",
    "newsblur.com": "newsblur",
    "theoldreader.com": "theoldreader",
    "feedbin.com": "feedbin",
    "netnewswire.com": "netnewswire",
    "bazqux.com": "bazqux",
    "reader.miniflux.app": "miniflux",
    "feedspot.com": "feedspot",
    "flipboard.com": "flipboard",
    "bloglovin.com": "bloglovin",
    "newsgator.com": "newsgator",
    "readwise.io": "readwise",
    "netvibes.com": "netvibes",
}

# Brands that live under many country domains: google.co.uk, yandex.com.tr, yahoo.co.jp.
# The brand must be a whole label followed only by a country-style ending.
_BRANDS = re.compile(
    r"^(?:.+\.)?(?P<brand>google|yahoo|yandex|bing|pinterest|amazon|ecosia|qwant|baidu)"
    r"\.(?:(?:com?|org|net)\.)?[a-z]{2,3}$"
)

# Android apps send `android-app://<package>/` as the referrer.
_ANDROID_APPS: dict[str, str] = {
    "com.google.android.googlequicksearchbox": "google",
    "com.google.android.gm": "gmail",
    "com.google.android.apps.nbu.searchlite": "google",
    "com.twitter.android": "twitter",
    "com.facebook.katana": "facebook",
    "com.facebook.lite": "facebook",
    "com.instagram.android": "instagram",
    "com.linkedin.android": "linkedin",
    "com.reddit.frontpage": "reddit",
    "com.slack": "slack",
    "org.telegram.messenger": "telegram",
    "com.whatsapp": "whatsapp",
    "com.microsoft.office.outlook": "outlook",
    "com.feedly.android": "feedly",
    "com.innologica.inoreader": "inoreader",
    "com.bsky.app": "bluesky",
    "xyz.blueskyweb.app": "bluesky",
    "com.instagram.barcelona": "threads",
    "com.google.android.youtube": "youtube",
    "com.pinterest": "pinterest",
    "com.zhiliaoapp.musically": "tiktok",
    "com.discord": "discord",
}

# Letters, digits and the punctuation host names use; IDN labels arrive as Unicode.
_HOST_TEXT = re.compile(r"^[\w-]+(?:\.[\w-]+)*$")


@dataclass(frozen=True)
class SourceInfo:
    """Where a hit came from, plus the campaign fields a marketer set on the link."""

    source: str | None
    utm_campaign: str | None
    utm_medium: str | None


def classify_source(
    referrer: str | None,
    query: Mapping[str, str],
    site_host: str,
    override: str | None = None,
) -> SourceInfo:
    """Name the source of a hit; never raises, whatever the referrer holds.

    An explicit override wins, then a `utm_source`, `source` or `ref` URL parameter;
    otherwise the referrer decides: none → `direct`, the site itself → `internal`,
    a known host → its canonical name, any other host → that host without `www.`.
    """
    params = {name.lower(): value for name, value in reversed(list(query.items()))}
    campaign = _clean(params.get("utm_campaign"))
    medium = _clean(params.get("utm_medium"))
    named = _clean(override)
    for name in SOURCE_PARAMS:
        if named:
            break
        named = _clean(params.get(name))
    if named:
        return SourceInfo(named.lower(), campaign, medium)
    return SourceInfo(_from_referrer(referrer, site_host), campaign, medium)


def source_for_host(host: str) -> str:
    """The canonical source for a referrer host; unknown hosts stand for themselves."""
    host = _without_www(host.lower().rstrip("."))
    labels = host.split(".")
    for start in range(len(labels) - 1):
        known = _HOSTS.get(".".join(labels[start:]))
        if known:
            return known
    branded = _BRANDS.match(host)
    if branded:
        return branded["brand"]
    return host[:MAX_LENGTH]


# Referrers repeat (the same search engine, the same link on a forum) and so do the
# sites' own hosts: the collector classifies each referrer once in a while. Bounded by
# bytes: a referrer is up to 2 kB.
@memoized("collector referrer sources", 0.125)
def _from_referrer(referrer: str | None, site_host: str) -> str:
    raw = (referrer or "").strip()
    if not raw:
        return DIRECT
    if raw.lower().startswith("android-app://"):
        package = raw[len("android-app://") :].split("/", 1)[0].lower()
        return _ANDROID_APPS.get(package) or _clean(package) or DIRECT
    host = _host_of(raw)
    if host is None:
        return DIRECT
    own = _host_of(site_host.strip()) if site_host else None
    if own and _without_www(host) == _without_www(own):
        return INTERNAL
    return source_for_host(host)


def _host_of(url: str) -> str | None:
    """The lower-case host of a URL (scheme optional), or None when it has no sane host."""
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # a non-numeric port marks text that is not a URL
    except ValueError:
        return None
    if not host:
        return None
    if _HOST_TEXT.match(host):
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _without_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def _clean(value: str | None) -> str | None:
    trimmed = (value or "").strip()[:MAX_LENGTH].strip()
    return trimmed or None
