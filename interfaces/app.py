"""The Flask application factory."""

from flask import Flask, Response

from infrastructure.bootstrap import Container
from interfaces import container as container_module
from interfaces.api import register_api
from interfaces.api.errors import register_error_handlers
from interfaces.collect.collector import mount
from interfaces.collect.embed import register_embed
from interfaces.collect.pixel import GIF, pixel
from interfaces.collect.webmention import webmention
from interfaces.collect.widgets import widgets
from interfaces.dashboard import register_dashboard
from interfaces.health import health
from interfaces.unavailable import guard
from interfaces.whole_numbers import AsciiIntegerConverter


def create_app(container: Container) -> Flask:
    app = Flask("tinylytics")
    app.url_map.converters["int"] = AsciiIntegerConverter  # before any route is added
    app.config["MAX_CONTENT_LENGTH"] = container.settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    container_module.install(app, container)
    register_error_handlers(app)
    register_api(app)
    register_embed(app)
    app.register_blueprint(pixel)
    app.register_blueprint(widgets)
    app.register_blueprint(webmention)  # POST /webmention/<uid>, its status pages
    register_dashboard(app)  # the home page `/`, sign-in, sites, account, public stats

    app.register_blueprint(health)  # GET /healthz

    app.wsgi_app = mount(app.wsgi_app, container)  # type: ignore[method-assign, assignment]
    # Outermost: once the database has been down a while, nothing waits for it.
    app.wsgi_app = guard(app.wsgi_app, container.database, GIF)  # type: ignore[method-assign, assignment]

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
