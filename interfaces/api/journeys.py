"""GET /api/v1/sites/:id/user_journeys: each visitor's pages in order, with a summary."""

from collections import Counter
from typing import Any

from marshmallow import Schema, fields

from interfaces.api.analytics import READ_ERRORS
from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.api.queries import (
    DateRangeSchema,
    PaginationSchema,
    page_field,
    pagination,
    parse,
    per_page_field,
    resolve_dates,
)
from interfaces.container import container
from projections.base import utc
from projections.traffic_queries import utc_interval, visits

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


def _journeys(rows: list[Any]) -> list[dict[str, Any]]:
    journeys: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row in rows:
        at = utc(row.created_at)
        if current is None or current["visitor_hash"] != row.visitor_hash:
            current = {
                "visitor_hash": row.visitor_hash,
                "first_hit": at,
                "pages": [],
                "referrer": row.referrer,
                "country": row.country,
                "browser": row.browser,
            }
            journeys.append(current)
        current["pages"].append({"path": row.path})
        current["last_hit"] = at
    for journey in journeys:
        seconds = int((journey["last_hit"] - journey["first_hit"]).total_seconds())
        journey.update(
            page_count=len(journey["pages"]),
            entry_page=journey["pages"][0]["path"],
            exit_page=journey["pages"][-1]["path"],
            session_duration=seconds,
            duration_minutes=seconds // 60,
        )
    journeys.sort(key=lambda j: (j["last_hit"], j["visitor_hash"]), reverse=True)
    return journeys


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
    c = container()
    key = current_key()
    site = c.collection.site_for_owner(site_id, key.owner_id)
    query = parse(JourneysQuerySchema())
    start, end, zone = resolve_dates(query, c.configuration.get_account(key.owner_id).timezone)
    begin, finish = utc_interval(start, end, zone)
    with c.engine.connect() as conn:
        rows = visits(conn, c.projections.tables["traffic"], site.id, begin, finish)
    journeys = _journeys(rows)
    total = len(journeys)
    multi = sum(1 for j in journeys if j["page_count"] > 1)
    entries = Counter(j["entry_page"] for j in journeys)
    exits = Counter(j["exit_page"] for j in journeys)
    page, per_page = query["page"], query["per_page"]
    return JourneysSchema().dump(
        {
            "user_journeys": journeys[(page - 1) * per_page : page * per_page],
            "summary": {
                "total_visitors": total,
                "multi_page_visitors": multi,
                "single_page_visitors": total - multi,
                "bounce_rate": round((total - multi) * 100.0 / total, 1) if total else 0.0,
            },
            "insights": {
                "top_entry_pages": [
                    {"path": p, "visitors": n} for p, n in entries.most_common(TOP_PAGES)
                ],
                "top_exit_pages": [
                    {"path": p, "visitors": n} for p, n in exits.most_common(TOP_PAGES)
                ],
            },
            "pagination": pagination(page, per_page, total),
            "filters": {
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "time_zone": query["time_zone"],
            },
        }
    )
