"""Delete one site (its Edit tab's last form): the one erasure use case, confirmed by
typing the site's domain."""

from typing import Any

from flask import flash, redirect, render_template, url_for

from domain.errors import DomainError
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import DeleteSiteForm
from interfaces.dashboard.session import login_required, signed_in
from interfaces.dashboard.views import add_error, owned_site


@dashboard.route("/sites/<uid>/delete", methods=["GET", "POST"])
@login_required
def delete_site(uid: str) -> Any:
    site = owned_site(uid)  # anyone else's site is 404; the CSRF token was checked before
    form = DeleteSiteForm(prefix="delete")
    if form.validate_on_submit():
        try:
            container().erasure.delete_site(site.id, form.domain.data, signed_in().id)
        except DomainError as error:
            add_error(form.domain, error.message)
        else:
            flash(f"{site.domain} and all its data are deleted.", "success")
            return redirect(url_for("dashboard.sites"))
    status = 422 if any(f.errors for f in form) else 200
    return render_template("dashboard/delete_site.html", site=site, delete_site=form), status
