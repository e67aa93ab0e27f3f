"""The sites list, New Site, and each site's tabs: overview, edit, embed code, kudos,
events, journeys, and the CSV export of its hits."""

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

from flask import Response, flash, redirect, render_template, request, url_for

from application.exports import HIT_COLUMNS, csv_chunks
from application.sites import SiteChanges
from domain.confirmation import takes_kudos
from domain.date_ranges import DateRange
from domain.errors import Conflict, DomainError
from domain.sites import Site
from interfaces.container import base_url, container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import (
    ArchiveForm,
    DeleteSiteForm,
    EditSiteForm,
    EmbedForm,
    NewSiteForm,
    RangeForm,
    SendReportForm,
    addresses,
    lines,
)
from interfaces.dashboard.overview import build_overview, resolve_period
from interfaces.dashboard.session import current_account, login_required, signed_in
from interfaces.dashboard.views import add_error, form_status, owned_site, site_number
from interfaces.whole_numbers import whole_number

PER_PAGE = 50
JOURNEYS_PER_PAGE = 25


def _page() -> int:
    found = whole_number(request.args.get("page"))
    return found if found is not None and 0 < found <= 100_000 else 1


@dashboard.get("/")
def home() -> Any:
    if current_account() is not None:
        return redirect(url_for("dashboard.sites"))
    return render_template("dashboard/home.html")


@dashboard.get("/sites")
@login_required
def sites() -> Any:
    c = container()
    account = signed_in()
    # From the read side, so that the list stays fast for thousands of sites: the
    # sites, their lifetime hits and their uptime trouble, one query each.
    # A page of them, and every site in uptime trouble above it, so that trouble on
    # another page is not missed.
    c.reads.settle("sites", "uptime")
    page = _page()
    total, owned = c.reads.sites.page_of_owner(account.id, (page - 1) * PER_PAGE, PER_PAGE)
    totals = c.reads.traffic.lifetime([s.uuid for s in owned])
    trouble = c.reads.monitor_lists.trouble_of_owner(account.id)
    rows = [{"site": s, "totals": totals.get(s.uuid), "uptime": trouble.get(s.uuid)} for s in owned]
    troubled = sorted(trouble.values(), key=lambda t: (t.status != "down", t.site_label or ""))
    return render_template(
        "dashboard/sites.html",
        rows=rows,
        troubled=troubled,
        page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE),
    )


@dashboard.route("/sites/new", methods=["GET", "POST"])
@login_required
def new_site() -> Any:
    account = signed_in()
    form = NewSiteForm(timezone=account.timezone)
    if form.validate_on_submit():
        try:
            created = container().configuration.register_site(
                account.id,
                form.url.data,
                label=form.label.data or None,
                timezone=form.timezone.data,
            )
        except Conflict:
            add_error(form.url, "You track this site already.")
        except DomainError as error:
            add_error(form.url, error.message)
        else:
            flash(
                "Your site is ready. Add this embed code to its pages to start counting.", "success"
            )
            return redirect(url_for("dashboard.embed", uid=created.uid))
    return render_template("dashboard/new_site.html", form=form), form_status(form)


@dashboard.get("/sites/<uid>")
@login_required
def overview(uid: str) -> Any:
    site = owned_site(uid)
    data = build_overview(site, request.args)
    return render_template(
        "dashboard/overview.html", site=site, o=data, tab="overview", public=False
    )


def _edit_form(site: Site) -> EditSiteForm:
    return EditSiteForm(
        label=site.label,
        url=site.url,
        timezone=site.timezone,
        public=site.is_public,
        unique_tracking=site.tracks_uniques,
        any_domain=site.allows_any_domain,
        ignored_paths="\n".join(site.ignored_paths),
        report_recipients="\n".join(site.report_recipients),
        reports_to_owner=site.reports_to_owner,
    )


@dashboard.route("/sites/<uid>/edit", methods=["GET", "POST"])
@login_required
def edit(uid: str) -> Any:
    site = owned_site(uid)
    form = _edit_form(site)
    problem = None
    if form.validate_on_submit():
        if site.is_archived:
            problem = "This site is archived: unarchive it to change its settings."
        else:
            changes = SiteChanges(
                url=form.url.data,
                label=form.label.data or "",
                timezone=form.timezone.data,
                public=bool(form.public.data),
                unique_tracking=bool(form.unique_tracking.data),
                any_domain=bool(form.any_domain.data),
                ignored_paths=lines(form.ignored_paths.data),
                report_recipients=addresses(form.report_recipients.data),
                reports_to_owner=bool(form.reports_to_owner.data),
            )
            try:
                container().configuration.change_site(site.id, changes)
            except Conflict:
                add_error(form.url, "You track a site with this URL already.")
            except DomainError as error:
                problem = error.message
            else:
                flash("Settings saved.", "success")
                return redirect(url_for("dashboard.edit", uid=uid))
    status = form_status(form) if problem is None else 422
    return render_template(
        "dashboard/edit.html",
        site=site,
        form=form,
        archive=ArchiveForm(),
        delete_site=DeleteSiteForm(prefix="delete"),
        send_report=SendReportForm(),
        report_mails=container().postbox.recent(site_id=site.id, limit=10),
        problem=problem,
        public_url=base_url() + url_for("dashboard.public", uid=site.uid),
        number=site_number(site.id),
        tab="edit",
    ), status


