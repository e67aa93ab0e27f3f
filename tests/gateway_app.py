"""A small WSGI application behind WSGIGateway, served by granian in tests/test_wsgi_gateway.py."""

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from interfaces.wsgi_gateway import WSGIGateway

CHUNK = b"x" * 65536
_made = {"chunks": 0, "closed": 0}
_lock = threading.Lock()


def _chunks(count: int) -> Iterator[bytes]:
    try:
        for _ in range(count):
            with _lock:
                _made["chunks"] += 1
            yield CHUNK
    finally:
        with _lock:
            _made["closed"] += 1


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    path = environ["PATH_INFO"]
    if path == "/stream":
        with _lock:
            _made["chunks"] = 0
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _chunks(int(environ["QUERY_STRING"]))
    if path == "/made":
        start_response("200 OK", [("Content-Type", "application/json")])
        with _lock:
            return [json.dumps(_made).encode()]
    if path == "/fail":
        raise RuntimeError("a bug")
    if path == "/lazy":

        def lazy() -> Iterator[bytes]:
            start_response("201 Created", [("X-Lazy", "yes")])
            yield b"made "
            yield b"late"

        return lazy()
    echo = {k: v for k, v in environ.items() if isinstance(v, str)}
    echo["body"] = environ["wsgi.input"].read().decode("latin-1")
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Two", "a"), ("X-Two", "b")])
    return [json.dumps(echo).encode()]


def app() -> WSGIGateway:
    return WSGIGateway(wsgi, threads=2, max_body_bytes=1000, body_timeout=5)
