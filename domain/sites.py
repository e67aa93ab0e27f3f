"""The Site aggregate: a web site whose traffic an account tracks."""

import secrets
import string
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.emails import normalize_email
from domain.errors import DomainError
from domain.page_address import normalize_query_params
from domain.paths import validate_ignore_patterns
from domain.text import refuse
from domain.timezones import validate_timezone
from domain.urls import normalize_site_url

MAX_LABEL_LENGTH = 100
MAX_REPORT_RECIPIENTS = 10
UID_LENGTH = 10
_UID_ALPHABET = string.ascii_lowercase + string.digits


def new_site_uid() -> str:
    """The public id that embed codes, pixels and widgets carry."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(UID_LENGTH))


def normalize_recipients(emails: list[str]) -> list[str]:
    """Report recipients: valid addresses, each once, in the order given."""
    found: list[str] = []
    for email in emails:
        if (email or "").strip():
            address = normalize_email(email)
            if address not in found:
                found.append(address)
    if len(found) > MAX_REPORT_RECIPIENTS:
        raise DomainError(f"At most {MAX_REPORT_RECIPIENTS} report recipients")
    return found


def names_site(url: str, typed: str | None) -> bool:
    """Whether `typed` is this site URL's domain (its URL without the scheme) or the URL."""
    answer = (typed or "").strip().rstrip("/").lower()
    return answer != "" and answer in (
        url.rstrip("/").lower(),
        url.split("://", 1)[-1].rstrip("/").lower(),
    )


def normalize_label(label: str | None, url: str) -> str:
    label = refuse((label or "").strip(), "Label")
    if len(label) > MAX_LABEL_LENGTH:
        raise DomainError(f"Label is too long (at most {MAX_LABEL_LENGTH} characters)")
    return label or url.split("://", 1)[-1]


class Site(Aggregate):
    """A tracked site and the owner's settings for it."""

    @classmethod
    def register(
        cls, owner_id: UUID, url: str, label: str | None = None, timezone: str = "UTC"
    ) -> "Site":
        canonical = normalize_site_url(url)
        return cls(
            owner_id=owner_id,
            uid=new_site_uid(),
            url=canonical,
            label=normalize_label(label, canonical),
            timezone=validate_timezone(timezone),
        )

    @event("Registered")
    def __init__(self, owner_id: UUID, uid: str, url: str, label: str, timezone: str) -> None:
        self.owner_id = owner_id
        self.uid = uid
        self.url = url
        self.label = label
        self.timezone = timezone
        self.is_public = False
        # The hosted product counts unique hits with no setup, so it starts on.
        self.tracks_uniques = True
        self.allows_any_domain = False
        self.ignored_paths: list[str] = []
        # Query parameters a hit's URL keeps (decision 16); the path never keeps any.
        self.allowed_query_params: list[str] = []
        self.is_archived = False
        self.past_urls: list[str] = []
        self.report_recipients: list[str] = []
        # The weekly report goes to the owner too, unless they turned it off (or
        # unsubscribed through a report's link).
        self.reports_to_owner = True

    @property
    def domain(self) -> str:
        """The site's address without its scheme: what the owner types to delete it."""
        return self.url.split("://", 1)[-1]

    def confirm_deletion(self, typed: str | None) -> None:
        """Deleting a site erases all its data at once: the owner types its domain (or
        its whole URL) to show they mean this site."""
        if not names_site(self.url, typed):
            raise DomainError(f"Type the site's domain, {self.domain}, to delete it")

    def _require_active(self) -> None:
        if self.is_archived:
            raise DomainError("Site is archived")

    def change_url(self, url: str) -> None:
        self._require_active()
        url = normalize_site_url(url)
        if url != self.url:
            self._url_changed(url)

    @event("UrlChanged")
    def _url_changed(self, url: str) -> None:
        self.past_urls.append(self.url)
        self.url = url

    def relabel(self, label: str) -> None:
        self._require_active()
        label = normalize_label(label, self.url)
        if label != self.label:
            self._relabelled(label)

    @event("Relabelled")
    def _relabelled(self, label: str) -> None:
        self.label = label

    def change_timezone(self, timezone: str) -> None:
        self._require_active()
        timezone = validate_timezone(timezone)
        if timezone != self.timezone:
            self._timezone_changed(timezone)

    @event("TimezoneChanged")
    def _timezone_changed(self, timezone: str) -> None:
        self.timezone = timezone

    def set_public(self, public: bool) -> None:
        self._require_active()
        if public != self.is_public:
            self._public_stats_set(public)

    @event("PublicStatsSet")
    def _public_stats_set(self, public: bool) -> None:
        self.is_public = public

    def set_unique_tracking(self, on: bool) -> None:
        self._require_active()
        if on != self.tracks_uniques:
            self._unique_tracking_set(on)

    @event("UniqueTrackingSet")
    def _unique_tracking_set(self, on: bool) -> None:
        self.tracks_uniques = on

    def set_any_domain(self, on: bool) -> None:
        self._require_active()
        if on != self.allows_any_domain:
            self._any_domain_set(on)

    @event("AnyDomainSet")
    def _any_domain_set(self, on: bool) -> None:
        self.allows_any_domain = on

    def set_ignored_paths(self, patterns: list[str]) -> None:
        self._require_active()
        patterns = validate_ignore_patterns(patterns)
        if patterns != self.ignored_paths:
            self._ignored_paths_set(patterns)

    @event("IgnoredPathsSet")
    def _ignored_paths_set(self, patterns: list[str]) -> None:
        self.ignored_paths = list(patterns)

    def set_allowed_query_params(self, names: list[str]) -> None:
        self._require_active()
        names = normalize_query_params(names)
        if names != self.allowed_query_params:
            self._query_params_allowed(names)

    @event("QueryParamsAllowed")
    def _query_params_allowed(self, names: list[str]) -> None:
        self.allowed_query_params = list(names)

    def set_report_recipients(self, emails: list[str]) -> None:
        """Who gets the site's email reports (besides the owner's own choice)."""
        self._require_active()
        recipients = normalize_recipients(emails)
        if recipients != self.report_recipients:
            self._report_recipients_set(recipients)

    @event("ReportRecipientsSet")
    def _report_recipients_set(self, recipients: list[str]) -> None:
        self.report_recipients = list(recipients)

    def set_reports_to_owner(self, on: bool) -> None:
        self._require_active()
        if on != self.reports_to_owner:
            self._owner_reports_set(on)

    @event("OwnerReportsSet")
    def _owner_reports_set(self, on: bool) -> None:
        self.reports_to_owner = on

    def unsubscribe_from_reports(self, address: str, owner_email: str) -> bool:
        """An address followed a report's unsubscribe link: no more reports to it.
        False when it was getting none (a second click changes nothing)."""
        address = normalize_email(address)
        is_owner = address == normalize_email(owner_email)
        if (is_owner and self.reports_to_owner) or address in self.report_recipients:
            self._report_unsubscribed(address, is_owner)
            return True
        return False

    @event("ReportUnsubscribed")
    def _report_unsubscribed(self, address: str, owner: bool) -> None:
        if owner:
            self.reports_to_owner = False
        self.report_recipients = [a for a in self.report_recipients if a != address]

    def archive(self) -> None:
        if not self.is_archived:
            self._archived()

    @event("Archived")
    def _archived(self) -> None:
        self.is_archived = True

    def unarchive(self) -> None:
        if self.is_archived:
            self._unarchived()

    @event("Unarchived")
    def _unarchived(self) -> None:
        self.is_archived = False
