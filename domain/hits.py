"""The Hit aggregate: one page view, recorded once and never changed.

Each hit is an aggregate of its own, so concurrent hits for one site never share a
version sequence and never conflict (ARCHITECTURE decision 1). A hit's id starts
with the first 8 bytes of its site's id: erasing a site's hits is then one range
delete on the event store's primary key, with no read model to consult.
"""

import os
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.text import clean

MAX_URL_LENGTH = 2048
MAX_PATH_LENGTH = 2048
MAX_FIELD_LENGTH = 100


# Ids need to be unique, not secret: a generator seeded once from the OS avoids a
# system call per hit (each one a GIL hand-off under load).
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_site_scoped_id(site_id: UUID) -> UUID:
    return UUID(bytes=site_id.bytes[:8] + _ids.getrandbits(64).to_bytes(8, "big"))


def site_id_range(site_id: UUID) -> tuple[UUID, UUID]:
    """The lowest and highest ids a hit (or custom event) of this site can have."""
    prefix = site_id.bytes[:8]
    return UUID(bytes=prefix + b"\x00" * 8), UUID(bytes=prefix + b"\xff" * 8)


@dataclass(frozen=True)
class Visit:
    """What is known of a page view once the request is reduced to derived fields.

    No IP address and no user-agent string: only what may be kept.
    """

    path: str
    url: str | None
    referrer: str | None
    country: str
    browser: str | None
    platform: str | None
    is_mobile: bool
    source: str | None
    utm_campaign: str | None
    utm_medium: str | None
    unique_hash: str | None
    visitor_hash: str | None
    channel: str  # "script", "pixel" or "api"
    subscribers: int | None = None

    def __post_init__(self) -> None:
        # Free text from browsers and clients, some of it decoded from a query string
        # (utm_campaign=%00): cleaned, never refused (domain/text.py). Every visit goes
        # through here: the fields are read directly, and only a visit that needs it
        # is cleaned.
        texts = (self.path, self.url, self.referrer, self.browser, self.platform)
        for value in (*texts, self.source, self.utm_campaign, self.utm_medium):
            if value is not None and not value.isprintable():
                for name in _FREE_TEXT:
                    if (found := getattr(self, name)) is not None:
                        object.__setattr__(self, name, clean(found))
                return


_FREE_TEXT = (
    "path",
    "url",
    "referrer",
    "browser",
    "platform",
    "source",
    "utm_campaign",
    "utm_medium",
)


def created_event(
    aggregate: type[Aggregate],
    originator_id: UUID,
    timestamp: datetime | None = None,
    **fields: object,
) -> Any:
    """The creating event of a new aggregate, made directly.

    A hit is never changed after it is recorded, so nothing needs the aggregate
    object: building only its event costs a fraction of constructing the aggregate
    (which the library does by making this same event and applying it), and the
    collector makes one per page view. `timestamp` is for imports, tests and benchmarks.
    """
    event_class: Any = aggregate.__dict__["Recorded"]
    return event_class(
        originator_topic=get_topic(aggregate),
        originator_id=originator_id,
        originator_version=aggregate.INITIAL_VERSION,
        timestamp=timestamp or event_class.create_timestamp(),
        **fields,
    )


class Hit(Aggregate):
    @classmethod
    def record(cls, site_id: UUID, visit: Visit, hashes: tuple[str, str] | None = None) -> Any:
        """The `Hit.Recorded` event of a new hit, ready to save.

        `hashes` (unique, visitor) replace the visit's when they are made apart from it.
        """
        unique_hash, visitor_hash = hashes or (visit.unique_hash, visit.visitor_hash)
        return created_event(
            cls,
            new_site_scoped_id(site_id),
            site_id=site_id,
            path=visit.path,
            url=visit.url,
            referrer=visit.referrer,
            country=visit.country,
            browser=visit.browser,
            platform=visit.platform,
            is_mobile=visit.is_mobile,
            source=visit.source,
            utm_campaign=visit.utm_campaign,
            utm_medium=visit.utm_medium,
            unique_hash=unique_hash,
            visitor_hash=visitor_hash,
            channel=visit.channel,
            subscribers=visit.subscribers,
        )

    @event("Recorded")
    def __init__(
        self,
        id: UUID,
        site_id: UUID,
        path: str,
        url: str | None,
        referrer: str | None,
        country: str,
        browser: str | None,
        platform: str | None,
        is_mobile: bool,
        source: str | None,
        utm_campaign: str | None,
        utm_medium: str | None,
        unique_hash: str | None,
        visitor_hash: str | None,
        channel: str,
        subscribers: int | None,
    ) -> None:
        self.site_id = site_id
        self.path = path
        self.url = url
        self.referrer = referrer
        self.country = country
        self.browser = browser
        self.platform = platform
        self.is_mobile = is_mobile
        self.source = source
        self.utm_campaign = utm_campaign
        self.utm_medium = utm_medium
        self.unique_hash = unique_hash
        self.visitor_hash = visitor_hash
        self.channel = channel
        self.subscribers = subscribers
