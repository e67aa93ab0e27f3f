"""REST API v1, as the product's api.md documents it."""

from flask import Flask

from interfaces.api import account, discovery, sites  # noqa: F401  (they add their routes)
from interfaces.api.auth import add_rate_headers, authenticate
from interfaces.api.blueprint import api


def register_api(app: Flask) -> None:
    api.before_request(authenticate)
    api.after_request(add_rate_headers)
    app.register_blueprint(api)
