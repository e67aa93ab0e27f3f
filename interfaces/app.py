"""The Flask application factory."""

from typing import Any

from flask import Flask, Response

from infrastructure.bootstrap import Container
from interfaces import container as container_module
from interfaces.api import register_api
from interfaces.api.errors import register_error_handlers
from interfaces.collect.collector import collector
from interfaces.collect.embed import register_embed
from interfaces.collect.pixel import pixel
from interfaces.collect.widgets import widgets

HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tinylytics</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem;
 margin: 3rem auto; padding: 0 1rem">
<h1>Tinylytics</h1>
<p>Privacy-first web analytics is running here.</p>
<p>The REST API lives at <a href="/api/v1">/api/v1</a>
(<a href="/api/v1/openapi.json">OpenAPI document</a>).</p>
</body></html>
"""


def create_app(container: Container) -> Flask:
    app = Flask("tinylytics")
    app.config["MAX_CONTENT_LENGTH"] = container.settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    container_module.install(app, container)
    register_error_handlers(app)
    register_api(app)
    register_embed(app)
    app.register_blueprint(collector)
    app.register_blueprint(pixel)
    app.register_blueprint(widgets)

    @app.get("/")
    def home() -> Any:
        return Response(HOME, mimetype="text/html")

    @app.get("/healthz")
    def health() -> Any:
        return {"status": "ok"}

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
