"""The Uptime tab: status now, uptime over 24 h / 7 d / 30 d / 90 d, response times,
downtime history, the SSL panel, and Enable / Pause / Resume / Disable."""

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HttpNotFound

from domain.confirmation import uptime_refusal
from domain.errors import DomainError
from domain.monitors import NOT_SUBSCRIBED
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import ArchiveForm
from interfaces.dashboard.session import current_account, login_required
from interfaces.dashboard.views import owned_site
from interfaces.whole_numbers import whole_number
from projections.reads import ResponsePoint

PER_PAGE = 20
TESTS = {"test-down": "down", "test-up": "up"}
ACTIONS = {
    "enable": ("enable", "Uptime monitoring is on: the first check runs now."),
    "pause": ("pause", "Monitoring paused."),
    "resume": ("resume", "Monitoring resumed: the next check runs now."),
    "disable": ("disable", "Uptime monitoring is off."),
}


def response_chart(points: list[ResponsePoint]) -> list[dict[str, Any]]:
    """Bars for the last 24 hours: height by mean response time, red where checks failed."""
    timed = [p.average_ms for p in points if p.average_ms is not None]
    top = max(timed, default=0) or 1
    return [
        {
            "at": p.at,
            "ms": p.average_ms,
            "height": round(100 * (p.average_ms or 0) / top, 1),
            "down": p.down > 0,
        }
        for p in points
    ]


@dashboard.get("/sites/<uid>/uptime")
@login_required
def uptime(uid: str) -> Any:
    site = owned_site(uid)
    reads = container().reads.uptime
    found = whole_number(request.args.get("page"))
    page = found if found is not None and 0 < found <= 100_000 else 1
    monitor = reads.monitor(site.id)
    total, downtimes = reads.downtimes_of(site.id, (page - 1) * PER_PAGE, PER_PAGE)
    since = datetime.now(UTC) - timedelta(hours=24)
    bars = response_chart(reads.response_times(reads.monitor_id(site.id), "h", since))
    account = current_account()
    return render_template(
        "dashboard/uptime.html",
        site=site,
        monitor=monitor,
        downtimes=downtimes,
        total=total,
        page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE),
        bars=bars,
        summary=reads.summary(site.id),
        # Why Enable is not offered (a free plan, an address to confirm), or None.
        refusal=uptime_refusal(account) if account else NOT_SUBSCRIBED,
        form=ArchiveForm(),
        tab="uptime",
    )


@dashboard.post("/sites/<uid>/uptime/<action>")
@login_required
def uptime_action(uid: str, action: str) -> Any:
    site = owned_site(uid)  # the CSRF token was checked before the view ran
    if action in TESTS:
        try:
            container().uptime_alerts.send_test(site.id, site.owner_id, TESTS[action])
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash("Test alert sent to your address.", "success")
        # The buttons sit in the Edit tab's Uptime email preferences.
        return redirect(url_for("dashboard.edit", uid=uid, _anchor="uptime-mail"))
    if action not in ACTIONS:
        raise HttpNotFound()
    command, done = ACTIONS[action]
    monitoring = container().monitoring
    try:
        getattr(monitoring, command)(site.id, site.owner_id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        container().reads.settle("uptime")
        flash(done, "success")
    return redirect(url_for("dashboard.uptime", uid=uid))
