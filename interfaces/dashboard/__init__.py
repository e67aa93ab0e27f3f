"""The server-rendered dashboard: accounts, sites and their analytics, public stats.

Pages are plain HTML forms (Flask-WTF, CSRF-protected) and inline SVG charts; a small
script only adds conveniences (copy buttons, the live embed builder). Every style,
script and font is served by this app.
"""

from datetime import timedelta

from flask import Flask

from interfaces.container import KEY as CONTAINER_KEY
from interfaces.dashboard import (  # noqa: F401  (they add their routes)
    account,
    auth,
    community,
    content,
    insights,
    public,
    reports,
    site_delete,
    sites,
    uptime,
    webhooks,
)
from interfaces.dashboard.blueprint import KEY, State, csrf
from interfaces.dashboard.blueprint import auth as auth_blueprint
from interfaces.dashboard.blueprint import dashboard as dashboard_blueprint
from interfaces.dashboard.session import DashboardSessions


def register_dashboard(app: Flask) -> None:
    container = app.extensions[CONTAINER_KEY]
    app.secret_key = container.session_secret
    app.config.update(
        SESSION_COOKIE_NAME="tinylytics_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=30),
        # Only the dashboard's blueprints check tokens (in their before_request):
        # the API authenticates by bearer key, the collector takes anonymous posts.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session
    )
    app.session_interface = DashboardSessions()
    csrf.init_app(app)
    app.extensions[KEY] = State(secret=container.session_secret, throttle=container.login_throttle)
    app.register_blueprint(auth_blueprint)
    app.register_blueprint(dashboard_blueprint)
