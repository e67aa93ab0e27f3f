"""POST /collect/<site_uid>: where the embed script sends hits and events.

The body is `text/plain` JSON so that browsers send it as a CORS simple request
(no preflight) and `navigator.sendBeacon` works: `{"k": "hit"|"event", "u": page
URL, "r": referrer, "e": event name, "v": event value}`. A counted or silently
skipped hit answers 204 only after it is committed.
"""

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request

from application.collection import Sighting, SiteSnapshot, Skipped
from application.group_commit import CommitFailed
from domain.custom_events import normalize_event_name, normalize_event_value
from domain.errors import Conflict, DomainError
from domain.hits import MAX_URL_LENGTH
from domain.urls import host_accepted
from interfaces.collect.client import cdn_country, client_ip, is_prefetch
from interfaces.container import container

MAX_BODY_BYTES = 16 * 1024

collector = Blueprint("collector", __name__)


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def _with_cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _read_payload() -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise DomainError("Body is too large")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise DomainError("Body is too large")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DomainError("Body must be JSON") from None
    if not isinstance(payload, dict):
        raise DomainError("Body must be a JSON object")
    return payload


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DomainError(f"'{key}' must be a string")
    return value


@collector.route("/collect/<uid>", methods=["POST", "OPTIONS"])
def collect(uid: str) -> Response:
    c = container()
    site = c.collection.site(uid)  # NotFound → 404
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        allowed_origin = host_accepted(site.url, _host(origin), site.allows_any_domain)
    else:
        allowed_origin = True
    if request.method == "OPTIONS":
        return _with_cors(Response(status=204), origin if allowed_origin else None)
    try:
        payload = _read_payload()
        kind = payload.get("k", "hit")
        page = _text(payload, "u")
        if kind not in ("hit", "event", "kudo"):
            raise DomainError("'k' must be 'hit', 'event' or 'kudo'")
        if not page or len(page) > MAX_URL_LENGTH or urlsplit(page).scheme not in ("http", "https"):
            raise DomainError("'u' must be the page's http(s) URL")
        referrer = _text(payload, "r")
        name = normalize_event_name(_text(payload, "e") or "") if kind == "event" else ""
        value = normalize_event_value(payload.get("v")) if kind == "event" else None
        kudo_path = _kudo_path(_text(payload, "p"), page) if kind == "kudo" else ""
    except (DomainError, ValueError) as error:
        message = error.message if isinstance(error, DomainError) else "Malformed request"
        return _with_cors(_error(413 if "too large" in message else 400, message), origin)
    if not (allowed_origin and host_accepted(site.url, _host(page), site.allows_any_domain)):
        return _error(403, "This site does not accept hits from that domain")
    if is_prefetch(request):
        return _with_cors(Response(status=204), origin)
    parts = urlsplit(page)
    sighting = Sighting(
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        url=page,
        referrer=referrer,
        ip=client_ip(request, c.settings),
        user_agent=request.headers.get("User-Agent"),
        channel="script",
        cdn_country=cdn_country(request, c.settings),
    )
    if kind == "kudo":
        return _with_cors(_give_kudo(site, sighting, kudo_path), origin)
    if c.collection.throttled(site, sighting):
        return _with_cors(Response(status=204), origin)
    item = (
        c.collection.hit(site, sighting)
        if kind == "hit"
        else c.collection.event(site, sighting, name, value)
    )
    if not isinstance(item, Skipped):
        try:
            c.committer.submit([item])
        except CommitFailed:
            return _with_cors(_error(503, "Could not record the hit; try again"), origin)
    return _with_cors(Response(status=204), origin)


def _kudo_path(given: str | None, page: str) -> str:
    """A kudos button's `data-path`, else the page's own path."""
    if given is None:
        return urlsplit(page).path or "/"
    if not given.startswith("/") or len(given) > 2048:
        raise DomainError("A kudo's path must start with '/'")
    return given


def _give_kudo(site: SiteSnapshot, sighting: Sighting, path: str) -> Response:
    """200 `{"uid": …}` for a new kudo; 409 with the uid when this visitor gave one today."""
    c = container()
    if c.collection.throttled(site, sighting):
        return _error(429, "Too many requests from this visitor; try again in a minute")
    uid = c.collection.kudo_uid(site, sighting, path)
    if isinstance(uid, Skipped):
        response = jsonify({"status": "ignored", "reason": uid.reason})
        response.status_code = 202
        return response
    try:
        c.tracking.give_kudo(site.id, path, uid, "script")
    except Conflict:
        response = jsonify({"error": "You already gave this page a kudo today", "uid": uid})
        response.status_code = 409
        return response
    return jsonify({"status": "created", "uid": uid, "path": path})
