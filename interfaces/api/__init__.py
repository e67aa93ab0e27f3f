"""REST API v1, as the product's api.md documents it."""

from flask import Flask

from interfaces.api import (  # noqa: F401  (they add their routes)
    account,
    analytics,
    discovery,
    events,
    hits,
    journeys,
    kudos,
    leaderboard,
    premium,
    sites,
)
from interfaces.api.auth import add_challenge, add_rate_headers, authenticate
from interfaces.api.blueprint import api

# Hooks go on the blueprint once, at import: a blueprint cannot change after its
# first registration, and tests create many apps.
api.before_request(authenticate)
api.after_request(add_rate_headers)
api.after_request(add_challenge)


def register_api(app: Flask) -> None:
    app.register_blueprint(api)
