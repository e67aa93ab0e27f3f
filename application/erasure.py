"""Erasing an account or one site: what it covers (the account, its sites, keys and every
claim they held; or one site and its claims) and the use case that removes it from every store.

An account's erasure is its sites' erasure plus the account's own records: every store
clears what it keeps for each site in `site_ids`, and, only when `whole_account`, what
it keeps for the account itself (its rows, keys, webhooks, mail).
"""

from collections.abc import Callable
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
    # False: only these sites go; the account, its keys, webhooks and other sites stay.
    whole_account: bool = True


class Eraser(Protocol):
    """Removes every trace of the aggregates in a scope: event stores and read models."""

    def erase(self, scope: ErasureScope) -> None: ...


class ErasureScopes(Protocol):
    """What an erasure covers in the configuration store (`Configuration`)."""

    def erasure_scope(self, account_id: UUID) -> ErasureScope: ...

    def remove_site(
        self, site_id: UUID, confirmation: str | None, owner_id: UUID | None = None
    ) -> ErasureScope: ...


class Erasure:
    """Erase an account and all it owns; nothing of it stays in any store.

    The one use case that reaches every store, so it stands above the applications
    rather than inside Configuration: Webhooks asks Configuration about accounts, and
    erasing an account erases its webhooks, so an eraser cannot exist when
    Configuration is made. This is made last (infrastructure/bootstrap.py).
    """

    def __init__(
        self,
        accounts: ErasureScopes,
        eraser: Eraser,
        erased: Callable[[], None] = lambda: None,
    ) -> None:
        self.accounts = accounts
        self.eraser = eraser
        # Told once an erasure has committed: caches of this process drop what went.
        self.erased = erased

    def delete_account(self, account_id: UUID) -> ErasureScope:
        scope = self.accounts.erasure_scope(account_id)
        self.eraser.erase(scope)
        self.erased()
        return scope

    def delete_site(
        self, site_id: UUID, confirmation: str | None, owner_id: UUID | None = None
    ) -> ErasureScope:
        """Erase one site and all its data; the account and its other sites stay whole.

        With `owner_id`, another account's site is not found. The removal is recorded
        on the account first; if the erasure then fails, asking again (or erasing the
        account) finishes it.
        """
        scope = self.accounts.remove_site(site_id, confirmation, owner_id)
        self.eraser.erase(scope)
        self.erased()
        return scope
