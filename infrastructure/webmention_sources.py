"""Reading a Webmention's source: a guarded GET, the exact link, and its microformats.

The source is fetched through the SSRF-safe client (`follow`: the address checked
at connect time, each redirect checked again, at most `max_bytes`, one deadline for
everything). An HTML source must link to the target exactly (`a`, `link`, `img`,
`audio`, `video`, `source` elements, relative URLs resolved against the page); a
plain-text one must contain it. Anything else (an image, a binary, a PDF) is
refused. The microformats2 are parsed by mf2py from the document we already hold:
mf2py is never given a URL to fetch.
"""

from typing import Any
from urllib.parse import urljoin

import mf2py
from bs4 import BeautifulSoup

from application.webmentions import SourceReading
from domain.webmentions import same_url
from infrastructure.safe_http import Followed, SafeHttpClient, fetchable_url

MAX_SOURCE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
HEADERS = {"Accept": "text/html, text/plain;q=0.5", "User-Agent": "Tinylytics-Webmention/1.0"}
LINKING = {
    "a": "href",
    "link": "href",
    "area": "href",
    "img": "src",
    "audio": "src",
    "video": "src",
    "source": "src",
    "iframe": "src",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")


def _links_to(soup: BeautifulSoup, base: str, target: str) -> bool:
    found_base = soup.find("base", href=True)
    if found_base is not None:
        base = urljoin(base, str(found_base.get("href")))
    for name, attribute in LINKING.items():
        for element in soup.find_all(name):
            value = element.get(attribute)
            if isinstance(value, str) and same_url(urljoin(base, value.strip()), target):
                return True
    return False


class SafeSourceReader:
    """The `SourceReader` port: fetch through the guard, check the link, parse the mf2."""

    def __init__(self, client: SafeHttpClient, max_bytes: int = MAX_SOURCE_BYTES) -> None:
        self.client = client
        self.max_bytes = max_bytes

    def read(self, source: str, target: str) -> SourceReading:
        followed = self.client.follow(
            source, HEADERS, fetchable_url, MAX_REDIRECTS, max_body=self.max_bytes
        )
        answered = _answered(followed, self.max_bytes)
        if answered is not None:
            return answered
        fetched = followed.last
        body = fetched.data
        media = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if b"\x00" in body[:8192]:
            return SourceReading(f"the source is binary, not HTML or text ({media or 'no type'})")
        if media == "text/plain":
            text = body.decode("utf-8", "replace")
            if target in text:
                return SourceReading(None, parsed=None)
            return SourceReading("the source does not link to the target")
        if media not in HTML_TYPES:
            return SourceReading(f"the source is not HTML or text ({media or 'no type'})")
        soup = BeautifulSoup(body, "html.parser")
        if not _links_to(soup, fetched.url, target):
            return SourceReading("the source does not link to the target")
        parsed: Any = mf2py.parse(doc=soup, url=fetched.url)
        return SourceReading(None, parsed=parsed if isinstance(parsed, dict) else None)


def _answered(followed: Followed, max_bytes: int) -> SourceReading | None:
    """The reading of a fetch that brought no page to look at; None when it did."""
    fetched = followed.last
    error = fetched.outcome.error
    if followed.too_many_redirects:
        error = f"Too many redirects (more than {MAX_REDIRECTS})"
    elif fetched.truncated:
        error = f"Too large (more than {max_bytes:,} bytes)"
    if error is not None:
        return SourceReading(f"the source could not be fetched: {error}", lasting=False)
    status = fetched.outcome.status or 0
    if status == 410:
        return SourceReading("the source is gone (410 Gone)")
    if 300 <= status < 400:
        return SourceReading(f"the source answered {status} without a usable redirect")
    if 400 <= status < 500:
        return SourceReading(f"the source answered {status}")
    if status >= 500 or status < 200:
        return SourceReading(f"the source answered {status}", lasting=False)
    return None
