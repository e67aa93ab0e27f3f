"""`tinylytics reports send`: the weekly email report, now."""

import click

from interfaces.cli.shared import admin_command, emit, wired


@click.group()
def reports() -> None:
    """The weekly email report."""


@reports.command("send")
@click.option("--site", "number", required=True, type=click.IntRange(min=1), help="Site id.")
@admin_command
def reports_send(number: int, as_json: bool) -> None:
    """Send a site's report of the last 7 days now (as Send Report Now does)."""
    with wired(catch_up=False) as c:
        site = c.configuration.site_by_number(number)
        posted = c.reports.send(site.id, manual=True)
    sent = [
        {"to": p.posted.message.to, "sent": p.sent, "error": p.posted.last_error} for p in posted
    ]
    text = "\n".join(
        f"{s['to']}: {'sent' if s['sent'] else 'not sent yet (' + str(s['error']) + ')'}"
        for s in sent
    )
    emit(as_json, {"site": number, "mails": sent}, text or "nobody gets this site's reports")
