"""Small protocols the applications need from the outside world; adapters live in infrastructure."""

from typing import Protocol

from application.erasure import ErasureScope


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class Eraser(Protocol):
    """Removes every trace of the aggregates in a scope: event store and read models."""

    def erase(self, scope: ErasureScope) -> None: ...