@dashboard.post("/sites/<uid>/archive")
@login_required
def archive(uid: str) -> Any:
    site = owned_site(uid)  # the CSRF token was checked before the view ran
    container().configuration.change_site(site.id, SiteChanges(archived=not site.is_archived))
    flash(
        "Site unarchived." if site.is_archived else "Site archived: it no longer counts hits.",
        "success",
    )
    return redirect(url_for("dashboard.edit", uid=uid))


def embed_params(form: EmbedForm) -> list[str]:
    params: list[str] = []

    def value(text: str) -> str:
        return quote(text, safe="") if any(ch in text for ch in "&=#%+ \"'<>") else text

    for name in ("spa", "events", "beacon"):
        if form[name].data:
            params.append(name)
    if form.hits.data == "total":
        params.append("hits")
    elif form.hits.data == "unique":
        params.append("hits=unique")
    if form.kudos.data:
        emoji = (form.kudos_emoji.data or "").strip()
        params.append(f"kudos={value(emoji)}" if emoji else "kudos")
    for name in ("countries", "uptime"):
        if form[name].data:
            params.append(name)
    if form.webring.data == "plain":
        params.append("webring")
    elif form.webring.data == "avatars":
        params.append("webring=avatars")
    return params


@dashboard.get("/sites/<uid>/embed")
@login_required
def embed(uid: str) -> Any:
    site = owned_site(uid)
    form = EmbedForm(formdata=request.args if request.args else None)
    valid = form.validate() if request.args else True
    params = embed_params(form) if valid else []
    base = base_url()
    path = f"/embed/{site.uid}/min.js" if form.minified.data and valid else f"/embed/{site.uid}.js"
    src = base + path + ("?" + "&".join(params) if params else "")
    return render_template(
        "dashboard/embed.html",
        site=site,
        form=form,
        base=base,
        src=src,
        params=params,
        embed_code=f'<script src="{src}" defer></script>',
        pixel=(
            f'<img src="{base}/pixel/{site.uid}.gif?path=/your-post-slug" alt="" '
            'style="width:1px;height:1px;border:0;" />'
        ),
        webmention=f'<link rel="webmention" href="{base}/webmention/{site.uid}" />',
        tab="embed",
    ), (200 if valid else 422)


@dashboard.get("/sites/<uid>/kudos")
@login_required
def kudos(uid: str) -> Any:
    site = owned_site(uid)
    kudos = container().reads.kudos
    page = _page()
    top = kudos.top(site.id, 50)
    external = request.args.get("source") == "external"  # likes from Webmentions
    rows: Sequence[object]
    if external:
        total, rows = container().reads.mentions.likes(site.id, PER_PAGE, (page - 1) * PER_PAGE)
    else:
        total, rows = kudos.page(site.id, None, None, None, None, PER_PAGE, (page - 1) * PER_PAGE)
    return render_template(
        "dashboard/kudos.html",
        site=site,
        external=external,
        top=top,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE),
        tab="kudos",
        kudos_locked=not takes_kudos(signed_in()),
    )


@dashboard.get("/sites/<uid>/events")
@login_required
def events(uid: str) -> Any:
    site = owned_site(uid)
    traffic = container().reads.traffic
    period, range_form = resolve_period(request.args, site.timezone)
    page = _page()
    counts = traffic.events(site.id, period.span)
    rows = traffic.events_page(site.id, period.span, PER_PAGE + 1, (page - 1) * PER_PAGE)
    return render_template(
        "dashboard/events.html",
        site=site,
        period=period,
        range_form=range_form,
        counts=counts[:100],
        rows=rows[:PER_PAGE],
        has_next=len(rows) > PER_PAGE,
        page=page,
        tab="events",
    )


@dashboard.get("/sites/<uid>/journeys")
@login_required
def journeys(uid: str) -> Any:
    site = owned_site(uid)
    # Journeys read raw rows: the tab offers the last day or week only.
    key = request.args.get("period", "24h")
    period, _ = resolve_period({"period": key if key in ("24h", "7d") else "24h"}, site.timezone)
    page = _page()
    found = container().reads.traffic.journeys(site.id, period.span, 10)
    per = JOURNEYS_PER_PAGE
    return render_template(
        "dashboard/journeys.html",
        site=site,
        period=period,
        journeys=found.journeys[(page - 1) * per : page * per],
        summary=found,
        page=page,
        pages=max(1, (len(found.journeys) + per - 1) // per),
        tab="journeys",
    )


@dashboard.get("/sites/<uid>/export")
@login_required
def export(uid: str) -> Any:
    site = owned_site(uid)
    if "start" not in request.args and "end" not in request.args:
        _, form = resolve_period({"period": "30d"}, site.timezone)
        return render_template("dashboard/export.html", site=site, form=form, tab="overview")
    form = RangeForm(formdata=request.args)
    if not form.validate():
        return render_template("dashboard/export.html", site=site, form=form, tab="overview"), 422
    start, end = form.start.data, form.end.data
    assert isinstance(start, date) and isinstance(end, date)
    span = DateRange(start, end, site.timezone)
    rows = container().reads.traffic.export_hits(site.id, span)

    def generate() -> Iterator[bytes]:
        yield from csv_chunks(HIT_COLUMNS, rows)

    name = f"tinylytics-{site.uid}-hits-{start.isoformat()}-to-{end.isoformat()}.csv"
    return Response(
        generate(),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
