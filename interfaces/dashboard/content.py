"""The Content tab: content monitoring's status, issues by type, the ignored list, and
its actions (enable with a root path, Check All Content, Check specific URL, Ignore /
Un-ignore, pause e-mails until a date, alerts on or off, disable).

Thin: each action is one call of `container().content` (application/content_checks.py)
or `container().content_monitoring`; the page reads `reads.content`.
"""

from datetime import UTC, datetime, time
from typing import Any

from flask import flash, jsonify, redirect, render_template, url_for
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import InputRequired, Length

from application.crawl_progress import CrawlSample
from application.premium import FeatureNotEnabled, SubscriptionRequired
from domain.errors import DomainError
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import Form
from interfaces.dashboard.session import login_required
from interfaces.dashboard.views import owned_site


class EnableContentForm(Form):
    root_path = StringField(
        "Root path (optional)",
        validators=[Length(max=512)],
        description="Only check this section and below, e.g. /blog (empty: the whole site).",
    )


class CheckUrlForm(Form):
    url = StringField("URL", validators=[InputRequired(), Length(max=2048)])


class IssueForm(Form):
    key = HiddenField(validators=[InputRequired(), Length(max=2100)])


class PauseForm(Form):
    until = DateField("Pause e-mails until", validators=[InputRequired()])


class ContentActionForm(Form):
    """Just the token: Check All, resume e-mails, alerts on/off, disable."""


def _counted(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def progress_text(sample: CrawlSample) -> str:
    """How far a running check is, in the words the tab and its poll show."""
    n = sample.counts
    return (
        f"{_counted(n.pages, 'page', 'pages')} crawled · "
        f"{_counted(n.checked, 'link', 'links')} checked · "
        f"{_counted(n.issues, 'issue', 'issues')} found so far"
    )


def _back(uid: str) -> Any:
    return redirect(url_for("dashboard.content", uid=uid))


@dashboard.get("/sites/<uid>/content")
@login_required
def content(uid: str) -> Any:
    c = container()
    site = owned_site(uid)
    subscribed = c.content_monitoring.subscribed(site.owner_id)
    c.reads.settle("content")
    found = c.reads.content.report(site.id, datetime.now(UTC)) if subscribed else None
    return render_template(
        "dashboard/content.html",
        site=site,
        subscribed=subscribed,
        report=found,
        enable=EnableContentForm(),
        check_url=CheckUrlForm(),
        issue=IssueForm(),
        pause=PauseForm(),
        action=ContentActionForm(),
        progress_text=progress_text,
        tab="content",
    )


@dashboard.get("/sites/<uid>/content/progress")
@login_required
def content_progress(uid: str) -> Any:
    """The running check's sample, for the tab's poll (same origin, no third party)."""
    c = container()
    site = owned_site(uid)
    c.reads.settle("content")
    found = None
    if c.content_monitoring.subscribed(site.owner_id):
        found = c.reads.content.running(site.id)
    running, sample = found or (False, None)
    progress = None
    if sample is not None:
        progress = {
            "pages_crawled": sample.counts.pages,
            "links_checked": sample.counts.checked,
            "issues_found": sample.counts.issues,
            "updated_at": sample.updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    answer = jsonify(
        {"running": running, "progress": progress}
        | ({"text": progress_text(sample)} if sample is not None else {})
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _run(uid: str, do: Any, done: str) -> Any:
    try:
        do()
    except SubscriptionRequired:
        flash("Content monitoring is for subscribed accounts.", "error")
    except FeatureNotEnabled:
        flash("Enable content checking first.", "error")
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(done, "success")
    return _back(uid)


@dashboard.post("/sites/<uid>/content/enable")
@login_required
def content_enable(uid: str) -> Any:
    site = owned_site(uid)
    form = EnableContentForm()
    if not form.validate():
        flash("The root path is too long or has odd characters.", "error")
        return _back(uid)
    return _run(
        uid,
        lambda: container().content.enable(site.id, form.root_path.data, site.owner_id),
        "Content checking is on: the initial check is queued.",
    )


@dashboard.post("/sites/<uid>/content/disable")
@login_required
def content_disable(uid: str) -> Any:
    site = owned_site(uid)
    return _run(
        uid, lambda: container().content.disable(site.id, site.owner_id), "Content checking is off."
    )


@dashboard.post("/sites/<uid>/content/check")
@login_required
def content_check_all(uid: str) -> Any:
    site = owned_site(uid)
    return _run(
        uid,
        lambda: container().content.check_all(site.id, site.owner_id),
        "A check of all content is queued.",
    )


@dashboard.post("/sites/<uid>/content/check-url")
@login_required
def content_check_url(uid: str) -> Any:
    site = owned_site(uid)
    form = CheckUrlForm()
    if not form.validate():
        flash("Give the URL to check.", "error")
        return _back(uid)
    return _run(
        uid,
        lambda: container().content.check_url(site.id, form.url.data, site.owner_id),
        "A check of that URL is queued.",
    )


@dashboard.post("/sites/<uid>/content/ignore")
@login_required
def content_ignore(uid: str) -> Any:
    return _issue_action(uid, ignore=True)


@dashboard.post("/sites/<uid>/content/unignore")
@login_required
def content_unignore(uid: str) -> Any:
    return _issue_action(uid, ignore=False)


def _issue_action(uid: str, ignore: bool) -> Any:
    site = owned_site(uid)
    form = IssueForm()
    if not form.validate():
        flash("No such issue.", "error")
        return _back(uid)
    monitoring = container().content_monitoring
    key = str(form.key.data)
    if ignore:
        return _run(uid, lambda: monitoring.ignore(site.id, key, site.owner_id), "Ignored.")
    return _run(uid, lambda: monitoring.unignore(site.id, key, site.owner_id), "Un-ignored.")


@dashboard.post("/sites/<uid>/content/pause")
@login_required
def content_pause(uid: str) -> Any:
    site = owned_site(uid)
    form = PauseForm()
    if not form.validate() or form.until.data is None:
        flash("Give the date to pause e-mails until (YYYY-MM-DD).", "error")
        return _back(uid)
    until = datetime.combine(form.until.data, time(0), tzinfo=UTC)
    return _run(
        uid,
        lambda: container().content_monitoring.pause_emails(site.id, until, site.owner_id),
        f"Content e-mails are paused until {form.until.data.isoformat()}.",
    )


@dashboard.post("/sites/<uid>/content/resume")
@login_required
def content_resume(uid: str) -> Any:
    site = owned_site(uid)
    return _run(
        uid,
        lambda: container().content_monitoring.resume_emails(site.id, site.owner_id),
        "Content e-mails are on again.",
    )


@dashboard.post("/sites/<uid>/content/alerts/<state>")
@login_required
def content_alerts(uid: str, state: str) -> Any:
    site = owned_site(uid)
    if state not in ("on", "off"):
        flash("Alerts are on or off.", "error")
        return _back(uid)
    on = state == "on"
    return _run(
        uid,
        lambda: container().content_monitoring.switch_alerts(site.id, on, site.owner_id),
        f"Content e-mail alerts are {state}.",
    )
