"""Page paths and the owner's ignored-path patterns."""

import re
from fnmatch import fnmatchcase

from domain.errors import DomainError
from domain.text import clean, refuse

MAX_PATTERNS = 100
MAX_PATTERN_LENGTH = 500


def normalize_path(path: str) -> str:
    """Paths always start with a slash: `pricing` and `/pricing` are one page.

    A path is free text from a browser or a client: control characters are removed
    (domain/text.py), before the ignore rules and the hashes see it.
    """
    path = clean(path or "").strip()
    if not path:
        raise DomainError("Path can't be blank")
    return path if path.startswith("/") else "/" + path


def validate_ignore_patterns(patterns: list[str]) -> list[str]:
    """Check the owner's patterns (`/admin`, `/admin/*`); return them trimmed, once each."""
    if len(patterns) > MAX_PATTERNS:
        raise DomainError(f"At most {MAX_PATTERNS} ignored path patterns")
    cleaned: list[str] = []
    for pattern in patterns:
        pattern = (pattern or "").strip()
        if not pattern:
            continue
        refuse(pattern, f"Ignored path {pattern!r}")
        if not pattern.startswith("/"):
            raise DomainError(f"Ignored path {pattern!r} must start with '/'")
        if len(pattern) > MAX_PATTERN_LENGTH or re.search(r"\s", pattern):
            raise DomainError(f"Ignored path {pattern!r} is too long or has spaces")
        if pattern not in cleaned:
            cleaned.append(pattern)
    return cleaned


def is_ignored(path: str, patterns: list[str]) -> bool:
    """True when the path matches a pattern; `*` matches any run of characters.

    `/admin` ignores `/admin` and `/admin/`; `/admin/*` ignores everything below it.
    """
    bare = path.split("?", 1)[0].split("#", 1)[0]
    trimmed = bare.rstrip("/") or "/"
    for pattern in patterns:
        if "*" in pattern:
            if fnmatchcase(bare, pattern) or fnmatchcase(trimmed, pattern):
                return True
        elif trimmed == (pattern.rstrip("/") or "/"):
            return True
    return False
