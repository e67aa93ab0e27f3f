"""Uptime test helpers: real sites on 127.0.0.1 that answer as the test tells them.

A `FakeSite` is an HTTP (or, given a certificate, HTTPS) server whose answer the test
switches: a status, a slow answer, a redirect; `refusing()` gives a port nothing
listens on. Every request's headers are kept, so a test can check the user agent.
"""

import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from application.webhook_delivery import AttemptResult, WebhookSender


class FakeSite:
    def __init__(self, certificate: Any = None) -> None:
        self.status = 200
        self.delay = 0.0
        self.location: str | None = None
        self.requests: list[dict[str, str]] = []
        # Answers by path (an RDAP server): (status, body, headers); others get `status`.
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append({k.lower(): v for k, v in self.headers.items()})
                owner.paths.append(self.path)
                if owner.delay:
                    time.sleep(owner.delay)
                status, body, headers = owner.routes.get(self.path, (owner.status, b"hello", {}))
                if owner.location and self.path not in owner.routes:
                    headers = {"Location": owner.location}
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the checker gave up

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.https = certificate is not None
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if certificate is not None:
            self.serve(certificate)
            self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, certificate: Any) -> None:
        """Present this certificate from the next handshake on: a trustme `LeafCert`
        (with its chain), or a (certificate PEM, key PEM) pair served alone."""
        if isinstance(certificate, tuple):
            folder = Path(tempfile.mkdtemp())
            (folder / "cert.pem").write_bytes(certificate[0])
            (folder / "key.pem").write_bytes(certificate[1])
            self.context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        else:
            certificate.configure_cert(self.context)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_site(certificate: Any = None) -> Iterator[FakeSite]:
    site = FakeSite(certificate)
    try:
        yield site
    finally:
        site.close()


def refusing_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def now() -> datetime:
    return datetime.now(UTC)


class TravellingClock:
    """The webhooks' clock under time-machine: the real clock, which travels."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


class DueQueue:
    """A `DeliveryQueue` the test runs: `run_due` makes every attempt due by now."""

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender
        self.items: list[tuple[int, int, datetime]] = []

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        self.items.append((number, attempt, due_at))

    def run_due(self) -> list[AttemptResult | None]:
        results = []
        for item in sorted(i for i in self.items if i[2] <= now()):
            self.items.remove(item)
            results.append(self.sender.attempt(item[0], item[1]))
        return results


def outbox_messages(data_dir: Path) -> list[Any]:
    from email import message_from_bytes

    folder = data_dir / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [message_from_bytes(f.read_bytes()) for f in files]
