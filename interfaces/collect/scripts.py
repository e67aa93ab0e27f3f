"""The embed scripts, each loaded once from its one source in `assets/`.

`tracker.js` is the embed script sites include; `widgets.js` holds the page widgets
(hit counter, kudos, countries, uptime, webring), which the embed script loads only
when a widget parameter is present, so that it stays small. The minified forms are
generated from those sources with rjsmin when first asked for; there is no second,
hand-kept copy. Each form carries a strong ETag: a digest of the exact bytes served.
"""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import rjsmin

ASSETS = Path(__file__).parent / "assets"
SOURCE = ASSETS / "tracker.js"
WIDGETS_SOURCE = ASSETS / "widgets.js"
CONTENT_TYPE = "application/javascript; charset=utf-8"


@dataclass(frozen=True)
class Script:
    body: bytes
    etag: str  # strong, unquoted (werkzeug adds the quotes)

    @classmethod
    def of(cls, text: str) -> "Script":
        body = text.encode("utf-8")
        return cls(body=body, etag=hashlib.sha256(body).hexdigest()[:32])


@cache
def _text(source: Path) -> str:
    return source.read_text(encoding="utf-8")


def _minified(source: Path) -> Script:
    return Script.of(rjsmin.jsmin(_text(source)).strip() + "\n")


def source_text() -> str:
    return _text(SOURCE)


def widgets_source_text() -> str:
    return _text(WIDGETS_SOURCE)


@cache
def tracker() -> Script:
    """The readable script, exactly as written."""
    return Script.of(source_text())


@cache
def tracker_min() -> Script:
    """The minified script, generated from the same source."""
    return _minified(SOURCE)


@cache
def widgets() -> Script:
    """The readable widgets script, exactly as written."""
    return Script.of(widgets_source_text())


@cache
def widgets_min() -> Script:
    """The minified widgets script, generated from the same source."""
    return _minified(WIDGETS_SOURCE)
