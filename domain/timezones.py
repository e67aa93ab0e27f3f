"""IANA time zone names, as accounts and sites choose them."""

from functools import lru_cache
from zoneinfo import available_timezones

from domain.errors import DomainError


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def validate_timezone(name: str) -> str:
    """Return the zone name if the tz database knows it, else raise a clear error."""
    name = (name or "").strip()
    if name not in _known():
        raise DomainError(f"Unknown timezone {name!r}: use an IANA name such as 'Europe/Berlin'")
    return name
