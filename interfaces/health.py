"""GET /healthz: each dependency's state, and a status code a load balancer acts on.

200 while the node can serve (`ok`, or `degraded` without Redis: collection and
reads work on in-process limits); 503 with Retry-After when the database does not
answer. The body says which: `{"status": ..., "checks": {"database": ..., "redis":
..., "projections": {"status": ..., "lag": N}}}`. See infrastructure/health.py.
"""

from flask import Blueprint, Response, jsonify

from interfaces.container import container
from interfaces.unavailable import RETRY_AFTER_SECONDS

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    report = container().health.report()
    response = jsonify({"status": report.status, "checks": report.checks})
    response.headers["Cache-Control"] = "no-store"
    if not report.serving:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
