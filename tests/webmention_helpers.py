"""A Webmention source server on 127.0.0.1: pages as a sender's site would serve them,
and the misbehaving ones a receiver must survive (hanging, redirecting forever, huge,
binary), modelled on the webmention.rocks receiver tests."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a source that hangs)
    stream: int = 0  # then this many bytes more, with no Content-Length


class Sources:
    """Pages by path; every request's path is recorded."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requested: list[str] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with owner.lock:
                    owner.requested.append(self.path)
                    page = owner.pages.get(self.path, Page(b"not found", 404, "text/plain"))
                if page.delay:
                    time.sleep(page.delay)
                try:
                    self.send_response(page.status)
                    self.send_header("Content-Type", page.content_type)
                    for name, value in page.headers.items():
                        self.send_header(name, value)
                    if not page.stream:
                        self.send_header("Content-Length", str(len(page.body)))
                    self.end_headers()
                    self.wfile.write(page.body)
                    chunk = b"<p>" + b"x" * 65_530 + b"</p>"
                    sent = 0
                    while sent < page.stream:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except OSError:
                    pass  # the receiver gave up on us

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def html(self, path: str, body: str, **kwargs: Any) -> str:
        """Serve an HTML page at `path`; its URL."""
        document = (
            f'<!doctype html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'
        )
        self.pages[path] = Page(document.encode(), **kwargs)
        return self.url(path)

    def serve(self, path: str, page: Page) -> str:
        self.pages[path] = page
        return self.url(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def sources() -> Iterator[Sources]:
    running = Sources()
    try:
        yield running
    finally:
        running.close()


def like_of(target: str, author: str = "Ada", text: str = "Liked this") -> str:
    return (
        '<article class="h-entry">'
        f'<a class="p-author h-card" href="https://ada.example/">{author}</a> '
        f'<p class="e-content">{text}</p>'
        f'<a class="u-like-of" href="{target}">a post</a>'
        '<time class="dt-published" datetime="2026-12-01T10:00:00Z">1 Dec</time>'
        "</article>"
    )


def repost_of(target: str) -> str:
    return (
        '<div class="h-entry"><p class="p-name">Worth a read</p>'
        f'<a class="u-repost-of" href="{target}">x</a></div>'
    )


def reply_to(target: str, text: str = "Nice post!") -> str:
    return (
        '<div class="h-entry"><a class="u-in-reply-to" href="' + target + '">re</a>'
        f'<div class="e-content">{text}</div></div>'
    )
