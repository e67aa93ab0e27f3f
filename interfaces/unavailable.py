"""The answer while the database does not answer: 503 with Retry-After, never a 500.

The API, the collector and the widgets answer in the documented error shape
(`{"error": "..."}`), the pixel with its GIF, dashboard pages with an error page.
Two ways lead here: a request that met the database down (its handler calls
`note`, then answers with `unavailable_response` or its own 503), and, once the
database has been down past the grace (infrastructure/database_watch.py), `refuse`
in front of everything, so that no request waits for it any more. The log gets one
line per ten seconds, however many requests fail.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Response, jsonify, render_template, request

from infrastructure.database_watch import DatabaseWatch

log = logging.getLogger("tinylytics.unavailable")

RETRY_AFTER_SECONDS = 5
MESSAGE = "The service is briefly unavailable (its database does not answer); try again shortly"
PAGE_TITLE = "Briefly unavailable"
PAGE_MESSAGE = "Tinylytics cannot reach its database just now. Please try again in a few seconds."
_DASHBOARD_BLUEPRINTS = ("dashboard", "auth")
# Everything else is a dashboard page (an HTML answer); these answer JSON, the pixel a GIF.
_JSON_PREFIXES = ("/api/", "/collect/", "/widgets/", "/embed/", "/webring/")
_LOG_EVERY_SECONDS = 10.0

_lock = threading.Lock()
_next_log = 0.0
_quiet = 0


def note(error: BaseException, watch: DatabaseWatch) -> None:
    """A request met the database down: tell the watch, log at most every ten seconds."""
    global _next_log, _quiet
    watch.failed()
    now = time.monotonic()
    with _lock:
        if now < _next_log:
            _quiet += 1
            return
        _next_log, quiet, _quiet = now + _LOG_EVERY_SECONDS, _quiet, 0
    first_line = str(error).splitlines()[0] if str(error) else ""
    log.warning(
        "the database does not answer (%s: %s); answering 503 (%d more since the last line)",
        type(error).__name__,
        first_line,
        quiet,
    )


def unavailable_response() -> Response:
    """The 503 for the Flask request being handled."""
    response: Response
    if request.blueprint in _DASHBOARD_BLUEPRINTS:
        try:
            page = render_template("dashboard/error.html", title=PAGE_TITLE, message=PAGE_MESSAGE)
        except Exception:  # the page needs nothing stored; still, never a 500 here
            page = f"{PAGE_TITLE}: {PAGE_MESSAGE}"
        response = Response(page, status=503, mimetype="text/html")
    else:
        response = jsonify({"error": MESSAGE})
        response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def refuse(path: str, gif: bytes, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI 503 for any path, made without Flask and without the database."""
    if path.startswith("/pixel/"):
        body, kind = gif, "image/gif"
    elif path.startswith(_JSON_PREFIXES):
        body, kind = json.dumps({"error": MESSAGE}).encode(), "application/json"
    else:
        page = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{PAGE_TITLE}</title>"
            f"<h1>{PAGE_TITLE}</h1><p>{PAGE_MESSAGE}</p></html>"
        )
        body, kind = page.encode(), "text/html; charset=utf-8"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
        ],
    )
    return [body]


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Answered even while refusing: the health check says why, static files need nothing.
_ALWAYS = ("/healthz", "/dashboard/static/")


def guard(wsgi_app: WSGIApp, watch: DatabaseWatch, gif: bytes) -> WSGIApp:
    """`wsgi_app`, answering 503 at once while the watch says the database is down."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if watch.refusing():
            path = environ.get("PATH_INFO", "")
            if not path.startswith(_ALWAYS):
                return refuse(path, gif, start_response)
        return wsgi_app(environ, start_response)

    return guarded
