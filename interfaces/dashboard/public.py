"""/public/<site_uid>: a site's overview, read-only, when its owner turned public stats on."""

from typing import Any

from flask import render_template, request

from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.overview import build_overview
from interfaces.dashboard.views import public_site


@dashboard.get("/public/<uid>")
def public(uid: str) -> Any:
    site = public_site(uid)  # 404 unless its stats are public
    data = build_overview(site, request.args)
    return render_template(
        "dashboard/overview.html", site=site, o=data, tab="overview", public=True
    )
