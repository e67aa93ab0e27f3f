"""Errors the domain raises when a rule is broken; the interfaces turn them into answers."""


class DomainError(ValueError):
    """A rule of the domain refused a command; the message is meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to the one asking)."""


class Conflict(DomainError):
    """The command clashes with something that already exists (a duplicate)."""
