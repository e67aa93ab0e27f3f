"""GET /api/v1/sites and /api/v1/sites/:id: the account's sites with lifetime counters."""

from typing import Any

from marshmallow import Schema, fields

from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.errors import ApiError, ErrorSchema
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.container import container

MAX_ID = 2**62


class SiteSchema(Schema):
    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    url = fields.String(required=True)
    label = fields.String(required=True)
    lifetime_hits = fields.Integer(required=True, dump_default=0)
    lifetime_unique_hits = fields.Integer(required=True, dump_default=0)
    lifetime_kudos = fields.Integer(required=True, dump_default=0)
    active = fields.Boolean(required=True)
    public = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class SiteListSchema(Schema):
    sites = fields.List(fields.Nested(SiteSchema), required=True)


SITE_RESPONSES: dict[int, tuple[str, Any]] = {
    401: ("Missing or invalid key", ErrorSchema),
    404: ("No such site for this account", ErrorSchema),
    429: ("Rate limit exceeded", ErrorSchema),
}


@api.get("/sites")
@operation(
    method="get",
    path="/sites",
    summary="List your sites with lifetime counters",
    responses={200: ("Your sites", SiteListSchema), 401: SITE_RESPONSES[401]},
    tags=("Account and Sites",),
)
def list_sites() -> Any:
    reads = container().reads
    counted = reads.summaries(reads.sites.of_owner(current_key().owner_id))
    return SiteListSchema().dump({"sites": counted})


@api.get("/sites/<int:site_id>")
@operation(
    method="get",
    path="/sites/{id}",
    summary="Get one site by numeric id",
    path_params={"id": "Site numeric ID, as returned by GET /sites"},
    responses={200: ("The site", SiteSchema), **SITE_RESPONSES},
    tags=("Account and Sites",),
)
def get_site(site_id: int) -> Any:
    reads = container().reads
    if site_id > MAX_ID:
        raise ApiError(404, "Site not found")
    row = reads.sites.by_number(site_id, current_key().owner_id)
    if row is None:
        raise ApiError(404, "Site not found")
    return SiteSchema().dump(reads.summaries([row])[0])
