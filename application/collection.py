"""Collecting hits and custom events: from a request's facts to a privacy-safe aggregate.

The interfaces (collector, pixel, REST API) reduce a request to a `Sighting`; this
service applies the site's rules and enriches it through the ports (user agent,
country) into a `Draft` on the request's thread. `record` hands drafts to one
committer thread that finishes whatever has queued up together: one rate-limit
check and one seen-hash look-up per batch (each a network round trip with Redis),
then one transaction (ARCHITECTURE decision 1 and docs/decisions/0005). The IP
address and the user-agent string are used here and dropped: neither reaches an
event.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from application.enrichment import CountryResolver, UserAgentParser
from application.group_commit import GroupCommitter
from application.kudos import KudoGiven
from application.tracking import TrafficEvent
from application.visitor_hashing import HashInput, VisitorHasher
from domain.bounded_cache import memoized
from domain.confirmation import KUDOS_LOCKED, Confirmable, takes_kudos
from domain.custom_events import CustomEvent
from domain.errors import Conflict, DomainError, NotFound
from domain.feed_readers import detect_feed_reader
from domain.hits import MAX_PATH_LENGTH, MAX_URL_LENGTH, Hit, Visit
from domain.kudos import visitor_kudo_uid
from domain.page_address import kept_query, page_path
from domain.paths import is_ignored, normalize_path
from domain.privacy import visitor_key
from domain.sites import Site
from domain.sources import DIRECT, classify_source
from domain.text import clean
from domain.tracking_params import query_params, strip_tracking_params
from domain.urls import host_of

IGNORED_PATH = "Path matches ignore rule"
IGNORED_EVENT = "Event matched ignore rules"
BOT = "Bot user agent"
RATE_LIMITED = "Too many hits from this visitor"
INACTIVE = "Site is archived"
SITE_CACHE_SECONDS = 5.0
# How often, at most, a process asks the configuration log whether it moved (issue 19):
# a settings change made anywhere (the CLI, another web process) applies within this.
SETTINGS_CHECK_SECONDS = 0.05


@dataclass(frozen=True)
class SiteSnapshot:
    """The settings collection needs, read from the Site aggregate."""

    id: UUID
    owner_id: UUID
    uid: str
    url: str
    host: str
    ignored_paths: tuple[str, ...]
    tracks_uniques: bool
    allows_any_domain: bool
    active: bool
    allowed_query_params: frozenset[str] = frozenset()

    @classmethod
    def of(cls, site: Site) -> "SiteSnapshot":
        return cls(
            id=site.id,
            owner_id=site.owner_id,
            uid=site.uid,
            url=site.url,
            host=host_of(site.url),
            ignored_paths=tuple(site.ignored_paths),
            tracks_uniques=site.tracks_uniques,
            allows_any_domain=site.allows_any_domain,
            active=not site.is_archived,
            allowed_query_params=frozenset(getattr(site, "allowed_query_params", ())),
        )


@dataclass(frozen=True)
class Sighting:
    """The facts of one request before enrichment; never stored."""

    path: str | None
    url: str | None
    referrer: str | None
    ip: str | None
    user_agent: str | None
    channel: str  # "script", "pixel" or "api"
    visitor_id: str | None = None
    country: str | None = None  # given by an API client, already validated
    cdn_country: str | None = None
    source: str | None = None  # an explicit override

    def __post_init__(self) -> None:
        # Cleaned as they come in (domain/text.py), so that the rules, the hashes and the
        # parsers see what will be kept: a lone surrogate cannot even be hashed. The
        # fields are read directly, and only a sighting that needs it is cleaned.
        texts = (self.path, self.url, self.referrer, self.ip, self.user_agent, self.visitor_id)
        for value in (*texts, self.country, self.cdn_country, self.source):
            if value is not None and not value.isprintable():
                for name in _SIGHTED_TEXT:
                    if (found := getattr(self, name)) is not None:
                        object.__setattr__(self, name, clean(found))
                return


_SIGHTED_TEXT = (
    "path", "url", "referrer", "ip", "user_agent", "visitor_id", "country", "cdn_country", "source",
)  # fmt: skip


@dataclass(frozen=True)
class Skipped:
    reason: str
    dropped: bool  # counted as dropped (bot, rate limit) rather than ignored by a rule


class VisitorLimiter(Protocol):
    def allow(self, key: str) -> bool: ...

    def allow_many(self, keys: Sequence[str]) -> list[bool]:
        """`allow` for each key in order, in one step (one round trip at most)."""
        ...


@dataclass(frozen=True)
class Draft:
    """A hit or custom event enriched but for its hashes and the visitor rate limit.

    Both need shared state (the seen-hash set, the limiter's windows), so they are
    done for a whole batch at once when the draft is recorded.
    """

    site_id: UUID
    visit: Visit
    hash_input: HashInput | None  # None when the site does not track uniques
    limit_key: str | None = None  # set for the collector and the pixel
    event_name: str | None = None  # set for a custom event
    event_value: str | None = None
    has_path: bool = True


class Recorded(NamedTuple):
    """A committed hit or custom event: its stable integer id and its event."""

    id: int
    event: TrafficEvent


@dataclass(frozen=True)
class KudoTaken:
    """No kudo given: its uid is taken (on the browser channel: this visitor gave this
    page one today)."""

    uid: str | None  # None when the client gave none and a fresh one collided
    message: str


@dataclass(frozen=True)
class KudosLocked:
    """No kudo given: the site's owner has not confirmed an address yet
    (domain/confirmation.py). The API answers 403; the browser is told it was ignored,
    as for an archived site, and the widget stays as it was."""

    reason: str = KUDOS_LOCKED


KudoOutcome = KudoGiven | Skipped | KudoTaken | KudosLocked


class KudoGiver(Protocol):
    """Saves a kudo (the tracking application); Conflict when its uid is taken."""

    def give_kudo(self, site_id: UUID, path: str, uid: str | None, channel: str) -> KudoGiven: ...


class DropCounter(Protocol):
    def count(self, site_id: UUID, reason: str) -> None: ...


class SiteSource(Protocol):
    def site_by_uid(self, uid: str) -> Site: ...

    def site_by_number(self, number: int, owner_id: UUID | None = None) -> Site: ...

    def get_account(self, account_id: UUID) -> Confirmable:
        """The site owner's account (NotFound once erased)."""
        ...


def _clip(text: str | None, limit: int) -> str | None:
    text = (text or "").strip()
    return text[:limit] if text else None


# Pages repeat (a site has far fewer pages than views): clean each URL once in a while.
# Bounded by bytes: a URL is up to 2 kB.
@memoized("collector clean URLs", 0.125)
def _clean_url(url: str | None, allowed: frozenset[str] = frozenset()) -> str | None:
    """An http(s) URL with only the allowed query parameters (never a tracking one) and
    no fragment; None if it is not one."""
    url = _clip(url, MAX_URL_LENGTH)
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = kept_query(parts.query, allowed)
    tail = urlunsplit(("", "", parts.path or "/", query, ""))
    return f"{parts.scheme}://{parts.netloc}{tail}"


class Collection:
    def __init__(
        self,
        sites: SiteSource,
        user_agents: UserAgentParser,
        countries: CountryResolver,
        hasher: VisitorHasher,
        limiter: VisitorLimiter,
        drops: DropCounter,
        save: Callable[[Sequence[TrafficEvent]], list[int]],
        kudos: KudoGiver,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        committers: int = 1,
        is_outage: Callable[[BaseException], bool] = lambda _error: False,
        settings_head: Callable[[], int | None] | None = None,
    ) -> None:
        """`settings_head` is the configuration store's last notification id: when it
        has moved, some setting changed somewhere and the cached sites are dropped."""
        self.sites = sites
        self._settings_head = settings_head
        self._seen_head: int | None = None
        self._next_head_check = 0.0
        self.kudos = kudos
        self.user_agents = user_agents
        self.countries = countries
        self.hasher = hasher
        self.limiter = limiter
        self.drops = drops
        self.save = save
        self.clock = clock
        self._cache: dict[str, tuple[float, SiteSnapshot]] = {}
        # Whether an owner's sites take kudos, cached and dropped like the sites: a
        # confirmation is a change in the configuration log too.
        self._owners: dict[UUID, tuple[float, bool]] = {}
        self._cache_lock = threading.Lock()
        # `is_outage` tells a database that is down from a batch with a bad row in it.
        self._committer = GroupCommitter(self._finish, committers=committers, is_outage=is_outage)

    def close(self) -> None:
        self._committer.close()

    # -- sites ---------------------------------------------------------------------------
    def site(self, uid: str) -> SiteSnapshot:
        """The site for a public uid, cached for a few seconds (the hot path reads it per hit).

        Raises NotFound for an unknown uid. A settings change made in any process
        reaches collection within SETTINGS_CHECK_SECONDS (the configuration log is
        followed), or SITE_CACHE_SECONDS where no log is given.
        """
        return self._cached(uid, lambda: self.sites.site_by_uid(uid))

    def site_for_owner(self, number: int, owner_id: UUID) -> SiteSnapshot:
        """The owner's site by its integer id (NotFound for anyone else's), cached likewise."""
        site = self._cached(f"#{number}", lambda: self.sites.site_by_number(number))
        if site.owner_id != owner_id:
            raise NotFound("Site not found")
        return site

    def settings_changed(self) -> None:
        """This process just changed the configuration (a site erased, say): follow the
        log on the next lookup rather than within SETTINGS_CHECK_SECONDS, so a removed
        site is gone for the very next request."""
        self._next_head_check = 0.0

    def _follow_settings(self, now: float) -> None:
        """Drop every cached site once the configuration log has moved past what was seen."""
        if self._settings_head is None or now < self._next_head_check:
            return
        self._next_head_check = now + SETTINGS_CHECK_SECONDS
        try:
            head = self._settings_head()
        except Exception:
            return  # the store is unreachable: the cache's own timeout still applies
        if head != self._seen_head:
            with self._cache_lock:
                self._cache.clear()
                self._owners.clear()
            self._seen_head = head

    def _cached(self, key: str, load: Callable[[], Site]) -> SiteSnapshot:
        now = time.monotonic()
        self._follow_settings(now)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached and now - cached[0] < SITE_CACHE_SECONDS:
            return cached[1]
        snapshot = SiteSnapshot.of(load())
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, snapshot)
        return snapshot

    def _takes_kudos(self, owner_id: UUID) -> bool:
        now = time.monotonic()
        self._follow_settings(now)
        with self._cache_lock:
            cached = self._owners.get(owner_id)
        if cached and now - cached[0] < SITE_CACHE_SECONDS:
            return cached[1]
        try:
            takes = takes_kudos(self.sites.get_account(owner_id))
        except NotFound:
            takes = False  # erased meanwhile
        with self._cache_lock:
            if len(self._owners) > 10_000:
                self._owners.clear()
            self._owners[owner_id] = (now, takes)
        return takes

    # -- rules ---------------------------------------------------------------------------
    @staticmethod
    def _limit_key(site: SiteSnapshot, visitor: str) -> str:
        """The rate-limit key of a visitor (from `visitor_key`) on a site."""
        return hashlib.sha256(f"{site.id}\x00{visitor}".encode()).hexdigest()[:32]

    def throttled(self, site: SiteSnapshot, sighting: Sighting) -> bool:
        """True when this visitor has sent more than the per-minute limit (then counted)."""
        visitor = visitor_key(sighting.ip, sighting.user_agent, sighting.visitor_id)
        if self.limiter.allow(self._limit_key(site, visitor)):
            return False
        self.drops.count(site.id, "rate_limited")
        return True

    # -- building ------------------------------------------------------------------------
    def _visit(
        self,
        site: SiteSnapshot,
        s: Sighting,
        path: str,
        default_url: bool = True,
        remote_lookup: bool = False,
        address: str | None = None,
    ) -> Visit | Skipped:
        """`path` is what is kept (no query); `address` the path as given, whose query
        may name a campaign and keep allowed parameters in the URL."""
        agent = self.user_agents.parse(s.user_agent)
        reader = detect_feed_reader(s.user_agent) if s.channel == "pixel" else None
        # An API client need not send a user agent; a browser always does.
        silent_api_client = s.channel == "api" and not (s.user_agent or "").strip()
        if agent.is_bot and reader is None and not silent_api_client:
            self.drops.count(site.id, "bot")
            return Skipped(BOT, dropped=True)
        allowed = site.allowed_query_params
        address = address or path
        url = _clean_url(s.url, allowed) or (
            _clean_url(site.url + address, allowed) if default_url else None
        )
        query = query_params(s.url or address)
        referrer = _clip(s.referrer, MAX_URL_LENGTH)
        info = classify_source(referrer, query, site.host, override=_clip(s.source, 100))
        source = info.source
        if reader is not None:
            source = reader.source
        elif not referrer and not s.source and source == DIRECT and not info.utm_campaign:
            # api.md shows `source: null` when nothing tells where a hit came from (no
            # referrer, no campaign); the dashboard labels it Direct.
            source = None
        return Visit(
            path=path,
            url=url,
            referrer=referrer,
            country=self.countries.resolve(s.country, s.ip, s.cdn_country, remote=remote_lookup),
            browser=agent.browser,
            platform=agent.platform,
            is_mobile=agent.is_mobile,
            source=source,
            utm_campaign=info.utm_campaign,
            utm_medium=info.utm_medium,
            unique_hash=None,
            visitor_hash=None,
            channel=s.channel,
            subscribers=reader.subscribers if reader else None,
        )

    def _draft(
        self,
        site: SiteSnapshot,
        s: Sighting,
        visit: Visit,
        hash_path: str,
        limited: bool,
        event_name: str | None = None,
        event_value: str | None = None,
        has_path: bool = True,
    ) -> Draft:
        visitor = visitor_key(s.ip, s.user_agent, s.visitor_id)
        hash_input = HashInput(str(site.id), hash_path, visitor) if site.tracks_uniques else None
        limit_key = self._limit_key(site, visitor) if limited else None
        return Draft(site.id, visit, hash_input, limit_key, event_name, event_value, has_path)

    def hit(self, site: SiteSnapshot, sighting: Sighting, limited: bool = False) -> Draft | Skipped:
        """A hit ready to record, or why it is not counted. Raises DomainError for bad input.

        `limited` applies the per-visitor rate limit when the draft is recorded.
        """
        if not site.active:
            return Skipped(INACTIVE, dropped=False)
        address = strip_tracking_params(normalize_path(sighting.path or ""))
        if len(address) > MAX_PATH_LENGTH:
            raise DomainError(f"Path is too long (at most {MAX_PATH_LENGTH} characters)")
        path = page_path(address)  # the page, never its query (decision 16)
        if is_ignored(path, list(site.ignored_paths)):
            return Skipped(IGNORED_PATH, dropped=False)
        # privacy.md: only an API hit's `ip_address` may go to the remote fallback, and
        # only when the local database cannot resolve it; a browser's address never does.
        visit = self._visit(
            site, sighting, path, remote_lookup=sighting.channel == "api", address=address
        )
        if isinstance(visit, Skipped):
            return visit
        return self._draft(site, sighting, visit, path, limited)

    def event(
        self,
        site: SiteSnapshot,
        sighting: Sighting,
        name: str,
        value: str | None,
        limited: bool = False,
    ) -> Draft | Skipped:
        """A custom event ready to record (name and value already normalised)."""
        if not site.active:
            return Skipped(INACTIVE, dropped=False)
        has_path = bool(sighting.path and sighting.path.strip())
        address = strip_tracking_params(normalize_path(sighting.path or "/"))
        if len(address) > MAX_PATH_LENGTH:
            raise DomainError(f"Path is too long (at most {MAX_PATH_LENGTH} characters)")
        path = page_path(address)
        if has_path and is_ignored(path, list(site.ignored_paths)):
            return Skipped(IGNORED_EVENT, dropped=False)
        visit = self._visit(site, sighting, path, default_url=has_path, address=address)
        if isinstance(visit, Skipped):
            return visit
        return self._draft(
            site,
            sighting,
            visit,
            "event:" + name,
            limited,
            event_name=name,
            event_value=value,
            has_path=has_path,
        )

    # -- recording -----------------------------------------------------------------------
    def record(self, drafts: Sequence[Draft]) -> list[Recorded | Skipped]:
        """Commit these drafts together (with other requests'); answers once committed.

        Each answer is the recorded event and its id, or why the draft was dropped
        (the visitor rate limit). Raises CommitFailed when nothing could be saved.
        """
        return self._committer.submit(drafts)

    def _finish(self, drafts: Sequence[Draft]) -> list[Recorded | Skipped]:
        """On the committer thread: limit, hash and save a batch in one transaction."""
        keys = [d.limit_key for d in drafts if d.limit_key is not None]
        verdicts = iter(self.limiter.allow_many(keys) if keys else [])
        kept: list[Draft] = []
        answers: list[Recorded | Skipped | None] = []
        for draft in drafts:
            if draft.limit_key is not None and not next(verdicts):
                self.drops.count(draft.site_id, "rate_limited")
                answers.append(Skipped(RATE_LIMITED, dropped=True))
            else:
                kept.append(draft)
                answers.append(None)
        inputs = [d.hash_input for d in kept if d.hash_input is not None]
        hashes = iter(self.hasher.hashes_many(inputs, self.clock()) if inputs else [])
        events = [_event_of(d, next(hashes) if d.hash_input is not None else None) for d in kept]
        ids = iter(zip(self.save(events), events, strict=True))
        return [answer if answer is not None else Recorded(*next(ids)) for answer in answers]

    # -- kudos ---------------------------------------------------------------------------
    def give_kudo(
        self,
        site: SiteSnapshot,
        path: str,
        channel: str,
        sighting: Sighting | None = None,
        uid: str | None = None,
    ) -> KudoOutcome:
        """A kudo for a page, under the site's rules, whatever the channel; what happened.

        Every channel: an archived site gives none, nor does a path an ignore rule
        matches, nor a site whose owner has not confirmed an address (`KudosLocked`,
        domain/confirmation.py). The browser ("script", with its `sighting`) is limited per visitor
        like its hits (then `Skipped(RATE_LIMITED)`), a bot gives none, and the uid is
        one per visitor, page and day (a second is `KudoTaken`). An API client gives
        its own uid or gets a fresh one; a taken one is `KudoTaken`. Raises
        DomainError for a blank path or a bad uid.
        """
        browser = sighting if channel == "script" else None
        if browser is not None and self.throttled(site, browser):
            return Skipped(RATE_LIMITED, dropped=True)
        if not site.active:
            return Skipped(INACTIVE, dropped=False)
        if not self._takes_kudos(site.owner_id):
            return KudosLocked()
        path = normalize_path(path)  # as the kudo will keep it (domain/kudos.py)
        if is_ignored(path, list(site.ignored_paths)):
            return Skipped(IGNORED_PATH, dropped=False)
        if browser is not None:
            if self.user_agents.parse(browser.user_agent).is_bot:
                self.drops.count(site.id, "bot")
                return Skipped(BOT, dropped=True)
            uid = self._visitor_kudo_uid(site, browser, path)
        try:
            return self.kudos.give_kudo(site.id, path, uid, channel)
        except Conflict as error:
            return KudoTaken(uid, error.message)

    def _visitor_kudo_uid(self, site: SiteSnapshot, sighting: Sighting, path: str) -> str:
        """The uid of a browser kudo: one per visitor, page and day.

        The visitor hash is computed for this even when unique tracking is off; only the
        uid, itself a one-way hash, is kept.
        """
        visitor = visitor_key(sighting.ip, sighting.user_agent, sighting.visitor_id)
        _, visitor_hash = self.hasher.hashes(str(site.id), path, visitor, self.clock())
        return visitor_kudo_uid(site.id, path, visitor_hash)


def _event_of(draft: Draft, hashes: tuple[str, str] | None) -> TrafficEvent:
    if draft.event_name is None:
        return Hit.record(draft.site_id, draft.visit, hashes)
    return CustomEvent.record(
        draft.site_id,
        draft.event_name,
        draft.event_value,
        draft.visit,
        has_path=draft.has_path,
        hashes=hashes,
    )
