"""API key use cases: issue, authenticate and revoke bearer keys."""

import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.base import Created, EventSourcedApplication
from domain.accounts import Account
from domain.api_keys import Access, ApiKey, hash_secret, key_id_for, normalize_key_name
from domain.errors import NotFound

MAX_SECRET_LENGTH = 100


def key_name_namespace(owner_id: UUID) -> str:
    return f"key-name:{owner_id}"


@dataclass(frozen=True)
class KeyIssued(Created):
    secret: str
    name: str
    access: str


class KeyCommands(EventSourcedApplication):
    def issue_key(self, owner_id: UUID, name: str, access: str) -> KeyIssued:
        owner = self.get(owner_id, Account, "Account")
        key, secret = ApiKey.issue(owner_id=owner.id, name=name, access=access)
        claim = self.claim(key_name_namespace(owner.id), key.name, key.id, f"Key name {key.name!r}")
        owner.attach_key(key.id)
        created = self.created(self.save(key, claim, owner), key)
        return KeyIssued(
            id=created.id, uuid=created.uuid, secret=secret, name=key.name, access=key.access
        )

    def key_named(self, owner_id: UUID, name: str) -> ApiKey:
        holder = self.holder(key_name_namespace(owner_id), normalize_key_name(name))
        if holder is None:
            raise NotFound(f"No active key named {name!r}")
        return self.get(holder, ApiKey, "API key")

    def revoke_key(self, owner_id: UUID, name: str) -> ApiKey:
        key = self.key_named(owner_id, name)
        key.revoke()
        released = self.release(key_name_namespace(owner_id), key.name)
        self.save(key, released)
        return key

    def authenticate_key(self, secret: str) -> ApiKey | None:
        """The live key this secret belongs to, or None: unknown, malformed or revoked."""
        if len(secret) > MAX_SECRET_LENGTH or not secret.startswith(
            (Access.READ_ONLY.prefix, Access.FULL_ACCESS.prefix)
        ):
            return None
        try:
            key: Any = self.repository.get(key_id_for(secret))
        except AggregateNotFoundError:
            return None
        if not isinstance(key, ApiKey) or key.is_revoked:
            return None
        if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            return None
        return key
