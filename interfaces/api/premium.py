"""GET /api/v1/sites/:id/insights, /uptime and /content: the premium endpoints.

Their schemas are the ones api.md documents, so the OpenAPI document and discovery
list them as they will answer once their features land; until then (application/
premium.py) a feature that is off answers as api.md says: uptime 404, content 403.
Every answer is read through the front door (`reads.insights`, `reads.uptime`,
`reads.content`); the next insight run comes from the schedule.
"""

from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, fields

from application.premium import (
    CONTENT_NOT_ENABLED,
    UPTIME_NOT_ENABLED,
    SubscriptionRequired,
)
from interfaces.api.analytics import READ_ERRORS
from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.errors import ApiError, ErrorSchema
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.api.queries import PaginationSchema, page_field, pagination, parse, per_page_field
from interfaces.container import container

PREMIUM_ERRORS: dict[int, tuple[str, Any]] = {
    **READ_ERRORS,
    403: ("The account has no active subscription", ErrorSchema),
}


# -- insights ----------------------------------------------------------------------------
class InsightsQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = page_field()
    per_page = per_page_field(50, 50)


class SignalWindowSchema(Schema):
    started_at = UtcDateTime(required=True)
    ended_at = UtcDateTime(required=True)


class SignalSchema(Schema):
    type = fields.String(required=True)
    headline = fields.String(required=True)
    summary = fields.String(required=True)
    importance_score = fields.Integer(required=True)
    detected_at = UtcDateTime(required=True)
    window = fields.Nested(SignalWindowSchema, required=True)
    payload_excerpt = fields.Dict(required=True)


class InsightSchema(Schema):
    id = fields.Integer(required=True)
    insights_for_date = fields.Date(required=True)
    formatted_insights_date = fields.String(required=True)
    generated_at = UtcDateTime(required=True)
    summary = fields.String(required=True)
    signals = fields.List(fields.Nested(SignalSchema), required=True)
    traffic_patterns = fields.String(required=True, allow_none=True)
    best_content = fields.String(required=True, allow_none=True)
    recommendations = fields.String(required=True, allow_none=True)


class InsightSiteSchema(Schema):
    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    url = fields.String(required=True)
    label = fields.String(required=True)
    insights_enabled = fields.Boolean(required=True)
    daily_insight_reports_active = fields.Boolean(required=True)
    next_insight_job_scheduled_at = UtcDateTime(required=True, allow_none=True)


class InsightsSchema(Schema):
    insights = fields.List(fields.Nested(InsightSchema), required=True)
    pagination = fields.Nested(PaginationSchema, required=True)
    site = fields.Nested(InsightSiteSchema, required=True)


# -- uptime ------------------------------------------------------------------------------
class UptimeQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = page_field()
    per_page = per_page_field(100, 100)


class SslSchema(Schema):
    expires_at = UtcDateTime(required=True, allow_none=True)
    valid = fields.Boolean(required=True, allow_none=True)
    expiring_soon = fields.Boolean(required=True)
    expired = fields.Boolean(required=True)
    days_until_expiry = fields.Integer(required=True, allow_none=True)


