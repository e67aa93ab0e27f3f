"""The dashboard's blueprints, its per-app state, and what every dashboard page shares:
CSRF checks on every form post, security headers, error pages."""

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from domain.errors import NotFound
from infrastructure.login_throttle import LoginThrottle

KEY = "tinylytics.dashboard"

# Pages and forms of signed-in people (and the public stats page).
dashboard = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)
# Sign up, sign in, confirmation and password reset, under /auth.
auth = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

csrf = CSRFProtect()

# Styles and scripts come from this server only; charts are inline SVG.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass
class State:
    secret: str
    throttle: LoginThrottle


def state() -> State:
    found = current_app.extensions[KEY]
    assert isinstance(found, State)
    return found


# A report's one-click unsubscribe (RFC 8058) is posted by mail clients, with the
# signed token in its URL as the only credential.
CSRF_EXEMPT = {"dashboard.unsubscribe_report"}


def _protect() -> None:
    # Every form post of the dashboard carries a token (Flask-WTF); other blueprints
    # (the API with its bearer keys, the collector) are not affected.
    if request.endpoint in CSRF_EXEMPT:
        return
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        csrf.protect()


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("dashboard/error.html", title=title, message=message), status


def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        "This form has expired",
        "The page was open too long or was sent from elsewhere. "
        "Go back, reload the page and send the form again.",
    )


def _not_found(error: Any) -> tuple[str, int]:
    return _error_page(404, "Not found", "There is nothing here, or it is not yours to see.")


def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if status == 404:
        return _not_found(error)
    if status >= 500:
        return error
    return _error_page(status, error.name, error.description or error.name)


for blueprint in (dashboard, auth):
    blueprint.before_request(_protect)
    blueprint.after_request(_headers)
    blueprint.register_error_handler(CSRFError, _csrf_failed)
    blueprint.register_error_handler(NotFound, _not_found)
    blueprint.register_error_handler(HTTPException, _http_error)
