"""A real SMTP server on loopback (aiosmtpd), with STARTTLS or implicit TLS from trustme
certificates, optional login, and answers that can be made to fail."""

import socket
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "reports", "p@ss word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the server took, and what it answers to DATA (None: 250 OK)."""

    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    answer: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answer is not None:
            return self.answer
        self.received.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == USER
        and data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok)


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


def tls() -> Tls:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Tls(server, client)


@contextmanager
def smtp_server(
    inbox: Inbox,
    port: int | None = None,
    mode: str = "starttls",  # "starttls", "implicit" or "plain"
    context: Tls | None = None,
    login: bool = True,
) -> Iterator[int]:
    """Serve until the block ends; yields the port."""
    port = port or free_port()
    options: dict[str, Any] = {}
    if mode == "starttls":
        assert context is not None
        options.update(tls_context=context.server, require_starttls=True)
    elif mode == "implicit":
        assert context is not None
        options.update(ssl_context=context.server)
    if login:
        options.update(authenticator=_login, auth_required=True)
        if mode == "implicit":
            # The socket is TLS from the start; aiosmtpd only counts STARTTLS as TLS.
            options["auth_require_tls"] = False
    with warnings.catch_warnings():
        # Implicit TLS with login: aiosmtpd warns, not knowing the socket is TLS.
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
    try:
        yield port
    finally:
        controller.stop()
