"""The register of API operations: what each endpoint takes, returns and requires.

Handlers declare themselves here with the same marshmallow schemas they use to
validate and to answer; the OpenAPI document and the discovery listing are built
from this register, so the three cannot drift apart.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form, relative to /api/v1: /sites/{id}
    summary: str
    responses: dict[int, tuple[str, type[Schema] | Schema | None]]
    access: str = "read_only"  # "public", "read_only", "full_access" or "subscription"
    query: type[Schema] | None = None
    body: type[Schema] | Schema | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Record an operation for the OpenAPI document; the handler itself is unchanged."""
    OPERATIONS.append(Operation(**kwargs))

    def decorate(handler: F) -> F:
        return handler

    return decorate
