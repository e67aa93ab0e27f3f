"""What a stored text may hold: the one rule for every text the domain keeps.

Texts go into JSON events, SQLite and PostgreSQL read models, CSV exports, webhook
payloads, logs and pages. Some characters have no place in any of them:

- C0 control characters (U+0000-U+001F) and DEL (U+007F): PostgreSQL text cannot
  hold NUL at all, and the others are invisible in every place a text is shown;
- C1 control characters (U+0080-U+009F), invisible likewise (U+0085 even ends a line);
- surrogate code points (U+D800-U+DFFF): a JSON string may carry one (`"\\ud800"`),
  but no UTF-8 text can, so it could be neither stored nor sent.

Free text that browsers and API clients send (paths, URLs, referrers, sources, event
names and values, kudo paths, what a webhook receiver answers) is `clean`ed: those
characters are removed and the rest is kept, so no visit is lost over them. Names an
owner chooses (site URLs and labels, email addresses, key names, kudo uids, ignored
paths, webhook URLs) are `refuse`d when they hold one: the owner sees why and types
it again. Every stored field is one line, but for a few texts from elsewhere that are
shown as they came (a webhook receiver's answer, an error message): `clean_multiline`
keeps their tab, line feed and carriage return.
"""

import re
from collections.abc import Callable

from domain.errors import DomainError

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_IN_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REFUSED = "must not contain control characters or invalid Unicode"


def clean(text: str) -> str:
    """The text without control characters and surrogates."""
    # isprintable() is False for every character removed here (and for a few kept, such
    # as U+00A0): a C-speed test that lets the common text through untouched.
    if text.isprintable():
        return text
    return _UNSAFE.sub("", text)


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean(text)


def clean_multiline(text: str) -> str:
    """`clean`, but tab, line feed and carriage return are kept."""
    if text.isprintable():
        return text
    return _UNSAFE_IN_LINES.sub("", text)


def is_clean(text: str) -> bool:
    return text.isprintable() or not _UNSAFE.search(text)


def refuse(text: str, what: str) -> str:
    """The text, unchanged; DomainError when it holds what `clean` would remove."""
    if not is_clean(text):
        raise DomainError(f"{what} {REFUSED}")
    return text


def clean_values(value: object, rule: Callable[[str], str] = clean) -> object:
    """A decoded value with every text in it (in lists and dicts too) passed through `rule`."""
    if isinstance(value, str):
        return rule(value)
    if isinstance(value, list | tuple):
        return type(value)(clean_values(v, rule) for v in value)
    if isinstance(value, dict):
        return {clean_values(k, rule): clean_values(v, rule) for k, v in value.items()}
    return value
