"""GET /embed/<uid>.js and /embed/<uid>/min.js: the embed script, for sites that exist;
GET /embed/<uid>/widgets.js and /embed/<uid>/widgets/min.js: the page widgets, which
the embed script loads itself only when a widget parameter is present.

Each script is the same for every site (it reads the site uid and its parameters
from its own src), so it is cached publicly for a short while and revalidated by
ETag. An unknown uid is 404, whatever characters it holds. No cookies.
"""

import re

from flask import Blueprint, Flask, Response, request

from domain.errors import NotFound
from interfaces.collect import scripts
from interfaces.container import container

embed = Blueprint("embed", __name__)

# Site uids are short lower-case letters and digits; anything else cannot name a
# site, so it is turned away before it reaches a store.
_UID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@embed.get("/embed/<uid>.js")
def script(uid: str) -> Response:
    return _serve(uid, scripts.tracker())


@embed.get("/embed/<uid>/min.js")
def script_min(uid: str) -> Response:
    return _serve(uid, scripts.tracker_min())


@embed.get("/embed/<uid>/widgets.js")
def widgets_script(uid: str) -> Response:
    return _serve(uid, scripts.widgets())


@embed.get("/embed/<uid>/widgets/min.js")
def widgets_script_min(uid: str) -> Response:
    return _serve(uid, scripts.widgets_min())


def _serve(uid: str, body: scripts.Script) -> Response:
    if not _UID.fullmatch(uid):
        raise NotFound("Site not found")
    container().configuration.site_by_uid(uid)  # NotFound for an unknown uid: 404
    response = Response(body.body, content_type=scripts.CONTENT_TYPE)
    response.set_etag(body.etag)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Loaded cross-origin by every tracked site, including ones that require it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.make_conditional(request)  # 304 when If-None-Match names this ETag
    return response


def register_embed(app: Flask) -> None:
    app.register_blueprint(embed)
