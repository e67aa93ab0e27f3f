import pytest

from domain.sources import SourceInfo, classify_source, source_for_host

SITE = "example.com"


def source(referrer: str | None, site_host: str = SITE) -> str | None:
    return classify_source(referrer, {}, site_host).source


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        # Search and answer engines, country domains included.
        ("https://www.google.com/", "google"),
        ("https://www.google.co.uk/search?q=x", "google"),
        ("https://google.de/", "google"),
        ("https://www.google.com.br/", "google"),
        ("https://www.bing.com/search?q=x", "bing"),
        ("https://duckduckgo.com/", "duckduckgo"),
        ("https://html.duckduckgo.com/html/", "duckduckgo"),
        ("https://search.yahoo.com/search?p=x", "yahoo"),
        ("https://uk.search.yahoo.com/", "yahoo"),
        ("https://yandex.ru/search/?text=x", "yandex"),
        ("https://yandex.com.tr/", "yandex"),
        ("https://www.baidu.com/s?wd=x", "baidu"),
        ("https://www.ecosia.org/search?q=x", "ecosia"),
        ("https://search.brave.com/search?q=x", "brave"),
        ("https://kagi.com/search?q=x", "kagi"),
        ("https://www.startpage.com/", "startpage"),
        ("https://www.qwant.com/?q=x", "qwant"),
        ("https://www.perplexity.ai/", "perplexity"),
        ("https://chatgpt.com/", "chatgpt"),
        ("https://chat.openai.com/", "chatgpt"),
        ("https://gemini.google.com/app", "gemini"),
        # Social networks.
        ("https://twitter.com/someone/status/1", "twitter"),
        ("https://x.com/someone", "twitter"),
        ("https://t.co/abc123", "twitter"),
        ("https://www.facebook.com/", "facebook"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com", "facebook"),
        ("https://lm.facebook.com/", "facebook"),
        ("https://m.facebook.com/", "facebook"),
        ("https://www.instagram.com/", "instagram"),
        ("https://l.instagram.com/?u=x", "instagram"),
        ("https://www.linkedin.com/feed/", "linkedin"),
        ("https://lnkd.in/abc", "linkedin"),
        ("https://www.reddit.com/r/python/", "reddit"),
        ("https://old.reddit.com/r/python/", "reddit"),
        ("https://out.reddit.com/t3_abc", "reddit"),
        ("https://bsky.app/profile/someone", "bluesky"),
        ("https://www.threads.net/@someone", "threads"),
        ("https://www.youtube.com/watch?v=x", "youtube"),
        ("https://m.youtube.com/", "youtube"),
        ("https://www.pinterest.com/", "pinterest"),
        ("https://www.pinterest.co.uk/", "pinterest"),
        ("https://www.tiktok.com/", "tiktok"),
        ("https://someone.tumblr.com/post/1", "tumblr"),
        ("https://mastodon.social/@someone", "mastodon.social"),
        ("https://fosstodon.org/@someone/1", "fosstodon.org"),
        # Communities and code.
        ("https://news.ycombinator.com/item?id=1", "hackernews"),
        ("https://lobste.rs/s/abc", "lobsters"),
        ("https://www.producthunt.com/posts/x", "producthunt"),
        ("https://github.com/owner/repo", "github"),
        ("https://en.wikipedia.org/wiki/Web_analytics", "wikipedia"),
        # Newsletters.
        ("https://someone.substack.com/p/post", "substack"),
        ("https://buttondown.email/someone", "buttondown"),
        ("https://mailchi.mp/abc/xyz", "mailchimp"),
        ("https://us1.campaign-archive.com/?u=x", "mailchimp"),
        ("https://someone.ck.page/", "convertkit"),
        ("https://kit.com/", "convertkit"),
        ("https://someone.beehiiv.com/p/post", "beehiiv"),
        ("https://someone.ghost.io/post/", "ghost"),
        # Webmail: the more specific host beats the brand.
        ("https://mail.google.com/mail/u/0/", "gmail"),
        ("https://outlook.live.com/mail/0/", "outlook"),
        ("https://outlook.office.com/", "outlook"),
        ("https://mail.yahoo.com/", "yahoomail"),
        # Feed readers.
        ("https://feedly.com/i/entry/x", "feedly"),
        ("https://www.inoreader.com/", "inoreader"),
        ("https://newsblur.com/", "newsblur"),
        ("https://theoldreader.com/", "theoldreader"),
        ("https://feedbin.com/", "feedbin"),
        ("https://netnewswire.com/", "netnewswire"),
        # Android apps.
        ("android-app://com.google.android.googlequicksearchbox/", "google"),
        ("android-app://com.google.android.gm/", "gmail"),
        ("android-app://com.Slack/", "slack"),
        ("android-app://org.example.reader", "org.example.reader"),
    ],
)
def test_known_hosts_get_their_canonical_name(referrer: str, expected: str) -> None:
    assert source(referrer) == expected


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://blog.example.org/post", "blog.example.org"),
        ("https://www.example.org/", "example.org"),
        ("https://WWW.Example.ORG./", "example.org"),
        ("https://example.org:8443/x", "example.org"),
        ("http://192.0.2.10/x", "192.0.2.10"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("https://bücher.de/", "bücher.de"),
        ("example.org/path", "example.org"),
    ],
)
def test_unknown_hosts_stand_for_themselves_without_www(referrer: str, expected: str) -> None:
    assert source(referrer) == expected


