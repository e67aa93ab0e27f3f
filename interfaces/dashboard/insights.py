"""The Insights tab: the newest insight with its signals as cards, the ones before it,
and the settings (on/off, custom instructions, the daily e-mail). Subscribed owners
only; the tab says why a site gets no insight (application/insights.py `why_not`)."""

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length

from domain.errors import DomainError
from domain.insights import MAX_INSTRUCTIONS
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import Form
from interfaces.dashboard.session import current_account, login_required
from interfaces.dashboard.views import owned_site

PER_PAGE = 10


class InsightSettingsForm(Form):
    instructions = TextAreaField(
        "Custom instructions",
        validators=[Length(max=MAX_INSTRUCTIONS, message="At most 1000 characters")],
        description='For example: "Make it casual and friendly" or "Focus on my blog posts".',
    )
    daily_email = BooleanField("Send daily insights via email")


class InsightToggleForm(Form):
    """Just the token: the Enable Insights button."""


class DisableInsightsForm(Form):
    confirm = BooleanField("Yes, stop generating insights for this site")


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


@dashboard.route("/sites/<uid>/insights", methods=["GET", "POST"])
@login_required
def insights(uid: str) -> Any:
    site = owned_site(uid)
    c = container()
    account = current_account()
    subscribed = bool(account and account.is_subscribed)
    settings = c.reads.insights.settings(site.id)
    form = InsightSettingsForm(
        data={"instructions": settings.instructions, "daily_email": settings.daily_email}
    )
    if request.method == "POST" and subscribed and form.validate_on_submit():
        try:
            c.daily_insights.configure(site.id, form.instructions.data, bool(form.daily_email.data))
        except DomainError as error:
            form.instructions.errors = [error.message]
        else:
            c.reads.settle("insights")
            flash(
                "Settings saved. They take effect the next time insights are generated.", "success"
            )
            return redirect(url_for("dashboard.insights", uid=uid))
    page = _page()
    total, rows = c.reads.insights.page(site.id, (page - 1) * PER_PAGE, PER_PAGE)
    newest = rows[0] if rows and page == 1 else None
    previous = rows[1:] if newest is not None else rows
    return render_template(
        "dashboard/insights.html",
        site=site,
        tab="insights",
        subscribed=subscribed,
        settings=settings,
        form=form,
        toggle=InsightToggleForm(),
        disable=DisableInsightsForm(),
        newest=newest,
        previous=previous,
        page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE),
        why_not=c.daily_insights.why_not(site.id) if subscribed and settings.enabled else None,
        next_at=c.daily_insights.next_job_at(site.id),
    )


@dashboard.post("/sites/<uid>/insights/enable")
@login_required
def enable_insights(uid: str) -> Any:
    site = owned_site(uid)  # the CSRF token was checked before the view ran
    account = current_account()
    if not (account and account.is_subscribed):
        flash("Insights are available to subscribed accounts.", "error")
    else:
        container().daily_insights.enable(site.id)
        container().reads.settle("insights")
        flash("Insights are on: the first one is being generated.", "success")
    return redirect(url_for("dashboard.insights", uid=uid))


@dashboard.post("/sites/<uid>/insights/disable")
@login_required
def disable_insights(uid: str) -> Any:
    site = owned_site(uid)
    if not DisableInsightsForm().confirm.data:
        flash("Tick the box to confirm that insights should stop.", "error")
        return redirect(url_for("dashboard.insights", uid=uid) + "#insights-settings")
    container().daily_insights.disable(site.id)
    container().reads.settle("insights")
    flash("Insights are off. You can turn them on again at any time.", "success")
    return redirect(url_for("dashboard.insights", uid=uid))
