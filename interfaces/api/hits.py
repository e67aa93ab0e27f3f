"""POST /api/v1/sites/:id/hits and /hits/batch: server-side hit tracking."""

from typing import Any

from application.collection import Draft, Sighting, SiteSnapshot, Skipped
from domain.hits import public_hit
from interfaces.api.blueprint import api
from interfaces.api.bodies import json_array, json_object
from interfaces.api.errors import ErrorSchema, ValidationErrorSchema
from interfaces.api.operations import operation
from interfaces.api.tracking_schemas import (
    BatchResultSchema,
    CreatedHitSchema,
    HitInputSchema,
    HitSchema,
    IgnoredSchema,
)
from interfaces.api.writes import (
    batch_payload,
    commit,
    prepare,
    single_answer,
    writable_site,
)
from interfaces.container import container

WRITE_ERRORS: dict[int, tuple[str, Any]] = {
    401: ("Missing or invalid key", ErrorSchema),
    403: ("A full-access key is required", ErrorSchema),
    404: ("No such site for this account", ErrorSchema),
    413: ("Body over 1 MiB or more than 1,000 rows", ErrorSchema),
}


# Built once: a schema's construction copies its fields, which costs more than a load.
_INPUT = HitInputSchema()
_HIT = HitSchema()


def _build(site: SiteSnapshot, row: dict[str, Any], sighting: Sighting) -> Draft | Skipped:
    return container().collection.hit(site, sighting)


def hit_shape(hit: Any, hit_id: int) -> dict[str, Any]:
    return _HIT.dump(public_hit(hit, id=hit_id, created_at=hit.timestamp))


@api.post("/sites/<int:site_id>/hits")
@operation(
    method="post",
    path="/sites/{id}/hits",
    summary="Create one hit",
    access="full_access",
    path_params={"id": "Site numeric ID"},
    body=HitInputSchema,
    responses={
        201: ("The hit was recorded", CreatedHitSchema),
        202: ("The hit was ignored (e.g. its path matches an ignore rule)", IgnoredSchema),
        422: ("The body or a field is invalid", ValidationErrorSchema),
        **WRITE_ERRORS,
    },
    tags=("Tracking",),
)
def create_hit(site_id: int) -> Any:
    site = writable_site(site_id)
    outcome = prepare(site, _INPUT, json_object(), _build)
    return single_answer(outcome, "hit", hit_shape)


@api.post("/sites/<int:site_id>/hits/batch")
@operation(
    method="post",
    path="/sites/{id}/hits/batch",
    summary="Create many hits in one request (partial success)",
    access="full_access",
    path_params={"id": "Site numeric ID"},
    body=HitInputSchema(many=True),
    responses={
        200: ("Per-row results", BatchResultSchema),
        422: ("The body is not a JSON array", ValidationErrorSchema),
        **WRITE_ERRORS,
    },
    tags=("Tracking",),
)
def create_hits(site_id: int) -> Any:
    site = writable_site(site_id)
    schema = _INPUT
    outcomes = [prepare(site, schema, row, _build) for row in json_array()]
    commit(outcomes)
    return batch_payload(outcomes)
