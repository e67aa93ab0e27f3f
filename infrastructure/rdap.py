"""Domain expiry through RDAP (RFC 9082/9083): `GET <base>/domain/<name>`.

The default base, https://rdap.org, is a bootstrap redirector: it answers with a
redirect to the registry's own RDAP server for the name's TLD (IANA's bootstrap
registry). Redirects are followed a few times, each through the SSRF-safe client.
A name the registry does not know (404) is retried one label up
(`blog.example.co.uk`, then `example.co.uk`); when no answer can be had the result
says so (`source: "unavailable"`), with no dates.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit

from domain.addresses import AddressPolicy
from domain.domain_expiry import RDAP, UNAVAILABLE, DomainExpiry, candidates, expiration_of
from infrastructure.safe_http import SafeHttpClient

DEFAULT_BASE = "https://rdap.org"
MAX_BODY = 256 * 1024
REDIRECTS = 3
HEADERS = {"Accept": "application/rdap+json, application/json", "User-Agent": "Tinylytics/1.0"}


class RdapLookup:
    def __init__(
        self,
        policy: AddressPolicy,
        base_url: str = DEFAULT_BASE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = SafeHttpClient(policy, total_timeout=15, max_body=MAX_BODY)
        self.base_url = base_url.rstrip("/")
        self.now = now

    def expiry(self, site_url: str) -> DomainExpiry:
        host = urlsplit(site_url).hostname or ""
        problem = "no RDAP server answered for this name"
        for name in candidates(host):
            status, document, error = self._get(f"{self.base_url}/domain/{quote(name)}")
            if status == 200:
                found = expiration_of(document)
                if found is None:
                    problem = "the registry gives no expiry date"
                    break
                return DomainExpiry(self.now(), found, RDAP)
            if status != 404:
                problem = error or f"RDAP answered HTTP {status}"
                break
        return DomainExpiry(self.now(), None, UNAVAILABLE, problem)

    def _get(self, url: str) -> tuple[int | None, object, str | None]:
        for _ in range(REDIRECTS + 1):
            outcome = self.client.get(url, HEADERS).outcome
            if outcome.status in (301, 302, 303, 307, 308) and outcome.location:
                url = urljoin(url, outcome.location)
                continue
            if outcome.status != 200:
                return outcome.status, None, outcome.error
            try:
                return 200, json.loads(outcome.body or ""), None
            except ValueError:
                return None, None, "RDAP answered something that is not JSON"
        return None, None, "too many RDAP redirects"
