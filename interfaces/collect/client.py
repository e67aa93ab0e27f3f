"""What a tracking request says about its sender: address, country header, prefetching.

The address is used for the country lookup, the hashes and the rate limit, then
forgotten: nothing here logs or returns it beyond the request.
"""

import ipaddress
from typing import Protocol

from werkzeug.datastructures import Headers

from infrastructure.settings import Settings


class Request(Protocol):
    """What these helpers read: a Flask request or a bare werkzeug one."""

    @property
    def remote_addr(self) -> str | None: ...

    @property
    def headers(self) -> Headers: ...


def _parse(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_ip(request: Request, settings: Settings) -> str | None:
    """The visitor's address: the peer, or — behind configured proxies — the nearest
    untrusted address in X-Forwarded-For (read right to left, as proxies append)."""
    peer = _parse(request.remote_addr)
    if peer is None:
        return None
    trusted = settings.trusted_proxies

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in trusted)

    if not trusted or not is_trusted(peer):
        return str(peer)
    hops = [h for part in request.headers.getlist("X-Forwarded-For") for h in part.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return None
        if not is_trusted(address):
            return str(address)
    return str(peer)


def cdn_country(request: Request, settings: Settings) -> str | None:
    if not settings.country_header:
        return None
    return request.headers.get(settings.country_header) or None


def is_prefetch(request: Request) -> bool:
    """Browsers mark speculative loads; a page that was never shown is not a visit."""
    purpose = " ".join(
        request.headers.get(name, "") for name in ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
    ).lower()
    return "prefetch" in purpose or "prerender" in purpose or "preview" in purpose
