"""The uptime check: a GET of the site's URL through the SSRF-safe client.

`User-Agent: Tinylytics Uptime Monitor/1.0` (the guide tells owners to allow it in
their firewalls), a time limit, and at most `MAX_REDIRECTS` redirects, each target
checked by the same guard as the first URL. Up is a 2xx or 3xx answer at the end of
the redirects; anything else is down, in the words of domain/check_results.py.
"""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from cryptography import x509

from domain.addresses import AddressPolicy
from domain.certificates import Certificate
from domain.check_results import (
    MAX_REDIRECTS,
    REDIRECTS,
    TLS,
    USER_AGENT,
    CheckResult,
    failure_words,
    is_up,
    status_words,
)
from domain.errors import DomainError
from domain.webhooks import validate_webhook_url
from infrastructure.safe_http import Fetched, SafeHttpClient
from infrastructure.settings import Settings

CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 20.0
HEADERS = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}


def monitor_url(url: str, policy: AddressPolicy) -> str:
    """What may be checked: an http(s) URL the guard lets through (the webhook rule)."""
    try:
        return validate_webhook_url(url, policy)
    except DomainError as refused:
        raise DomainError(refused.message.replace("Webhook URL", "Site URL", 1)) from None


class HttpChecker:
    def __init__(self, client: SafeHttpClient) -> None:
        self.client = client

    def fetch(self, url: str) -> tuple[Fetched, int]:
        """The last answer after following redirects, and the time they took together."""
        followed = self.client.follow(
            url, HEADERS, validate=monitor_url, max_redirects=MAX_REDIRECTS
        )
        if followed.too_many_redirects:
            return Fetched(followed.last.outcome, REDIRECTS), followed.elapsed_ms
        return followed.last, followed.elapsed_ms

    def check(self, url: str) -> CheckResult:
        fetched, elapsed = self.fetch(url)
        result = self.judge(fetched, elapsed)
        if url.lower().startswith("https://"):
            return replace(result, certificate=self.certificate(url, fetched, result))
        return result

    def certificate(self, url: str, fetched: Fetched, result: CheckResult) -> Certificate | None:
        """The certificate of the first URL: the trusted one from the check, or (when the
        handshake failed) the one presented, read without trusting it."""
        if fetched.certificate is not None and result.failure != TLS:
            return certificate_of(fetched.certificate, True, None)
        if result.failure != TLS:
            return None
        der = self.client.peer_certificate(url, validate=monitor_url)
        return certificate_of(der, False, result.error) if der else None

    def judge(self, fetched: Fetched, elapsed: int) -> CheckResult:
        outcome = fetched.outcome
        if fetched.failure == REDIRECTS:
            return CheckResult(False, outcome.status, failure_words(REDIRECTS, None), elapsed)
        if outcome.status is None:
            words = failure_words(fetched.failure, outcome.error)
            return CheckResult(False, None, words, elapsed, fetched.failure)
        if is_up(outcome.status):
            return CheckResult(True, outcome.status, None, elapsed)
        return CheckResult(False, outcome.status, status_words(outcome.status), elapsed)


def uptime_policy(settings: Settings) -> AddressPolicy:
    """Which addresses checks may reach: public ones, and what the operator allowed."""
    return AddressPolicy(
        allowed_networks=settings.uptime_allowed_networks,
        allowed_hosts=settings.uptime_allowed_hosts,
    )


def certificate_of(der: bytes, valid: bool, problem: str | None) -> Certificate | None:
    try:
        parsed = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    expires: datetime = parsed.not_valid_after_utc.astimezone(UTC)
    return Certificate(hashlib.sha256(der).hexdigest(), expires, valid, problem)
