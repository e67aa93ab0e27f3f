"""The Community tab: verified Webmentions of a site's pages, newest first.

Everything shown came from someone else's page: the template escapes it (Jinja's
autoescape), links carry `rel="nofollow noopener noreferrer ugc"`, and no remote
image is shown (an author's photo would be a request to a third party from the
owner's browser; the page's Content-Security-Policy allows images from us only).
"""

from typing import Any

from flask import render_template, request

from interfaces.container import base_url, container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.session import login_required
from interfaces.dashboard.views import owned_site
from interfaces.whole_numbers import whole_number

PER_PAGE = 50
# The account export's mentions.csv.
MENTION_COLUMNS = (
    "id",
    "received_at_utc",
    "verified_at_utc",
    "status",
    "kind",
    "reason",
    "source",
    "target",
    "path",
    "author_name",
    "author_url",
    "author_photo",
    "title",
    "published",
    "snippet",
)


def page_number(raw: str | None) -> int:
    found = whole_number(raw)
    return found if found is not None and 0 < found <= 100_000 else 1


@dashboard.get("/sites/<uid>/community")
@login_required
def community(uid: str) -> Any:
    site = owned_site(uid)
    page = page_number(request.args.get("page"))
    total, rows = container().reads.mentions.feed(site.id, PER_PAGE, (page - 1) * PER_PAGE)
    return render_template(
        "dashboard/community.html",
        site=site,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE),
        webmention=f'<link rel="webmention" href="{base_url()}/webmention/{site.uid}" />',
        tab="community",
    )
