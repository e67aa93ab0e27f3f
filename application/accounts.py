"""Account use cases: register, find, change and erase accounts."""

from uuid import UUID

from application.base import Created, EventSourcedApplication
from application.erasure import ErasureScope
from application.ports import PasswordHasher
from domain.accounts import Account
from domain.api_keys import ApiKey
from domain.claims import Claim
from domain.emails import normalize_email
from domain.errors import Conflict, DomainError, NotFound
from domain.passwords import validate_password
from domain.sites import Site

EMAIL = "email"


class AccountCommands(EventSourcedApplication):
    passwords: PasswordHasher

    def register_account(
        self,
        email: str,
        password: str,
        timezone: str = "UTC",
        is_subscribed: bool = False,
        confirmed: bool = False,
    ) -> Created:
        """A new account; `confirmed` for one the operator makes (the admin CLI), whose
        address the operator vouches for: it is unlocked from the start."""
        account = Account.register(
            email=email,
            password_hash=self.passwords.hash(validate_password(password)),
            timezone=timezone,
            is_subscribed=is_subscribed,
        )
        if confirmed:
            account.confirm_email()  # saved with the registration, in one transaction
        claim = self.claim(EMAIL, account.email, account.id, "Email")
        return self.created(self.save(account, claim), account)

    def get_account(self, account_id: UUID) -> Account:
        return self.get(account_id, Account, "Account")

    def find_account(self, email: str) -> Account:
        """The account that holds this email address, or NotFound."""
        try:
            email = normalize_email(email)
        except DomainError:
            raise NotFound(f"No account with email {email!r}") from None
        holder = self.holder(EMAIL, email)
        if holder is None:
            raise NotFound(f"No account with email {email!r}")
        return self.get_account(holder)

    def authenticate_password(self, email: str, password: str) -> Account | None:
        try:
            account = self.find_account(email)
        except NotFound:
            return None
        return account if self.passwords.verify(account.password_hash, password) else None

    def confirm_email(self, account_id: UUID) -> None:
        account = self.get_account(account_id)
        account.confirm_email()
        self.save(account)

    def change_password(self, account_id: UUID, password: str) -> None:
        account = self.get_account(account_id)
        account.change_password(self.passwords.hash(validate_password(password)))
        self.save(account)

    def end_sessions(self, account_id: UUID) -> None:
        """Sign every session of the account out (a sign-out ends them all)."""
        for attempt in range(3):
            account = self.get_account(account_id)
            account.end_sessions()
            try:
                self.save(account)
            except Conflict:
                if attempt == 2:
                    raise
            else:
                return

    def change_email(self, account_id: UUID, email: str) -> None:
        account = self.get_account(account_id)
        old = account.email
        account.change_email(email)
        if account.email == old:
            return
        taken = self.claim(EMAIL, account.email, account.id, "Email")
        released = self.release(EMAIL, old)
        self.save(account, taken, released)

    def change_account_timezone(self, account_id: UUID, timezone: str) -> None:
        account = self.get_account(account_id)
        account.change_timezone(timezone)
        self.save(account)

    def set_subscribed(self, account_id: UUID, subscribed: bool) -> None:
        account = self.get_account(account_id)
        if subscribed:
            account.subscribe()
        else:
            account.unsubscribe()
        self.save(account)

    def erasure_scope(self, account_id: UUID) -> ErasureScope:
        """Everything the account's erasure must remove from the configuration store."""
        account = self.get_account(account_id)
        ids: list[UUID] = [account.id]
        ids += [
            Claim.id_for(EMAIL, e)
            for e in [account.email, *account.past_emails]
            # A released address may have been taken by another account since: the claim
            # is theirs now, and deleting it would let anyone register over them.
            if self.holder(EMAIL, e) in (None, account.id)
        ]
        for site_id in account.site_ids:
            site = self.get(site_id, Site, "Site")
            ids.append(site.id)
            ids.append(Claim.id_for("site-uid", site.uid))
            ids += [Claim.id_for(f"site-url:{account.id}", u) for u in [site.url, *site.past_urls]]
        for key_id in account.key_ids:
            key = self.get(key_id, ApiKey, "API key")
            ids += [key.id, Claim.id_for(f"key-name:{account.id}", key.name)]
        return ErasureScope(
            account_id=account.id,
            site_ids=tuple(account.site_ids),
            key_ids=tuple(account.key_ids),
            originator_ids=tuple(ids),
        )
