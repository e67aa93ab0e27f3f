"""Country names and flags for the dashboard, from the tz database's ISO 3166 table.

`tzdata` (a dependency already) ships `iso3166.tab`; no other country list is needed.
"""

from functools import cache
from importlib import resources

UNKNOWN = "XX"


@cache
def names() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - tzdata is required
        return found
    for line in text.splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        code, name = line.split("\t", 1)
        found[code.strip().upper()] = name.strip()
    return found


def name(code: str | None) -> str:
    code = (code or UNKNOWN).upper()
    if code == UNKNOWN:
        return "Unknown"
    return names().get(code, code)


def flag(code: str | None) -> str:
    """The emoji flag (two regional indicator letters); a white flag when unknown."""
    code = (code or UNKNOWN).upper()
    if code == UNKNOWN or len(code) != 2 or not code.isascii() or not code.isalpha():
        return "\U0001f3f3\ufe0f"
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in code)
