"""Throttled log-in attempts (and mail-sending forms) with the `limits` library.

Failures are counted per email address and per client, in moving windows: in memory
alone, shared through Redis when it is set. Neither key holds what it counts: both
are keyed HMACs (with the session secret) of the normalised address and of the
client's address and user agent, and they expire with their window. No IP address
is stored anywhere.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.strategies import MovingWindowRateLimiter

from infrastructure.rate_limits import limits_storage
from infrastructure.settings import Settings

# Failed log-ins: 5 per 15 minutes for an address, 20 per 15 minutes from a client.
PER_EMAIL = RateLimitItemPerMinute(5, 15)
PER_CLIENT = RateLimitItemPerMinute(20, 15)
# Mail a form sends to one address (reset, confirmation): 3 an hour.
MAILS_PER_ADDRESS = RateLimitItemPerHour(3)


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

    def client_key(self, address: str | None, user_agent: str | None) -> str:
        return self._key("client", f"{address or ''}|{(user_agent or '')[:200]}")

    def _verdict(self, checks: list[tuple[RateLimitItem, str]]) -> Verdict:
        wait = 0
        for item, key in checks:
            if not self._limiter.test(item, key):
                stats = self._limiter.get_window_stats(item, key)
                wait = max(wait, int(stats.reset_time - time.time()) + 1)
        return Verdict(allowed=wait == 0, retry_after=wait)

    # -- log-in --------------------------------------------------------------------------
    def login_allowed(self, email_key: str, client_key: str) -> Verdict:
        return self._verdict([(PER_EMAIL, email_key), (PER_CLIENT, client_key)])

    def login_failed(self, email_key: str, client_key: str) -> None:
        self._limiter.hit(PER_EMAIL, email_key)
        self._limiter.hit(PER_CLIENT, client_key)

    def login_succeeded(self, email_key: str) -> None:
        self._limiter.clear(PER_EMAIL, email_key)

    # -- mail ----------------------------------------------------------------------------
    def mail_allowed(self, email_key: str) -> bool:
        """Count one mail to this address; False once the address has had its share."""
        return self._limiter.hit(MAILS_PER_ADDRESS, email_key)
