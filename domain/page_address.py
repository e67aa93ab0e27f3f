"""What a hit keeps of the page's address: the path without its query, and a URL with
only the query parameters the site's owner allows (decision 16).

`/post?id=3` and `/post?id=4` are one page: a path with its query would split it in
grouped hits and the leaderboard, miss exact `path=` filters and could keep personal
data (`?email=`). The URL keeps a query parameter only when the owner names it, and a
tracking parameter never (domain/tracking_params.py).
"""

import re
from collections.abc import Collection
from urllib.parse import unquote_plus

from domain.errors import DomainError
from domain.tracking_params import is_tracking_param

MAX_ALLOWED_PARAMS = 50
MAX_PARAM_NAME_LENGTH = 100
_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]+$")


def page_path(path: str) -> str:
    """The path alone: `/post?id=3#top` → `/post`."""
    return path.split("#", 1)[0].split("?", 1)[0] or "/"


def kept_query(query: str, allowed: Collection[str]) -> str:
    """The pieces of a query whose names are allowed (and not tracking), in their order
    and exact text; "" when none is."""
    if not query or not allowed:
        return ""
    return "&".join(
        piece
        for piece in query.split("&")
        if piece
        and (name := unquote_plus(piece.split("=", 1)[0])) in allowed
        and not is_tracking_param(name)
    )


def normalize_query_params(names: list[str]) -> list[str]:
    """The owner's allowed parameter names, trimmed, once each, in their order."""
    cleaned: list[str] = []
    for name in names:
        name = (name or "").strip()
        if not name:
            continue
        if len(name) > MAX_PARAM_NAME_LENGTH or not _NAME.match(name):
            raise DomainError(
                f"Query parameter {name[:MAX_PARAM_NAME_LENGTH]!r} is not a parameter name "
                "(letters, digits, _ . - [ ])"
            )
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_ALLOWED_PARAMS:
        raise DomainError(f"At most {MAX_ALLOWED_PARAMS} allowed query parameters")
    return cleaned
