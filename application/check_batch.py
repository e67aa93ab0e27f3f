"""What uptime checks on the clock keep back to write together: their samples and the
moves of their own jobs.

A check's result is a row, not an event (docs/decisions/0012-uptime.md), and at
10,000 monitors a minute one transaction per check is most of what a check costs. So
the clock's handler threads add each check's sample, and the job move it asks for (a
quick re-check, a new interval, none after an auto-pause), to one `CheckBatch`; the
clock flushes it before it records those firings as done (`JobKind.flush`). A firing
is finished only once its sample is written, and its job moved only after that, as
when each check wrote its own: a process that dies before the flush leaves the
firings' leases to run out, and those monitors are checked again.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from application.clock import Job
from domain.check_results import CheckResult
from domain.uptime_rules import Probe


@dataclass(frozen=True)
class Sample:
    """One check as the rollups and the monitor's latest state keep it."""

    monitor_id: UUID
    site_id: UUID
    at: datetime
    result: CheckResult
    probe: Probe
    interval: int
    next_check_at: datetime | None


@dataclass
class CheckBatch:
    samples: list[Sample] = field(default_factory=list)
    moves: list[Job] = field(default_factory=list)  # jobs to put anew
    ends: list[str] = field(default_factory=list)  # keys of jobs to remove

    def __bool__(self) -> bool:
        return bool(self.samples or self.moves or self.ends)


class PendingChecks:
    """A `CheckBatch` that handler threads add to and the clock's loop takes whole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = CheckBatch()

    def add(self, sample: Sample, move: Job | None, end: str | None) -> None:
        with self._lock:
            self._batch.samples.append(sample)
            if move is not None:
                self._batch.moves.append(move)
            if end is not None:
                self._batch.ends.append(end)

    def take(self) -> CheckBatch:
        with self._lock:
            taken, self._batch = self._batch, CheckBatch()
        return taken
