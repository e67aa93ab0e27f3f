"""When a monitor checks, and when a failure or a recovery counts: pure rules.

The guide's adaptive schedule: every 5 minutes while up and just after going down;
after 24 hours down every 10 minutes, after 48 hours every 30, after 3 days every
hour, and after 7 days the monitor pauses itself. A single failed check is only
*potential* downtime: it is checked again quickly, and only `CONFIRM_DOWN` failures
in a row record "went down" (started at the first of them). Recovery is confirmed
the same way, by `CONFIRM_UP` good checks in a row. docs/decisions/0012-uptime.md
says why these numbers.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

UP_EVERY = 300  # seconds
CONFIRM_DOWN = 3  # failed checks in a row: the first one and two quick re-checks
CONFIRM_UP = 2  # good checks in a row while down
RECHECK_AFTER = 30  # seconds between the quick re-checks of a potential change
# (down for at least, check every); None: pause the monitor.
DOWN_STEPS: tuple[tuple[timedelta, int | None], ...] = (
    (timedelta(days=7), None),
    (timedelta(days=3), 3600),
    (timedelta(hours=48), 1800),
    (timedelta(hours=24), 600),
    (timedelta(0), 300),
)
AUTO_PAUSE_AFTER = DOWN_STEPS[0][0]


def check_interval(down_since: datetime | None, now: datetime) -> int | None:
    """Seconds between checks for a monitor down since `down_since` (None: up); None
    when it has been down so long that it pauses itself."""
    if down_since is None:
        return UP_EVERY
    down_for = now - down_since
    for at_least, every in DOWN_STEPS:
        if down_for >= at_least:
            return every
    return UP_EVERY


@dataclass(frozen=True)
class Probe:
    """What the checks of one monitor have seen lately (a row, not an event)."""

    failures: int = 0  # failed checks in a row while up: potential downtime
    successes: int = 0  # good checks in a row while down: potential recovery
    first_failure_at: datetime | None = None
    first_error: str | None = None


WENT_DOWN = "went_down"
RECOVERED = "recovered"
AUTO_PAUSE = "auto_pause"


@dataclass(frozen=True)
class Verdict:
    probe: Probe
    change: str | None  # WENT_DOWN, RECOVERED, AUTO_PAUSE or None
    next_in: int | None  # seconds to the next check; None when checks stop
    interval: int  # the regular interval from now on (the API's current_check_interval)
    started_at: datetime | None = None  # of a downtime that was confirmed
    error: str | None = None


def judge(
    probe: Probe,
    ok: bool,
    error: str | None,
    at: datetime,
    is_down: bool,
    down_since: datetime | None,
) -> Verdict:
    """What one check means, given what came before it."""
    if not is_down:
        if ok:
            return Verdict(Probe(), None, UP_EVERY, UP_EVERY)
        failures = probe.failures + 1
        first_at = probe.first_failure_at if probe.failures else at
        first_error = probe.first_error if probe.failures else error
        seen = Probe(failures=failures, first_failure_at=first_at, first_error=first_error)
        if failures < CONFIRM_DOWN:
            return Verdict(seen, None, RECHECK_AFTER, UP_EVERY)
        assert first_at is not None
        every = check_interval(first_at, at) or UP_EVERY
        # The error of the latest check: what is wrong now.
        return Verdict(Probe(), WENT_DOWN, every, every, first_at, error or first_error)
    if ok:
        successes = probe.successes + 1
        if successes < CONFIRM_UP:
            every = check_interval(down_since, at) or UP_EVERY
            return Verdict(replace(Probe(), successes=successes), None, RECHECK_AFTER, every)
        return Verdict(Probe(), RECOVERED, UP_EVERY, UP_EVERY)
    interval = check_interval(down_since, at)
    if interval is None:
        return Verdict(Probe(), AUTO_PAUSE, None, UP_EVERY)
    return Verdict(Probe(), None, interval, interval)
