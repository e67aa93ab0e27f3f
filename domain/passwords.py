"""What the domain asks of a password before anything hashes it."""

from domain.errors import DomainError

MIN_LENGTH = 8
MAX_LENGTH = 1024


def validate_password(password: str) -> str:
    if len(password or "") < MIN_LENGTH:
        raise DomainError(f"Password is too short (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Password is too long (at most {MAX_LENGTH} characters)")
    try:
        # Never stored, only hashed as UTF-8: a lone surrogate (JSON "\\ud800", or
        # argv bytes that are not UTF-8) cannot be encoded, so cannot be hashed.
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise DomainError("Password must not contain invalid Unicode") from None
    return password
