"""Marshmallow fields shared by the API schemas."""

from datetime import UTC, datetime
from typing import Any

from marshmallow import fields


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC with a `Z`, as the hosted API writes times: `2026-02-14T10:00:00Z`."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"not a datetime: {value!r}")
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
