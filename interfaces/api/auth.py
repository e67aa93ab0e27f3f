"""Bearer-key authentication and the per-key rate limit for API v1."""

import time

from flask import Response, g, request

from domain.api_keys import ApiKey
from interfaces.api.errors import ApiError
from interfaces.container import container

PUBLIC_ENDPOINTS = {"api.discovery", "api.openapi"}
# RFC 6750's challenge, on every 401; `error` only when a key was sent and refused.
REALM = 'Bearer realm="Tinylytics API"'
INVALID_TOKEN = f'{REALM}, error="invalid_token", error_description="Invalid API key"'


def authenticate() -> None:
    """Find the request's key (401 without a live one), then count it against its limit."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'")
    g.challenge = INVALID_TOKEN
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "Invalid API key")
    c = container()
    key = c.configuration.authenticate_key(secret.strip())
    if key is None:
        raise ApiError(401, "Invalid API key")
    decision = c.rate_limiter.hit(str(key.id))
    g.rate = decision
    if not decision.allowed:
        raise ApiError(
            429,
            f"Rate limit exceeded: {decision.limit} requests per hour per API key",
        )
    g.key = key
    g.last_used_at = c.key_usage.touch(key.id)


def current_key() -> ApiKey:
    key = g.get("key")
    assert isinstance(key, ApiKey)
    return key


def require_full_access() -> ApiKey:
    key = current_key()
    if not key.can_write:
        raise ApiError(403, "This endpoint needs a full-access key (tly-fa-...)")
    return key


def add_challenge(response: Response) -> Response:
    """The WWW-Authenticate header of a 401, whichever code answered it."""
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = g.get("challenge", REALM)
    return response


def add_rate_headers(response: Response) -> Response:
    decision = g.get("rate")
    if decision is None:
        return response
    seconds = max(0, decision.reset_at - int(time.time()))
    for prefix in ("RateLimit", "X-RateLimit"):
        response.headers[f"{prefix}-Limit"] = str(decision.limit)
        response.headers[f"{prefix}-Remaining"] = str(decision.remaining)
    # The IETF draft counts seconds to the reset; the X- convention gives the epoch time.
    response.headers["RateLimit-Reset"] = str(seconds)
    response.headers["X-RateLimit-Reset"] = str(decision.reset_at)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, seconds))
    return response
