"""Email addresses: the one piece of personal data an account holds."""

import re

from domain.errors import DomainError
from domain.text import is_clean

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    """Lower-case and trim an address; raise if it cannot be one."""
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or not is_clean(email):
        raise DomainError(f"Invalid email address {email!r}")
    return email
