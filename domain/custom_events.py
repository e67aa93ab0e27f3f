"""The CustomEvent aggregate: a named interaction (`signup.started`), recorded once."""

import re
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.hits import Visit, created_event, new_site_scoped_id
from domain.text import clean, clean_optional

MAX_NAME_LENGTH = 100
MAX_VALUE_LENGTH = 500
NAME_FORMAT_ERROR = "Event must be 'category.action' format (2+ dot-separated segments)"
_NAME = re.compile(r"^[^\s.]+(\.[^\s.]+)+$")


def public_event(item: Any, event_id: int, created_at: Any) -> dict[str, Any]:
    """A recorded custom event (a `CustomEvent.Recorded` event) in the API's event shape
    (api.md), the one shape the API and the `new_event` webhook answer with; each says
    how its time is written."""
    return {
        "id": event_id,
        "event": item.name,
        "value": item.value,
        "url": item.url,
        "path": item.path,
        "referrer": item.referrer,
        "country": item.country,
        "source": item.source,
        "unique_hash": item.unique_hash,
        "visitor_hash": item.visitor_hash,
        "created_at": created_at,
    }


def normalize_event_name(name: str) -> str:
    """`signup->click` (the embed script's form) and `signup.click` name one event."""
    name = clean(name or "").strip().replace("->", ".")
    if not name:
        raise DomainError("Event can't be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(f"Event is too long (at most {MAX_NAME_LENGTH} characters)")
    if not _NAME.match(name):
        raise DomainError(NAME_FORMAT_ERROR)
    return name


def normalize_event_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DomainError("Value must be a string or a number")
    text = clean(str(value)).strip()
    if len(text) > MAX_VALUE_LENGTH:
        raise DomainError(f"Value is too long (at most {MAX_VALUE_LENGTH} characters)")
    return text or None


class CustomEvent(Aggregate):
    @classmethod
    def record(
        cls,
        site_id: UUID,
        name: str,
        value: str | None,
        visit: Visit,
        has_path: bool,
        hashes: tuple[str, str] | None = None,
    ) -> Any:
        """The `CustomEvent.Recorded` event of a new custom event, ready to save.

        `hashes` (unique, visitor) replace the visit's when they are made apart from it.
        """
        unique_hash, visitor_hash = hashes or (visit.unique_hash, visit.visitor_hash)
        return created_event(
            cls,
            new_site_scoped_id(site_id),
            site_id=site_id,
            name=clean(name),
            value=clean_optional(value),
            path=visit.path if has_path else None,
            url=visit.url,
            referrer=visit.referrer,
            country=visit.country,
            browser=visit.browser,
            platform=visit.platform,
            is_mobile=visit.is_mobile,
            source=visit.source,
            unique_hash=unique_hash,
            visitor_hash=visitor_hash,
            channel=visit.channel,
        )

    @event("Recorded")
    def __init__(
        self,
        id: UUID,
        site_id: UUID,
        name: str,
        value: str | None,
        path: str | None,
        url: str | None,
        referrer: str | None,
        country: str,
        browser: str | None,
        platform: str | None,
        is_mobile: bool,
        source: str | None,
        unique_hash: str | None,
        visitor_hash: str | None,
        channel: str,
    ) -> None:
        self.site_id = site_id
        self.name = name
        self.value = value
        self.path = path
        self.url = url
        self.referrer = referrer
        self.country = country
        self.browser = browser
        self.platform = platform
        self.is_mobile = is_mobile
        self.source = source
        self.unique_hash = unique_hash
        self.visitor_hash = visitor_hash
        self.channel = channel
