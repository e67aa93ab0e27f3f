"""Helpers every dashboard view uses: form errors, the owner's site, template globals."""

import re
from typing import Any
from uuid import UUID

from flask import request
from wtforms import Field

from domain.errors import NotFound
from domain.sites import Site
from interfaces.container import container
from interfaces.dashboard import countries
from interfaces.dashboard.blueprint import auth, dashboard
from interfaces.dashboard.session import current_account

_UID = re.compile(r"[a-z0-9]{1,64}")


def add_error(field: Field, message: str) -> None:
    field.errors = [*field.errors, message]


def form_status(form: Any) -> int:
    """422 for a sent form with errors (shown beside their fields), else 200."""
    if request.method == "POST" and any(field.errors for field in form):
        return 422
    return 200


def owned_site(uid: str) -> Site:
    """The signed-in account's site with this uid; anyone else's (or none) is 404."""
    account = current_account()
    if account is None or not _UID.fullmatch(uid):
        raise NotFound("Site not found")
    site = container().configuration.site_by_uid(uid)
    if site.owner_id != account.id:
        raise NotFound("Site not found")
    return site


def public_site(uid: str) -> Site:
    if not _UID.fullmatch(uid):
        raise NotFound("Site not found")
    site = container().configuration.site_by_uid(uid)
    if not site.is_public:
        raise NotFound("Site not found")
    return site


def site_number(site_id: UUID) -> int | None:
    """The integer id the API knows the site by (from the sites read model, which may lag)."""
    return container().reads.sites.number_of(site_id)


def _globals() -> dict[str, Any]:
    return {
        "account": current_account(),
        "flag": countries.flag,
        "country_name": countries.name,
    }


dashboard.context_processor(_globals)
auth.context_processor(_globals)
