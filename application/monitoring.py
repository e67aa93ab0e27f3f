"""Uptime monitoring: the owner's controls and the check that runs on the clock.

Each running monitor has one job `monitor.check` (key: the monitor's id) in the
schedule, recurring at its current interval. A firing checks the site once (the
`Checker` port: a GET through the SSRF-safe client), judges the result against what
the recent checks saw (domain/uptime_rules.py), saves the monitor's events when the
state changed (went down, recovered, auto-paused, certificate), writes the sample to
the rollups (the `Probes` port; samples are rows, not events) and moves its own job:
a quick re-check while a change is being confirmed, a longer interval as a downtime
drags on, none once the monitor paused itself. The schedule's lease keeps two
clocks from checking one monitor at once (docs/decisions/0012-uptime.md).
"""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.base import Created, EventSourcedApplication
from application.check_batch import CheckBatch, PendingChecks, Sample
from application.clock import Firing, Job, JobKind, Recurrence, Schedule
from domain.certificates import Certificate, due_notice
from domain.check_results import CheckResult
from domain.confirmation import uptime_refusal
from domain.domain_expiry import DomainExpiry
from domain.errors import DomainError, NotFound
from domain.monitors import NOT_ENABLED, Monitor, monitor_id_for
from domain.uptime_rules import AUTO_PAUSE, RECOVERED, UP_EVERY, WENT_DOWN, Probe, judge

log = logging.getLogger("tinylytics.uptime")

CHECK_KIND = "monitor.check"
DOMAIN_KIND = "monitor.domain"
DOMAIN_EVERY = 86400  # seconds: a registration's expiry moves at most once a year


def utcnow() -> datetime:
    return datetime.now(UTC)


class Checker(Protocol):
    """One check of a URL (infrastructure/uptime_check.py)."""

    def check(self, url: str) -> CheckResult: ...


class DomainLookup(Protocol):
    """When the site's domain registration expires (infrastructure/rdap.py)."""

    def expiry(self, site_url: str) -> DomainExpiry: ...


class Probes(Protocol):
    """Where check results go: per-minute/hour/day rollups and the latest state."""

    def probe(self, monitor_id: UUID) -> Probe: ...

    def record(self, samples: Sequence[Sample]) -> None:
        """Write samples (a batch of checks, in the order they were made) at once."""
        ...

    def scheduled(self, monitor_id: UUID, next_check_at: datetime | None, interval: int) -> None:
        """Note when the next check is due (enable, resume, pause)."""
        ...

    def domain(self, monitor_id: UUID, site_id: UUID, expiry: DomainExpiry) -> None:
        """Keep the latest domain lookup."""
        ...


class Owners(Protocol):
    """The configuration application, as far as monitoring needs it."""

    def get_site(self, site_id: UUID, owner_id: UUID | None = None) -> Any: ...

    def get_account(self, account_id: UUID) -> Any: ...


