"""The clock: due jobs fire once, on time in their zone, across DST and downtime, and
never twice when two clocks race or one dies mid-firing. Time travels; nothing sleeps."""

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine

from application.clock import LEASE, RETRY_DELAYS, Clock, Firing, Job, JobKind, Recurrence, weekly
from infrastructure.persistence import ensure_schema, read_model_engine
from infrastructure.schedule import SqlSchedule
from infrastructure.settings import Settings
from tests.conftest import ON_POSTGRES

MONDAY = 1


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    ensure_schema(settings)
    made = read_model_engine(settings)
    SqlSchedule(made).setup()
    yield made
    made.dispose()


class Recorder:
    """A handler that remembers every firing it was given."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self._lock = threading.Lock()

    def __call__(self, firing: Firing) -> None:
        with self._lock:
            self.firings.append(firing)

    @property
    def local_times(self) -> list[str]:
        return [f.occurrence.isoformat() for f in self.firings]


def clock_on(engine: Engine, handler: object, kind: str = "test", **kwargs: object) -> Clock:
    return Clock(
        SqlSchedule(engine),
        [JobKind(kind, handler)],  # type: ignore[arg-type]
        host="here",
        **kwargs,  # type: ignore[arg-type]
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


@pytest.mark.parametrize(
    "zone", ["Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "Europe/Berlin"]
)
def test_a_weekly_job_fires_on_monday_morning_in_its_zone(engine: Engine, zone: str) -> None:
    seen = Recorder()
    clock = clock_on(engine, seen)
    rule = weekly(MONDAY, 6, zone)
    sunday = local(zone, 2026, 11, 29, 23, 0)
    with time_machine.travel(sunday, tick=False) as traveller:
        first = rule.next_after(datetime.now(UTC))
        assert first == local(zone, 2026, 11, 30, 6, 0)
        clock.schedule.put([Job("test", "site-1", first, rule)])
        assert clock.tick() == 0
        traveller.move_to(local(zone, 2026, 11, 30, 5, 59, 59))
        assert clock.tick() == 0
        traveller.move_to(local(zone, 2026, 11, 30, 6, 0, 1))
        assert clock.tick() == 1
        assert clock.tick() == 0
        (job,) = clock.schedule.keys("test").values()
        assert job.due_at == local(zone, 2026, 12, 7, 6, 0)
    assert seen.local_times == [local(zone, 2026, 11, 30, 6, 0).astimezone(UTC).isoformat()]


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # Europe/Berlin springs forward on Sunday 29 March 2026 and falls back on 25 October.
        ("Europe/Berlin", utc(2026, 3, 23, 5), utc(2026, 3, 30, 4)),
        ("Europe/Berlin", utc(2026, 10, 19, 4), utc(2026, 10, 26, 5)),
        # America/St_Johns (UTC-3:30 / -2:30) changes on 8 March and 1 November 2026.
        ("America/St_Johns", utc(2026, 3, 2, 9, 30), utc(2026, 3, 9, 8, 30)),
    ],
)
def test_a_dst_change_keeps_the_local_hour(
    engine: Engine, zone: str, before: datetime, after: datetime
) -> None:
    seen = Recorder()
    clock = clock_on(engine, seen)
    rule = weekly(MONDAY, 6, zone)
    with time_machine.travel(before - timedelta(hours=1), tick=False) as traveller:
        clock.schedule.put([Job("test", "k", rule.next_after(datetime.now(UTC)), rule)])
        traveller.move_to(before + timedelta(seconds=1))
        assert clock.tick() == 1
        assert clock.schedule.keys("test")["k"].due_at == after
        traveller.move_to(after - timedelta(seconds=1))
        assert clock.tick() == 0
        traveller.move_to(after + timedelta(seconds=1))
        assert clock.tick() == 1
    assert [f.occurrence for f in seen.firings] == [before, after]
    assert all(f.occurrence.astimezone(ZoneInfo(zone)).hour == 6 for f in seen.firings)


def test_jobs_missed_while_everything_was_down_fire_once(engine: Engine) -> None:
    seen = Recorder()
    rule = weekly(MONDAY, 6, "UTC")
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC), tick=False) as traveller:
        clock = clock_on(engine, seen)
        clock.schedule.put(
            [
                Job("test", "weekly", rule.next_after(datetime.now(UTC)), rule),
                Job("test", "once", datetime(2026, 11, 3, tzinfo=UTC)),
            ]
        )
        # Every process is down for three weeks and a half.
        traveller.move_to(datetime(2026, 11, 26, 12, tzinfo=UTC))
        restarted = clock_on(engine, seen)
        assert restarted.tick() == 2
        assert restarted.tick() == 0
        assert sorted(f.key for f in seen.firings) == ["once", "weekly"]
        jobs = restarted.schedule.keys("test")
        assert list(jobs) == ["weekly"]  # a one-shot job is gone once fired
        assert jobs["weekly"].due_at == datetime(2026, 11, 30, 6, tzinfo=UTC)
        (status,) = restarted.schedule.status(datetime.now(UTC))
        assert status.jobs == 1 and status.lateness_max_ms is not None
        assert status.lateness_max_ms > 20 * 24 * 3600 * 1000


def test_a_clock_killed_mid_firing_is_fired_again_with_the_same_key(engine: Engine) -> None:
    seen = Recorder()
    with time_machine.travel(datetime(2026, 11, 30, 6, tzinfo=UTC), tick=False) as traveller:
        schedule = SqlSchedule(engine)
        schedule.put([Job("test", "k", datetime.now(UTC))])
        # The first clock claims the job, then dies before it records the firing.
        (lost,) = schedule.claim(datetime.now(UTC), 10, LEASE, (None,))
        other = clock_on(engine, seen)
        assert other.tick() == 0  # the lease still holds
        traveller.shift(LEASE - timedelta(seconds=1))
        assert other.tick() == 0
        traveller.shift(timedelta(seconds=2))
        assert other.tick() == 1
        (again,) = seen.firings
        assert again.idempotency_key == lost.idempotency_key
        assert again.lease != lost.lease
        # The dead clock's late report changes nothing: the lease is no longer its own.
        from application.clock import Done

        schedule.finish([Done(lost, lost.due_at, datetime.now(UTC))], {0: None})
        assert schedule.keys("test") == {}


def test_a_failing_handler_is_retried_with_backoff_under_the_same_key(engine: Engine) -> None:
    calls: list[Firing] = []

    def flaky(firing: Firing) -> None:
        calls.append(firing)
        if len(calls) < 3:
            raise RuntimeError("the mail server is down")

    rule = weekly(MONDAY, 6, "UTC")
    with time_machine.travel(datetime(2026, 11, 30, 6, tzinfo=UTC), tick=False) as traveller:
        clock = clock_on(engine, flaky)
        clock.schedule.put([Job("test", "k", datetime.now(UTC), rule)])
        assert clock.tick() == 1
        (status,) = clock.schedule.status(datetime.now(UTC))
        assert status.failing == 1 and "the mail server is down" in (status.last_error or "")
        traveller.shift(timedelta(seconds=RETRY_DELAYS[0] - 1))
        assert clock.tick() == 0
        traveller.shift(timedelta(seconds=2))
        assert clock.tick() == 1
        traveller.shift(timedelta(seconds=RETRY_DELAYS[1] + 1))
        assert clock.tick() == 1
        assert [c.attempt for c in calls] == [1, 2, 3]
        assert len({c.idempotency_key for c in calls}) == 1
        assert clock.schedule.keys("test")["k"].due_at == datetime(2026, 12, 7, 6, tzinfo=UTC)


def test_a_handler_can_ask_to_be_called_again(engine: Engine) -> None:
    calls: list[Firing] = []

    def later(firing: Firing) -> datetime | None:
        calls.append(firing)
        return firing.due_at + timedelta(minutes=5) if len(calls) == 1 else None

    with time_machine.travel(datetime(2026, 11, 30, 6, tzinfo=UTC), tick=False) as traveller:
        clock = clock_on(engine, later)
        clock.schedule.put([Job("test", "k", datetime.now(UTC))])
        assert clock.tick() == 1
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert clock.tick() == 1
        assert clock.schedule.keys("test") == {}
    assert calls[0].idempotency_key == calls[1].idempotency_key


def test_a_local_clock_fires_only_its_own_hosts_jobs(engine: Engine) -> None:
    seen = Recorder()
    now = datetime(2026, 11, 30, 6, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        schedule = SqlSchedule(engine)
        schedule.put(
            [
                Job("test", "shared", now),
                Job("test", "mine", now, host="here"),
                Job("test", "theirs", now, host="elsewhere"),
            ]
        )
        assert clock_on(engine, seen).tick(local_only=True) == 1
        assert clock_on(engine, seen).tick() == 1
    assert [f.key for f in seen.firings] == ["mine", "shared"]


def test_racing_clocks_fire_each_job_once(settings: Settings, engine: Engine) -> None:
    """Two clocks, each with its own connections, run their loops over the same due jobs."""
    seen = Recorder()
    now = datetime.now(UTC)
    count = 600
    SqlSchedule(engine).put(
        [Job("test", f"job-{i}", now - timedelta(milliseconds=i)) for i in range(count)]
    )
    engines = [read_model_engine(settings) for _ in range(2)]
    stops = [threading.Event() for _ in engines]
    clocks = [clock_on(e, seen, threads=2, batch=25) for e in engines]
    threads = [
        threading.Thread(target=c.run, args=(s,), daemon=True)
        for c, s in zip(clocks, stops, strict=True)
    ]
    try:
        for t in threads:
            t.start()
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while len(seen.firings) < count and datetime.now(UTC) < deadline:
            stops[0].wait(0.05)
    finally:
        for s, c in zip(stops, clocks, strict=True):
            s.set()
            c.wake.set()
        for t in threads:
            t.join(30)
        for e in engines:
            e.dispose()
    fired = Counter(f.key for f in seen.firings)
    assert len(fired) == count
    assert [k for k, n in fired.items() if n > 1] == []
    assert SqlSchedule(engine).keys("test") == {}
    if ON_POSTGRES:
        # Both clocks took a share: the lease, not a single winner, kept them apart.
        assert len({f.lease for f in seen.firings}) > 2


def test_a_kinds_flush_runs_before_its_firings_are_recorded(engine: Engine) -> None:
    """A kind that writes its handlers' results together (uptime samples) is flushed
    before the schedule hears the firings are done; when the flush fails, nothing is
    recorded: the leases run out and the jobs fire again."""
    written: list[str] = []
    pending: list[str] = []
    failing = {"now": True}

    def handler(firing: Firing) -> None:
        pending.append(firing.key)

    def flush() -> None:
        if failing["now"]:
            pending.clear()  # what a dying process loses
            raise ConnectionError("database gone")
        written.extend(pending)
        pending.clear()

    schedule = SqlSchedule(engine)
    clock = Clock(schedule, [JobKind("test", handler, flush=flush)], host="here")
    start = utc(2026, 6, 1, 12)
    with time_machine.travel(start, tick=False) as traveller:
        schedule.put([Job("test", k, start, Recurrence(every=60)) for k in ("a", "b")])
        with pytest.raises(ConnectionError):
            clock.tick()
        assert written == []
        # Not recorded: still leased, so no clock fires them again before the lease ends.
        assert clock.tick() == 0
        assert {j.due_at for j in schedule.keys("test").values()} == {start}
        failing["now"] = False
        traveller.move_to(start + LEASE + timedelta(seconds=1))
        assert clock.tick() == 2
        assert sorted(written) == ["a", "b"]
        moved = start + LEASE + timedelta(seconds=61)
        assert {j.due_at for j in schedule.keys("test").values()} == {moved}
