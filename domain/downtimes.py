"""A downtime as people read it: its duration in words, its times, its webhook shape."""

from datetime import UTC, datetime
from typing import Any


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def duration_in_words(seconds: float) -> str:
    """`15 minutes`, `2 hours 5 minutes`, `1 day 11 minutes`: to the minute (seconds
    only for a downtime shorter than one)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return _plural(whole, "second")
    minutes = whole // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(_plural(n, unit) for n, unit in parts if n)


def formatted(moment: datetime) -> str:
    """`May 14, 2026 at 11:58` (UTC), as webhooks.md writes it."""
    moment = _utc(moment)
    return f"{moment:%B} {moment.day}, {moment.year} at {moment:%H:%M}"


def iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def downtime_payload(
    started_at: datetime, ended_at: datetime | None, error: str | None, now: datetime
) -> dict[str, Any]:
    """The `downtime` block of `monitor_down` / `monitor_up` (webhooks.md)."""
    seconds = int(((ended_at or now) - started_at).total_seconds())
    return {
        "started_at": iso(started_at),
        "started_at_formatted": formatted(started_at),
        "ended_at": iso(ended_at) if ended_at else None,
        "ended_at_formatted": formatted(ended_at) if ended_at else None,
        "duration_seconds": max(0, seconds),
        "duration_formatted": duration_in_words(seconds),
        "error": error,
    }
