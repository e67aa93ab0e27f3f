"""GET /api/v1/sites/:id/hits: raw hits, or grouped counts read from the rollups."""

from typing import Any

from marshmallow import Schema, fields, validate

from domain.hits import LISTED_HIT_FIELDS
from interfaces.api.blueprint import api
from interfaces.api.errors import ErrorSchema
from interfaces.api.operations import operation
from interfaces.api.queries import (
    DateRangeSchema,
    InvalidParametersSchema,
    PaginationSchema,
    dated_site_query,
    page_field,
    pagination,
    per_page_field,
)
from interfaces.api.tracking_schemas import hit_field
from interfaces.container import container
from projections.reads import GROUPABLE, Filters

READ_ERRORS: dict[int, tuple[str, Any]] = {
    # A bad query answers {"error": ..., "errors": [...]}, not the bare error shape.
    400: ("Invalid parameters", InvalidParametersSchema),
    401: ("Missing or invalid key", ErrorSchema),
    404: ("No such site for this account", ErrorSchema),
}


class HitsQuerySchema(DateRangeSchema):
    country = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z]{2}$", error="Country must be a 2-letter code"),
    )
    path = fields.String(load_default=None, validate=validate.Length(max=2048))
    referrer = fields.String(load_default=None, validate=validate.Length(max=2048))
    grouped = fields.Boolean(
        load_default=False,
        truthy={"true", "1", "yes"},
        falsy={"false", "0", "no", ""},
        error_messages={"invalid": "Grouped must be true or false"},
    )
    group_by = fields.String(
        load_default=None,
        validate=validate.OneOf(
            list(GROUPABLE), error="Group by must be one of: " + ", ".join(GROUPABLE)
        ),
    )
    page = page_field()
    per_page = per_page_field(1000, 100)


# A listed hit (read-model rows, stored names in), from the one list of public fields.
RawHitSchema = Schema.from_dict(
    {name: hit_field(name, stored) for name, stored in LISTED_HIT_FIELDS}, name="RawHit"
)


class HitsFiltersSchema(Schema):
    start_date = fields.String(required=True)
    end_date = fields.String(required=True)
    time_zone = fields.String(required=True)
    country = fields.String(required=True, allow_none=True)
    path = fields.String(required=True, allow_none=True)
    referrer = fields.String(required=True, allow_none=True)
    grouped = fields.Boolean(required=True)
    group_by = fields.String()


class GroupedHitSchema(Schema):
    """One `grouped_hits` row: the value under its group_by name, then its counts —
    `views` (and `unique_views` when the site tracks them) by path, `hit_count` otherwise."""

    path = fields.String()
    country = fields.String()
    referrer = fields.String(allow_none=True)
    browser_name = fields.String(allow_none=True)
    platform_name = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    views = fields.Integer()
    unique_views = fields.Integer()
    hit_count = fields.Integer()


class HitsResponseSchema(Schema):
    """`hits` for a listing, `grouped_hits` with grouped=true: one of the two."""

    hits = fields.List(fields.Nested(RawHitSchema))
    grouped_hits = fields.List(fields.Nested(GroupedHitSchema))
    pagination = fields.Nested(PaginationSchema, required=True)
    filters = fields.Nested(HitsFiltersSchema, required=True)


@api.get("/sites/<int:site_id>/hits")
@operation(
    method="get",
    path="/sites/{id}/hits",
    summary="Read raw hits or grouped analytics",
    path_params={"id": "Site numeric ID"},
    query=HitsQuerySchema,
    responses={200: ("Hits or grouped hits", HitsResponseSchema), **READ_ERRORS},
    tags=("Analytics",),
)
def read_hits(site_id: int) -> Any:
    reads = container().reads
    dated = dated_site_query(site_id, HitsQuerySchema())
    site, query, span = dated.site, dated.query, dated.span
    country = query["country"].upper() if query["country"] else None
    filters = Filters(country=country, path=query["path"], referrer=query["referrer"])
    page, per_page = query["page"], query["per_page"]
    echo: dict[str, Any] = {
        **dated.echo(),
        "country": country,
        "path": query["path"],
        "referrer": query["referrer"],
        "grouped": query["grouped"],
    }
    if query["grouped"]:
        group_by = query["group_by"] or "path"
        echo["group_by"] = group_by
        count, chosen = reads.traffic.grouped(
            site.id, span, group_by, filters, per_page, (page - 1) * per_page
        )
        if group_by == "path":
            rows = [
                {"path": g.value, "views": g.hits}
                | ({"unique_views": g.uniques} if site.tracks_uniques else {})
                for g in chosen
            ]
        else:
            rows = [{group_by: g.value, "hit_count": g.hits} for g in chosen]
        return {
            "grouped_hits": rows,
            "pagination": pagination(page, per_page, count),
            "filters": echo,
        }
    total, found = reads.traffic.hits_page(site.id, span, filters, per_page, (page - 1) * per_page)
    return {
        "hits": RawHitSchema(many=True).dump(found),
        "pagination": pagination(page, per_page, total),
        "filters": echo,
    }
