"""GET /api/v1/sites/:id/user_journeys: each visitor's pages in order, with a summary."""

from typing import Any

from marshmallow import Schema, fields

from interfaces.api.analytics import READ_ERRORS
from interfaces.api.blueprint import api
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.api.queries import (
    DateRangeSchema,
    PaginationSchema,
    dated_site_query,
    page_field,
    pagination,
    per_page_field,
)
from interfaces.container import container

TOP_PAGES = 10


class JourneysQuerySchema(DateRangeSchema):
    page = page_field()
    per_page = per_page_field(50, 50)


class JourneyPageSchema(Schema):
    path = fields.String(required=True)


class JourneySchema(Schema):
    visitor_hash = fields.String(required=True)
    page_count = fields.Integer(required=True)
    first_hit = UtcDateTime(required=True)
    last_hit = UtcDateTime(required=True)
    duration_minutes = fields.Integer(required=True)
    pages = fields.List(fields.Nested(JourneyPageSchema), required=True)
    entry_page = fields.String(required=True)
    exit_page = fields.String(required=True)
    session_duration = fields.Integer(required=True)
    referrer = fields.String(required=True, allow_none=True)
    country = fields.String(required=True, allow_none=True)
    browser = fields.String(required=True, allow_none=True)


class PageVisitorsSchema(Schema):
    path = fields.String(required=True)
    visitors = fields.Integer(required=True)


class JourneysSummarySchema(Schema):
    total_visitors = fields.Integer(required=True)
    multi_page_visitors = fields.Integer(required=True)
    single_page_visitors = fields.Integer(required=True)
    bounce_rate = fields.Float(required=True)


class JourneysInsightsSchema(Schema):
    top_entry_pages = fields.List(fields.Nested(PageVisitorsSchema), required=True)
    top_exit_pages = fields.List(fields.Nested(PageVisitorsSchema), required=True)


class JourneysSchema(Schema):
    user_journeys = fields.List(fields.Nested(JourneySchema), required=True)
    summary = fields.Nested(JourneysSummarySchema, required=True)
    insights = fields.Nested(JourneysInsightsSchema, required=True)
    pagination = fields.Nested(PaginationSchema, required=True)
    filters = fields.Dict(required=True)


@api.get("/sites/<int:site_id>/user_journeys")
@operation(
    method="get",
    path="/sites/{id}/user_journeys",
    summary="Visitor journeys with summary metrics",
    path_params={"id": "Site numeric ID"},
    query=JourneysQuerySchema,
    responses={200: ("Journeys", JourneysSchema), **READ_ERRORS},
    tags=("Analytics",),
)
def read_journeys(site_id: int) -> Any:
    dated = dated_site_query(site_id, JourneysQuerySchema())
    found = container().reads.traffic.journeys(dated.site.id, dated.span, TOP_PAGES)
    page, per_page = dated.query["page"], dated.query["per_page"]
    return JourneysSchema().dump(
        {
            "user_journeys": found.journeys[(page - 1) * per_page : page * per_page],
            "summary": found.summary,
            "insights": found.insights,
            "pagination": pagination(page, per_page, len(found.journeys)),
            "filters": dated.echo(),
        }
    )
