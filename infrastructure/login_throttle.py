"""Throttled log-in attempts (and mail-sending forms) with the `limits` library.

Failures are counted in moving windows, in memory alone or shared through Redis when
it is set, under three keys: the address tried from one client, the client, and the
address from anywhere. The first holds back whoever guesses one account's password;
it never locks the account's owner out from their own network, as an address-wide
limit of five did. The second stops a client that tries many addresses; the third,
far higher, one account guessed from many networks at once.

A client is its network: an IPv4 address, or the /64 of an IPv6 one (what one host
is given; its user agent is left out, as the sender chooses it freely). No key holds
what it counts: each is a keyed HMAC (with the session secret) of the normalised
address and the network, and expires with its window. No IP address is stored.
"""

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.strategies import MovingWindowRateLimiter

from infrastructure.rate_limits import limits_storage
from infrastructure.settings import Settings

# Failed log-ins in 15 minutes: 5 for an address from one client, 20 from a client
# whatever the addresses, 100 for an address whatever the clients.
PER_ADDRESS_AND_CLIENT = RateLimitItemPerMinute(5, 15)
PER_CLIENT = RateLimitItemPerMinute(20, 15)
PER_ADDRESS = RateLimitItemPerMinute(100, 15)
# Mail a form sends to one address (reset, confirmation): 3 an hour.
MAILS_PER_ADDRESS = RateLimitItemPerHour(3)


def client_network(address: str | None) -> str:
    """The network a client is counted by: its IPv4 address or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until one more attempt is allowed (0 when allowed)


class LoginThrottle:
    def __init__(self, settings: Settings, secret: str) -> None:
        self._limiter = MovingWindowRateLimiter(limits_storage(settings, "lt"))
        self._secret = secret.encode("utf-8")

    def _key(self, kind: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256)
        return f"{kind}:{digest.hexdigest()[:32]}"

    def email_key(self, email: str) -> str:
        return self._key("email", email.strip().lower())

    def client_key(self, address: str | None) -> str:
        return self._key("client", client_network(address))

    def _pair(self, email_key: str, client_key: str) -> str:
        return self._key("pair", f"{email_key}|{client_key}")

    def _verdict(self, checks: list[tuple[RateLimitItem, str]]) -> Verdict:
        wait = 0
        for item, key in checks:
            if not self._limiter.test(item, key):
                stats = self._limiter.get_window_stats(item, key)
                wait = max(wait, int(stats.reset_time - time.time()) + 1)
        return Verdict(allowed=wait == 0, retry_after=wait)

    def _checks(self, email_key: str, client_key: str) -> list[tuple[RateLimitItem, str]]:
        return [
            (PER_ADDRESS_AND_CLIENT, self._pair(email_key, client_key)),
            (PER_CLIENT, client_key),
            (PER_ADDRESS, email_key),
        ]

    # -- log-in --------------------------------------------------------------------------
    def login_allowed(self, email_key: str, client_key: str) -> Verdict:
        return self._verdict(self._checks(email_key, client_key))

    def login_failed(self, email_key: str, client_key: str) -> None:
        for item, key in self._checks(email_key, client_key):
            self._limiter.hit(item, key)

    def login_succeeded(self, email_key: str, client_key: str) -> None:
        """The owner's own client starts afresh; the other counts stay."""
        self._limiter.clear(PER_ADDRESS_AND_CLIENT, self._pair(email_key, client_key))

    # -- mail ----------------------------------------------------------------------------
    def mail_allowed(self, email_key: str) -> bool:
        """Count one mail to this address; False once the address has had its share."""
        return self._limiter.hit(MAILS_PER_ADDRESS, email_key)
