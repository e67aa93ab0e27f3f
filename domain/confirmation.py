"""Confirmation gates (getting_started.md): what an account may do before it confirms
its address, and when one that never does is erased.

An account is *unlocked* once it has confirmed an address (an account the operator
makes with the admin CLI is confirmed when it is made). Unlocked is for good: moving to
a new address, still to confirm, takes nothing away but uptime alerts, which wait for
the new address (domain/monitors.py). Until then its sites take no kudos, it cannot
turn uptime monitoring on, and UNCONFIRMED_DAYS after sign-up it is erased in full
(docs/decisions/0017-confirmation-gates.md).
"""

from datetime import datetime, timedelta
from typing import Protocol

from domain.monitors import NOT_CONFIRMED, NOT_SUBSCRIBED

UNCONFIRMED_DAYS = 7
KUDOS_LOCKED = "Kudos are off until the site owner confirms their email address"


class Confirmable(Protocol):
    """What the gates read of an account (domain/accounts.py `Account`)."""

    @property
    def is_unlocked(self) -> bool: ...

    @property
    def email_confirmed(self) -> bool: ...

    @property
    def is_subscribed(self) -> bool: ...

    @property
    def created_on(self) -> datetime: ...


def takes_kudos(owner: Confirmable) -> bool:
    """Whether the owner's sites accept kudos, on every channel."""
    return owner.is_unlocked


def uptime_refusal(owner: Confirmable) -> str | None:
    """Why the owner may not turn uptime monitoring on, or None when they may: a paid
    plan and a confirmed address (the alerts go to it)."""
    if not owner.is_subscribed:
        return NOT_SUBSCRIBED
    if not owner.email_confirmed:
        return NOT_CONFIRMED
    return None


def purge_cutoff(now: datetime) -> datetime:
    """Accounts signed up before this and never confirmed are erased."""
    return now - timedelta(days=UNCONFIRMED_DAYS)


def is_due_for_purge(account: Confirmable, now: datetime) -> bool:
    return not account.is_unlocked and account.created_on <= purge_cutoff(now)
