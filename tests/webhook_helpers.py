"""Webhook test helpers: a real subscriber on 127.0.0.1, a test clock and a manual queue.

The subscriber checks both signatures the way webhooks.md and the Standard Webhooks
specification tell a receiver to, written out here independently of the sender.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from application.webhook_delivery import AttemptResult, WebhookSender


# -- signatures, as a receiver checks them ------------------------------------------------
def x_signature_ok(secret: str, body: bytes, header: str) -> bool:
    """webhooks.md: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the secret.

    During a rotation the header lists one signature per secret, comma-separated.
    """
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


def standard_signature_ok(
    secret: str, msg_id: str, timestamp: str, body: bytes, header: str
) -> bool:
    """Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the
    base64-decoded secret after its `whsec_` prefix; `v1,<sig>` entries, space-separated."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in header.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature):
            return True
    return False


# -- a subscriber --------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a hanging endpoint)
    drip: bool = False  # send the body slowly, a byte every 0.2 s


class Subscriber:
    """An HTTP server on 127.0.0.1 that records requests and answers as it is told.

    Given `secrets`, it verifies both signatures of each request the way a receiver
    would, and answers 401 to one that fails either.
    """

    def __init__(self) -> None:
        self.secrets: list[str] = []
        # A receiver written from webhooks.md's examples: one secret, the whole header.
        self.documented_secret: str | None = None
        self.received: list[Received] = []
        self.replies: list[Reply] = []  # used in order; then the default
        self.default = Reply()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with owner.arrived:
                    owner.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = owner.replies.pop(0) if owner.replies else owner.default
                    if owner.secrets and not owner.verified(owner.received[-1]):
                        reply = Reply(401, body=b"bad signature")
                    documented = owner.documented_secret
                    if documented and not documented_x_signature_ok(
                        documented, body, self.headers.get("X-Signature", "")
                    ):
                        reply = Reply(401, body=b"bad signature")
                    owner.arrived.notify_all()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    else:
                        self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up on us

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verified(self, request: Received) -> bool:
        h = request.headers
        return all(
            x_signature_ok(secret, request.body, h.get("x-signature", ""))
            and standard_signature_ok(
                secret,
                h.get("webhook-id", ""),
                h.get("webhook-timestamp", ""),
                request.body,
                h.get("webhook-signature", ""),
            )
            for secret in self.secrets
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def subscriber() -> Iterator[Subscriber]:
    running = Subscriber()
    try:
        yield running
    finally:
        running.close()


# -- time and the queue, under the test's control -------------------------------------------
class FakeClock:
    """Real time plus however far the test has moved it on; or a fixed start, if given.

    Following real time keeps it in step with what the test records meanwhile (a hit's
    time is its event's), until the test jumps ahead to make retries due.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start
        self.offset = timedelta(0)

    @property
    def now(self) -> datetime:
        return (self.start or datetime.now(UTC)) + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.offset += by

    def freeze(self) -> None:
        """Stop following real time: from now on only `advance` moves it."""
        self.start, self.offset = self.now, timedelta(0)


@dataclass
class Queued:
    number: int
    attempt: int
    due_at: datetime


class ManualQueue:
    """The application's `DeliveryQueue`, run by the test: `run_due` makes the due attempts."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.items: list[Queued] = []
        self.sender: WebhookSender | None = None

    def enqueue(self, number: int, attempt: int, due_at: datetime) -> None:
        self.items.append(Queued(number, attempt, due_at))

    def run_due(self) -> list[AttemptResult | None]:
        """Make every attempt due by now (including retries that fall due meanwhile)."""
        assert self.sender is not None
        results = []
        while True:
            due = [q for q in self.items if q.due_at <= self.clock()]
            if not due:
                return results
            item = min(due, key=lambda q: q.due_at)
            self.items.remove(item)
            results.append(self.sender.attempt(item.number, item.attempt))

    def next_due(self) -> datetime | None:
        return min((q.due_at for q in self.items), default=None)


Run = Callable[[], list[AttemptResult | None]]


def documented_x_signature_ok(secret: str, body: bytes, header: str) -> bool:
    """webhooks.md's Rails and Node examples: the whole header against one expected value."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return len(header) == len(expected) and hmac.compare_digest(header, expected)
