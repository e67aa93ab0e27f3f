"""A site's domain registration as RDAP tells it, and how the API shows it.

The RDAP answer's `events` list has the registration's dates; the one with
`eventAction: "expiration"` is when the domain lapses unless renewed. When no RDAP
server answers for the name, the block says so (`source: "unavailable"`, no dates)
rather than guessing.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EXPIRING_SOON_DAYS = 30
RDAP = "rdap"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DomainExpiry:
    tested_at: datetime
    expires_at: datetime | None
    source: str  # RDAP, or UNAVAILABLE when no answer could be had
    error: str | None = None


def candidates(host: str) -> list[str]:
    """Names to ask RDAP about, most specific first: the host without `www.`, then
    each parent with at least two labels (`blog.example.co.uk`, `example.co.uk`)."""
    labels = host.lower().rstrip(".").removeprefix("www.").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def expiration_of(document: Any) -> datetime | None:
    """The `expiration` event's date in an RDAP domain answer (RFC 9083), if any."""
    if not isinstance(document, dict):
        return None
    for event in document.get("events") or []:
        if isinstance(event, dict) and event.get("eventAction") == "expiration":
            raw = event.get("eventDate")
            if isinstance(raw, str):
                try:
                    found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                except ValueError:
                    return None
                return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return None


def domain_block(expiry: DomainExpiry | None, now: datetime) -> dict[str, Any] | None:
    """The API's `domain` object (None until the first lookup)."""
    if expiry is None:
        return None
    if expiry.expires_at is None:
        return {
            "tested_at": expiry.tested_at,
            "expires_at": None,
            "remaining_days": None,
            "source": expiry.source,
            "expired": False,
            "expiring_soon": False,
            "days_until_expiry": None,
        }
    left = math.floor((expiry.expires_at - now).total_seconds() / 86400)
    return {
        "tested_at": expiry.tested_at,
        "expires_at": expiry.expires_at,
        "remaining_days": left,
        "source": expiry.source,
        "expired": expiry.expires_at <= now,
        "expiring_soon": 0 <= left < EXPIRING_SOON_DAYS,
        "days_until_expiry": left,
    }
