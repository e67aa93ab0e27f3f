"""`tinylytics mail status`: kept mail, what is waiting and what could not be sent."""

from typing import Any

import click

from application.mail import FAILED, PENDING
from interfaces.cli.shared import admin_command, emit, iso, wired


@click.group()
def mail() -> None:
    """Kept mail: what is waiting to be sent and what could not be."""


@mail.command("status")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@admin_command
def mail_status(limit: int, as_json: bool) -> None:
    """Counts by status, and the messages still waiting or given up on."""
    with wired(catch_up=False) as c:
        summary = c.postbox.summary()
        failed = c.postbox.recent(status=FAILED, limit=limit)
        waiting = c.postbox.recent(status=PENDING, limit=limit)

    def row(p: Any) -> dict[str, Any]:
        return {
            "id": str(p.id),
            "purpose": p.purpose,
            "to": p.message.to,
            "subject": p.message.subject,
            "status": p.status,
            "attempts": p.attempts,
            "last_error": p.last_error,
            "created_at": iso(p.created_at),
            "next_attempt_at": iso(p.next_attempt_at),
        }

    payload = {
        "pending": summary.pending,
        "sent": summary.sent,
        "failed": summary.failed,
        "oldest_pending_at": iso(summary.oldest_pending_at),
        "could_not_send": [row(p) for p in failed],
        "waiting": [row(p) for p in waiting],
    }
    lines = [f"sent {summary.sent}, waiting {summary.pending}, could not be sent {summary.failed}"]
    for p in failed:
        lines.append(f"  FAILED  {p.created_at:%Y-%m-%d %H:%M}  {p.message.to}  {p.last_error}")
    for p in waiting:
        lines.append(
            f"  waiting {p.created_at:%Y-%m-%d %H:%M}  {p.message.to}  "
            f"attempts {p.attempts}  {p.last_error or ''}"
        )
    emit(as_json, payload, "\n".join(lines))
