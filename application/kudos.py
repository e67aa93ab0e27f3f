"""Kudo use cases in the tracking application: give and withdraw."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.base import EventSourcedApplication
from domain.errors import Conflict, DomainError, NotFound
from domain.kudos import Kudo, kudo_id, new_kudo_uid, normalize_kudo_uid


@dataclass(frozen=True)
class KudoGiven:
    id: int  # the notification id of the event that gave it (stable across rebuilds)
    uid: str
    path: str
    created_at: Any


class KudoCommands(EventSourcedApplication):
    def give_kudo(self, site_id: UUID, path: str, uid: str | None, channel: str) -> KudoGiven:
        """Give a kudo; Conflict when the uid is already used on this site."""
        uid = normalize_kudo_uid(uid) if uid is not None else new_kudo_uid()
        try:
            kudo: Any = self.repository.get(kudo_id(site_id, uid))
        except AggregateNotFoundError:
            kudo = Kudo.give(site_id, path, uid, channel)
        else:
            if not isinstance(kudo, Kudo) or kudo.site_id != site_id:
                raise Conflict(f"A kudo with uid {uid!r} already exists")
            try:
                kudo.give_again(path, channel)
            except DomainError as error:
                raise Conflict(error.message) from None
        try:
            recordings = self.save(kudo)
        except Conflict:
            raise Conflict(f"A kudo with uid {uid!r} already exists") from None
        last = recordings[-1]
        given_at = getattr(last.domain_event, "timestamp", None)
        return KudoGiven(id=last.notification.id, uid=uid, path=kudo.path, created_at=given_at)

    def withdraw_kudo(self, site_id: UUID, uid: str) -> None:
        try:
            kudo: Any = self.repository.get(kudo_id(site_id, uid))
        except AggregateNotFoundError:
            raise NotFound("Kudo not found") from None
        if not isinstance(kudo, Kudo) or kudo.site_id != site_id or kudo.is_withdrawn:
            raise NotFound("Kudo not found")
        kudo.withdraw()
        self.save(kudo)