class Monitoring(EventSourcedApplication):
    def __init__(
        self,
        env: dict[str, str] | None,
        owners: Owners,
        checker: Checker,
        domains: DomainLookup,
        probes: Probes,
        schedule: Schedule,
        listeners: Sequence[Callable[[], None]] = (),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(env=env, listeners=listeners)
        self.owners = owners
        self.checker = checker
        self.domains = domains
        self.probes = probes
        self.schedule = schedule
        self.now = now
        self.pending = PendingChecks()

    # -- the owner's controls ----------------------------------------------------------
    def monitor_of(self, site_id: UUID) -> Monitor:
        try:
            found: Any = self.repository.get(monitor_id_for(site_id))
        except AggregateNotFoundError:
            raise NotFound(NOT_ENABLED) from None
        assert isinstance(found, Monitor)
        return found

    def enable(self, site_id: UUID, owner_id: UUID) -> Created:
        """Start monitoring the site (the owner's, on a paid plan, with a confirmed
        address: alerts go to it); the first check is due at once."""
        site = self.owners.get_site(site_id, owner_id)
        refusal = uptime_refusal(self.owners.get_account(site.owner_id))
        if refusal is not None:
            raise DomainError(refusal)
        try:
            monitor = self.monitor_of(site_id)
        except NotFound:
            monitor = Monitor.enable_for(site_id, site.owner_id, site.url)
        else:
            monitor.enable(site.url)
        recordings = self.save(monitor)
        self._check_soon(monitor)
        created = [r for r in recordings if r.domain_event.originator_version == 1]
        number = created[0].notification.id if created else 0
        return Created(id=number, uuid=monitor.id)

    def disable(self, site_id: UUID, owner_id: UUID) -> None:
        self.owners.get_site(site_id, owner_id)
        monitor = self.monitor_of(site_id)
        monitor.disable()
        self.save(monitor)
        self._stop(monitor)

    def pause(self, site_id: UUID, owner_id: UUID) -> None:
        self.owners.get_site(site_id, owner_id)
        monitor = self.monitor_of(site_id)
        monitor.pause()
        self.save(monitor)
        self._stop(monitor)

    def resume(self, site_id: UUID, owner_id: UUID) -> None:
        self.owners.get_site(site_id, owner_id)
        monitor = self.monitor_of(site_id)
        monitor.resume()
        self.save(monitor)
        self._check_soon(monitor)

    def follow_site(self, site_id: UUID, url: str, archived: bool) -> bool:
        """The site's URL or archiving changed (application/monitor_site_changes.py): a
        new URL is checked from now on, an active site's checks run again. Idempotent:
        True only when the monitor changed or its checks were started."""
        try:
            monitor = self.monitor_of(site_id)
        except NotFound:
            return False
        moved = monitor.enabled and url != monitor.url
        if moved:
            monitor.enable(url)
            self.save(monitor)
        if not monitor.is_running or archived:
            return moved
        if moved or self.schedule.get(CHECK_KIND, str(monitor.id)) is None:
            self._check_soon(monitor)
            return True
        return False

    def _check_soon(self, monitor: Monitor) -> None:
        now, key = self.now(), str(monitor.id)
        self.schedule.put([Job(CHECK_KIND, key, now, Recurrence(every=UP_EVERY))])
        self.schedule.put([Job(DOMAIN_KIND, key, now, Recurrence(every=DOMAIN_EVERY))])
        self.probes.scheduled(monitor.id, now, UP_EVERY)

    def _stop(self, monitor: Monitor) -> None:
        self.schedule.remove(CHECK_KIND, [str(monitor.id)])
        self.schedule.remove(DOMAIN_KIND, [str(monitor.id)])
        self.probes.scheduled(monitor.id, None, UP_EVERY)

    # -- the check ---------------------------------------------------------------------
    @staticmethod
    def _certificate(monitor: Monitor, certificate: Certificate, at: datetime) -> None:
        """A new certificate is an event (a renewal when it expires later); so is each
        expiry notice, once per threshold."""
        if certificate.fingerprint != monitor.certificate_fingerprint:
            monitor.certificate_changed(certificate.fingerprint, certificate.expires_at)
        days = due_notice(certificate.expires_at, at, monitor.expiry_notices)
        if days is not None:
            monitor.certificate_expiry_noticed(days, certificate.expires_at)

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(CHECK_KIND, self.on_clock, "check a site's uptime", flush=self.flush),
            JobKind(DOMAIN_KIND, self.on_domain_clock, "look up a site's domain expiry (RDAP)"),
        ]

    def on_domain_clock(self, firing: Firing) -> None:
        try:
            monitor: Any = self.repository.get(UUID(firing.key))
        except AggregateNotFoundError:
            monitor = None
        if not isinstance(monitor, Monitor) or not monitor.is_running:
            self.schedule.remove(DOMAIN_KIND, [firing.key])
            return
        self.check_domain(monitor)

    def check_domain(self, monitor: Monitor) -> DomainExpiry:
        """Look the domain's expiry up; a new date is an event, each lookup a row."""
        expiry = self.domains.expiry(monitor.url)
        if expiry.expires_at is not None and expiry.expires_at != monitor.domain_expires_at:
            monitor.domain_expiry_changed(expiry.expires_at)
        if monitor.domain_expires_at is not None:
            # Notices 30/14/7/1 days before, once each (events: never sent again on replay).
            days = due_notice(monitor.domain_expires_at, self.now(), monitor.domain_notices)
            if days is not None:
                monitor.domain_expiry_noticed(days, monitor.domain_expires_at)
        if monitor.pending_events:
            self.save(monitor)
        self.probes.domain(monitor.id, monitor.site_id, expiry)
        return expiry

    def on_clock(self, firing: Firing) -> None:
        try:
            monitor: Any = self.repository.get(UUID(firing.key))
        except AggregateNotFoundError:
            monitor = None
        if not isinstance(monitor, Monitor) or not monitor.is_running:
            self.schedule.remove(CHECK_KIND, [firing.key])
            return
        try:
            site = self.owners.get_site(monitor.site_id)
        except NotFound:
            self.schedule.remove(CHECK_KIND, [firing.key])  # erased meanwhile
            return
        if site.is_archived:
            self.schedule.remove(CHECK_KIND, [firing.key])
            return
        self._check(monitor, firing.recurrence, self.pending.add)

    def flush(self) -> None:
        """Write what the checks on the clock kept back: their samples, then their jobs."""
        self._write(self.pending.take())

    def _write(self, batch: CheckBatch) -> None:
        if batch.samples:
            self.probes.record(batch.samples)
        if batch.moves:
            # Putting a job drops its firing's lease: the clock will not move it again.
            self.schedule.put(batch.moves)
        if batch.ends:
            self.schedule.remove(CHECK_KIND, batch.ends)

    def check(self, monitor: Monitor, recurrence: Recurrence | None = None) -> Sample:
        """Check once, record what changed and what was seen, and set the next check."""
        batch = PendingChecks()
        sample = self._check(monitor, recurrence, batch.add)
        self._write(batch.take())
        return sample

    def _check(
        self,
        monitor: Monitor,
        recurrence: Recurrence | None,
        keep: Callable[[Sample, Job | None, str | None], None],
    ) -> Sample:
        """The check itself; its events are saved at once, its sample and its job's
        move go to `keep` (written at once, or with the clock's batch)."""
        result = self.checker.check(monitor.url)
        at = self.now()
        probe = self.probes.probe(monitor.id)
        verdict = judge(probe, result.ok, result.error, at, monitor.is_down, monitor.down_since)
        if verdict.change == WENT_DOWN:
            assert verdict.started_at is not None
            monitor.went_down(error=verdict.error or "Down", started_at=verdict.started_at)
        elif verdict.change == RECOVERED:
            monitor.recover(at)
        elif verdict.change == AUTO_PAUSE:
            monitor.auto_pause(at)
        if result.certificate is not None:
            self._certificate(monitor, result.certificate, at)
        if verdict.change is not None:
            log.info("monitor %s: %s", monitor.id, verdict.change)
        if monitor.pending_events:
            self.save(monitor)
        next_at = at + timedelta(seconds=verdict.next_in) if verdict.next_in else None
        sample = Sample(
            monitor.id, monitor.site_id, at, result, verdict.probe, verdict.interval, next_at
        )
        key = str(monitor.id)
        move: Job | None = None
        if next_at is not None and (
            recurrence is None
            or recurrence.every != verdict.interval
            or verdict.next_in != verdict.interval
        ):
            move = Job(CHECK_KIND, key, next_at, Recurrence(every=verdict.interval))
        keep(sample, move, key if next_at is None else None)
        return sample
