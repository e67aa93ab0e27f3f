"""GET /api/v1/sites and /api/v1/sites/:id: the account's sites with lifetime counters."""

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import Connection

from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.errors import ApiError, ErrorSchema
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.container import container
from projections.kudos import kudo_totals
from projections.sites import SitesProjection
from projections.traffic_queries import site_totals

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


def with_counters(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Site rows with their lifetime counters from the traffic read model."""
    tables = container().projections.tables
    uuids = [r.uuid for r in rows]
    totals = site_totals(conn, tables["traffic"], uuids)
    kudos = kudo_totals(conn, tables["kudos"], uuids)
    counted = []
    for row in rows:
        found = totals.get(row.uuid)
        counted.append(
            {
                **row._mapping,
                "lifetime_hits": int(found.hits) if found is not None else 0,
                "lifetime_unique_hits": int(found.uniques) if found is not None else 0,
                "lifetime_kudos": kudos.get(row.uuid, 0),
            }
        )
    return counted


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
    c = container()
    with c.engine.connect() as conn:
        rows = SitesProjection.for_owner(
            conn, c.projections.tables["sites"], current_key().owner_id
        )
        # The lifetime counters live in the traffic read model, as for GET /sites/:id.
        counted = with_counters(conn, rows)
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
    c = container()
    if site_id > MAX_ID:
        raise ApiError(404, "Site not found")
    with c.engine.connect() as conn:
        row = SitesProjection.by_id(
            conn, c.projections.tables["sites"], site_id, current_key().owner_id
        )
        if row is None:
            raise ApiError(404, "Site not found")
        counted = with_counters(conn, [row])
    return SiteSchema().dump(counted[0])
