"""The clock: one schedule of due jobs and the loop that fires them.

A job is a kind, a key and a due time ("report" / site 3 / Monday 06:00 in the
site's zone). Features register kinds with a handler (`JobKind`); the schedule (a
table, infrastructure/schedule.py) keeps every job, so nothing lives only in memory.
Any number of clocks may run against one schedule: a claim leases a batch of due
jobs to one clock (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite's write lock), so a
due job fires once. A clock that dies mid-firing leaves its lease to run out; the
job then fires again, with the same idempotency key, which its handler uses to do
nothing twice (a mail is posted once per key). See docs/decisions/0009-the-clock.md.

Recurrences are cron expressions in a time zone (croniter, across DST) or a fixed
interval. After a firing the next due time is the first occurrence after *now*: a
job missed while every process was down fires once at start, not once per period.
"""

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

log = logging.getLogger("tinylytics.clock")

LEASE = timedelta(minutes=5)
MAX_WAIT = 1.0  # seconds a clock sleeps at most before it looks at the schedule again
# ...and at least, when jobs come due one after another: a few more per claim, for
# lateness of a twentieth of a second (167 due a second are ~8 a claim, not 1).
MIN_WAIT = 0.05
BATCH = 200
# Waits after a handler raised, by failed attempts so far; then the occurrence is dropped.
RETRY_DELAYS = (30, 60, 300, 900, 1800, 3600, 7200, 14400)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recurrence:
    """When a job comes round again: a cron expression in a zone, or every N seconds."""

    cron: str | None = None
    zone: str = "UTC"
    every: int | None = None  # seconds

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValueError("a recurrence is a cron expression or an interval, not both")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"not a cron expression: {self.cron!r}")
        if self.every is not None and self.every < 1:
            raise ValueError("an interval is at least one second")
        ZoneInfo(self.zone)  # raises for an unknown zone

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (a UTC instant)."""
        if self.every is not None:
            return moment + timedelta(seconds=self.every)
        assert self.cron is not None
        local = moment.astimezone(ZoneInfo(self.zone))
        found: datetime = croniter(self.cron, local).get_next(datetime)
        return found.astimezone(UTC)


def weekly(day_of_week: int, hour: int, zone: str, minute: int = 0) -> Recurrence:
    """Every week on a day (0 = Sunday … 6, cron's numbering) at a local time."""
    return Recurrence(cron=f"{minute} {hour} * * {day_of_week}", zone=zone)


def daily(hour: int, zone: str, minute: int = 0) -> Recurrence:
    return Recurrence(cron=f"{minute} {hour} * * *", zone=zone)


@dataclass(frozen=True)
class Job:
    """A job as the schedule keeps it."""

    kind: str
    key: str
    due_at: datetime
    recurrence: Recurrence | None = None
    host: str | None = None  # only a clock on this host fires it (files on its disk)


@dataclass(frozen=True)
class Firing:
    """One firing handed to a handler; `idempotency_key` is the same for every retry
    and every re-firing after a lost lease of this occurrence."""

    kind: str
    key: str
    occurrence: datetime  # the due time this firing is for
    due_at: datetime  # when it was due this time (a retry's time, or the occurrence)
    attempt: int  # 1 for the first try of this occurrence
    recurrence: Recurrence | None
    lease: str

    @property
    def idempotency_key(self) -> str:
        return f"{self.kind}:{self.key}:{self.occurrence.astimezone(UTC).isoformat()}"


@dataclass(frozen=True)
class Done:
    """What became of a firing, for the schedule to record."""

    firing: Firing
    fired_at: datetime
    finished_at: datetime
    again_at: datetime | None = None  # the handler asked to be called again (same key)
    error: str | None = None


# A handler may return when it wants to be called again for the same occurrence.
Handler = Callable[[Firing], datetime | None]


@dataclass(frozen=True)
class JobKind:
    """A kind of job and its handler. `flush`, when given, writes what the kind's
    handlers kept back to write together (uptime checks batch their samples): the
    clock calls it before it records a batch of this kind's firings as done, so a
    firing is never finished while what it did is still only in memory — a process
    that dies first leaves the lease to run out, and the job fires again."""

    name: str
    handler: Handler
    description: str = ""
    flush: Callable[[], None] | None = None


@dataclass(frozen=True)
class KindStatus:
    kind: str
    jobs: int
    due_now: int
    leased: int
    failing: int
    next_due_at: datetime | None
    last_fired_at: datetime | None
    lateness_p50_ms: int | None
    lateness_p99_ms: int | None
    lateness_max_ms: int | None
    last_error: str | None


class Schedule(Protocol):
    """Where jobs are kept and leased (infrastructure/schedule.py)."""

    def put(self, jobs: Sequence[Job], replace: bool = True) -> None:
        """Add jobs; with `replace`, an existing job takes the new due time and recurrence."""
        ...

    def remove(self, kind: str, keys: Sequence[str]) -> None: ...

    def get(self, kind: str, key: str) -> Job | None: ...

    def keys(self, kind: str) -> dict[str, Job]: ...

    def claim(
        self, now: datetime, limit: int, lease_for: timedelta, hosts: Sequence[str | None]
    ) -> list[Firing]:
        """Lease up to `limit` jobs due at `now` that no live lease holds, oldest first."""
        ...

    def finish(self, done: Sequence[Done], next_due: Mapping[int, datetime | None]) -> None:
        """Record firings: the job moves to `next_due[i]` (None: a one-shot job is gone),
        only where the lease is still the firing's own."""
        ...

    def next_due(self, hosts: Sequence[str | None]) -> datetime | None: ...

    def status(self, now: datetime) -> list[KindStatus]: ...

    def renew(self, firing: Firing, until: datetime) -> bool:
        """Extend a firing's lease to `until` while it is still the firing's own (False:
        the job was rescheduled or re-leased meanwhile)."""
        ...


class LeaseKeeper:
    """Keeps a long firing's lease (a crawl of a big site) from running out: `keep()`,
    called as the work goes on, renews it to `lease` from now once `every` has passed
    since the last renewal, so no other clock fires the job again while it runs."""

    def __init__(
        self,
        schedule: Schedule,
        firing: Firing,
        now: Callable[[], datetime] = utcnow,
        lease: timedelta = LEASE,
        every: timedelta = LEASE / 5,
    ) -> None:
        self.schedule = schedule
        self.firing = firing
        self.now = now
        self.lease = lease
        self.every = every
        self._renewed = now()
        self.lost = False  # the lease is no longer ours (a "Check All" moved the job)

    def keep(self) -> None:
        at = self.now()
        if self.lost or at - self._renewed < self.every:
            return
        self._renewed = at
        try:
            self.lost = not self.schedule.renew(self.firing, at + self.lease)
        except Exception:
            log.exception(
                "the lease of %s/%s could not be renewed", self.firing.kind, self.firing.key
            )


class Clock:
    """Fires due jobs. `run` is the loop (a thread of `serve` or `worker`); `tick` fires
    what is due once, for tests and the CLI."""

    def __init__(
        self,
        schedule: Schedule,
        kinds: Iterable[JobKind],
        host: str,
        threads: int = 4,
        batch: int = BATCH,
        lease: timedelta = LEASE,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.schedule = schedule
        self.kinds = {k.name: k for k in kinds}
        self.host = host
        self.threads = threads
        self.batch = batch
        self.lease = lease
        self.now = now
        self.wake = threading.Event()
        self._done: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self._in_flight = 0
        self._capacity = threads * 4
        self._lock = threading.Lock()

    # -- firing ------------------------------------------------------------------------
    def fire(self, firing: Firing) -> Done:
        """Run one firing's handler; never raises."""
        started = self.now()
        kind = self.kinds.get(firing.kind)
        if kind is None:
            return Done(firing, started, started, error=f"no handler for kind {firing.kind!r}")
        try:
            again = kind.handler(firing)
        except Exception as error:
            log.exception("job %s/%s failed (attempt %d)", firing.kind, firing.key, firing.attempt)
            return Done(firing, started, self.now(), error=f"{type(error).__name__}: {error}")
        return Done(firing, started, self.now(), again_at=again)

    def _next_due(self, done: Done) -> datetime | None:
        firing = done.firing
        if done.again_at is not None:
            return done.again_at
        if done.error is not None and firing.attempt <= len(RETRY_DELAYS):
            return done.finished_at + timedelta(seconds=RETRY_DELAYS[firing.attempt - 1])
        if firing.recurrence is None:
            return None
        # The first occurrence after now: missed periods collapse into this one firing.
        return firing.recurrence.next_after(max(done.finished_at, firing.occurrence))

    def _record(self, finished: list[Done]) -> None:
        if not finished:
            return
        for name in sorted({d.firing.kind for d in finished}):
            kind = self.kinds.get(name)
            if kind is not None and kind.flush is not None:
                kind.flush()
        self.schedule.finish(finished, {i: self._next_due(d) for i, d in enumerate(finished)})

    def hosts(self, local_only: bool = False) -> tuple[str | None, ...]:
        """Whose jobs a clock fires: every job, or (the web process of production, which
        keeps its own machine's country database fresh) only its host's."""
        return (self.host,) if local_only else (None, self.host)

    def tick(self, local_only: bool = False) -> int:
        """Claim and fire everything due now, in this thread; returns how many fired."""
        fired = 0
        hosts = self.hosts(local_only)
        while True:
            firings = self.schedule.claim(self.now(), self.batch, self.lease, hosts)
            if not firings:
                return fired
            self._record([self.fire(f) for f in firings])
            fired += len(firings)

    # -- the loop ----------------------------------------------------------------------
    def run(self, stop: threading.Event, local_only: bool = False) -> None:
        """Until `stop`: claim what is due while there is room, fire it on a pool,
        record what finished in batches, sleep until the next due time (at most a
        second: other processes add jobs too)."""
        hosts = self.hosts(local_only)
        capacity = self._capacity = self.threads * 4
        failures = 0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="clock") as pool:
            while not stop.is_set():
                try:
                    self._drain()
                    room = capacity - self._in_flight
                    if room <= 0:
                        self._pause(MAX_WAIT)  # a firing that finishes wakes us
                        continue
                    limit = min(room, self.batch)
                    firings = self.schedule.claim(self.now(), limit, self.lease, hosts)
                    for firing in firings:
                        with self._lock:
                            self._in_flight += 1
                        pool.submit(self.fire, firing).add_done_callback(self._finished)
                    failures = 0
                    if len(firings) == limit:
                        continue  # more may be due: claim again at once
                    upcoming = self.schedule.next_due(hosts)
                    wait = MAX_WAIT
                    if upcoming is not None:
                        wait = min(wait, (upcoming - self.now()).total_seconds())
                    self._pause(max(MIN_WAIT, wait))
                except Exception:
                    failures += 1
                    log.exception("the clock could not reach its schedule (failure %d)", failures)
                    stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
            # Let what is running finish, and record it, before the process goes.
            pool.shutdown(wait=True)
        self._drain()

    def _finished(self, future: "Future[Done]") -> None:
        self._done.put(future.result())
        with self._lock:
            was_full = self._in_flight >= self._capacity
            self._in_flight -= 1
        if was_full:
            self.wake.set()  # room again: claim more at once

    def _drain(self) -> None:
        finished: list[Done] = []
        while True:
            try:
                finished.append(self._done.get_nowait())
            except queue.Empty:
                break
        self._record(finished)

    def _pause(self, seconds: float) -> None:
        self.wake.wait(seconds)
        self.wake.clear()
