"""The Webhook aggregate: where an account wants its events sent, and how they are signed.

A webhook belongs to an account (not a site): it receives the selected events of
every site the account owns. Each selected event is live from the moment it was
selected on an active webhook (`live_since`): a dispatcher that is behind, an
import or a replay never sends a webhook something that happened before it asked
for it. The account's `WebhookBook` lists its webhooks, so that the dispatcher and
erasure find them in the event store itself.
"""

import base64
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.addresses import AddressPolicy
from domain.errors import DomainError
from domain.text import is_clean

NEW_HIT = "new_hit"
NEW_KUDO = "new_kudo"
NEW_EVENT = "new_event"  # a custom event (payload key `analytics_event`)
MONITOR_DOWN = "monitor_down"
MONITOR_UP = "monitor_up"
NEW_INSIGHT = "new_insight"  # beyond webhooks.md: docs/webhooks-new-insight.md
CONTENT_ISSUE = "content_issue"  # beyond webhooks.md: a crawl found a new content issue
EVENTS = (NEW_HIT, NEW_KUDO, MONITOR_DOWN, MONITOR_UP, NEW_EVENT, NEW_INSIGHT, CONTENT_ISSUE)
MONITOR_EVENTS = (MONITOR_DOWN, MONITOR_UP)

GENERIC = "generic"
DISCORD = "discord"
PLATFORMS = (GENERIC, DISCORD)

MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)

_BOOK_NAMESPACE = uuid5(NAMESPACE_URL, "https://tinylytics.invalid/webhook-books")


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def normalize_events(events: object) -> list[str]:
    """The selected events, known and in their canonical order; at least one."""
    if isinstance(events, str):
        events = [e for e in (part.strip() for part in events.split(",")) if e]
    if not isinstance(events, list | tuple | set | frozenset):
        raise DomainError("Events must be a list")
    unknown = sorted({str(e) for e in events} - set(EVENTS))
    if unknown:
        raise DomainError(f"Unknown event {unknown[0]!r} (known: {', '.join(EVENTS)})")
    chosen = [e for e in EVENTS if e in events]
    if not chosen:
        raise DomainError("Select at least one event")
    return chosen


def normalize_platform(platform: str | None) -> str:
    platform = (platform or GENERIC).strip().lower()
    if platform not in PLATFORMS:
        raise DomainError(f"Platform must be one of: {', '.join(PLATFORMS)}")
    return platform


