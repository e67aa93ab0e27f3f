"""Real local web sites for the crawler's tests: an HTTP or HTTPS server on loopback
that serves a dict of routes and records every request it was sent."""

import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme

from domain.addresses import AddressPolicy

# As the webhook tests do: loopback (where the test sites live) is allowed, nothing else.
LOOPBACK = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})
    delay: float = 0.0  # seconds before answering (a host that hangs)
    head_status: int | None = None  # what HEAD answers, when not `status`


Route = Answer | Callable[["Handler"], Answer]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class Site:
    """A running server; `routes` may change while it runs."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.port = 0
        self.scheme = "http"
        self.connections = 0  # TCP connections accepted
        # Close each connection after its answer without saying so (no
        # `Connection: close`), as a server whose keep-alive timeout is short does.
        self.drop_silently = False

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def hits(self, path: str, method: str | None = None) -> int:
        return sum(
            1 for r in self.requests if r.path == path and (method is None or r.method == method)
        )


class Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        site: Site = self.server.site
        with site.lock:
            site.connections += 1

    def _answer(self, head: bool) -> None:
        site: Site = self.server.site
        with site.lock:
            site.requests.append(Seen(self.command, self.path, dict(self.headers.items())))
            site.in_flight += 1
            site.most_in_flight = max(site.most_in_flight, site.in_flight)
        counted = False
        try:
            route = site.routes.get(self.path)
            if route is None:
                answer = Answer(404, "<h1>Not Found</h1>")
            elif callable(route):
                answer = route(self)
            else:
                answer = route
            if answer.delay:
                time.sleep(answer.delay)
            body = answer.body.encode() if isinstance(answer.body, str) else answer.body
            status = answer.head_status if head and answer.head_status else answer.status
            self.send_response(status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            # Counted out before the answer leaves: a client that has read it may send
            # its next request before this thread runs again, and that is not overlap.
            with site.lock:
                site.in_flight -= 1
                counted = True
            self.end_headers()
            if not head:
                self.wfile.write(body)
            if site.drop_silently:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            if not counted:
                with site.lock:
                    site.in_flight -= 1

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        self._answer(head=False)


WAIT = 20.0  # seconds at most for a crawl to reach a held page (a safety net, not timing)


class Hold:
    """A route that answers only when released; `reached` is set when it is asked for
    (a crawl held mid-way, without sleeping)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, _handler: Handler) -> Answer:
        self.reached.set()
        self.release.wait(WAIT)
        return self.answer


@contextmanager
def serving(routes: dict[str, Route], tls: trustme.CA | None = None) -> Iterator[Site]:
    site = Site(routes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.site = site  # type: ignore[attr-defined]
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        site.scheme = "https"
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def page(*body: str) -> Answer:
    return Answer(
        200, "<!doctype html><html><head></head><body>" + "".join(body) + "</body></html>"
    )


@contextmanager
def held_chain(first: str) -> Iterator[tuple[Site, Hold, Hold]]:
    """A site `/` → `/one` (held, with `first` as its body) → `/two` (held). Each page adds
    what it links to only once it is read, so what a crawl has done when it asks for a
    held page is known exactly."""
    one = Hold(page(first))
    two = Hold(page("the end"))
    routes: dict[str, Route] = {"/": page('<a href="/one">one</a>'), "/one": one, "/two": two}
    with serving(routes) as site:
        yield site, one, two
