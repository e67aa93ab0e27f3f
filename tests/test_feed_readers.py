import pytest

from domain.feed_readers import (
    MAX_SUBSCRIBERS,
    FeedReader,
    believed_subscribers,
    detect_feed_reader,
    subscriber_count,
)


@pytest.mark.parametrize(
    ("user_agent", "name", "subscribers"),
    [
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1234 subscribers)", "Feedly", 1234),
        ("Feedly/1.0 (+https://feedly.com/poller.html; 16 subscribers; )", "Feedly", 16),
        ("FeedlyBot/1.0 (http://feedly.com)", "Feedly", None),
        ("Mozilla/5.0 (compatible; inoreader.com; 50 subscribers)", "Inoreader", 50),
        (
            "Mozilla/5.0 (compatible; Inoreader/1.0; +https://www.inoreader.com; 7 subscribers)",
            "Inoreader",
            7,
        ),
        (
            "NewsBlur Feed Fetcher - 43 subscribers - https://www.newsblur.com/site/123/blog "
            '(Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_1) AppleWebKit/605.1.15 "'
            "(KHTML, like Gecko) Version/12.0.1 Safari/605.1.15)",
            "NewsBlur",
            43,
        ),
        (
            "Mozilla/5.0 (compatible; theoldreader.com; 12 subscribers; feed-id=5a9c)",
            "The Old Reader",
            12,
        ),
        ("Feedbin feed-id:1373711 - 142 subscribers", "Feedbin", 142),
        ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "NetNewsWire", None),
        ("Miniflux/2.1.3 (https://miniflux.app)", "Miniflux", None),
        ("FreshRSS/1.23.1 (Linux; https://freshrss.org)", "FreshRSS", None),
        ("Tiny Tiny RSS/21.04 (Unsupported) (https://tt-rss.org/)", "Tiny Tiny RSS", None),
        ("Feeder/2.6.9 (Android; https://github.com/spacecowboy/Feeder)", "Feeder", None),
        ("Reeder/5.0 CFNetwork/1494.0.7 Darwin/23.4.0", "Reeder", None),
        ("NewsGatorOnline/2.0 (http://www.newsgator.com; 5 subscribers)", "NewsGator", 5),
        ("Bloglovin/1.0 (rss crawler; 24 subscribers)", "Bloglovin", 24),
        ("FlipboardRSS/1.2 (+http://flipboard.com/browserproxy)", "Flipboard", None),
        (
            "Mozilla/5.0 (compatible; Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; "
            "like FeedFetcher-Google)",
            "Feedspot",
            None,
        ),
        ("BazQux/2.4 (+https://bazqux.com/fetcher; 3 subscribers)", "BazQux", 3),
        ("Netvibes (crawler/bot; http://www.netvibes.com; 12 subcribers)", "Netvibes", 12),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
            "GoogleImageProxy)",
            "Gmail",
            None,
        ),
        (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            "Yahoo Mail",
            None,
        ),
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
            "Outlook",
            None,
        ),
        ("Outlook-iOS/723.4027091.prod.iphone (4.2402.0)", "Outlook", None),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
            "Thunderbird/115.12.2",
            "Thunderbird",
            None,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko)",
            "Apple Mail",
            None,
        ),
    ],
)
def test_readers_and_mail_clients_are_named(
    user_agent: str, name: str, subscribers: int | None
) -> None:
    assert detect_feed_reader(user_agent) == FeedReader(name, subscribers)


@pytest.mark.parametrize(
    "user_agent",
    [
        None,
        "",
        "   ",
        # Browsers.
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        # iOS Mail looks like any in-app web view: not claimed.
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "curl/8.5.0",
        # Words that merely contain a reader's name.
        "SomeFeederBot/1.0",
        "Breeder/1.0",
    ],
)
def test_anything_else_is_not_a_reader(user_agent: str | None) -> None:
    assert detect_feed_reader(user_agent) is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1234 subscribers)", 1234),
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1,234 subscribers)", 1234),
        ("X (12,345,678 subscribers)", 12_345_678),
        ("X (1.234 subscribers)", 1234),
        ("X (1 subscriber)", 1),
        ("X; subscribers: 12)", 12),
        ("X; Subscribers=1,500", 1500),
        ("X; 0 subscribers", 0),
        ("Feedbin feed-id:1373711 - 142 subscribers", 142),
        ("X/2.0 (+http://x.example/; subscribers)", None),
        ("X/1.0", None),
        # Past any feed's count (and the read side's columns): noise, not a count.
        ("X (1,000,000,000 subscribers)", 1_000_000_000),
        ("X (1,000,000,001 subscribers)", None),
        ("X (99999999999999999999999 subscribers)", None),
    ],
)
def test_subscriber_counts_are_parsed_robustly(text: str, count: int | None) -> None:
    assert subscriber_count(text) == count


def test_a_reader_names_its_traffic_source_like_the_source_table_does() -> None:
    assert FeedReader("The Old Reader", 3).source == "theoldreader"
    assert FeedReader("Yahoo Mail", None).source == "yahoomail"
    assert FeedReader("Gmail", None).source == "gmail"


def test_a_huge_user_agent_is_cut_not_scanned_whole() -> None:
    assert detect_feed_reader("x" * 100_000 + " Feedly") is None
    reader = detect_feed_reader("Feedly/1.0 (; 9 subscribers)" + "x" * 100_000)
    assert reader == FeedReader("Feedly", 9)


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        (0, 0),
        (1234, 1234),
        (MAX_SUBSCRIBERS, MAX_SUBSCRIBERS),
        (MAX_SUBSCRIBERS + 1, None),
        (2**63, None),
        (10**23, None),
        # orjson reads an integer past 64 bits as a float.
        (1e23, None),
        (12.0, 12),
        (float("nan"), None),
        (float("inf"), None),
        (-1, None),
        (True, None),
        ("12", None),
    ],
)
def test_a_stored_count_is_believed_only_inside_the_bound(stored: object, kept: int | None) -> None:
    assert believed_subscribers(stored) == kept
