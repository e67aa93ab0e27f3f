"""The embed script, loaded once from its one source, `assets/tracker.js`.

The minified form is generated from that source with rjsmin when first asked for;
there is no second, hand-kept copy. Each form carries a strong ETag: a digest of
the exact bytes served.
"""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import rjsmin

SOURCE = Path(__file__).parent / "assets" / "tracker.js"
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
def source_text() -> str:
    return SOURCE.read_text(encoding="utf-8")


@cache
def tracker() -> Script:
    """The readable script, exactly as written."""
    return Script.of(source_text())


@cache
def tracker_min() -> Script:
    """The minified script, generated from the same source."""
    return Script.of(rjsmin.jsmin(source_text()).strip() + "\n")
