"""Outgoing mail: the port the use cases send through; adapters live in infrastructure/mail.py.

A message is plain text with the links it carries listed beside it, so that an adapter
with no mail server (the outbox) can show a person the links to follow.
"""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    links: tuple[str, ...] = field(default=())


class Mailer(Protocol):
    def send(self, message: Message) -> None:
        """Hand the message over for delivery; raise MailError when that fails."""
        ...

    def forget(self, address: str) -> None:
        """Remove every kept copy of mail to this address (erasure); a no-op if none is kept."""
        ...


class MailError(RuntimeError):
    """The message could not be handed over (the mail server refused it or is unreachable)."""
