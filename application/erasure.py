"""Erasing an account: what it covers (the account, its sites, keys and every claim they
held) and the use case that removes it from every store."""

from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class ErasureScope:
    account_id: UUID
    site_ids: tuple[UUID, ...] = ()
    key_ids: tuple[UUID, ...] = ()
    # Every aggregate in the configuration store to remove, claims included: a claim's
    # id is derived from an email or a URL, so leaving one would leave personal data.
    originator_ids: tuple[UUID, ...] = field(default=())


class Eraser(Protocol):
    """Removes every trace of the aggregates in a scope: event stores and read models."""

    def erase(self, scope: ErasureScope) -> None: ...


class ErasureScopes(Protocol):
    """What an account's erasure covers in the configuration store (`Configuration`)."""

    def erasure_scope(self, account_id: UUID) -> ErasureScope: ...


class Erasure:
    """Erase an account and all it owns; nothing of it stays in any store.

    The one use case that reaches every store, so it stands above the applications
    rather than inside Configuration: Webhooks asks Configuration about accounts, and
    erasing an account erases its webhooks, so an eraser cannot exist when
    Configuration is made. This is made last (infrastructure/bootstrap.py).
    """

    def __init__(self, accounts: ErasureScopes, eraser: Eraser) -> None:
        self.accounts = accounts
        self.eraser = eraser

    def delete_account(self, account_id: UUID) -> ErasureScope:
        scope = self.accounts.erasure_scope(account_id)
        self.eraser.erase(scope)
        return scope