class DomainSchema(Schema):
    tested_at = UtcDateTime(required=True, allow_none=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    remaining_days = fields.Integer(required=True, allow_none=True)
    source = fields.String(required=True, allow_none=True)
    expired = fields.Boolean(required=True)
    expiring_soon = fields.Boolean(required=True)
    days_until_expiry = fields.Integer(required=True, allow_none=True)


class MonitorSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    is_down = fields.Boolean(required=True)
    uptime = fields.Float(required=True, allow_none=True)
    last_check_at = UtcDateTime(required=True, allow_none=True)
    next_check_at = UtcDateTime(required=True, allow_none=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error_message = fields.String(required=True, allow_none=True)
    status_description = fields.String(required=True)
    current_check_interval = fields.Integer(required=True)
    period = fields.String(required=True)
    ssl = fields.Nested(SslSchema, required=True, allow_none=True)
    domain = fields.Nested(DomainSchema, required=True, allow_none=True)
    auto_paused = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class DowntimeSchema(Schema):
    id = fields.Integer(required=True)
    error = fields.String(required=True, allow_none=True)
    started_at = UtcDateTime(required=True)
    ended_at = UtcDateTime(required=True, allow_none=True)
    duration = fields.Integer(required=True)
    duration_in_words = fields.String(required=True)
    # `partial` is a Schema attribute of marshmallow's: the field takes another name.
    partial_downtime = fields.Boolean(required=True, data_key="partial", attribute="partial")
    ongoing = fields.Boolean(required=True)


class UptimeSummarySchema(Schema):
    total_downtimes = fields.Integer(required=True)
    ongoing_downtimes = fields.Integer(required=True)
    recent_downtimes_30_days = fields.Integer(required=True)


class UptimeSchema(Schema):
    monitor = fields.Nested(MonitorSchema, required=True)
    downtimes = fields.List(fields.Nested(DowntimeSchema), required=True)
    pagination = fields.Nested(PaginationSchema, required=True)
    summary = fields.Nested(UptimeSummarySchema, required=True)


# -- content -----------------------------------------------------------------------------
class ContentSiteSchema(Schema):
    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    url = fields.String(required=True)
    label = fields.String(required=True)


class MonitoringStatusSchema(Schema):
    enabled = fields.Boolean(required=True)
    root_path = fields.String(required=True, allow_none=True)
    last_check_at = UtcDateTime(required=True, allow_none=True)
    is_initial_check = fields.Boolean(required=True)
    is_rechecking = fields.Boolean(required=True)
    has_issues = fields.Boolean(required=True)
    emails_paused = fields.Boolean(required=True)
    emails_paused_until = UtcDateTime(required=True, allow_none=True)


class ContentIssueSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    error_message = fields.String(required=True, allow_none=True)
    issue_type = fields.String(required=True)
    checked_at = UtcDateTime(required=True, allow_none=True)
    ignored = fields.Boolean(required=True)


class ContentIssuesSchema(Schema):
    broken_links = fields.List(fields.Nested(ContentIssueSchema), required=True)
    mixed_content = fields.List(fields.Nested(ContentIssueSchema), required=True)


class ContentStatsSchema(Schema):
    total_checked = fields.Integer(required=True)
    broken_links_count = fields.Integer(required=True)
    mixed_content_count = fields.Integer(required=True)
    ignored_count = fields.Integer(required=True)
    ok_count = fields.Integer(required=True)


class ContentSchema(Schema):
    site = fields.Nested(ContentSiteSchema, required=True)
    monitoring_status = fields.Nested(MonitoringStatusSchema, required=True)
    issues = fields.Nested(ContentIssuesSchema, required=True)
    ignored_issues = fields.List(fields.Nested(ContentIssueSchema), required=True)
    ok_links = fields.List(fields.Nested(ContentIssueSchema), required=True)
    stats = fields.Nested(ContentStatsSchema, required=True)


class ContentDisabledSchema(Schema):
    error = fields.String(required=True)
    # Present (false) when monitoring is off; absent when the subscription is missing.
    content_monitoring_enabled = fields.Boolean()


def _premium_site(site_id: int) -> Any:
    """The owner's site (404 for anyone else's), once the owner's plan allows it (403)."""
    c = container()
    owner = current_key().owner_id
    site = c.collection.site_for_owner(site_id, owner)
    try:
        c.premium.require_subscription(owner)
    except SubscriptionRequired as error:
        raise ApiError(403, error.message) from None
    return site


@api.get("/sites/<int:site_id>/insights")
@operation(
    method="get",
    path="/sites/{id}/insights",
    summary="AI insights for the site",
    access="subscription",
    path_params={"id": "Site numeric ID"},
    query=InsightsQuerySchema,
    responses={200: ("Insights and the site's insight settings", InsightsSchema), **PREMIUM_ERRORS},
    tags=("Insights",),
)
def read_insights(site_id: int) -> Any:
    c = container()
    site = _premium_site(site_id)
    query = parse(InsightsQuerySchema())
    page, per_page = query["page"], query["per_page"]
    total, rows = c.reads.insights.page(site.id, (page - 1) * per_page, per_page)
    settings = c.reads.insights.settings(site.id)
    label = c.configuration.get_site(site.id).label
    return InsightsSchema().dump(
        {
            "insights": rows,
            "pagination": pagination(page, per_page, total),
            "site": {
                "id": site_id,
                "uid": site.uid,
                "url": site.url,
                "label": label,
                "insights_enabled": settings.enabled,
                "daily_insight_reports_active": settings.enabled and settings.daily_email,
                "next_insight_job_scheduled_at": c.daily_insights.next_job_at(site.id),
            },
        }
    )


@api.get("/sites/<int:site_id>/uptime")
@operation(
    method="get",
    path="/sites/{id}/uptime",
    summary="Uptime + SSL/domain status",
    access="subscription",
    path_params={"id": "Site numeric ID"},
    query=UptimeQuerySchema,
    responses={
        200: ("The monitor, its downtimes and a summary", UptimeSchema),
        **PREMIUM_ERRORS,
        404: ("No such site for this account, or uptime is not enabled for it", ErrorSchema),
    },
    tags=("Monitoring",),
)
def read_uptime(site_id: int) -> Any:
    c = container()
    site = _premium_site(site_id)
    query = parse(UptimeQuerySchema())
    page, per_page = query["page"], query["per_page"]
    found = c.reads.uptime.page(site.id, (page - 1) * per_page, per_page)
    if found is None:
        raise ApiError(404, UPTIME_NOT_ENABLED)
    return UptimeSchema().dump(
        {
            "monitor": found.monitor,
            "downtimes": found.downtimes,
            "pagination": pagination(page, per_page, found.total),
            "summary": found.summary,
        }
    )


@api.get("/sites/<int:site_id>/content")
@operation(
    method="get",
    path="/sites/{id}/content",
    summary="Content monitoring status and issues",
    access="subscription",
    path_params={"id": "Site numeric ID"},
    responses={
        200: ("Monitoring status, issues and stats", ContentSchema),
        **PREMIUM_ERRORS,
        403: (
            "No active subscription ({error}), or content monitoring is off for the site "
            "({error, content_monitoring_enabled: false})",
            ContentDisabledSchema,
        ),
    },
    tags=("Monitoring",),
)
def read_content(site_id: int) -> Any:
    c = container()
    site = _premium_site(site_id)
    found = c.reads.content.report(site.id, datetime.now(UTC))
    if found is None:
        raise ApiError(403, CONTENT_NOT_ENABLED, content_monitoring_enabled=False)
    label = c.configuration.get_site(site.id).label
    return ContentSchema().dump(
        {
            "site": {"id": site_id, "uid": site.uid, "url": site.url, "label": label},
            "monitoring_status": found.monitoring_status,
            "issues": {"broken_links": found.broken_links, "mixed_content": found.mixed_content},
            "ignored_issues": found.ignored_issues,
            "ok_links": found.ok_links,
            "stats": found.stats,
        }
    )
