"""Password hashing with Argon2id (argon2-cffi)."""

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Passwords:
    def __init__(self, fast: bool = False) -> None:
        # Tests use cheap parameters; the server keeps the library's defaults.
        self._hasher = Argon2Hasher(time_cost=1, memory_cost=1024) if fast else Argon2Hasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
