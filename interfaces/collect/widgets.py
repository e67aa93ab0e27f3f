"""GET /widgets/<site_uid>.json: the data every page widget shows, in one request.

Public, CORS-enabled and cacheable; it answers from read models only and says no
more than the widgets show: the lifetime hit count (unique hits only for owners on
the paid plan; per page for the `hits_path=` asked about), kudos counts for the
paths asked about, visited countries, uptime, a random webring member (with its
avatar's `src`/`srcset`) and, with `publicstats`, the public stats URL when the
site's stats are public.
"""

import random
from typing import Any

from flask import Blueprint, Response, jsonify, request

from domain.errors import DomainError
from domain.paths import normalize_path
from domain.urls import host_of
from infrastructure.avatars import SIZES
from interfaces.container import base_url, container

MAX_PATHS = 50
CACHE_SECONDS = 30

widgets = Blueprint("widgets", __name__)


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = (
        f"public, max-age={CACHE_SECONDS}" if status == 200 else "no-store"
    )
    return response


def _paths(raws: list[str]) -> list[str]:
    """The asked paths, normalised; DomainError for one that is not a path."""
    paths: list[str] = []
    for raw in raws[:MAX_PATHS]:
        if not raw.startswith("/"):
            raise DomainError(f"Paths must start with '/': {raw[:100]!r}")
        paths.append(normalize_path(raw[:2048]))
    return paths


@widgets.get("/widgets/<uid>.json")
def widget_data(uid: str) -> Response:
    c = container()
    site = c.collection.site(uid)  # NotFound → 404
    asked = request.args
    try:
        paths = _paths(asked.getlist("path"))
        # Per-page hit counters (`.tinylytics_hits[data-path]`), beside the kudos' paths.
        hit_paths = _paths(asked.getlist("hits_path"))
    except DomainError as error:
        return _json({"error": error.message}, 400)
    payload: dict[str, Any] = {}
    reads = c.reads
    if "hits" in asked:
        totals = reads.traffic.lifetime_of(site.id)
        payload["hits"] = totals.hits
        # Unique counts are a paid feature; free sites show plain hits.
        unique = (
            asked.get("hits") == "unique"
            and c.configuration.get_account(site.owner_id).is_subscribed
        )
        if unique:
            payload["unique_hits"] = totals.uniques
        if hit_paths:
            found = reads.traffic.lifetime_of_paths(site.id, hit_paths)
            payload["path_hits"] = {p: found[p].hits if p in found else 0 for p in hit_paths}
            if unique:
                payload["path_unique_hits"] = {
                    p: found[p].uniques if p in found else 0 for p in hit_paths
                }
    if "publicstats" in asked:
        # The plugins' `a.tinylytics_public_stats`: its href, when the stats are public.
        public = c.configuration.get_site(site.id).is_public
        payload["public_stats_url"] = f"{base_url()}/public/{site.uid}" if public else None
    if "kudos" in asked:
        payload["kudos"] = reads.kudos.for_paths(site.id, paths)
    if "countries" in asked:
        payload["countries"] = reads.traffic.countries_visited(site.id)
    if "uptime" in asked:
        # The 30-day uptime of the site's monitor; null while monitoring is off (or the
        # owner is no longer on a paid plan): the widget then leaves its element alone.
        owner = c.configuration.get_account(site.owner_id)
        payload["uptime"] = reads.uptime.site_uptime(site.id) if owner.is_subscribed else None
    if "webring" in asked:
        payload["webring"] = _webring_member(site.url, asked.get("webring") == "avatars")
    return _json(payload)


def _webring_member(own_url: str, avatars: bool) -> dict[str, Any] | None:
    """A random member of the ring, never the asking site itself."""
    ring = container().configuration.webring()
    own_host = host_of(own_url).removeprefix("www.")
    others = [
        (url, member)
        for url, member in ring.members.items()
        if host_of(url).removeprefix("www.") != own_host
    ]
    if not others:
        return None
    url, member = random.choice(others)
    chosen: dict[str, Any] = {"url": url, "label": member["label"]}
    if avatars and member.get("avatar"):
        base = f"{base_url()}/webring/avatars/{member['avatar']}"
        chosen["avatar"] = {"src": f"{base}-100.png", "srcset": f"{base}-200.png 2x"}
    return chosen


@widgets.get("/webring/avatars/<digest>-<int:size>.png")
def avatar(digest: str, size: int) -> Response:
    png = container().avatars.png(digest, size) if size in SIZES and len(digest) <= 64 else None
    if png is None:
        return _json({"error": "Not found"}, 404)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