def validate_webhook_url(url: str, policy: AddressPolicy) -> str:
    """A public http(s) URL without credentials; the fragment, never sent, is dropped.

    Host names are checked again, on the address actually connected to, at each
    delivery: a name's address can change after it is saved.
    """
    if not isinstance(url, str):
        raise DomainError("Webhook URL must be a string")
    url = url.strip()
    if not url:
        raise DomainError("Webhook URL can't be blank")
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(f"Webhook URL is too long (at most {MAX_URL_LENGTH} characters)")
    if not is_clean(url) or any(ord(c) < 33 for c in url):
        raise DomainError("Webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DomainError("Webhook URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DomainError("Webhook URL must start with http:// or https://")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise DomainError("Webhook URL must not contain a user name or password")
    host = parts.hostname
    if not host:
        raise DomainError("Webhook URL must name a host")
    if port == 0:
        raise DomainError("Webhook URL has an invalid port")
    refusal = policy.name_refusal(host)
    if refusal:
        raise DomainError(f"Webhook URL is not allowed: {refusal}")
    return urlunsplit((scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


class Webhook(Aggregate):
    """One endpoint of one account, its selected events, platform and signing secrets."""

    @classmethod
    def register(
        cls,
        owner_id: UUID,
        url: str,
        events: object,
        policy: AddressPolicy,
        at: datetime,
        platform: str | None = None,
        wrap: bool = False,
    ) -> "Webhook":
        chosen = normalize_events(events)
        return cls(
            owner_id=owner_id,
            url=validate_webhook_url(url, policy),
            events=chosen,
            platform=normalize_platform(platform),
            wrap=bool(wrap),
            secret=new_secret(),
            at=at,
        )

    @event("Registered")
    def __init__(
        self,
        owner_id: UUID,
        url: str,
        events: list[str],
        platform: str,
        wrap: bool,
        secret: str,
        at: datetime,
    ) -> None:
        self.owner_id = owner_id
        self.url = url
        self.events = list(events)
        self.platform = platform
        self.wrap = wrap
        self.secret = secret
        self.previous_secret: str | None = None
        self.previous_secret_expires_at: datetime | None = None
        self.is_active = True
        self.is_deleted = False
        self.disabled_reason: str | None = None
        self.created_at = at
        self.live_since: dict[str, datetime] = {e: at for e in events}

    # -- rules -------------------------------------------------------------------------
    def _require_present(self) -> None:
        if self.is_deleted:
            raise DomainError("Webhook is deleted")

    def accepts(self, event_type: str, happened_at: datetime) -> bool:
        """Whether something that happened at this moment is sent to this webhook."""
        if self.is_deleted or not self.is_active or event_type not in self.events:
            return False
        since = self.live_since.get(event_type)
        return since is not None and happened_at >= since

    def signing_secrets(self, at: datetime) -> list[str]:
        """The secrets a delivery made at this moment is signed with: the newest first."""
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and at < expires:
            found.append(self.previous_secret)
        return found

    # -- changes -----------------------------------------------------------------------
    def change_url(self, url: str, policy: AddressPolicy) -> None:
        self._require_present()
        url = validate_webhook_url(url, policy)
        if url != self.url:
            self._url_changed(url)

    @event("UrlChanged")
    def _url_changed(self, url: str) -> None:
        self.url = url

    def select_events(self, events: object, at: datetime) -> None:
        self._require_present()
        chosen = normalize_events(events)
        if chosen != self.events:
            self._events_selected(chosen, at)

    @event("EventsSelected")
    def _events_selected(self, events: list[str], at: datetime) -> None:
        # A newly selected event is live from now; one that stays selected keeps its time.
        self.live_since = {e: self.live_since.get(e, at) for e in events}
        self.events = list(events)

    def change_platform(self, platform: str | None) -> None:
        self._require_present()
        platform = normalize_platform(platform)
        if platform != self.platform:
            self._platform_changed(platform)

    @event("PlatformChanged")
    def _platform_changed(self, platform: str) -> None:
        self.platform = platform

    def set_wrap(self, wrap: bool) -> None:
        self._require_present()
        if bool(wrap) != self.wrap:
            self._wrap_set(bool(wrap))

    @event("WrapSet")
    def _wrap_set(self, wrap: bool) -> None:
        self.wrap = wrap

    def activate(self, at: datetime) -> None:
        self._require_present()
        if not self.is_active:
            self._activated(at)

    @event("Activated")
    def _activated(self, at: datetime) -> None:
        self.is_active = True
        self.disabled_reason = None
        # What happened while it was off is not sent now that it is on again.
        self.live_since = {e: at for e in self.events}

    def disable(self, reason: str) -> None:
        self._require_present()
        if self.is_active:
            self._disabled(reason)

    @event("Disabled")
    def _disabled(self, reason: str) -> None:
        self.is_active = False
        self.disabled_reason = reason

    def rotate_secret(self, at: datetime) -> None:
        """A new secret; the old one stays valid (deliveries carry both) for 24 hours."""
        self._require_present()
        self._secret_rotated(new_secret(), self.secret, at + ROTATION_OVERLAP)

    @event("SecretRotated")
    def _secret_rotated(self, secret: str, previous: str, previous_expires_at: datetime) -> None:
        self.secret = secret
        self.previous_secret = previous
        self.previous_secret_expires_at = previous_expires_at

    def delete(self) -> None:
        if not self.is_deleted:
            self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.is_deleted = True
        self.is_active = False


class WebhookBook(Aggregate):
    """The webhooks an account has (and has had), found from the account's id alone."""

    @staticmethod
    def id_for(owner_id: UUID) -> UUID:
        return uuid5(_BOOK_NAMESPACE, str(owner_id))

    @classmethod
    def open(cls, owner_id: UUID) -> "WebhookBook":
        return cls(id=cls.id_for(owner_id), owner_id=owner_id)

    @event("Opened")
    def __init__(self, id: UUID, owner_id: UUID) -> None:
        self.owner_id = owner_id
        self.webhook_ids: list[UUID] = []
        # Deleted webhooks stay listed here, so that erasure still finds their deliveries.
        self.all_webhook_ids: list[UUID] = []

    @event("Added")
    def add(self, webhook_id: UUID) -> None:
        self.webhook_ids.append(webhook_id)
        self.all_webhook_ids.append(webhook_id)

    def remove(self, webhook_id: UUID) -> None:
        if webhook_id in self.webhook_ids:
            self._removed(webhook_id)

    @event("Removed")
    def _removed(self, webhook_id: UUID) -> None:
        self.webhook_ids.remove(webhook_id)
