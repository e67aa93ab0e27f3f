"""The common path of the tracking write endpoints: validate rows, enrich, commit together."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from application.collection import Draft, Recorded, Sighting, SiteSnapshot, Skipped
from application.group_commit import CommitFailed
from application.tracking import TrafficEvent
from domain.errors import DomainError
from infrastructure.persistence import store_unavailable
from interfaces.api.auth import current_key, require_full_access
from interfaces.api.bodies import load
from interfaces.api.errors import ApiError
from interfaces.container import container
from interfaces.unavailable import note

Build = Callable[[SiteSnapshot, dict[str, Any], Sighting], Draft | Skipped]


@dataclass
class RowOutcome:
    status: str  # "created", "ignored" or "error"
    draft: Draft | None = None
    item: TrafficEvent | None = None  # the recorded event, once committed
    id: int | None = None
    reason: str | None = None
    errors: list[str] | None = None


def writable_site(site_id: int) -> SiteSnapshot:
    """The caller's site, for a full-access key; 403 for read-only, 404 for anyone else's."""
    require_full_access()
    return container().collection.site_for_owner(site_id, current_key().owner_id)


def sighting_of(row: dict[str, Any], path: str | None) -> Sighting:
    return Sighting(
        path=path,
        url=row.get("url"),
        referrer=row.get("referrer"),
        ip=row.get("ip_address"),
        user_agent=row.get("user_agent"),
        channel="api",
        visitor_id=row.get("visitor_id"),
        country=row.get("country"),
        source=row.get("source"),
    )


def prepare(site: SiteSnapshot, schema: Schema, raw: Any, build: Build) -> RowOutcome:
    try:
        row = load(schema, raw)
        item = build(site, row, sighting_of(row, row.get("path")))
    except ApiError as error:
        return RowOutcome("error", errors=list(error.payload.get("errors", [str(error)])))
    except DomainError as error:
        return RowOutcome("error", errors=[error.message])
    if isinstance(item, Skipped):
        return RowOutcome("ignored", reason=item.reason)
    return RowOutcome("created", draft=item)


def commit(outcomes: list[RowOutcome]) -> None:
    """Save every created row in one transaction; none is kept if the commit fails."""
    created = [o for o in outcomes if o.draft is not None]
    try:
        answers = container().collection.record([o.draft for o in created if o.draft is not None])
    except CommitFailed as error:
        if store_unavailable(error):
            note(error, container().database)
        raise ApiError(503, "Could not record the data; nothing was saved, try again") from None
    for outcome, answer in zip(created, answers, strict=True):
        if isinstance(answer, Recorded):
            outcome.id, outcome.item = answer
        else:
            outcome.status, outcome.reason = "ignored", answer.reason


def batch_payload(outcomes: list[RowOutcome]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for index, o in enumerate(outcomes):
        entry: dict[str, Any] = {"index": index, "status": o.status}
        if o.id is not None:
            entry["id"] = o.id
        if o.reason is not None:
            entry["reason"] = o.reason
        if o.errors is not None:
            entry["errors"] = o.errors
        results.append(entry)
    return {
        "created_count": sum(o.status == "created" for o in outcomes),
        "ignored_count": sum(o.status == "ignored" for o in outcomes),
        "error_count": sum(o.status == "error" for o in outcomes),
        "results": results,
    }


def single_answer(
    outcome: RowOutcome, key: str, shape: Callable[[Any, int], dict[str, Any]]
) -> Any:
    if outcome.status == "error":
        return {"status": "error", "errors": outcome.errors or []}, 422
    if outcome.status == "ignored":
        return {"status": "ignored", "reason": outcome.reason}, 202
    commit([outcome])
    if outcome.item is None or outcome.id is None:
        return {"status": "ignored", "reason": outcome.reason}, 202
    return {"status": "created", key: shape(outcome.item, outcome.id)}, 201
