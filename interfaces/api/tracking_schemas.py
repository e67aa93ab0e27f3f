"""Marshmallow schemas shared by the hits and events write endpoints."""

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from domain.hits import API_HIT_FIELDS
from interfaces.api.fields import UtcDateTime


def _not_blank(message: str) -> Any:
    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError(message)

    return check


def _text(max_length: int, label: str) -> fields.String:
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=max_length, error=f"{label} is too long (at most {{max}})"),
        error_messages={"invalid": f"{label} must be a string"},
    )


class SightingInputSchema(Schema):
    """Fields every tracked row may carry besides its own (path, event)."""

    class Meta:
        unknown = EXCLUDE

    country = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Z]{2}$", error="Country must be a 2-letter uppercase code (e.g. US, PL, XX)"
        ),
        error_messages={"invalid": "Country must be a string"},
    )
    ip_address = _text(100, "Ip address")
    url = _text(2048, "Url")
    referrer = _text(2048, "Referrer")
    user_agent = _text(2048, "User agent")
    visitor_id = _text(200, "Visitor id")
    source = _text(100, "Source")


class HitInputSchema(SightingInputSchema):
    path = fields.String(
        required=True,
        validate=[
            _not_blank("Path can't be blank"),
            validate.Length(max=2048, error="Path is too long (at most {max})"),
        ],
        error_messages={
            "required": "Path can't be blank",
            "null": "Path can't be blank",
            "invalid": "Path must be a string",
        },
    )


class EventInputSchema(SightingInputSchema):
    event = fields.String(
        required=True,
        validate=_not_blank("Event can't be blank"),
        error_messages={
            "required": "Event can't be blank",
            "null": "Event can't be blank",
            "invalid": "Event must be a string",
        },
    )
    value = fields.Raw(load_default=None, allow_none=True)
    path = _text(2048, "Path")


def hit_field(name: str, stored: str | None = None) -> fields.Field:
    """The marshmallow field of one public hit field (domain/hits.py API_HIT_FIELDS),
    read from the stored name when it is another."""
    attribute = stored if stored and stored != name else None
    if name == "id":
        return fields.Integer(required=True, attribute=attribute)
    if name == "created_at":
        return UtcDateTime(required=True, attribute=attribute)
    if name == "is_mobile":
        return fields.Boolean(required=True, attribute=attribute)
    nullable = name not in ("path", "country")
    return fields.String(required=True, allow_none=nullable, attribute=attribute)


# The create-hit answer's `hit`, made from the one list of a hit's public fields.
HitSchema = Schema.from_dict({name: hit_field(name) for name, _ in API_HIT_FIELDS}, name="Hit")


class EventSchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(required=True)
    value = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, allow_none=True)
    path = fields.String(required=True, allow_none=True)
    referrer = fields.String(required=True, allow_none=True)
    country = fields.String(required=True)
    source = fields.String(required=True, allow_none=True)
    unique_hash = fields.String(required=True, allow_none=True)
    visitor_hash = fields.String(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)


class CreatedHitSchema(Schema):
    status = fields.String(required=True)
    hit = fields.Nested(HitSchema, required=True)


class CreatedEventSchema(Schema):
    status = fields.String(required=True)
    event = fields.Nested(EventSchema, required=True)


class IgnoredSchema(Schema):
    status = fields.String(required=True)
    reason = fields.String(required=True)


class BatchRowSchema(Schema):
    index = fields.Integer(required=True)
    status = fields.String(required=True)
    id = fields.Integer()
    reason = fields.String()
    errors = fields.List(fields.String())


class BatchResultSchema(Schema):
    created_count = fields.Integer(required=True)
    ignored_count = fields.Integer(required=True)
    error_count = fields.Integer(required=True)
    results = fields.List(fields.Nested(BatchRowSchema), required=True)
