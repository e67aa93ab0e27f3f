"""GET /api/v1/me: the account behind the key, and the key itself."""

from typing import Any

from flask import g
from marshmallow import Schema, fields

from interfaces.api.auth import current_key
from interfaces.api.blueprint import api
from interfaces.api.errors import ApiError, ErrorSchema
from interfaces.api.fields import UtcDateTime
from interfaces.api.operations import operation
from interfaces.container import container


class KeyInfoSchema(Schema):
    name = fields.String(required=True)
    access_type = fields.String(required=True)
    last_used_at = UtcDateTime(required=True, allow_none=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    is_subscribed = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)
    api_key = fields.Nested(KeyInfoSchema, required=True)


@api.get("/me")
@operation(
    method="get",
    path="/me",
    summary="Validate the API key and return the account it belongs to",
    responses={
        200: ("The account and key", MeSchema),
        401: ("Missing or invalid key", ErrorSchema),
    },
    tags=("Account and Sites",),
)
def me() -> Any:
    c = container()
    key = current_key()
    account = c.configuration.get_account(key.owner_id)
    row = c.reads.accounts.by_uuid(account.id)
    if row is None:
        # A key made a moment ago can arrive before the projection has run.
        c.reads.settle("accounts")
        row = c.reads.accounts.by_uuid(account.id)
    if row is None:
        raise ApiError(503, "Account is being set up; try again in a second")
    return MeSchema().dump(
        {
            "id": row.id,
            "email": account.email,
            "is_subscribed": account.is_subscribed,
            "created_at": account.created_on,
            "api_key": {
                "name": key.name,
                "access_type": key.access,
                "last_used_at": g.get("last_used_at"),
            },
        }
    )
