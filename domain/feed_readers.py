"""Feed readers and mail clients, told apart by the user agent that loads the pixel.

Hosted readers fetch a feed once for all their users and say how many follow it
(`Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1234 subscribers)`); that count
is the best subscriber estimate a feed owner can get, so it is kept with the name.
"""

import re
from dataclasses import dataclass

# Ordered: the first match names the reader. Readers that quote another's name in their
# user agent (Feedspot says "like FeedFetcher-Google") come before the one they quote.
_READERS: tuple[tuple[str, str], ...] = (
    (r"feedly", "Feedly"),
    (r"inoreader", "Inoreader"),
    (r"newsblur", "NewsBlur"),
    (r"theoldreader|the old reader", "The Old Reader"),
    (r"feedbin", "Feedbin"),
    (r"netnewswire", "NetNewsWire"),
    (r"miniflux", "Miniflux"),
    (r"freshrss", "FreshRSS"),
    (r"tiny tiny rss|tt-rss", "Tiny Tiny RSS"),
    (r"bazqux", "BazQux"),
    (r"commafeed", "CommaFeed"),
    (r"nextcloud-news", "Nextcloud News"),
    (r"feedspot", "Feedspot"),
    (r"feedbro", "Feedbro"),
    (r"newsgator", "NewsGator"),
    (r"bloglovin", "Bloglovin"),
    (r"flipboard", "Flipboard"),
    (r"netvibes", "Netvibes"),
    (r"\breeder\b", "Reeder"),
    (r"\bfeeder(?:/|\s*\(|\s+/)", "Feeder"),
    (r"liferea", "Liferea"),
    (r"quiterss", "QuiteRSS"),
    (r"akregator", "Akregator"),
    (r"\bvienna/", "Vienna"),
    (r"readkit", "ReadKit"),
    (r"newsify", "Newsify"),
    (r"fiery ?feeds", "Fiery Feeds"),
    (r"\bunread/", "Unread"),
    (r"feedfetcher-google", "Google Feedfetcher"),
    # Mail: image proxies first, since they stand in for every client behind them.
    (r"googleimageproxy", "Gmail"),
    (r"yahoomailproxy", "Yahoo Mail"),
    (r"outlook-(?:ios|android)|microsoft outlook|\bms-office\b", "Outlook"),
    (r"thunderbird", "Thunderbird"),
    # Apple Mail on a Mac loads images through a bare WebKit view: the Safari
    # user agent without its Version/ and Safari/ tokens. On iOS, Mail looks like
    # every other in-app web view, so it is not claimed.
    (
        r"^Mozilla/5\.0 \(Macintosh; [^)]*Mac OS X [\d_.]+\) AppleWebKit/[\d.]+ "
        r"\(KHTML, like Gecko\)$",
        "Apple Mail",
    ),
)
_PATTERNS = tuple(
    (re.compile(pattern, 0 if pattern.startswith("^") else re.IGNORECASE), name)
    for pattern, name in _READERS
)

# "1,234 subscribers", "12 subscribers", "subscribers: 12", "subscribers=1.234": digits
# with optional thousands separators, next to the word on either side.
_NUMBER = r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?!\d)|\d+"
_SUBSCRIBERS = re.compile(
    rf"(?P<before>{_NUMBER})\s*(?:subscribers?|subcribers?|readers)\b"
    rf"|\bsubscribers?\s*[:=]?\s*(?P<after>{_NUMBER})",
    re.IGNORECASE,
)
MAX_USER_AGENT = 1000
# More than any feed has: a count past it is a user agent's noise, not a count, and
# would not fit the read side's columns (32-bit on PostgreSQL).
MAX_SUBSCRIBERS = 1_000_000_000


@dataclass(frozen=True)
class FeedReader:
    """A feed reader or mail client; `subscribers` when its user agent tells the count."""

    name: str
    subscribers: int | None

    @property
    def source(self) -> str:
        """The reader as a traffic source, spelled as `domain.sources` spells it: `theoldreader`."""
        return re.sub(r"[^a-z0-9]", "", self.name.lower())


def detect_feed_reader(user_agent: str | None) -> FeedReader | None:
    """The reader or mail client behind a pixel request, or None for anything else."""
    text = (user_agent or "").strip()[:MAX_USER_AGENT]
    if not text:
        return None
    for pattern, name in _PATTERNS:
        if pattern.search(text):
            return FeedReader(name, subscriber_count(text))
    return None


def subscriber_count(user_agent: str) -> int | None:
    """The subscriber count a hosted reader puts in its user agent, if any."""
    found = _SUBSCRIBERS.search(user_agent)
    if not found:
        return None
    digits = re.sub(r"\D", "", found["before"] or found["after"])
    return believed_subscribers(int(digits)) if digits else None


def believed_subscribers(count: object) -> int | None:
    """A reported subscriber count as kept, or None when no feed could have it: also for
    a hit stored before the bound, whose count may be any JSON number."""
    if isinstance(count, bool) or not isinstance(count, int | float):
        return None
    # NaN fails both comparisons.
    if not 0 <= count <= MAX_SUBSCRIBERS:
        return None
    return int(count)
