"""Whole numbers as URLs and forms carry them: ASCII digits only.

Python's int() and the `\\d` of its regular expressions take every script's digits
(twelve in Arabic-Indic or fullwidth digits is 12), and int() also takes spaces, a sign
and underscores: "site 12" would answer under many spellings. Ids and page numbers
in URLs are read here.
"""

import re

from werkzeug.routing import IntegerConverter

_DIGITS = re.compile(r"[0-9]+")


def whole_number(text: str | None) -> int | None:
    """The number `text` spells in ASCII digits, or None for anything else."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    return int(text)


class AsciiIntegerConverter(IntegerConverter):
    """Flask's `<int:...>`, matching ASCII digits only (werkzeug's matches `\\d+`)."""

    regex = r"[0-9]+"