@pytest.mark.parametrize(
    "referrer",
    [
        "https://evilgoogle.com/",
        "https://google.evil.com/",
        "https://google.com.evil.io/",
        "https://notreddit.com/",
        "https://t.com/",
    ],
)
def test_lookalike_hosts_are_not_the_brand(referrer: str) -> None:
    assert source(referrer) not in {"google", "reddit", "twitter"}


@pytest.mark.parametrize("referrer", [None, "", "   "])
def test_no_referrer_is_direct(referrer: str | None) -> None:
    assert source(referrer) == "direct"


@pytest.mark.parametrize(
    "referrer",
    [
        "http://[::1",
        "not a url",
        "javascript:alert(1)",
        "https://",
        "://",
        "file:///etc/passwd",
        "http://exa mple.com/",
        "http://%zz/",
        "https://example.org:99999999/",
        "\x00\x01",
    ],
)
def test_malformed_referrers_are_direct_and_never_raise(referrer: str) -> None:
    assert source(referrer) == "direct"


@pytest.mark.parametrize(
    ("referrer", "site_host"),
    [
        ("https://example.com/about", "example.com"),
        ("https://www.example.com/about", "example.com"),
        ("https://example.com/about", "www.example.com"),
        ("http://EXAMPLE.com:8080/", "example.com"),
        ("https://example.com/", "https://example.com/blog"),
    ],
)
def test_the_sites_own_host_and_its_www_twin_are_internal(referrer: str, site_host: str) -> None:
    assert source(referrer, site_host) == "internal"


def test_a_subdomain_of_the_site_is_not_internal() -> None:
    assert source("https://blog.example.com/", "example.com") == "blog.example.com"


def test_an_override_wins_over_everything() -> None:
    info = classify_source(
        "https://www.google.com/", {"utm_source": "newsletter"}, SITE, override="  Podcast "
    )
    assert info.source == "podcast"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"utm_source": "Newsletter"}, "newsletter"),
        ({"source": "mastodon"}, "mastodon"),
        ({"ref": "ProductHunt"}, "producthunt"),
        ({"ref": "hn", "source": "src", "utm_source": "utm"}, "utm"),
        ({"ref": "hn", "source": "src"}, "src"),
        ({"UTM_SOURCE": "  Upper  "}, "upper"),
        ({"utm_source": "   ", "ref": "fallback"}, "fallback"),
    ],
)
def test_url_parameters_name_the_source_before_the_referrer(
    query: dict[str, str], expected: str
) -> None:
    assert classify_source("https://www.bing.com/", query, SITE).source == expected


def test_a_blank_override_is_ignored() -> None:
    assert classify_source(None, {}, SITE, override="   ").source == "direct"


def test_sources_are_at_most_100_characters() -> None:
    long = "x" * 300
    assert classify_source(None, {"utm_source": long}, SITE).source == "x" * 100
    assert classify_source(None, {}, SITE, override=long).source == "x" * 100
    host = ".".join(["a" * 60] * 4) + ".com"
    found = classify_source(f"https://{host}/", {}, SITE).source
    assert found is not None
    assert len(found) == 100


def test_campaign_and_medium_are_kept_whatever_the_source() -> None:
    query = {"utm_campaign": "  Spring Sale ", "utm_medium": "Email", "utm_source": "x"}
    assert classify_source(None, query, SITE) == SourceInfo("x", "Spring Sale", "Email")
    query = {"utm_campaign": "c" * 150, "utm_medium": " "}
    info = classify_source("https://news.ycombinator.com/", query, SITE)
    assert info == SourceInfo("hackernews", "c" * 100, None)
    info = classify_source("https://t.co/x", {"utm_campaign": "launch"}, SITE, override="own")
    assert info == SourceInfo("own", "launch", None)


def test_no_campaign_fields_are_none() -> None:
    assert classify_source(None, {}, SITE) == SourceInfo("direct", None, None)


def test_source_for_host() -> None:
    assert source_for_host("www.google.fr") == "google"
    assert source_for_host("WWW.REDDIT.COM") == "reddit"
    assert source_for_host("www.unknown.example") == "unknown.example"
