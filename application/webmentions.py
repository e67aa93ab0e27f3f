"""Receiving Webmentions: the request, the verification job, and the kudo of a like.

`receive` checks a request (W3C Webmention 3.2.1) and records the mention as queued,
with a `webmention.verify` job due now on the clock's schedule (a repeated request
re-queues the same mention). The job reads the source through the `SourceReader` port
(the SSRF-safe client and an mf2 parser, infrastructure/webmention_sources.py), and
the mention is verified as a like, repost, reply or mention (`domain/webmentions.py`
`classify`), updated, rejected or removed. A verified like is a kudo for the target's
path on the site, given through the one kudo service (`Collection.give_kudo`, channel
"webmention", uid one per source and target), so the `new_kudo` webhook fires as for
any kudo; a like that is removed (or becomes something else) withdraws it.

The mention and its kudo are two aggregates saved one after the other. The kudo's
state is reconciled from the mention's on every firing (giving a kudo that exists, or
withdrawing one that is gone, is a no-op), so a job that dies between the two saves
fixes it when the clock fires it again. See docs/decisions/0015-webmentions.md.
"""

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.clock import Firing, Job, JobKind, Schedule
from application.collection import Collection, SiteSnapshot
from application.kudos import KudoCommands
from domain.errors import DomainError, NotFound
from domain.sites import Site
from domain.webmentions import (
    KUDO_CHANNEL,
    Webmention,
    check_request,
    classify,
    webmention_id,
)

log = logging.getLogger("tinylytics.webmentions")

VERIFY_KIND = "webmention.verify"


class RateLimited(DomainError):
    """Too many Webmentions from one source; the sender may try again later."""


@dataclass(frozen=True)
class SourceReading:
    """What fetching a source found. `problem` is None when the source links to the
    target (then `parsed` is its mf2); `lasting` tells a source that is gone (410, 404)
    or no longer links from one that could not be read just now (a time-out, a 5xx)."""

    problem: str | None
    parsed: Mapping[str, Any] | None = None
    lasting: bool = True


class SourceReader(Protocol):
    def read(self, source: str, target: str) -> SourceReading: ...


class SourceLimiter(Protocol):
    def allow(self, source: str) -> bool:
        """Whether one more Webmention from this source is let in now."""
        ...


class SiteLookup(Protocol):
    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Site: ...


@dataclass(frozen=True)
class Receipt:
    mention_id: UUID
    site_uid: str


class Webmentions:
    def __init__(
        self,
        store: KudoCommands,
        sites: SiteLookup,
        collection: Collection,
        schedule: Schedule,
        reader: SourceReader,
        limiter: SourceLimiter,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store  # the tracking application: mentions live beside kudos
        self.sites = sites
        self.collection = collection
        self.schedule = schedule
        self.reader = reader
        self.limiter = limiter
        self.now = now

    # -- the request -------------------------------------------------------------------
    def receive(self, site_uid: str, source: Any, target: Any) -> Receipt:
        """Check a request and queue its verification. NotFound for an unknown site,
        DomainError (a plain reason) for a bad request, RateLimited past the limits."""
        site = self.collection.site(site_uid)
        request = check_request(source, target, site.host)
        if not site.active:
            raise DomainError("this site is archived and accepts no Webmentions")
        if not self.limiter.allow(request.source):
            raise RateLimited("too many Webmentions from this source; try again later")
        mention = self._mention(site.id, request.source, request.target)
        if mention is None:
            mention = Webmention.receive(site.id, request)
        else:
            mention.receive_again()
        self.store.save(mention)
        self.schedule.put([Job(VERIFY_KIND, str(mention.id), self.now())])
        return Receipt(mention.id, site.uid)

    def _mention(self, site_id: UUID, source: str, target: str) -> Webmention | None:
        try:
            found: Any = self.store.repository.get(webmention_id(site_id, source, target))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Webmention) else None

    # -- the job -----------------------------------------------------------------------
    def job_kind(self) -> JobKind:
        return JobKind(VERIFY_KIND, self._fire, "verify a received Webmention's source")

    def _fire(self, firing: Firing) -> None:
        self.verify(UUID(firing.key))

    def verify(self, mention_id: UUID) -> None:
        """Fetch the source, settle the mention, and bring its kudo in line."""
        try:
            mention: Any = self.store.repository.get(mention_id)
        except AggregateNotFoundError:
            return  # erased meanwhile
        if not isinstance(mention, Webmention):
            return
        if mention.queued:
            reading = self.reader.read(mention.source, mention.target)
            if reading.problem is None:
                mention.confirm(classify(reading.parsed, mention.target))
            else:
                mention.refuse(reading.problem, lasting=reading.lasting)
            self.store.save(mention)
        self._reconcile_kudo(mention)

    def _reconcile_kudo(self, mention: Webmention) -> None:
        try:
            site = SiteSnapshot.of(self.sites.get_site(mention.site_id))
        except NotFound:
            return
        if mention.is_like:
            # Given once per source and target; a live one already there is kept.
            self.collection.give_kudo(site, mention.path, KUDO_CHANNEL, uid=mention.kudo_uid)
            return
        with contextlib.suppress(NotFound):  # there was none, or it is withdrawn already
            self.store.withdraw_kudo(site.id, mention.kudo_uid)
