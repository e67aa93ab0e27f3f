"""The Kudo aggregate: a reader's "thanks" for a page, given once and maybe withdrawn.

A kudo's id follows from its site and its uid, so a second kudo with the same uid on
a site writes the same aggregate's first version and the store refuses it: uids are
unique per site with no index and no contention between visitors. The id starts with
the site id's first bytes, like hits, so erasing a site's kudos is one range delete.
"""

import hashlib
import secrets
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.text import clean, refuse

MAX_UID_LENGTH = 100


def kudo_id(site_id: UUID, uid: str) -> UUID:
    digest = hashlib.blake2b(uid.encode("utf-8"), digest_size=8).digest()
    return UUID(bytes=site_id.bytes[:8] + digest)


def new_kudo_uid() -> str:
    return "k_" + secrets.token_hex(8)


def visitor_kudo_uid(site_id: UUID, path: str, visitor_hash: str) -> str:
    """A browser kudo's uid: one per visitor, page and day (the visitor hash is daily)."""
    digest = hashlib.blake2b(
        f"{site_id}\x00{path}\x00{visitor_hash}".encode(), digest_size=8
    ).hexdigest()
    return "v_" + digest


def normalize_kudo_uid(uid: str) -> str:
    uid = (uid or "").strip()
    if not uid:
        raise DomainError("Custom uid can't be blank")
    if len(uid) > MAX_UID_LENGTH:
        raise DomainError(f"Custom uid is too long (at most {MAX_UID_LENGTH} characters)")
    if any(ord(c) < 32 or c in "/?#" for c in uid):
        raise DomainError("Custom uid may not contain control characters, '/', '?' or '#'")
    return refuse(uid, "Custom uid")


class Kudo(Aggregate):
    @classmethod
    def give(cls, site_id: UUID, path: str, uid: str, channel: str) -> "Kudo":
        # The page's path is free text (cleaned); the uid a name the client chose (refused
        # by normalize_kudo_uid when it holds control characters): domain/text.py.
        path = clean(path)
        return cls(id=kudo_id(site_id, uid), site_id=site_id, path=path, uid=uid, channel=channel)

    @event("Given")
    def __init__(self, id: UUID, site_id: UUID, path: str, uid: str, channel: str) -> None:
        self.site_id = site_id
        self.path = path
        self.uid = uid
        self.channel = channel
        self.is_withdrawn = False

    def give_again(self, path: str, channel: str) -> None:
        """A withdrawn kudo's uid may be used again; a live one may not."""
        if not self.is_withdrawn:
            raise DomainError(f"A kudo with uid {self.uid!r} already exists")
        self._given_again(clean(path), channel)

    @event("GivenAgain")
    def _given_again(self, path: str, channel: str) -> None:
        self.path = path
        self.channel = channel
        self.is_withdrawn = False

    def withdraw(self) -> None:
        if self.is_withdrawn:
            raise DomainError("Kudo not found")
        self._withdrawn()

    @event("Withdrawn")
    def _withdrawn(self) -> None:
        self.is_withdrawn = True
