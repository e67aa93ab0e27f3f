"""Marshmallow fields shared by the API schemas."""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import fields

_SIGNED_DIGITS = re.compile(r"-?[0-9]+")


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC with a `Z`, as the hosted API writes times: `2026-02-14T10:00:00Z`."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"not a datetime: {value!r}")
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class WholeNumber(fields.Integer):
    """An integer from a query string: ASCII digits (and a minus, which the range then
    refuses with its own message), not whatever else int() takes (other scripts' digits,
    spaces, "+", "_")."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, str) and not _SIGNED_DIGITS.fullmatch(value):
            raise self.make_error("invalid")
        found: int = super()._deserialize(value, attr, data, **kwargs)
        return found
