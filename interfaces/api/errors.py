"""API errors: one exception type, answered in the documented `{"error": "..."}` shape."""

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from domain.errors import NotFound
from infrastructure.persistence import store_unavailable
from interfaces.container import container
from interfaces.unavailable import RETRY_AFTER_SECONDS, note, unavailable_response

log = logging.getLogger("tinylytics.api")


class ErrorSchema(Schema):
    error = fields.String(required=True)


class ValidationErrorSchema(Schema):
    status = fields.String(required=True)
    errors = fields.List(fields.String(), required=True)


class ApiError(Exception):
    """An answer other than success; `payload` is the JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {"error": message, **extra}


def json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/collect/", "/widgets/"))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        response = jsonify(error.payload)
        response.status_code = error.status
        if error.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound) -> Response | tuple[str, int]:
        if _is_api():
            return json_error(404, error.message)
        return "Not found", 404

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | HTTPException:
        if not _is_api():
            return error
        status = error.code or 500
        messages = {
            404: "Not found",
            405: "Method not allowed",
            413: "Request body is too large",
        }
        response = json_error(status, messages.get(status, error.description or error.name))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response | tuple[str, int]:
        if store_unavailable(error):
            note(error, container().database)
            return unavailable_response()
        log.exception("unexpected error on %s %s", request.method, request.path)
        if _is_api():
            return json_error(500, "Unexpected server error")
        return "Unexpected server error", 500
