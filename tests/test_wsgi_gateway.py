"""WSGIGateway under a real granian (ASGI): the WSGI environ, answers, and streamed responses.

The application is tests/gateway_app.py: it echoes its environ, streams counted
chunks, fails on purpose, and starts its response lazily.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway_app import CHUNK
from tests.server_helpers import ROOT, free_port, read_status, request_head


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    number = free_port()
    granian = Path(sys.executable).parent / "granian"
    command = [str(granian), "--interface", "asginl", "--factory", "--port", str(number)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning", "tests.gateway_app:app"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", number), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("granian did not start") from None
                time.sleep(0.05)
        yield number
    finally:
        server.terminate()
        server.wait(10)


def _get(port: int, path: str, data: bytes | None = None, **headers: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_the_environ_is_pep_3333(port: int) -> None:
    response = _get(
        port,
        "/caf%C3%A9/a%2Fb?q=%20x&r=1",
        b"hello",
        **{"Content-Type": "text/plain", "X-Custom": "one", "Cookie": "a=1"},
    )
    environ = json.load(response)
    assert response.status == 200
    assert response.headers.get_all("X-Two") == ["a", "b"]
    # The path's UTF-8 bytes as latin-1 (werkzeug turns them back into "café").
    assert environ["PATH_INFO"] == "/café/a/b".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "q=%20x&r=1"
    assert environ["REQUEST_METHOD"] == "POST"
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("text/plain", "5")
    assert (environ["HTTP_X_CUSTOM"], environ["HTTP_COOKIE"]) == ("one", "a=1")
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["body"] == "hello"


def test_repeated_headers_are_joined_and_underscored_names_dropped(port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    with sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\n"
            b"X_Forwarded_For: 203.0.113.9\r\nConnection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    environ = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert environ["HTTP_X_A"] == "1, 2"
    assert "HTTP_X_FORWARDED_FOR" not in environ


def test_a_failing_application_answers_500_and_a_lazy_one_is_served(port: int) -> None:
    failed = _get(port, "/fail")
    assert failed.status == 500
    assert json.load(failed) == {"error": "Unexpected server error"}
    lazy = _get(port, "/lazy")
    assert (lazy.status, lazy.headers["X-Lazy"], lazy.read()) == (201, "yes", b"made late")


def test_a_streamed_response_waits_for_its_reader_and_stops_when_it_leaves(port: int) -> None:
    count = 2000  # 125 MiB, far more than the socket buffers hold
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(request_head("GET", f"/stream?{count}", {}))
    assert read_status(sock) == 200

    def made() -> dict[str, int]:
        return json.load(_get(port, "/made"))  # type: ignore[no-any-return]

    # The reader reads nothing more: the making stops once the buffers are full.
    seen = -1
    while (now := made()["chunks"]) != seen:
        seen = now
        time.sleep(0.3)
    assert seen < count / 4
    closed = made()["closed"]
    sock.close()
    deadline = time.monotonic() + 10
    while made()["closed"] == closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert made()["closed"] == closed + 1
    assert made()["chunks"] < count / 4


def test_a_streamed_response_arrives_whole(port: int) -> None:
    closed = json.load(_get(port, "/made"))["closed"]
    response = _get(port, "/stream?300")
    assert response.read() == CHUNK * 300
    assert json.load(_get(port, "/made")) == {"chunks": 300, "closed": closed + 1}
