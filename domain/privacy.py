"""Privacy hashing: how a visit becomes unique and visitor hashes that no one can reverse.

A visitor is never identified: their address and user agent (or an API client's
`visitor_id`) only ever enter a keyed one-way hash, together with the site, the UTC
day and a salt that rotates every 12 hours and is later destroyed. Once a salt is
gone, nothing can link its hashes back to a visitor, not even with the database.
"""

import hashlib
from datetime import UTC, date, datetime, timedelta

USER_AGENT_HASH_CHARS = 50
HASH_CHARS = 32
SALT_PERIOD = timedelta(hours=12)
MIN_SALT_BYTES = 16
MAX_SALT_BYTES = hashlib.blake2b.MAX_KEY_SIZE

# Distinct labels keep the hash families apart: no unique hash can equal a visitor
# hash, and no API `visitor_id` can pose as an address + user agent.
_UNIQUE = "unique"
_VISITOR = "visitor"
_BY_ID = "visitor-id"
_BY_REQUEST = "ip-ua"


def _encode(*parts: str) -> bytes:
    """Length-prefix each part, so that ("ab", "c") and ("a", "bc") never encode alike."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass")
        out += len(raw).to_bytes(4, "big")
        out += raw
    return bytes(out)


def visitor_key(ip: str | None, user_agent: str | None, visitor_id: str | None) -> str:
    """Who is visiting, as hash input only: never store, log or put it in an event.

    An API-supplied `visitor_id` wins; otherwise the address and the user agent cut to
    50 characters. The result is itself a digest, so the raw address does not travel
    further than this call; it is not anonymous (the address space is small enough to
    search), which is why only the salted hashes below may leave memory.
    """
    visitor_id = (visitor_id or "").strip()
    if visitor_id:
        material = _encode(_BY_ID, visitor_id)
    else:
        material = _encode(
            _BY_REQUEST, (ip or "").strip(), (user_agent or "")[:USER_AGENT_HASH_CHARS]
        )
    return hashlib.sha256(material).hexdigest()


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime would be read in the server's local zone and shift the day.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("privacy hashing needs a timezone-aware datetime")
    return moment.astimezone(UTC)


def salt_period(moment: datetime) -> datetime:
    """Start of the 12-hour UTC salt period holding `moment` (00:00 or 12:00 UTC)."""
    utc = _as_utc(moment)
    return utc.replace(hour=utc.hour - utc.hour % 12, minute=0, second=0, microsecond=0)


def hash_day(moment: datetime) -> date:
    """The UTC day a hit counts towards: uniques reset at midnight UTC."""
    return _as_utc(moment).date()


def _keyed(salt: bytes, *parts: str) -> str:
    # BLAKE2b in keyed mode is a MAC (RFC 7693) made in one call: a third of HMAC's
    # cost, and every collected hit makes two to four of these.
    if not MIN_SALT_BYTES <= len(salt) <= MAX_SALT_BYTES:
        raise ValueError(f"a salt needs {MIN_SALT_BYTES} to {MAX_SALT_BYTES} random bytes")
    return hashlib.blake2b(_encode(*parts), key=salt, digest_size=HASH_CHARS // 2).hexdigest()


def unique_hash(salt: bytes, site: str, path: str, visitor: str, day: date) -> str:
    """The same for one visitor on one page of one site during one UTC day and salt."""
    return _keyed(salt, _UNIQUE, site, path, visitor, day.isoformat())


def visitor_hash(salt: bytes, site: str, visitor: str, day: date) -> str:
    """The same for one visitor anywhere on one site during one UTC day and salt."""
    return _keyed(salt, _VISITOR, site, visitor, day.isoformat())
