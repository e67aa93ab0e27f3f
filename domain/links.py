"""Links as the content crawler sees them: what a reference on a page is, how it
resolves to one URL, which pages belong to the crawl, and what counts as broken or
mixed content (docs/decisions/0013-content-monitoring.md).

Pure rules on strings; the crawler (infrastructure/crawler.py) fetches and parses.
"""

import re
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

BROKEN_LINK = "broken_link"
MIXED_CONTENT = "mixed_content"
ISSUE_TYPES = (BROKEN_LINK, MIXED_CONTENT)

MAX_URL_LENGTH = 2048

# A reference with a scheme of its own (mailto:, tel:, javascript:, data:, …) is handed
# by the browser to something else or run: never fetched, never broken.
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


class Role(Enum):
    """How a page uses a URL: a visitor follows a link; the browser loads a resource."""

    PAGE = "page"  # a page of the site, crawled
    LINK = "link"  # a[href], form[action], link[rel=canonical/alternate/…]
    RESOURCE = "resource"  # img, script, stylesheet, iframe, media, object, embed, CSS url()


@dataclass(frozen=True)
class Reference:
    """One URL found on one page, resolved and normalized."""

    url: str
    role: Role
    page: str  # the page it was found on


class NotAUrl(ValueError):
    """A reference that cannot be read as a URL (a broken link to a visitor)."""


def _host(netloc_host: str) -> str:
    host = netloc_host.strip().lower().rstrip(".")
    if not host or host.startswith("["):
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise NotAUrl("The host name is not a valid (international) domain name") from None


def normalize(raw: str, base: str) -> str | None:
    """The absolute http(s) URL a reference names, without its fragment; None for a
    reference that is skipped (another scheme, an empty or fragment-only reference).
    Raises NotAUrl for one no browser could follow."""
    text = raw.strip().replace("\t", "").replace("\n", "").replace("\r", "")
    if not text or text.startswith("#"):
        return None
    scheme = _SCHEME.match(text)
    if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
        return None
    try:
        joined = urljoin(base, text)
        parts = urlsplit(joined)
        port = parts.port
    except ValueError:
        raise NotAUrl("Not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        return None
    if not parts.hostname:
        raise NotAUrl("The URL names no host")
    host = _host(parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    netloc = host if port in (None, default) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{userinfo}@{netloc}"
    # Percent-encode what a browser would (spaces, non-ASCII), keep what is encoded.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    url = urlunsplit((parts.scheme, netloc, path, query, ""))
    if len(url) > MAX_URL_LENGTH:
        raise NotAUrl(f"The URL is longer than {MAX_URL_LENGTH} characters")
    return url


def root_path(text: str | None) -> str:
    """A root path as kept: '/' or '/blog' (leading slash, no trailing one)."""
    if text is None or not text.strip():
        return "/"
    path = "/" + text.strip().strip("/")
    return path if path != "/" else "/"


def start_url(site_url: str, root: str) -> str:
    parts = urlsplit(site_url)
    path = root if root != "/" else (parts.path or "/")
    url = normalize(urlunsplit((parts.scheme, parts.netloc, path, "", "")), site_url)
    if url is None:
        raise NotAUrl("The site URL is not an http(s) URL")
    return url


def same_host(url: str, site_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(site_url)
    return (a.hostname or "").lower() == (b.hostname or "").lower() and a.port == b.port


def in_scope(url: str, site_url: str, root: str) -> bool:
    """A page the crawl follows: on the site's host (either scheme) and under its root."""
    if not same_host(url, site_url):
        return False
    if root == "/":
        return True
    path = urlsplit(url).path
    return path == root or path.startswith(root + "/")


def is_mixed(url: str, page: str, role: Role) -> bool:
    """An http:// resource the browser loads on an https:// page (a plain link is not)."""
    return role is Role.RESOURCE and page.startswith("https://") and url.startswith("http://")


def is_broken(status: int | None, error: str | None) -> bool:
    return error is not None or status is None or status >= 400


def status_message(status: int) -> str:
    """What a person reads for a status: its name ("Not Found")."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server error" if status >= 500 else "Client error" if status >= 400 else "OK"
