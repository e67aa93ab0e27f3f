"""POST /api/v1/sites/:id/events and /events/batch: server-side custom events."""

from typing import Any

from application.collection import Draft, Sighting, SiteSnapshot, Skipped
from domain.custom_events import normalize_event_name, normalize_event_value, public_event
from interfaces.api.blueprint import api
from interfaces.api.bodies import json_array, json_object
from interfaces.api.errors import ValidationErrorSchema
from interfaces.api.hits import WRITE_ERRORS
from interfaces.api.operations import operation
from interfaces.api.tracking_schemas import (
    BatchResultSchema,
    CreatedEventSchema,
    EventInputSchema,
    EventSchema,
    IgnoredSchema,
)
from interfaces.api.writes import batch_payload, commit, prepare, single_answer, writable_site
from interfaces.container import container

# Built once: a schema's construction copies its fields, which costs more than a load.
_INPUT = EventInputSchema()
_EVENT = EventSchema()


def _build(site: SiteSnapshot, row: dict[str, Any], sighting: Sighting) -> Draft | Skipped:
    name = normalize_event_name(row["event"])
    value = normalize_event_value(row.get("value"))
    return container().collection.event(site, sighting, name, value)


def event_shape(item: Any, event_id: int) -> dict[str, Any]:
    return _EVENT.dump(public_event(item, event_id, item.timestamp))


@api.post("/sites/<int:site_id>/events")
@operation(
    method="post",
    path="/sites/{id}/events",
    summary="Create one custom event",
    access="full_access",
    path_params={"id": "Site numeric ID"},
    body=EventInputSchema,
    responses={
        201: ("The event was recorded", CreatedEventSchema),
        202: ("The event was ignored (e.g. its path matches an ignore rule)", IgnoredSchema),
        422: ("The body or a field is invalid", ValidationErrorSchema),
        **WRITE_ERRORS,
    },
    tags=("Tracking",),
)
def create_event(site_id: int) -> Any:
    site = writable_site(site_id)
    outcome = prepare(site, _INPUT, json_object(), _build)
    return single_answer(outcome, "event", event_shape)


@api.post("/sites/<int:site_id>/events/batch")
@operation(
    method="post",
    path="/sites/{id}/events/batch",
    summary="Create many custom events in one request (partial success)",
    access="full_access",
    path_params={"id": "Site numeric ID"},
    body=EventInputSchema(many=True),
    responses={
        200: ("Per-row results", BatchResultSchema),
        422: ("The body is not a JSON array", ValidationErrorSchema),
        **WRITE_ERRORS,
    },
    tags=("Tracking",),
)
def create_events(site_id: int) -> Any:
    site = writable_site(site_id)
    schema = _INPUT
    outcomes = [prepare(site, schema, row, _build) for row in json_array()]
    commit(outcomes)
    return batch_payload(outcomes)
