"""What a site's robots.txt lets the content crawler fetch (RFC 9309, read with protego).

The crawler asks for `/robots.txt` of the site's origin once per crawl, through the
SSRF-safe client like every request, and keeps the answer for the whole crawl:

- 2xx: its rules, for the most specific group that names us (the product token of our
  User-Agent, `TinylyticsContentCheck`), else the `*` group; the longest matching rule
  wins, `*` and `$` patterns as RFC 9309 says. At most `ROBOTS_BYTES` are read.
- 4xx (none, or refused): no rules (RFC 9309 §2.3.1.3).
- 5xx, a network error, a time-out: no rules either. RFC 9309 would have a crawler
  assume "disallow everything"; but this crawl is the owner's own request to check
  their site, and a server that fails on robots.txt is one whose pages are worth
  reporting as broken rather than silently skipping (docs/decisions/0013).
"""

from dataclasses import dataclass

from protego import Protego

ROBOTS_BYTES = 512_000  # RFC 9309 §2.5: at least 500 KiB are parsed
AGENT_TOKEN = "TinylyticsContentCheck"


@dataclass(frozen=True)
class RobotRules:
    parsed: Protego | None = None  # None: no rules, everything is allowed

    @classmethod
    def from_answer(cls, status: int | None, body: bytes) -> "RobotRules":
        if status is None or not 200 <= status < 300:
            return cls()
        return cls(Protego.parse(body.decode("utf-8", "replace")))

    def allows(self, url: str) -> bool:
        if self.parsed is None:
            return True
        return bool(self.parsed.can_fetch(url, AGENT_TOKEN))


NO_RULES = RobotRules()
