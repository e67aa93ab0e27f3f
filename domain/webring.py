"""The Webring aggregate: the operator's hand-curated ring of member sites.

There is one ring per server; members are known by their canonical URL. An avatar is
referred to by the digest of its image; the images themselves are kept outside the
event store (they are files, not facts).
"""

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, NotFound
from domain.sites import normalize_label
from domain.urls import normalize_site_url

RING_ID = uuid5(NAMESPACE_URL, "https://tinylytics.invalid/webring")


class Webring(Aggregate):
    @classmethod
    def create(cls) -> "Webring":
        return cls(id=RING_ID)

    @event("Created")
    def __init__(self, id: UUID) -> None:
        self.members: dict[str, dict[str, str | None]] = {}

    def add_member(self, url: str, label: str | None, avatar: str | None) -> str:
        url = normalize_site_url(url)
        self._member_added(url, normalize_label(label, url), avatar)
        return url

    @event("MemberAdded")
    def _member_added(self, url: str, label: str, avatar: str | None) -> None:
        self.members[url] = {"label": label, "avatar": avatar}

    def remove_member(self, url: str) -> str:
        try:
            url = normalize_site_url(url)
        except DomainError:
            raise NotFound(f"{url!r} is not in the webring") from None
        if url not in self.members:
            raise NotFound(f"{url} is not in the webring")
        self._member_removed(url)
        return url

    @event("MemberRemoved")
    def _member_removed(self, url: str) -> None:
        self.members.pop(url, None)
