"""Email reports on the dashboard: "Send Report Now" on the Edit tab, and the page a
report's unsubscribe link opens (with the RFC 8058 one-click POST mail clients send)."""

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from domain.errors import NotFound
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import UnsubscribeForm
from interfaces.dashboard.session import login_required
from interfaces.dashboard.views import owned_site


@dashboard.post("/sites/<uid>/report")
@login_required
def send_report(uid: str) -> Any:
    site = owned_site(uid)  # the CSRF token was checked before the view ran
    posted = container().reports.send(site.id, manual=True)
    if not posted:
        flash("Nobody gets this site's reports: add a recipient or turn yours on.", "error")
    elif all(p.sent for p in posted):
        flash(f"Report sent to {len(posted)} address(es).", "success")
    else:
        failed = sum(1 for p in posted if not p.sent)
        flash(
            f"The mail server could not take {failed} of {len(posted)} report(s) just now; "
            "they are retried automatically (see below).",
            "error",
        )
    return redirect(url_for("dashboard.edit", uid=uid) + "#email-reports")


@dashboard.route("/reports/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_report(token: str) -> Any:
    c = container()
    found = c.report_links.read(token)
    if found is None:
        raise NotFound("Not found")
    site_id, address = found
    try:
        site = c.configuration.get_site(site_id)
    except NotFound:
        return render_template("dashboard/unsubscribe.html", done=True, label=None), 200
    # One-click (RFC 8058) from a mail client, or the button on this page (its CSRF
    # token is checked here, as the blueprint does not for this endpoint).
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    form = UnsubscribeForm()
    if request.method == "POST" and (one_click or form.validate_on_submit()):
        c.configuration.unsubscribe_from_reports(site_id, address)
        return render_template(
            "dashboard/unsubscribe.html", done=True, label=site.label, address=address
        )
    return render_template(
        "dashboard/unsubscribe.html", done=False, label=site.label, address=address, form=form
    ), (400 if request.method == "POST" else 200)
