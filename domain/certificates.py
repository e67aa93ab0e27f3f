"""A site's TLS certificate as a check saw it, and when its owner is told it expires.

Notices go out 30, 14, 7 and 1 days before expiry, once each: a check that finds
fewer days left than a threshold not yet noticed sends that one notice (the nearest
threshold), and counts the earlier ones as passed, so a monitor enabled 5 days
before expiry gets one notice (7 days), not three. A new certificate that expires
later is a renewal: the notices start again.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NOTICE_DAYS = (30, 14, 7, 1)
EXPIRING_SOON_DAYS = NOTICE_DAYS[0]


@dataclass(frozen=True)
class Certificate:
    """What a check saw of the certificate: who it is for, until when, and whether the
    chain, the name and the dates checked out (`problem` says what did not)."""

    fingerprint: str  # SHA-256 of the DER, hex
    expires_at: datetime
    valid: bool
    problem: str | None = None


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until expiry, rounded down; negative once expired."""
    return math.floor((expires_at - now).total_seconds() / 86400)


def due_notice(expires_at: datetime, now: datetime, sent: list[int]) -> int | None:
    """The notice to send now: the nearest threshold passed and not yet noticed (the
    aggregate then counts every earlier one as passed too); None when none is due."""
    left = (expires_at - now).total_seconds() / 86400
    if left <= 0:
        return None
    passed = [d for d in NOTICE_DAYS if left <= d and d not in sent]
    return min(passed) if passed else None


def noticed(days: int) -> list[int]:
    """The thresholds a notice at `days` covers: its own and every earlier one."""
    return [d for d in NOTICE_DAYS if d >= days]


def ssl_block(certificate: Any, now: datetime) -> dict[str, Any] | None:
    """The API's `ssl` object, from what the latest HTTPS check saw (None over HTTP)."""
    if certificate is None:
        return None
    left = days_left(certificate.expires_at, now)
    return {
        "expires_at": certificate.expires_at,
        "valid": certificate.valid,
        "expiring_soon": 0 <= left < EXPIRING_SOON_DAYS,
        "expired": certificate.expires_at <= now,
        "days_until_expiry": left,
    }
