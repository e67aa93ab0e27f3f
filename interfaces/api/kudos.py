"""GET, POST /api/v1/sites/:id/kudos and DELETE /api/v1/sites/:id/kudos/:kudo_uid."""

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from application.collection import KudosLocked, KudoTaken, Skipped
from domain.errors import DomainError
from interfaces.api.analytics import READ_ERRORS
from interfaces.api.auth import current_key, require_full_access
from interfaces.api.blueprint import api
from interfaces.api.bodies import json_object, load, validation_error
from interfaces.api.errors import ApiError, ErrorSchema, ValidationErrorSchema
from interfaces.api.fields import UtcDateTime
from interfaces.api.hits import WRITE_ERRORS
from interfaces.api.operations import operation
from interfaces.api.queries import (
    DateRangeSchema,
    PaginationSchema,
    dated_site_query,
    page_field,
    pagination,
    per_page_field,
)
from interfaces.api.tracking_schemas import IgnoredSchema
from interfaces.container import container


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Path can't be blank")


class KudosQuerySchema(DateRangeSchema):
    path = fields.String(load_default=None, validate=validate.Length(max=2048))
    uid = fields.String(load_default=None, validate=validate.Length(max=100))
    page = page_field()
    per_page = per_page_field(1000, 100)


class KudoInputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    path = fields.String(
        required=True,
        validate=[_not_blank, validate.Length(max=2048, error="Path is too long (at most {max})")],
        error_messages={
            "required": "Path can't be blank",
            "null": "Path can't be blank",
            "invalid": "Path must be a string",
        },
    )
    custom_uid = fields.String(
        load_default=None,
        allow_none=True,
        error_messages={"invalid": "Custom uid must be a string"},
    )


class KudoSchema(Schema):
    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    path = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class KudoListSchema(Schema):
    kudos = fields.List(fields.Nested(KudoSchema), required=True)
    pagination = fields.Nested(PaginationSchema, required=True)
    filters = fields.Dict(required=True)


class CreatedKudoSchema(Schema):
    status = fields.String(required=True)
    kudo = fields.Nested(KudoSchema, required=True)


class KudosLockedSchema(Schema):
    error = fields.String(required=True)
    email_confirmed = fields.Boolean()


class DeletedKudoSchema(Schema):
    status = fields.String(required=True)
    uid = fields.String(required=True)


@api.get("/sites/<int:site_id>/kudos")
@operation(
    method="get",
    path="/sites/{id}/kudos",
    summary="Read kudos records",
    path_params={"id": "Site numeric ID"},
    query=KudosQuerySchema,
    responses={200: ("Kudos", KudoListSchema), **READ_ERRORS},
    tags=("Kudos",),
)
def list_kudos(site_id: int) -> Any:
    dated = dated_site_query(site_id, KudosQuerySchema())
    query, span = dated.query, dated.span
    page, per_page = query["page"], query["per_page"]
    total, rows = container().reads.kudos.page(
        dated.site.id,
        span.begin,
        span.finish,
        query["path"],
        query["uid"],
        per_page,
        (page - 1) * per_page,
    )
    return KudoListSchema().dump(
        {
            "kudos": rows,
            "pagination": pagination(page, per_page, total),
            "filters": {**dated.echo(), "path": query["path"], "uid": query["uid"]},
        }
    )


@api.post("/sites/<int:site_id>/kudos")
@operation(
    method="post",
    path="/sites/{id}/kudos",
    summary="Create one kudo",
    access="full_access",
    path_params={"id": "Site numeric ID"},
    body=KudoInputSchema,
    responses={
        201: ("The kudo was recorded", CreatedKudoSchema),
        202: ("Ignored: the path matches an ignore rule", IgnoredSchema),
        422: ("Invalid body, or the uid is taken", ValidationErrorSchema),
        **WRITE_ERRORS,
        403: (
            "A read-only key, or kudos are locked until the owner confirms their email "
            "address ({error, email_confirmed: false})",
            KudosLockedSchema,
        ),
    },
    tags=("Kudos",),
)
def create_kudo(site_id: int) -> Any:
    require_full_access()
    c = container()
    site = c.collection.site_for_owner(site_id, current_key().owner_id)
    row = load(KudoInputSchema(), json_object())
    try:
        outcome = c.collection.give_kudo(site, row["path"], "api", uid=row["custom_uid"])
    except DomainError as error:
        raise validation_error([error.message]) from None
    if isinstance(outcome, KudoTaken):
        raise validation_error([outcome.message])
    if isinstance(outcome, KudosLocked):
        raise ApiError(403, outcome.reason, email_confirmed=False)
    if isinstance(outcome, Skipped):
        return {"status": "ignored", "reason": outcome.reason}, 202
    kudo = {
        "id": outcome.id,
        "uid": outcome.uid,
        "path": outcome.path,
        "created_at": outcome.created_at,
    }
    return CreatedKudoSchema().dump({"status": "created", "kudo": kudo}), 201


@api.delete("/sites/<int:site_id>/kudos/<kudo_uid>")
@operation(
    method="delete",
    path="/sites/{id}/kudos/{kudo_uid}",
    summary="Delete one kudo by uid",
    access="full_access",
    path_params={"id": "Site numeric ID", "kudo_uid": "The kudo's uid"},
    responses={
        200: ("The kudo was deleted", DeletedKudoSchema),
        **WRITE_ERRORS,
        404: ("No such kudo (or site)", ErrorSchema),
    },
    tags=("Kudos",),
)
def delete_kudo(site_id: int, kudo_uid: str) -> Any:
    require_full_access()
    c = container()
    site = c.collection.site_for_owner(site_id, current_key().owner_id)
    if len(kudo_uid) > 100:
        raise ApiError(404, "Kudo not found")
    c.tracking.withdraw_kudo(site.id, kudo_uid)  # NotFound → 404 {"error": "Kudo not found"}
    return {"status": "deleted", "uid": kudo_uid}
