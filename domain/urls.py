"""Site URLs: what an owner types, and the canonical form the domain keeps."""

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from domain.errors import DomainError
from domain.text import is_clean

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PORT = re.compile(r"^\d+(/|$)")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def _looks_numeric(host: str) -> bool:
    """All-digit labels that are not a valid address (999.999.999.999) are no host."""
    return all(label.isdigit() for label in host.split(".")) and not _is_ipv4(host)


MAX_URL_LENGTH = 2048


def normalize_site_url(url: str) -> str:
    """Canonical site URL: http(s), lower-case host, no credentials, query or trailing slash.

    Owners type `mysite.com` as often as `https://mysite.com/`; both name one site.
    """
    raw = (url or "").strip()
    if not raw:
        raise DomainError("URL can't be blank")
    if len(raw) > MAX_URL_LENGTH:
        raise DomainError(f"URL is too long (at most {MAX_URL_LENGTH} characters)")
    if not is_clean(raw) or any(c.isspace() for c in raw):
        # urlsplit silently drops tabs and newlines; a URL with them is a typing slip.
        raise DomainError(f"Invalid URL {url!r}: spaces or control characters")
    scheme = _SCHEME.match(raw)
    if "://" not in raw and scheme and not _PORT.match(raw[scheme.end() :]):
        raise DomainError(f"Invalid URL {url!r}: only http and https sites can be tracked")
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as error:
        raise DomainError(f"Invalid URL {url!r}: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise DomainError(f"Invalid URL {url!r}: only http and https sites can be tracked")
    if parts.username or parts.password:
        raise DomainError(f"Invalid URL {url!r}: credentials are not allowed in a site URL")
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DomainError(f"Invalid URL {url!r}: bad host name") from None
    if not host or not (_HOST.match(host) or _is_ipv4(host)) or _looks_numeric(host):
        raise DomainError(f"Invalid URL {url!r}: bad host name")
    if port == DEFAULT_PORTS[parts.scheme.lower()]:
        port = None  # https://x.com:443 and https://x.com are one site
    netloc = host if port is None else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if any(c.isspace() for c in path):
        raise DomainError(f"Invalid URL {url!r}: spaces in the path")
    return urlunsplit((parts.scheme.lower(), netloc, path, "", ""))


def host_of(url: str) -> str:
    """The host name of a canonical site URL."""
    return urlsplit(url).hostname or ""


def host_accepted(site_url: str, host: str, any_domain: bool) -> bool:
    """Whether a page on `host` may send hits for the site.

    The site's own host and its `www.` twin always may (a site that answers on both
    without redirecting should lose no hits); any host may when the owner allows it.
    """
    if any_domain:
        return True
    own = host_of(site_url).lower()
    host = (host or "").lower().rstrip(".")
    if not own or not host:
        return False
    bare_own = own.removeprefix("www.")
    return host in (bare_own, "www." + bare_own)
