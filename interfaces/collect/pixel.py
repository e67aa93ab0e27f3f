"""GET /pixel/<site_uid>.gif?path=/post: the tracking pixel for feeds and email.

It always answers the same transparent 1x1 GIF, uncacheable, whether or not the
hit counts (unknown site, ignored path, bot, rate limit): a reader's page must
never show a broken image, and the answer must not reveal which sites exist. The
one exception is a hit that could not be kept (the database does not answer): the
same GIF comes with 503 and Retry-After, so that no 200 ever stands for a lost hit.
"""

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from application.collection import Sighting, Skipped
from application.group_commit import CommitFailed
from domain.errors import DomainError, NotFound
from infrastructure.persistence import store_unavailable
from interfaces.collect.client import cdn_country, client_ip, is_prefetch
from interfaces.container import container
from interfaces.unavailable import RETRY_AFTER_SECONDS, note

log = logging.getLogger("tinylytics.pixel")

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

pixel = Blueprint("pixel", __name__)


def _gif(status: int = 200) -> Response:
    response = Response(GIF, status=status, mimetype="image/gif")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    return response


def _path(raw: str | None) -> str:
    """`?path=/post`, `?path=post` or a whole URL all name a page."""
    raw = (raw or "").strip()
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return raw or "/"


@pixel.get("/pixel/<uid>.gif")
def track(uid: str) -> Response:
    try:
        return _track(uid)
    except Exception as error:
        if not store_unavailable(error):
            raise
        note(error, container().database)
        return _gif(503)


def _track(uid: str) -> Response:
    c = container()
    try:
        site = c.collection.site(uid)
    except NotFound:
        return _gif()
    if is_prefetch(request):
        return _gif()
    sighting = Sighting(
        path=_path(request.args.get("path")),
        url=None,
        referrer=request.referrer,
        ip=client_ip(request, c.settings),
        user_agent=request.headers.get("User-Agent"),
        channel="pixel",
        cdn_country=cdn_country(request, c.settings),
    )
    try:
        hit = c.collection.hit(site, sighting, limited=True)
        if not isinstance(hit, Skipped):
            c.collection.record([hit])
    except DomainError as error:
        log.warning("pixel hit not recorded for site %s: %s", site.uid, error)
    except CommitFailed as error:
        if store_unavailable(error):
            note(error, c.database)
        else:
            log.warning("pixel hit not recorded for site %s: %s", site.uid, error)
        return _gif(503)
    return _gif()
