"""Query-string parsing for the read endpoints: one schema validates, 400 lists what is wrong."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from interfaces.api.auth import current_key
from interfaces.api.bodies import messages
from interfaces.api.errors import ApiError
from interfaces.api.fields import WholeNumber
from interfaces.container import container
from projections.traffic_queries import utc_interval

MAX_RANGE_DAYS = 730
DEFAULT_RANGE_DAYS = 30
# The dates a range may start and end on. Nothing was tracked before 1970; a year is
# left at the far end for the day boundaries in any time zone and the rollups' edges,
# which step past the last day (at 9999-12-31 Python's dates run out: a 500 before).
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9998, 12, 31)


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


def resolve_dates(query: dict[str, Any], account_zone: str) -> tuple[date, date, str]:
    """Fill in the default range (the last 30 days, today included) in the chosen zone."""
    zone = account_zone if query["time_zone"] == "user" else "UTC"
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    end = query.get("end_date") or today
    start = query.get("start_date") or max(FIRST_DATE, end - timedelta(days=DEFAULT_RANGE_DAYS))
    if start > end:
        found = ["Start date must be on or before end date"]
        raise ApiError(400, "Invalid parameters: " + found[0], errors=found)
    if (end - start).days >= MAX_RANGE_DAYS:
        found = [f"Date range is too long: at most {MAX_RANGE_DAYS} days"]
        raise ApiError(400, "Invalid parameters: " + found[0], errors=found)
    return start, end, zone


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
    start: date
    end: date
    begin: datetime  # UTC, inclusive
    finish: datetime  # UTC, exclusive


def dated_site_query(site_id: int, schema: Schema) -> DatedQuery:
    """The owner's site (404 for anyone else's), the query (400 when bad) and its range
    as UTC instants, with day boundaries in UTC or the account's time zone."""
    c = container()
    key = current_key()
    site = c.collection.site_for_owner(site_id, key.owner_id)
    query = parse(schema)
    start, end, zone = resolve_dates(query, c.configuration.get_account(key.owner_id).timezone)
    begin, finish = utc_interval(start, end, zone)
    return DatedQuery(site, query, start, end, begin, finish)
