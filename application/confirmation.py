"""The purge of accounts never confirmed, on the clock (job `accounts.purge`, hourly).

An account that has not confirmed an address UNCONFIRMED_DAYS after sign-up is erased
in full by the one account erasure (application/erasure.py `Erasure.delete_account`),
as if its owner had deleted it (domain/confirmation.py,
docs/decisions/0017-confirmation-gates.md).

The candidates come from the accounts read model (addresses not confirmed, signed up
before the cutoff); each is read again from the event store, which decides: one that
confirmed meanwhile, or confirmed once and moved to a new address since, is kept.
Firing twice (two workers, a lease run out, a restart) erases nothing twice: an
account already erased is no longer found and is skipped.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from application.clock import Firing, Job, JobKind, Recurrence
from application.erasure import ErasureScope
from domain.confirmation import Confirmable, is_due_for_purge, purge_cutoff
from domain.errors import NotFound

log = logging.getLogger("tinylytics.confirmation")

PURGE_KIND = "accounts.purge"
PURGE_KEY = "unconfirmed"
PURGE_EVERY = 3600  # seconds: an account goes within an hour of its seventh day


class UnconfirmedAccounts(Protocol):
    """The read side's list of accounts whose address is not confirmed."""

    def unconfirmed_before(self, cutoff: datetime) -> Sequence[UUID]:
        """Accounts signed up before `cutoff` whose current address is not confirmed."""
        ...


class Accounts(Protocol):
    def get_account(self, account_id: UUID) -> Confirmable: ...


class AccountEraser(Protocol):
    def delete_account(self, account_id: UUID) -> ErasureScope: ...


class ConfirmationPurge:
    def __init__(
        self,
        candidates: UnconfirmedAccounts,
        accounts: Accounts,
        erasure: AccountEraser,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.candidates = candidates
        self.accounts = accounts
        self.erasure = erasure
        self.now = now

    def job_kind(self) -> JobKind:
        return JobKind(PURGE_KIND, self.on_clock, "erase accounts never confirmed after 7 days")

    def initial_job(self) -> Job:
        now = self.now()
        return Job(PURGE_KIND, PURGE_KEY, now, Recurrence(every=PURGE_EVERY))

    def on_clock(self, _firing: Firing) -> None:
        self.purge()

    def purge(self) -> list[UUID]:
        """Erase every account due; the ids erased (none is named in the log)."""
        now = self.now()
        erased: list[UUID] = []
        for account_id in self.candidates.unconfirmed_before(purge_cutoff(now)):
            try:
                if not is_due_for_purge(self.accounts.get_account(account_id), now):
                    continue
                self.erasure.delete_account(account_id)
            except NotFound:
                continue  # erased already (by another firing, or its owner)
            erased.append(account_id)
        if erased:
            log.info("erased %d account(s) never confirmed", len(erased))
        return erased
