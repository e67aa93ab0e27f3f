"""The Account aggregate: a person who owns sites and API keys."""

import copy
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.emails import normalize_email
from domain.timezones import validate_timezone


class Account(Aggregate):
    """An account; `is_subscribed` is the plan flag that unlocks premium features.

    `is_unlocked` is True once an address of the account was confirmed, and stays so
    through later address changes (domain/confirmation.py): kudos and the purge of
    accounts never confirmed follow it; `email_confirmed` is about the current address.

    `session_generation` counts the times every session of the account was ended (a
    sign-out, a password change or reset): a session started in an earlier generation
    is no longer valid, wherever its cookie went.
    """

    @classmethod
    def register(
        cls, email: str, password_hash: str, timezone: str = "UTC", is_subscribed: bool = False
    ) -> "Account":
        return cls(
            email=normalize_email(email),
            password_hash=password_hash,
            timezone=validate_timezone(timezone),
            is_subscribed=is_subscribed,
        )

    @event("Registered")
    def __init__(self, email: str, password_hash: str, timezone: str, is_subscribed: bool) -> None:
        self.email = email
        self.password_hash = password_hash
        self.timezone = timezone
        self.is_subscribed = is_subscribed
        self.email_confirmed = False
        self.is_unlocked = False
        self.site_ids: list[UUID] = []
        self.key_ids: list[UUID] = []
        self.past_emails: list[str] = []
        self.session_generation = 0
        # Sites the owner deleted: kept (by id only) until their erasure is sure to be
        # done, so that erasing the account still finds one whose erasure failed.
        self.removed_site_ids: list[UUID] = []

    def confirm_email(self) -> None:
        if not self.email_confirmed:
            self._email_confirmed()

    @event("EmailConfirmed")
    def _email_confirmed(self) -> None:
        self.email_confirmed = True
        self.is_unlocked = True

    def change_password(self, password_hash: str) -> None:
        self._password_changed(password_hash)

    @event("PasswordChanged")
    def _password_changed(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.session_generation += 1

    @event("SessionsEnded")
    def end_sessions(self) -> None:
        self.session_generation += 1

    def change_email(self, email: str) -> None:
        email = normalize_email(email)
        if email != self.email:
            self._email_changed(email)

    @event("EmailChanged")
    def _email_changed(self, email: str) -> None:
        self.past_emails.append(self.email)
        self.email = email
        self.email_confirmed = False

    def change_timezone(self, timezone: str) -> None:
        timezone = validate_timezone(timezone)
        if timezone != self.timezone:
            self._timezone_changed(timezone)

    @event("TimezoneChanged")
    def _timezone_changed(self, timezone: str) -> None:
        self.timezone = timezone

    def subscribe(self) -> None:
        if not self.is_subscribed:
            self._subscribed()

    @event("Subscribed")
    def _subscribed(self) -> None:
        self.is_subscribed = True

    def unsubscribe(self) -> None:
        if self.is_subscribed:
            self._unsubscribed()

    @event("Unsubscribed")
    def _unsubscribed(self) -> None:
        self.is_subscribed = False

    # The account lists what it owns, so that erasure finds every aggregate to
    # remove from the event store itself, not from a read model that may lag.
    @event("SiteAttached")
    def attach_site(self, site_id: UUID) -> None:
        self.site_ids.append(site_id)

    def remove_site(self, site_id: UUID) -> None:
        if site_id in self.site_ids:
            self._site_removed(site_id)

    # Recorded before the site's own events are erased: a replay of this account's
    # history never lists the site again, though the site's history is gone.
    @event("SiteRemoved")
    def _site_removed(self, site_id: UUID) -> None:
        self.site_ids.remove(site_id)
        self.removed_site_ids.append(site_id)

    @event("KeyAttached")
    def attach_key(self, key_id: UUID) -> None:
        self.key_ids.append(key_id)

    def __deepcopy__(self, memo: dict[int, object]) -> "Account":
        # What an account holds is immutable (ids, strings, a time) but for its lists: a
        # copy a command may change needs new lists only. The generic deep copy spends
        # 50 ms on an owner's 10,000 site ids, each read of the account.
        copied = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list):
                vars(copied)[name] = list(value)
        return copied
