"""`tinylytics jobs …`: the clock's schedule, seen and nudged from the command line."""

from datetime import UTC, datetime
from typing import Any

import click

from application.clock import Job
from interfaces.cli.shared import Failure, admin_command, emit, iso, wired


def _at(value: str | None) -> datetime:
    if value is None or value == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Failure(f"--at must be 'now' or an ISO 8601 time, not {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.group()
def jobs() -> None:
    """The clock's schedule: every timed job (reports, mail retries, retention, …)."""


@jobs.command("status")
@admin_command
def jobs_status(as_json: bool) -> None:
    """Per kind: how many jobs, how many due or running, the next due time and the
    lateness (fired - due) of the last firings."""
    with wired(catch_up=False) as c:
        rows = c.schedule.status(datetime.now(UTC))
        known = {k: kind.description for k, kind in c.clock.kinds.items()}
    kinds: list[dict[str, Any]] = [
        {
            "kind": r.kind,
            "description": known.get(r.kind, ""),
            "jobs": r.jobs,
            "due_now": r.due_now,
            "running": r.leased,
            "retrying": r.failing,
            "next_due_at": iso(r.next_due_at),
            "last_fired_at": iso(r.last_fired_at),
            "lateness_ms": {"p50": r.lateness_p50_ms, "p99": r.lateness_p99_ms},
            "lateness_max_ms": r.lateness_max_ms,
            "last_error": r.last_error,
        }
        for r in rows
    ]
    lines = [
        f"{'kind':<18} {'jobs':>7} {'due':>6} {'running':>7} {'retrying':>8}  "
        f"{'next due (UTC)':<25} lateness p50/p99 ms"
    ]
    for k in kinds:
        late = k["lateness_ms"]
        lines.append(
            f"{k['kind']:<18} {k['jobs']:>7} {k['due_now']:>6} {k['running']:>7} "
            f"{k['retrying']:>8}  {(k['next_due_at'] or '-')[:25]:<25} "
            f"{late['p50'] if late['p50'] is not None else '-'}/"
            f"{late['p99'] if late['p99'] is not None else '-'}"
        )
        if k["last_error"]:
            lines.append(f"{'':<18} last error: {k['last_error']}")
    emit(as_json, {"kinds": kinds}, "\n".join(lines) if kinds else "no jobs yet")


@jobs.command("list")
@click.option("--kind", required=True, help="e.g. report.weekly")
@admin_command
def jobs_list(kind: str, as_json: bool) -> None:
    """The jobs of one kind with their keys and due times."""
    with wired(catch_up=False) as c:
        found = sorted(c.schedule.keys(kind).values(), key=lambda j: j.due_at)
    listed: list[dict[str, Any]] = [
        {
            "kind": j.kind,
            "key": j.key,
            "due_at": iso(j.due_at),
            "cron": j.recurrence.cron if j.recurrence else None,
            "zone": j.recurrence.zone if j.recurrence and j.recurrence.cron else None,
            "every_seconds": j.recurrence.every if j.recurrence else None,
            "host": j.host,
        }
        for j in found
    ]
    text = "\n".join(f"{j['due_at']}  {j['key']}" for j in listed)
    emit(as_json, {"jobs": listed}, text or f"no {kind} jobs")


@jobs.command("due")
@click.argument("kind")
@click.argument("key")
@click.option("--at", "at", default="now", show_default=True, help="'now' or an ISO time.")
@admin_command
def jobs_due(kind: str, key: str, at: str, as_json: bool) -> None:
    """Move a job's due time (to fire it at once, say); its recurrence is kept."""
    when = _at(at)
    with wired(catch_up=False) as c:
        job = c.schedule.get(kind, key)
        if job is None:
            raise Failure(f"no job {kind}/{key}")
        c.schedule.put([Job(kind, key, when, job.recurrence, job.host)])
    emit(
        as_json,
        {"kind": kind, "key": key, "due_at": when.isoformat()},
        f"{kind}/{key} is due at {when.isoformat()}",
    )
