"""Enriching a collected hit: the ports for geo lookup and UA parsing, and country resolution.

The raw IP address only passes through here on its way to a country code; it is
never returned, stored or logged.
"""

import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

UNKNOWN_COUNTRY = "XX"

# Two-letter values that CDNs and geo databases use for "not a country": Cloudflare's
# unknown and Tor, the user-assigned ZZ, and legacy GeoIP's proxy and region codes.
NOT_A_COUNTRY = frozenset({"XX", "T1", "ZZ", "A1", "A2", "O1", "AP", "EU"})
_TWO_LETTERS = re.compile(r"^[A-Za-z]{2}$")
_MAX_IP_TEXT = 64


class GeoLookup(Protocol):
    """A local IP → country database; None when the address is not in it."""

    def country(self, ip: str) -> str | None: ...


class CountryFallback(Protocol):
    """A remote IP → country service, asked only when the local lookup has no answer."""

    def country(self, ip: str) -> str | None: ...


@dataclass(frozen=True)
class UserAgentInfo:
    """What a hit keeps of its user agent: derived names and flags, never the string."""

    browser: str | None
    platform: str | None
    is_mobile: bool
    is_bot: bool


class UserAgentParser(Protocol):
    def parse(self, user_agent: str | None) -> UserAgentInfo: ...


def known_country(code: str | None) -> str | None:
    """An upper-case ISO country code, or None for blanks, junk and the "not a country" codes."""
    text = (code or "").strip()
    if not _TWO_LETTERS.match(text):
        return None
    text = text.upper()
    return None if text in NOT_A_COUNTRY else text


def public_ip(ip: str | None) -> str | None:
    """The address in canonical form when it could locate someone, else None.

    Private, loopback, link-local, reserved, documentation and multicast addresses
    name no country, so they are never sent to a lookup. An IPv4-mapped IPv6
    address is looked up as the IPv4 address it carries.
    """
    text = (ip or "").strip()
    if not text or len(text) > _MAX_IP_TEXT:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return str(address)


class CountryResolver:
    """The country of a hit: given → CDN header → local database → remote fallback → `XX`.

    The remote fallback (IPinfo) is asked only when the caller says so (`remote=True`):
    the collection does for an API hit's `ip_address` alone (privacy.md).
    """

    def __init__(self, local: GeoLookup | None, fallback: CountryFallback | None) -> None:
        self._local = local
        self._fallback = fallback

    def resolve(
        self,
        given: str | None,
        ip: str | None,
        cdn_country: str | None = None,
        remote: bool = False,
    ) -> str:
        """Never raises: a failing lookup counts as no answer."""
        if given and _TWO_LETTERS.match(given) and given.isupper():
            # The client's own answer stands, including an explicit "XX".
            return given
        from_cdn = known_country(cdn_country)
        if from_cdn:
            return from_cdn
        fallback = self._fallback if remote else None
        if self._local is None and fallback is None:
            return UNKNOWN_COUNTRY
        address = public_ip(ip)
        if address is None:
            return UNKNOWN_COUNTRY
        for source in (self._local, fallback):
            if source is None:
                continue
            found = _ask(source, address)
            if found:
                return found
        return UNKNOWN_COUNTRY


def _ask(source: GeoLookup | CountryFallback, address: str) -> str | None:
    try:
        return known_country(source.country(address))
    except Exception as error:
        # An adapter bug must not lose the hit. The address stays out of the log;
        # the error type is enough to find the bug.
        log.warning("country lookup %s failed: %s", type(source).__name__, type(error).__name__)
        return None
