"""Query-string parsing for the read endpoints: one schema validates, 400 lists what is wrong."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from domain.date_ranges import FIRST_DAY, LAST_DAY, MAX_DAYS, DateRange
from domain.errors import DomainError
from interfaces.api.auth import current_key
from interfaces.api.bodies import messages
from interfaces.api.errors import ApiError
from interfaces.api.fields import WholeNumber
from interfaces.container import container

MAX_RANGE_DAYS = MAX_DAYS
DEFAULT_RANGE_DAYS = 30
FIRST_DATE, LAST_DATE = FIRST_DAY, LAST_DAY


def _date(label: str) -> fields.Date:
    return fields.Date(
        format="%Y-%m-%d",
        load_default=None,
        validate=validate.Range(
            min=FIRST_DATE,
            max=LAST_DATE,
            error=f"{label} must be between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}",
        ),
        error_messages={"invalid": f"{label} must be a date as YYYY-MM-DD"},
    )


def page_field() -> fields.Integer:
    return WholeNumber(
        load_default=1,
        strict=False,
        validate=validate.Range(min=1, max=10_000_000, error="Page must be a positive number"),
        error_messages={"invalid": "Page must be a number"},
    )


def per_page_field(maximum: int, default: int) -> fields.Integer:
    return WholeNumber(
        load_default=default,
        validate=validate.Range(
            min=1, max=maximum, error=f"Per page must be between 1 and {maximum}"
        ),
        error_messages={"invalid": "Per page must be a number"},
    )


class DateRangeSchema(Schema):
    """start_date / end_date / time_zone, as every analytics endpoint takes them."""

    class Meta:
        unknown = EXCLUDE

    start_date = _date("Start date")
    end_date = _date("End date")
    time_zone = fields.String(
        load_default="utc",
        validate=validate.OneOf(["utc", "user"], error="Time zone must be 'utc' or 'user'"),
    )

    @validates_schema
    def _check_range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start_date"), data.get("end_date")
        if start and end:
            if start > end:
                raise ValidationError("Start date must be on or before end date", "start_date")
            if (end - start).days >= MAX_RANGE_DAYS:
                # Keyed by "date_range", not a field: the message then reads as written
                # instead of gaining a "Start date" prefix (bodies.messages labels by key).
                raise ValidationError(
                    f"Date range is too long: at most {MAX_RANGE_DAYS} days", "date_range"
                )


class InvalidParametersSchema(Schema):
    """The 400 answer of `parse` and `resolve_dates`: a summary and every problem found."""

    error = fields.String(required=True)
    errors = fields.List(fields.String(), required=True)


def parse(schema: Schema) -> dict[str, Any]:
    """The validated query; a 400 naming every problem otherwise."""
    try:
        loaded = schema.load(request.args.to_dict(flat=True))
    except ValidationError as error:
        found = messages(error)
        raise ApiError(400, "Invalid parameters: " + "; ".join(found), errors=found) from None
    assert isinstance(loaded, dict)
    return loaded


def api_zone(time_zone: str, account_zone: str) -> str:
    """The zone whose days a request's dates name: api.md's `time_zone=user` is the
    account's time zone, and the default, `utc`, is UTC."""
    return account_zone if time_zone == "user" else "UTC"


def resolve_dates(query: dict[str, Any], account_zone: str) -> DateRange:
    """The range asked for, its missing ends filled in (the end is today and the start
    30 days before it, in the chosen zone); a 400 for one that cannot be served."""
    try:
        return DateRange.asked(
            query.get("start_date"),
            query.get("end_date"),
            api_zone(query["time_zone"], account_zone),
            datetime.now(UTC),
            default_days=DEFAULT_RANGE_DAYS,
            max_days=MAX_RANGE_DAYS,
        )
    except DomainError as error:
        found = [error.message]
        raise ApiError(400, "Invalid parameters: " + found[0], errors=found) from None


class PaginationSchema(Schema):
    current_page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total_count = fields.Integer(required=True)
    total_pages = fields.Integer(required=True)


def pagination(page: int, per_page: int, total: int) -> dict[str, int]:
    return {
        "current_page": page,
        "per_page": per_page,
        "total_count": total,
        "total_pages": (total + per_page - 1) // per_page,
    }


@dataclass(frozen=True)
class DatedQuery:
    """A read endpoint's request: the caller's site, the validated query, the range."""

    site: Any  # application.collection.SiteSnapshot
    query: dict[str, Any]
    span: DateRange

    def echo(self) -> dict[str, Any]:
        """The range as every dated answer's `filters` repeats it."""
        return {
            "start_date": self.span.start.isoformat(),
            "end_date": self.span.end.isoformat(),
            "time_zone": self.query["time_zone"],
        }


def dated_site_query(site_id: int, schema: Schema) -> DatedQuery:
    """The owner's site (404 for anyone else's), the query (400 when bad) and its range,
    with day boundaries in UTC or the account's time zone."""
    c = container()
    key = current_key()
    site = c.collection.site_for_owner(site_id, key.owner_id)
    query = parse(schema)
    span = resolve_dates(query, c.configuration.get_account(key.owner_id).timezone)
    return DatedQuery(site, query, span)
