"""GET /api/v1/sites/:id/leaderboard: the all-time path ranking, cached for a while."""

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from marshmallow import EXCLUDE, Schema, fields, validate

from interfaces.api.analytics import READ_ERRORS
from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.api.queries import PaginationSchema, page_field, pagination, parse, per_page_field
from interfaces.container import container

CACHE_SECONDS = 300  # the hosted product caches "up to an hour"; five minutes is fresher


class LeaderboardQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    path = fields.String(load_default=None, validate=validate.Length(max=2048))
    page = page_field()
    per_page = per_page_field(1000, 100)


class LeaderRowSchema(Schema):
    path = fields.String(required=True)
    total_hits = fields.Integer(required=True)
    unique_hits = fields.Integer(required=True)
    percentage = fields.Float(required=True)


class LeaderSiteSchema(Schema):
    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    url = fields.String(required=True)
    label = fields.String(required=True)


class CacheInfoSchema(Schema):
    cached_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)


class LeaderboardFiltersSchema(Schema):
    path = fields.String(required=True, allow_none=True)


class LeaderboardSchema(Schema):
    leaderboard = fields.List(fields.Nested(LeaderRowSchema), required=True)
    site = fields.Nested(LeaderSiteSchema, required=True)
    pagination = fields.Nested(PaginationSchema, required=True)
    cache_info = fields.Nested(CacheInfoSchema, required=True)
    filters = fields.Nested(LeaderboardFiltersSchema, required=True)


_cache: dict[UUID, tuple[float, datetime, list[dict[str, Any]]]] = {}
_lock = threading.Lock()


def _ranking(site: UUID) -> tuple[datetime, list[dict[str, Any]]]:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(site)
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[1], cached[2]
    traffic = container().reads.traffic
    paths = traffic.leaderboard(site)
    total = traffic.lifetime_of(site).hits
    ranking = [
        {
            "path": p.path,
            "total_hits": p.hits,
            "unique_hits": p.uniques,
            "percentage": round(p.hits * 100.0 / total, 1) if total else 0.0,
        }
        for p in paths
    ]
    cached_at = datetime.now(UTC)
    with _lock:
        if len(_cache) > 1000:
            _cache.clear()
        _cache[site] = (now, cached_at, ranking)
    return cached_at, ranking


@api.get("/sites/<int:site_id>/leaderboard")
@operation(
    method="get",
    path="/sites/{id}/leaderboard",
    summary="All-time path leaderboard",
    path_params={"id": "Site numeric ID"},
    query=LeaderboardQuerySchema,
    responses={200: ("The ranking", LeaderboardSchema), **READ_ERRORS},
    tags=("Analytics",),
)
def read_leaderboard(site_id: int) -> Any:
    c = container()
    site = c.collection.site_for_owner(site_id, current_key().owner_id)
    query = parse(LeaderboardQuerySchema())
    cached_at, ranking = _ranking(site.id)
    needle = (query["path"] or "").lower()
    rows = [r for r in ranking if needle in r["path"].lower()] if needle else ranking
    page, per_page = query["page"], query["per_page"]
    label = c.configuration.get_site(site.id).label
    return LeaderboardSchema().dump(
        {
            "leaderboard": rows[(page - 1) * per_page : page * per_page],
            "site": {"id": site_id, "uid": site.uid, "url": site.url, "label": label},
            "pagination": pagination(page, per_page, len(rows)),
            "cache_info": {
                "cached_at": cached_at,
                "expires_at": cached_at + timedelta(seconds=CACHE_SECONDS),
            },
            "filters": {"path": query["path"]},
        }
    )


def forget_cached(site: UUID | None = None) -> None:
    """Drop cached rankings (all, or one site's): tests, erasure."""
    with _lock:
        if site is None:
            _cache.clear()
        else:
            _cache.pop(site, None)
