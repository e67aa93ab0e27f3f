"""Reading JSON request bodies for the write endpoints, with the documented errors.

Malformed, non-UTF-8 or wrongly shaped bodies are 422 `{"status": "error",
"errors": [...]}`; bodies over 1 MiB or batches over 1,000 rows are 413.
"""

import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from interfaces.api.errors import ApiError

MAX_BATCH_ROWS = 1000


def validation_error(errors: list[str]) -> ApiError:
    error = ApiError(422, errors[0] if errors else "Invalid request")
    error.payload = {"status": "error", "errors": errors}
    return error


def _json() -> Any:
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: werkzeug raises 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise validation_error(["Body must be UTF-8 encoded JSON"]) from None
    if not text.strip():
        raise validation_error(["Body can't be blank"])
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise validation_error(["Body must be valid JSON"]) from None


def json_object() -> dict[str, Any]:
    body = _json()
    if not isinstance(body, dict):
        raise validation_error(["Body must be a single JSON object"])
    return body


def json_array() -> list[Any]:
    body = _json()
    if not isinstance(body, list):
        raise validation_error(["Body must be a top-level JSON array"])
    if len(body) > MAX_BATCH_ROWS:
        raise ApiError(413, f"Batch is too large: at most {MAX_BATCH_ROWS} rows per request")
    return body


def messages(error: ValidationError) -> list[str]:
    """Marshmallow's errors as the sentences the API documents (`Path can't be blank`)."""
    found: list[str] = []

    def walk(field: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(str(key), inner)
        elif isinstance(value, list):
            for inner in value:
                walk(field, inner)
        else:
            text = str(value)
            label = field.replace("_", " ").capitalize()
            found.append(text if text.startswith(label) else f"{label} {text}")

    walk("_schema", error.messages)
    return found


def load(schema: Schema, row: Any) -> dict[str, Any]:
    """Validate one row; raises ApiError 422 with every problem found."""
    if not isinstance(row, dict):
        raise validation_error(["Row must be a JSON object"])
    try:
        loaded = schema.load(row)
    except ValidationError as error:
        raise validation_error(messages(error)) from None
    assert isinstance(loaded, dict)
    return loaded
