"""Site use cases: register a site, change its settings, archive it."""

from dataclasses import dataclass
from uuid import UUID

from application.base import Created, EventSourcedApplication
from domain.accounts import Account
from domain.claims import Claim
from domain.errors import Conflict, NotFound
from domain.sites import Site

SITE_UID = "site-uid"


def site_url_namespace(owner_id: UUID) -> str:
    return f"site-url:{owner_id}"


@dataclass(frozen=True)
class SiteCreated(Created):
    uid: str


@dataclass(frozen=True)
class SiteChanges:
    """The settings an owner may change at once; None leaves a setting as it is."""

    url: str | None = None
    label: str | None = None
    timezone: str | None = None
    public: bool | None = None
    unique_tracking: bool | None = None
    any_domain: bool | None = None
    ignored_paths: list[str] | None = None
    allowed_query_params: list[str] | None = None
    archived: bool | None = None
    report_recipients: list[str] | None = None
    reports_to_owner: bool | None = None


class SiteCommands(EventSourcedApplication):
    def register_site(
        self, owner_id: UUID, url: str, label: str | None = None, timezone: str = "UTC"
    ) -> SiteCreated:
        owner = self.get(owner_id, Account, "Account")
        site = Site.register(owner_id=owner.id, url=url, label=label, timezone=timezone)
        url_claim = self.claim(site_url_namespace(owner.id), site.url, site.id, f"Site {site.url}")
        try:
            uid_claim = self.claim(SITE_UID, site.uid, site.id, "Site uid")
        except Conflict:  # one chance in 36**10; draw again
            site = Site.register(owner_id=owner.id, url=url, label=label, timezone=timezone)
            uid_claim = self.claim(SITE_UID, site.uid, site.id, "Site uid")
        owner.attach_site(site.id)
        created = self.created(self.save(site, url_claim, uid_claim, owner), site)
        return SiteCreated(id=created.id, uuid=created.uuid, uid=site.uid)

    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Site:
        """The site; with an owner, another account's site is not found (existence never leaks)."""
        site = self.get(site_id, Site, "Site")
        if owner_id is not None and site.owner_id != owner_id:
            raise NotFound("Site not found")
        return site

    def site_by_number(self, number: int, owner_id: UUID | None = None) -> Site:
        return self.get_site(self.resolve_id(number, Site, "Site"), owner_id)

    def site_by_uid(self, uid: str) -> Site:
        holder = self.holder(SITE_UID, uid) if 0 < len(uid) <= 64 else None
        if holder is None:
            raise NotFound("Site not found")
        return self.get_site(holder)

    def unsubscribe_from_reports(self, site_id: UUID, address: str) -> bool:
        """A report's unsubscribe link was followed: no more reports to that address.
        True if it was getting them."""
        site = self.get_site(site_id)
        owner = self.get(site.owner_id, Account, "Account")
        if site.unsubscribe_from_reports(address, owner.email):
            self.save(site)
            return True
        return False

    def change_site(self, site_id: UUID, changes: SiteChanges) -> Site:
        """Apply every change or none: a bad value leaves the site as it was."""
        site = self.get_site(site_id)
        extra: list[Claim | None] = []
        if changes.archived is False:
            site.unarchive()
        if changes.url is not None:
            old = site.url
            site.change_url(changes.url)
            if site.url != old:
                namespace = site_url_namespace(site.owner_id)
                extra.append(self.claim(namespace, site.url, site.id, f"Site {site.url}"))
                extra.append(self.release(namespace, old))
        if changes.label is not None:
            site.relabel(changes.label)
        if changes.timezone is not None:
            site.change_timezone(changes.timezone)
        if changes.public is not None:
            site.set_public(changes.public)
        if changes.unique_tracking is not None:
            site.set_unique_tracking(changes.unique_tracking)
        if changes.any_domain is not None:
            site.set_any_domain(changes.any_domain)
        if changes.ignored_paths is not None:
            site.set_ignored_paths(changes.ignored_paths)
        if changes.allowed_query_params is not None:
            site.set_allowed_query_params(changes.allowed_query_params)
        if changes.report_recipients is not None:
            site.set_report_recipients(changes.report_recipients)
        if changes.reports_to_owner is not None:
            site.set_reports_to_owner(changes.reports_to_owner)
        if changes.archived:
            site.archive()
        self.save(site, *extra)
        return site
