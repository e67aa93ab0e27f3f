"""POST /collect/<site_uid>: where the embed script sends hits, events and kudos.

The body is `text/plain` JSON so that browsers send it as a CORS simple request
(no preflight) and `navigator.sendBeacon` works: `{"k": "hit"|"event"|"kudo", "u":
page URL, "r": referrer, "e": event name, "v": event value, "p": kudo path}`. A
counted or silently skipped hit answers 204 only after it is committed.

This is the one hot path of the server (every page view of every site), so it is a
plain WSGI application mounted in front of Flask rather than a Flask view: Flask's
request context, session and response machinery cost more than the whole
collection step (docs/decisions/0005). It stays a thin handler: it reads the
request and calls the collection service.
"""

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from werkzeug.wrappers import Request

from application.collection import (
    RATE_LIMITED,
    KudosLocked,
    KudoTaken,
    Sighting,
    SiteSnapshot,
    Skipped,
)
from application.group_commit import CommitFailed
from domain.custom_events import normalize_event_name, normalize_event_value
from domain.errors import DomainError, NotFound
from domain.hits import MAX_URL_LENGTH
from domain.urls import host_accepted
from infrastructure.bootstrap import Container
from infrastructure.persistence import store_unavailable
from interfaces.collect.client import cdn_country, client_ip, is_prefetch
from interfaces.unavailable import MESSAGE as UNAVAILABLE
from interfaces.unavailable import RETRY_AFTER_SECONDS, note

log = logging.getLogger("tinylytics.collector")

PREFIX = "/collect/"
MAX_BODY_BYTES = 16 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]

_REASONS = {
    200: "200 OK",
    202: "202 Accepted",
    204: "204 No Content",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}
# The same as every Flask response gets (interfaces/app.py).
_SECURITY = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]


class Answer:
    """A response: status, a JSON body or none, and whether CORS headers go with it."""

    def __init__(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers: Headers = []


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"error": message})


def _unavailable(message: str = UNAVAILABLE) -> Answer:
    """503: nothing was kept; the client may send it again after Retry-After."""
    answer = _error(503, message)
    answer.headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    return answer


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def _page_parts(page: str | None) -> SplitResult:
    """The page URL, split once: it must be http(s) and of a sane length."""
    if not page or len(page) > MAX_URL_LENGTH:
        raise DomainError("'u' must be the page's http(s) URL")
    parts = urlsplit(page)  # ValueError for a malformed one: a 400 like the rest
    if parts.scheme not in ("http", "https"):
        raise DomainError("'u' must be the page's http(s) URL")
    return parts


def _cors(origin: str | None) -> Headers:
    if not origin:
        return []
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"),
        ("Access-Control-Max-Age", "86400"),
    ]


def _read_payload(request: Request) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise DomainError("Body is too large")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
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


def _kudo_path(given: str | None, page_path: str) -> str:
    """A kudos button's `data-path`, else the page's own path."""
    if given is None:
        return page_path or "/"
    if not given.startswith("/") or len(given) > 2048:
        raise DomainError("A kudo's path must start with '/'")
    return given


class Collector:
    """The WSGI application for `/collect/<uid>`."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            answer = self.answer(Request(environ))
        except Exception as error:
            if store_unavailable(error):
                note(error, self.container.database)
                answer = _unavailable()
            else:
                log.exception("unexpected error in the collector")
                answer = _error(500, "Unexpected server error")
        headers = [
            *answer.headers,
            ("Vary", "Origin"),
            ("Cache-Control", "no-store"),
            *_SECURITY,
        ]
        if answer.body is None:
            start_response(_REASONS[answer.status], headers)
            return []
        body = json.dumps(answer.body).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(_REASONS[answer.status], headers)
        return [body]

    def answer(self, request: Request) -> Answer:
        uid = request.path[len(PREFIX) :]
        if not uid or "/" in uid:
            return _error(404, "Not found")
        if request.method not in ("POST", "OPTIONS"):
            answer = _error(405, "Method not allowed")
            answer.headers.append(("Allow", "OPTIONS, POST"))
            return answer
        try:
            site = self.container.collection.site(uid)
        except NotFound as error:
            return _error(404, error.message)
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            allowed_origin = host_accepted(site.url, _host(origin), site.allows_any_domain)
        else:
            allowed_origin = True
        if request.method == "OPTIONS":
            answer = Answer(204)
            answer.headers = _cors(origin if allowed_origin else None)
            return answer
        answer = self._collect(request, site, bool(allowed_origin))
        if answer.status != 403:
            answer.headers += _cors(origin)
        return answer

    def _collect(self, request: Request, site: SiteSnapshot, allowed_origin: bool) -> Answer:
        c = self.container
        try:
            payload = _read_payload(request)
            kind = payload.get("k", "hit")
            page = _text(payload, "u")
            if kind not in ("hit", "event", "kudo"):
                raise DomainError("'k' must be 'hit', 'event' or 'kudo'")
            parts = _page_parts(page)
            page_host = (parts.hostname or "").lower()
            referrer = _text(payload, "r")
            name = normalize_event_name(_text(payload, "e") or "") if kind == "event" else ""
            value = normalize_event_value(payload.get("v")) if kind == "event" else None
            kudo_path = _kudo_path(_text(payload, "p"), parts.path) if kind == "kudo" else ""
        except (DomainError, ValueError) as error:
            message = error.message if isinstance(error, DomainError) else "Malformed request"
            return _error(413 if "too large" in message else 400, message)
        if not (allowed_origin and host_accepted(site.url, page_host, site.allows_any_domain)):
            return _error(403, "This site does not accept hits from that domain")
        if is_prefetch(request):
            return Answer(204)
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
            return self._give_kudo(site, sighting, kudo_path)
        item = (
            c.collection.hit(site, sighting, limited=True)
            if kind == "hit"
            else c.collection.event(site, sighting, name, value, limited=True)
        )
        if not isinstance(item, Skipped):
            try:
                c.collection.record([item])
            except CommitFailed as error:
                if store_unavailable(error):
                    note(error, c.database)
                return _unavailable("Could not record the hit; try again")
        return Answer(204)

    def _give_kudo(self, site: SiteSnapshot, sighting: Sighting, path: str) -> Answer:
        """200 `{"uid": …}` for a new kudo; 409 with the uid when this visitor gave one today."""
        outcome = self.container.collection.give_kudo(site, path, "script", sighting)
        if isinstance(outcome, KudoTaken):
            error = "You already gave this page a kudo today"
            return Answer(409, {"error": error, "uid": outcome.uid})
        if isinstance(outcome, KudosLocked):  # quiet, as for an archived site
            return Answer(202, {"status": "ignored", "reason": outcome.reason})
        if isinstance(outcome, Skipped):
            if outcome.reason == RATE_LIMITED:
                return _error(429, "Too many requests from this visitor; try again in a minute")
            return Answer(202, {"status": "ignored", "reason": outcome.reason})
        return Answer(200, {"status": "created", "uid": outcome.uid, "path": outcome.path})


def mount(wsgi_app: WSGIApp, container: Container) -> WSGIApp:
    """`wsgi_app` with `/collect/…` answered by the collector before Flask sees it."""
    collector = Collector(container)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return collector(environ, start_response)
        return wsgi_app(environ, start_response)

    return dispatch
