"""GET /api/v1 (discovery) and GET /api/v1/openapi.json, both built from the operation register."""

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify
from marshmallow import Schema, fields

from interfaces.api.blueprint import api
from interfaces.api.operations import OPERATIONS, Operation, operation
from interfaces.container import base_url, container

TITLE = "Tinylytics API"
VERSION = "1.0.0"


class EndpointSchema(Schema):
    method = fields.String(required=True)
    path = fields.String(required=True)
    summary = fields.String(required=True)
    access = fields.String(required=True)


class DiscoverySchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    base_url = fields.String(required=True)
    openapi_url = fields.String(required=True)
    authentication = fields.Dict(required=True)
    rate_limit = fields.Dict(required=True)
    endpoints = fields.List(fields.Nested(EndpointSchema), required=True)


@api.get("")
@api.get("/")
@operation(
    method="get",
    path="/",
    summary="Public API discovery metadata",
    access="public",
    responses={200: ("What this API offers", DiscoverySchema)},
    tags=("Discovery",),
)
def discovery() -> Any:
    c = container()
    base = base_url() + "/api/v1"
    return DiscoverySchema().dump(
        {
            "name": TITLE,
            "version": "v1",
            "base_url": base,
            "openapi_url": base + "/openapi.json",
            "authentication": {
                "type": "bearer",
                "header": "Authorization: Bearer <api key>",
                "read_only_prefix": "tly-ro-",
                "full_access_prefix": "tly-fa-",
            },
            "rate_limit": {"requests": c.settings.api_rate_limit_per_hour, "per": "hour"},
            "endpoints": [
                {
                    "method": o.method.upper(),
                    "path": o.path,
                    "summary": o.summary,
                    "access": o.access,
                }
                for o in OPERATIONS
            ],
        }
    )


@api.get("/openapi.json")
@operation(
    method="get",
    path="/openapi.json",
    summary="OpenAPI 3.1 schema for API v1",
    access="public",
    responses={200: ("This document", None)},
    tags=("Discovery",),
)
def openapi() -> Any:
    return jsonify(openapi_document(base_url()))


def _operation_spec(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, schema) in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": description}
        if schema is not None:
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    spec: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}{op.path.replace('/', '_').replace('{', '').replace('}', '')}"
        or op.method,
        "tags": list(op.tags),
        "responses": responses,
    }
    if op.access == "public":
        spec["security"] = []
    else:
        spec["x-access"] = op.access
        responses.setdefault(
            "429",
            {
                "description": "Rate limit exceeded",
                "content": {"application/json": {"schema": "ErrorSchema"}},
            },
        )
    parameters: list[dict[str, Any]] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "description": description,
            "schema": (
                {"type": "integer", "minimum": 1}
                if name == "id"
                else {"type": "string", "minLength": 1, "maxLength": 100}
            ),
        }
        for name, description in op.path_params.items()
    ]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    return spec


@lru_cache(maxsize=4)
def openapi_document(base_url: str) -> dict[str, Any]:
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Read analytics and send hits, events and kudos. "
            "Read-only keys (tly-ro-...) call every GET endpoint; "
            "full-access keys (tly-fa-...) are needed to write."
        },
        servers=[{"url": base_url + "/api/v1"}],
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API key"}
    )
    from interfaces.api.errors import ErrorSchema

    spec.components.schema("ErrorSchema", schema=ErrorSchema)
    for op in OPERATIONS:
        spec.path(path=op.path, operations={op.method: _operation_spec(op)})
    return spec.to_dict()
