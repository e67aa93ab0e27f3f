"""Account use cases: register, find, change and erase accounts."""

from collections.abc import Callable
from uuid import UUID

from application.base import Created, EventSourcedApplication
from application.erasure import ErasureScope
from application.ports import PasswordHasher
from application.sites import SITE_UID, site_url_namespace
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
    # An owner of 10,000 sites has 10,000 events, read by every request (decision 0018).
    kept_kinds = (Account,)

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

        def end(account: Account) -> bool:
            account.end_sessions()
            return True

        self._amend(account_id, end)

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
        """Everything the account's erasure must remove from the configuration store:
        each of its sites' (as `site_erasure_scope`), then the account's own."""
        account = self.get_account(account_id)
        ids: list[UUID] = [account.id]
        ids += [
            Claim.id_for(EMAIL, e)
            for e in [account.email, *account.past_emails]
            # A released address may have been taken by another account since: the claim
            # is theirs now, and deleting it would let anyone register over them.
            if self.holder(EMAIL, e) in (None, account.id)
        ]
        sites = [self.get(site_id, Site, "Site") for site_id in account.site_ids]
        # A removed site whose erasure did not finish is still stored: it goes too.
        sites += [s for s in map(self._stored_site, account.removed_site_ids) if s is not None]
        for site in sites:
            ids += self._site_originators(site)
        for key_id in account.key_ids:
            key = self.get(key_id, ApiKey, "API key")
            ids += [key.id, Claim.id_for(f"key-name:{account.id}", key.name)]
        return ErasureScope(
            account_id=account.id,
            site_ids=tuple(s.id for s in sites),
            key_ids=tuple(account.key_ids),
            originator_ids=tuple(ids),
        )

    def site_erasure_scope(self, site: Site) -> ErasureScope:
        """What erasing this one site removes: the site, its claims, all it stored."""
        return ErasureScope(
            account_id=site.owner_id,
            site_ids=(site.id,),
            originator_ids=tuple(self._site_originators(site)),
            whole_account=False,
        )

    def remove_site(
        self, site_id: UUID, confirmation: str | None, owner_id: UUID | None = None
    ) -> ErasureScope:
        """Record that the owner removed the site (the confirmation must name it) and say
        what its erasure covers. Asked again for a site whose erasure did not finish, it
        records nothing more and says the same."""
        site = self._stored_site(site_id)
        if site is None or (owner_id is not None and site.owner_id != owner_id):
            raise NotFound("Site not found")
        site.confirm_deletion(confirmation)

        def remove(account: Account) -> bool:
            if site.id in account.site_ids:
                account.remove_site(site.id)
                return True
            if site.id in account.removed_site_ids:
                return False  # removed before; its erasure is being finished
            raise NotFound("Site not found")

        self._amend(site.owner_id, remove)
        return self.site_erasure_scope(site)

    def _amend(self, account_id: UUID, change: Callable[[Account], bool]) -> None:
        """Apply `change` to the account and save it, reading it again when another writer
        saved it meanwhile (three tries); `change` says whether there is anything to save."""
        for attempt in range(3):
            account = self.get_account(account_id)
            if not change(account):
                return
            try:
                self.save(account)
            except Conflict:
                if attempt == 2:
                    raise
            else:
                return

    def _stored_site(self, site_id: UUID) -> Site | None:
        try:
            return self.get(site_id, Site, "Site")
        except NotFound:
            return None

    def _site_originators(self, site: Site) -> list[UUID]:
        """The site and every claim it holds or once held (a claim's id is derived from
        its URL or uid) — but not a URL claim another site of the owner holds now."""
        urls = site_url_namespace(site.owner_id)
        return [
            site.id,
            Claim.id_for(SITE_UID, site.uid),
            *(
                Claim.id_for(urls, u)
                for u in [site.url, *site.past_urls]
                if self.holder(urls, u) in (None, site.id)
            ),
        ]
