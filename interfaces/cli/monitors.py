"""`tinylytics monitors list`: every uptime monitor on this server, for the operator."""

from datetime import UTC, datetime
from typing import Any

import click

from interfaces.cli.shared import admin_command, emit, iso, wired
from projections.reads import MONITOR_STATUSES, MonitorLine


@click.group()
def monitors() -> None:
    """Uptime monitors: every site's, with its state and its next check."""


def _row(line: MonitorLine) -> dict[str, Any]:
    return {
        "site": line.site_label,
        "site_id": line.site_id,
        "url": line.url,
        "status": line.status,
        "since": iso(line.since),
        "last_check_at": iso(line.last_check_at),
        "next_check_at": iso(line.next_check_at),
        "interval_seconds": line.interval_s,
        "ssl_days_left": line.ssl_days_left,
        "ssl_valid": line.ssl_valid,
        "last_error": line.last_error,
        "trouble": line.trouble,
    }


def _short(moment: str | None) -> str:
    return moment[:16].replace("T", " ") if moment else "-"


@monitors.command("list")
@click.option(
    "--status",
    type=click.Choice(MONITOR_STATUSES),
    default=None,
    help="Only monitors in this state.",
)
@admin_command
def monitors_list(status: str | None, as_json: bool) -> None:
    """Every enabled monitor, down ones first: site, URL, status and since when, the
    last and next check (UTC), the interval, the certificate's days left."""
    with wired(catch_up=False) as c:
        c.reads.settle("sites", "uptime")
        found = [_row(line) for line in c.reads.monitor_lists.all(status, datetime.now(UTC))]
    lines = [
        f"{'site':<24} {'status':<11} {'since':<16}  {'last check':<16}  {'next check':<16}  "
        f"{'every':>6} {'ssl days':>8}  url"
    ]
    for m in found:
        ssl = m["ssl_days_left"]
        lines.append(
            f"{(m['site'] or '?')[:24]:<24} {m['status']:<11} {_short(m['since']):<16}  "
            f"{_short(m['last_check_at']):<16}  {_short(m['next_check_at']):<16}  "
            f"{str(m['interval_seconds'] or '-') + 's':>6} {ssl if ssl is not None else '-':>8}  "
            f"{m['url']}"
        )
    emit(as_json, {"monitors": found}, "\n".join(lines) if found else "no monitors")
